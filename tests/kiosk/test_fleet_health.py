"""The fleet's view of a kiosk (#18), end to end on the simulated stack: the heartbeat carries
each device's state and supplies, the backend keeps the latest per terminal and serves them to
an operations certificate only, and `kiosk fleet status` prints paper out, a ribbon running low
and a kiosk gone silent. Devices are not probed while a citizen uses the kiosk."""
from __future__ import annotations

import time

import pytest

from drivers.pcsc import wait_for_card
from drivers.sim.pcscd import CARD_READER
from kiosk.backend.errors import BackendRejected
from kiosk.cli import main
from kiosk.cli.fleet import fleet_status
from kiosk.diagnostics import overview
from kiosk.visit import CitizenIdentity
from reference_backend.pki import PkiFiles
from reference_backend.store import SILENT_AFTER_S
from simulation.stack import ZHANG_SAN, simulated_kiosk


@pytest.fixture(scope="module")
def stack(pcscd):
    """One simulated kiosk for the module (a stack takes a second to build)."""
    with simulated_kiosk() as sim:
        yield sim


@pytest.fixture
def sim(stack):
    """The stack as each test finds it: paper in, a new ribbon, blank cards, an empty reject box,
    the backend's usual silence."""
    stack.receipt_printer.set_state(paper_out=False, paper_near_end=False)
    stack.card_printer.run_ribbon_down(stack.card_printer.ribbon_capacity)
    stack.card_printer.stock, stack.card_printer.reject_box_full = 50, False
    stack.backend.store.silent_after_s = SILENT_AFTER_S
    yield stack


@pytest.fixture
def kiosk(sim):
    core = sim.kiosk_core()   # not started: the test sends the heartbeats
    yield core
    core.close()


def pki_of(sim) -> PkiFiles:
    return PkiFiles(sim.folder / "pki")


def fleet(sim) -> dict:
    pki = pki_of(sim)
    return fleet_status(sim.backend.url, str(pki.ca_cert), str(pki.operations_cert), str(pki.operations_key))


def test_the_heartbeat_carries_devices_and_supplies_to_the_fleet_status(sim, kiosk):
    sim.receipt_printer.set_state(paper_out=True, paper_near_end=True)
    sim.card_printer.run_ribbon_down(12)   # of 250: under a tenth
    assert kiosk.send_heartbeat()
    [terminal] = fleet(sim)["terminals"]
    assert terminal["terminal"] == "KIOSK-0001" and not terminal["silent"]
    devices = terminal["health"]["devices"]
    assert devices["receipt_printer"]["state"] == "fault" and devices["receipt_printer"]["paper"] == "out"
    assert devices["card_printer"]["state"] == "warning" and devices["card_printer"]["ribbon_remaining"] == 12
    assert devices["card_reader"]["state"] == "ok" and devices["psam"]["state"] == "ok"
    assert devices["id_reader"]["state"] == "ok" and devices["pin_pad"]["state"] == "ok"
    assert devices["camera"]["state"] == "ok" and devices["qr_scanner"]["state"] == "ok"
    assert terminal["health"]["disk"]["free_bytes"] > 0 and terminal["audit_head_seq"] is not None
    # Refilled: the next heartbeat says so.
    sim.receipt_printer.set_state(paper_out=False, paper_near_end=False)
    assert kiosk.send_heartbeat()
    assert fleet(sim)["terminals"][0]["health"]["devices"]["receipt_printer"] == {
        "state": "ok", "detail": "online", "paper": "ok"}


def fleet_line(sim, capsys) -> str:
    """This kiosk's line of `kiosk fleet status`."""
    assert main(["fleet", "status", "--url", sim.backend.url, "--pki", str(pki_of(sim).directory)]) == 0
    return next(line for line in capsys.readouterr().out.splitlines() if line.startswith("KIOSK-0001"))


def test_the_qr_scanner_is_in_the_heartbeat_and_once_on_the_diagnostics_screen(sim, kiosk):
    assert kiosk.send_heartbeat()
    assert fleet(sim)["terminals"][0]["health"]["devices"]["qr_scanner"] == {"state": "ok", "detail": ""}
    assert [tile.device for tile in overview(kiosk).tiles].count("qr_scanner") == 1


def test_a_qr_scanner_gone_reaches_the_fleet_status(sim, tmp_path, capsys):
    unplugged = sim.kiosk_core(sim.config.changed(qr_scanner={"port": str(tmp_path / "ttyACM-gone")}))
    try:
        assert unplugged.send_heartbeat()
    finally:
        unplugged.close()
    scanner = fleet(sim)["terminals"][0]["health"]["devices"]["qr_scanner"]
    assert scanner["state"] == "fault" and "ttyACM-gone" in scanner["detail"]
    assert "QR scanner FAULT (QrScannerUnavailable" in fleet_line(sim, capsys)


@pytest.mark.parametrize("trouble, device, found, words", [
    (lambda sim: sim.receipt_printer.set_state(paper_near_end=True), "receipt_printer",
     {"state": "warning", "paper": "near_end"}, "receipt printer WARNING (paper near end)"),
    (lambda sim: setattr(sim.card_printer, "stock", 0), "card_printer",
     {"state": "fault", "blank_cards": False}, "card printer FAULT (ribbon 250/250, no blank cards)"),
    (lambda sim: setattr(sim.card_printer, "reject_box_full", True), "card_printer",
     {"state": "fault", "reject_box_full": True}, "card printer FAULT (ribbon 250/250, reject box full)"),
], ids=["paper near its end", "no blank cards", "reject box full"])
def test_each_supply_running_out_reaches_the_fleet_status(sim, kiosk, capsys, trouble, device, found, words):
    trouble(sim)
    assert kiosk.send_heartbeat()
    reported = fleet(sim)["terminals"][0]["health"]["devices"][device]
    assert {key: reported.get(key) for key in found} == found
    assert words in fleet_line(sim, capsys)


def test_devices_are_not_probed_while_a_citizen_uses_the_kiosk(sim, kiosk):
    assert kiosk.send_heartbeat()
    probed = kiosk.health.devices()[1]
    visit = kiosk.services.new_visit()
    visit.identify(CitizenIdentity.from_id_document(ZHANG_SAN))
    sim.receipt_printer.set_state(paper_out=True)
    devices, probed_at = kiosk.health.devices()
    assert probed_at == probed and devices["receipt_printer"].state == "ok"   # the last findings stand
    kiosk.services.end_visit(visit, "done")
    assert kiosk.health.devices()[0]["receipt_printer"].state == "fault"


def test_the_fleet_status_is_for_operations_certificates_only(sim, kiosk):
    assert kiosk.send_heartbeat()
    with pytest.raises(BackendRejected) as refused:
        kiosk.client.call("fleet_status", {})
    assert (refused.value.status, refused.value.code) == (403, "operations_only")


def test_kiosk_fleet_status_prints_paper_out_ribbon_low_and_a_silent_kiosk(sim, kiosk, capsys):
    sim.card.insert()
    wait_for_card(CARD_READER, timeout=5)
    sim.receipt_printer.set_state(paper_out=True, paper_near_end=True)
    sim.card_printer.run_ribbon_down(12)
    assert kiosk.send_heartbeat()
    pki = pki_of(sim)
    args = ["fleet", "status", "--url", sim.backend.url, "--pki", str(pki.directory)]
    assert main(args) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("KIOSK-0001"))
    assert "receipt printer FAULT (paper out)" in line and "card printer WARNING (ribbon 12/250)" in line
    assert "SILENT" not in line
    sim.backend.store.silent_after_s = 0.0   # as if fifteen minutes had passed without a beat
    assert main(args) == 0
    assert "SILENT" in next(line for line in capsys.readouterr().out.splitlines() if line.startswith("KIOSK-0001"))
    # A kiosk's own certificate does not open the fleet.
    assert main(["fleet", "status", "--url", sim.backend.url, "--ca", str(pki.ca_cert), "--cert", str(pki.kiosk_cert),
                 "--key", str(pki.kiosk_key)]) == 1


def test_the_metrics_are_written_for_node_exporters_textfile_collector(sim, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families
    textfile = tmp_path / "sscard_kiosk.prom"
    config = sim.config.changed(metrics={"exporter": "textfile", "textfile": str(textfile), "interval_s": 1.0})
    sim.receipt_printer.set_state(paper_out=True, paper_near_end=True)
    core = sim.kiosk_core(config).start()
    try:
        deadline = time.monotonic() + 10
        while not textfile.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        samples = {sample.name: sample.value for family in text_string_to_metric_families(textfile.read_text())
                   for sample in family.samples if not sample.labels or sample.name == "kiosk_info"}
    finally:
        core.close()
    assert samples["kiosk_receipt_printer_paper_out"] == 1.0 and samples["kiosk_outbox_dead"] == 0.0
    assert samples["kiosk_disk_free_bytes"] > 0 and samples["kiosk_info"] == 1.0
    assert not list(tmp_path.glob("*.prom.*"))   # written whole: no partial file left beside it

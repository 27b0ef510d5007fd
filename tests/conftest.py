"""Fixtures shared by the test folders, and the markers each test gets from what it uses.

The real PC/SC stack: pyscard -> pcscd -> vpcd -> simulator. `./run test` starts pcscd and says
where in KIOSK_RUN_DIR; a bare `pytest` starts its own.
The backend link: a test PKI, the reference backend on a free loopback port over real TLS, a
client with the kiosk certificate, and an outbox with its key.
The serial devices: each simulator runs in a thread on a real pty pair, and the drivers open its
slave path through pyserial, exactly as they open a real COM port. Short timeouts keep failure
tests fast; they are the same settings the kiosk exposes.
"""
from __future__ import annotations

import inspect
import os
import tempfile
from pathlib import Path

import pytest

from backend_helpers import client_for
from drivers.id_card_reader import IdCardReader
from drivers.pcsc import wait_for_card
from drivers.receipt_printer import ReceiptPrinter
from drivers.sim.id_card_reader import SimulatedIdCardReader
from drivers.sim.pcscd import (CARD_READER, PSAM_READER, VPCD_CARD_PORT, VPCD_PSAM_PORT, Pcscd, machine_lock,
                               vpcd_ready)
from drivers.sim.psam import SimulatedPsam
from drivers.sim.receipt_printer import SimulatedReceiptPrinter
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from drivers.sim.vpcd import VpcdLink
from offline_queue import KeyRing, Outbox

FAST_BAUD = 115200
READ_TIMEOUT = 0.5
WRITE_TIMEOUT = 0.5


@pytest.fixture(scope="session")
def pcscd():
    """The running pcscd (started here when the test command did not)."""
    run_dir = os.environ.get("KIOSK_RUN_DIR")
    if run_dir and vpcd_ready():
        yield Pcscd(Path(run_dir))
        return
    with machine_lock(), tempfile.TemporaryDirectory(prefix="kiosk-pcscd-") as tmp:
        daemon = Pcscd(Path(tmp))
        daemon.start()
        yield daemon
        daemon.stop()


class CardSlot:
    """Puts simulated cards into a vpcd slot and takes them out, waiting until pcscd agrees."""

    def __init__(self, port: int, reader: str):
        self.port = port
        self.reader = reader
        self.link: VpcdLink | None = None

    def insert(self, card) -> VpcdLink:
        self.remove()
        self.link = VpcdLink(card, port=self.port).insert()
        wait_for_card(self.reader, timeout=5)
        return self.link

    def insert_profile(self, profile: str | CardProfile, **behaviour) -> SimulatedSocialSecurityCard:
        if not isinstance(profile, CardProfile):
            profile = CardProfile.load(profile)
        for key, value in behaviour.items():
            setattr(profile, key, value)
        card = SimulatedSocialSecurityCard(profile)
        self.insert(card)
        return card

    def remove(self) -> None:
        if self.link is not None:
            self.link.remove()
            self.link = None
            wait_for_card(self.reader, timeout=5, present=False)


@pytest.fixture
def card_slot(pcscd):
    slot = CardSlot(VPCD_CARD_PORT, CARD_READER)
    yield slot
    slot.remove()


@pytest.fixture
def psam_slot(pcscd):
    slot = CardSlot(VPCD_PSAM_PORT, PSAM_READER)
    slot.insert(SimulatedPsam())
    yield slot
    slot.remove()


class Clock:
    """A clock that only moves when a test moves it (`clock.now += 90`)."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(scope="session")
def pki_files(tmp_path_factory):
    """A test CA with a server and a kiosk certificate (and another kiosk's), made with `cryptography`."""
    from reference_backend.pki import make_test_pki
    return make_test_pki(tmp_path_factory.mktemp("pki"), other_kiosks=("KIOSK-0002",))


@pytest.fixture
def reference_backend(pki_files, tmp_path):
    """The reference backend on a free loopback port, over real TLS with client certificates."""
    from reference_backend.server import open_backend
    server = open_backend("127.0.0.1", 0, tmp_path / "backend.db", pki_files.directory).start()
    yield server
    server.stop()


@pytest.fixture
def backend_client(reference_backend, pki_files):
    from tests.backend_helpers import ContractClient
    client = ContractClient(reference_backend.url, ca_file=str(pki_files.ca_cert), cert_file=str(pki_files.kiosk_cert),
                           key_file=str(pki_files.kiosk_key))
    yield client
    client.close()


# --- the backend link (tests/kiosk/backend, tests/offline_queue) ---

@pytest.fixture(scope="session")
def pki(pki_files):
    """`pki_files`, under the name the backend and outbox tests use."""
    return pki_files


@pytest.fixture
def backend(reference_backend):
    """`reference_backend`, under the name the backend and outbox tests use."""
    return reference_backend


@pytest.fixture
def client(backend, pki):
    client = client_for(backend.url, pki)
    yield client
    client.close()


@pytest.fixture
def keys():
    return KeyRing.generate()


@pytest.fixture
def outbox(tmp_path, keys):
    box = Outbox(tmp_path / "outbox.db", keys)
    yield box
    box.close()


# --- the serial devices (tests/drivers, tests/kiosk); the card printer's own printer_sim and
# printer (tests/drivers/card_printer/conftest.py) stand in for these two in its folder ---

@pytest.fixture
def printer_sim():
    sim = SimulatedReceiptPrinter(baudrate=FAST_BAUD, encoding="gb18030", paper_mm=80)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def printer(printer_sim):
    with ReceiptPrinter.open(printer_sim.path, baudrate=FAST_BAUD, encoding="gb18030", paper_mm=80,
                             read_timeout=READ_TIMEOUT, write_timeout=WRITE_TIMEOUT) as driver:
        yield driver


@pytest.fixture
def idreader_sim():
    sim = SimulatedIdCardReader(baudrate=FAST_BAUD)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def idreader(idreader_sim):
    with IdCardReader(idreader_sim.path, baudrate=FAST_BAUD, read_timeout=READ_TIMEOUT,
                      write_timeout=WRITE_TIMEOUT, retries=2) as driver:
        yield driver


# --- markers (registered in setup.cfg), given to each test from what it uses, so that
# `./run test -m "not ui and not slow"` is a quick loop and `-m pcsc` etc. pick a part ---

TESTS = Path(__file__).resolve().parent

PCSC_FIXTURES = {"pcscd"}                # card_slot, psam_slot, kiosk, the card printer's simulator ... use it
BACKEND_FIXTURES = {"reference_backend"}  # backend, backend_client, client, kiosk ... use it
SERIAL_FIXTURES = {"idreader_sim"}       # and the receipt printer's printer_sim, told apart below

# Tests that start a part themselves rather than through a fixture (path below tests/, or path::test).
STARTS_ITS_OWN = {
    "kiosk/backend/test_backend_cli.py::test_serve_answers_over_tls_and_stops_on_sigterm": {"backend"},
    "kiosk/backend/test_backend_failures.py::test_the_background_worker_delivers_and_notices_the_link_coming_back":
        {"backend"},
    "kiosk/test_receipt.py::test_printed_receipt_decodes_to_the_screen_text": {"serial"},
    "kiosk/test_receipt.py::test_png_of_a_printed_receipt": {"serial"},
    "kiosk/services/test_services.py::test_kiosk_service_command_runs_a_visit_with_the_id_card": {"serial"},
    "kiosk/services/test_services.py::test_an_id_reader_fault_during_a_visit_is_told_and_nothing_is_queued":
        {"serial"},
    "screens/test_demo.py": {"ui", "backend", "serial"},            # `kiosk demo` under Xvfb
    "security/test_soak_at_rest.py": {"pcsc", "backend", "serial"},  # bench/soak.py's whole kiosk
}

# Slow: over ~1 s on two cores (pytest --durations=0), path below tests/ -> its slow tests, or ALL
# of them (a module-scoped fixture does the slow part once for all). Most of these wait for pcscd
# to see a card go in or out; at 3 s the quick loop took over two minutes, at 1 s under one. A
# test that runs a UI script is slow as well.
ALL = None
SLOW = {
    "drivers/card_printer/test_card_printer.py": {
        "test_a_blank_reaches_the_encoder_is_printed_and_handed_out",
        "test_a_movement_slower_than_its_timeout_is_offline",
        "test_a_printer_that_stops_answering_fails_within_the_timeout",
        "test_a_retained_card_is_recorded_as_retained",
        "test_cancel_while_the_card_moves",
    },
    # Every reply the contract allows, for every route (about 10 s): the whole suite runs it.
    "fuzz/test_fuzz_backend_replies.py": {"test_every_reply_the_contract_allows_is_taken_as_it_is"},
    "drivers/test_card_read.py": {
        "test_3_0_card_reads_with_external_authentication_through_the_psam",
        "test_card_personalised_under_another_key_fails_authentication",
        "test_card_pulled_out_between_apdus_gives_card_removed",
        "test_card_that_only_reads_records_by_tag",
    },
    "drivers/test_personalise.py": {
        "test_a_long_name_goes_on_into_the_extension_record",
        "test_a_personalised_card_is_not_a_blank",
        "test_blank_personalised_reads_back_equal",
        "test_data_for_another_card_is_refused",
    },
    "drivers/test_pin.py": {
        "test_card_pulled_during_change_leaves_old_or_new_pin_valid",
        "test_change_then_verify_with_the_new_pin",
        "test_pin_digits_reach_no_log_exception_or_repr",
        "test_reset_refused_by_the_card_when_the_psam_has_other_keys",
        "test_reset_refuses_another_card_than_the_visits",
        "test_reset_with_the_psam_unblocks_with_a_new_pin",
        "test_weak_pins_are_refused_before_the_card_is_touched",
        "test_wrong_pin_counts_down_and_blocks_at_the_sixth",
    },
    "drivers/test_supervisor.py": {
        "test_supervisor_reports_readers_and_cards",
        "test_watcher_recovers_when_pcscd_is_killed_and_restarted",
        "test_watcher_reports_a_failed_read_and_keeps_watching",
    },
    "faults/test_fault_card_pulled.py": {
        "test_card_pulled_at_every_apdu",
        "test_card_pulled_at_every_apdu_of_the_read_that_starts_a_card_service",
    },
    "faults/test_fault_idle_and_psam.py": {
        "test_backend_down_while_idle_then_a_visit",
        "test_psam_pulled_at_each_of_its_apdus_of_a_card_read",
        "test_psam_pulled_at_each_of_its_apdus_of_a_pin_reset",
        "test_psam_removed_while_idle",
    },
    "faults/test_fault_pcscd_killed.py": {
        "test_pcscd_killed_during_a_pin_change",
        "test_pcscd_killed_while_idle",
    },
    "drivers/test_internal_authenticate.py": ALL,
    "kiosk/services/test_unclear_results.py": {"test_still_unanswered_the_key_waits_for_the_same_request_and_the_retry_replays"},
    "faults/test_fault_backend_misbehaves.py": {"test_a_misbehaving_backend_during_a_visit"},
    "faults/test_fault_issuance_crash.py": ALL,
    "faults/test_fault_sigkill_services.py": ALL,
    "faults/test_fault_unexpected.py": ALL,
    "kiosk/test_face_check.py": ALL,
    "kiosk/test_face_worker.py": ALL,
    "kiosk/test_photo_capture.py": ALL,
    "kiosk/test_update.py": ALL,
    "kiosk/test_fleet_health.py": ALL,
    "kiosk/test_essc_identification.py": {"test_a_garbled_scan_is_told_and_the_wait_goes_on",
                                          "test_an_expired_code_is_refused_and_a_fresh_one_goes_through"},
    "kiosk/backend/test_essc_and_fees.py": {"test_a_code_identifies_its_person_once_and_a_lost_answer_is_replayed"},
    "kiosk/backend/test_backend_server.py": {"test_a_request_trickling_in_is_cut_off_at_its_deadline"},
    "kiosk/backend/test_backend_cli.py": {"test_serve_answers_over_tls_and_stops_on_sigterm"},
    "kiosk/test_application.py": {"test_an_application_queued_offline_carries_its_details_sealed"},
    "drivers/test_qr_camera.py": ALL,   # the simulated camera's scenes are built once, in about 2 s
    "drivers/test_qr_scanner.py": {"test_the_keepalive_triggers_again_before_the_scanners_own_read_time_out"},
    "deploy/test_prometheus_rules.py": ALL,
    "kiosk/test_identity_assurance.py": ALL,
    "kiosk/backend/test_backend_failures.py": {"test_a_reply_trickling_in_byte_by_byte_hits_the_whole_call_deadline"},
    "kiosk/records/test_audit_continuity.py": {"test_a_visit_a_crash_left_open_still_sends_its_entries"},
    "kiosk/test_cardprinter_cli.py": {"test_the_simulator_command_and_a_test_card_that_ends_in_the_reject_box"},
    "kiosk/services/test_services.py": {
        "test_kiosk_service_command_runs_a_visit_with_the_id_card",
        "test_kiosk_service_apply_sends_the_details_and_progress_says_where_the_card_is",
        "test_a_jam_during_issuance_cancels_the_mark_and_holds_the_card_for_staff",
        "test_a_chip_that_fails_to_write_is_retained_and_the_journal_closes",
        "test_a_card_held_at_the_bezel_is_shown_in_diagnostics_and_handed_over_by_staff",
        "test_a_failed_instant_replacement_leaves_the_old_card_working_and_is_resumed",
        "test_a_blank_pulled_out_while_it_is_written_is_retained_and_the_mark_cancelled",
        "test_a_broken_registry_photo_stops_an_issuance_before_a_blank_is_used",
        "test_no_card_is_made_without_the_holders_photo",
        "test_a_blank_of_another_bank_is_retained_before_anything_is_written_on_it",
        "test_a_cloned_card_is_kept_out_of_every_service",
        "test_a_card_of_another_region_is_served_through_the_backend_hsm",
        "test_a_permit_or_permanent_residence_card_holder_reports_a_loss_and_applies_where_the_document_allows",
        "test_a_residence_permit_holder_gets_a_card_made_on_the_spot",
        "test_a_cancelled_card_keeps_its_pin_and_is_refused_in_plain_words",
        "test_a_jam_at_the_bezel_after_the_card_exists_tells_the_citizen_to_ask_staff",
        "test_a_jam_during_issuance_cancels_the_mark_and_retains_the_blank",
        "test_a_visit_ended_by_idle_timeout_holds_no_personal_data",
        "test_a_write_the_card_refuses_ends_with_the_blank_retained_and_the_mark_cancelled",
        "test_business_rule_refusals_are_clear_results",
        "test_change_pin_on_the_card_and_tell_the_backend",
        "test_every_queued_item_offline_lands_once_when_the_backend_returns",
        "test_first_card_bundle_issues_on_the_spot",
        "test_lost_card_bundle",
        "test_pin_digits_are_nowhere_in_the_database_or_its_wal",
        "test_replace_a_damaged_card_on_the_spot",
        "test_reset_pin_with_the_id_card_and_tell_the_backend",
        "test_taking_the_card_out_ends_a_visit_the_card_alone_identified",
        "test_temporary_loss_offline_is_queued_and_lands_once_when_the_link_is_back",
        "test_the_backend_lost_before_the_written_card_is_reported",
        "test_the_kiosk_sends_heartbeats_while_the_link_is_up",
    },
    "kiosk/test_cli.py": {
        "test_sim_card_command_inserts_a_card_until_stopped",
        "test_one_line_errors_and_exit_codes",
        "test_pin_commands_from_stdin",
        "test_read_as_json_and_ireadcardbas",
    },
    "kiosk/services/test_bank.py": ALL,
    "kiosk/test_pinpad_cli.py": ALL,
    "offline_queue/test_outbox_crash.py": ALL,
    "screens/test_demo.py": ALL,
    "security/test_soak_at_rest.py": ALL,
}


def _calls(function, target: str, module, seen: set) -> bool:
    """Whether `function` calls `target`, itself or through other functions of its module."""
    code = getattr(inspect.unwrap(function), "__code__", None)
    if code is None or code in seen:
        return False
    seen.add(code)
    return target in code.co_names or any(
        _calls(getattr(module, name), target, module, seen) for name in code.co_names
        if getattr(getattr(module, name, None), "__module__", None) == module.__name__)


def _runs_a_ui_script(item) -> bool:
    """The test, or a fixture of its module it uses, runs a UI script (tests/ui_script.py)."""
    own = [item.function] + [getattr(item.module, name) for name in item.fixturenames if hasattr(item.module, name)]
    seen: set = set()
    return any(_calls(function, "run_ui_script", item.module, seen) for function in own)


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.path.resolve().relative_to(TESTS).as_posix()
        function = getattr(item, "originalname", item.name)   # without its parameters
        names = set(item.fixturenames)                       # with the fixtures of its fixtures
        markers = STARTS_ITS_OWN.get(path, set()) | STARTS_ITS_OWN.get(f"{path}::{function}", set())
        if names & PCSC_FIXTURES:
            markers.add("pcsc")
        if names & BACKEND_FIXTURES:
            markers.add("backend")
        # The card printer's printer_sim (tests/drivers/card_printer) is on loopback TCP and vpcd.
        if names & SERIAL_FIXTURES or ("printer_sim" in names and "pcscd" not in names):
            markers.add("serial")
        if _runs_a_ui_script(item):
            markers |= {"ui", "slow", "backend", "serial"}   # the UI scripts run the demo's simulated kiosk
        if path in SLOW and (SLOW[path] is ALL or function in SLOW[path]):
            markers.add("slow")
        for marker in sorted(markers):
            item.add_marker(marker)

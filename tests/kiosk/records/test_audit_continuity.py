"""The audit trail cannot be rewritten unseen (#16): the backend keeps a copy that only grows,
flags a fork, a gap or a chain started again (from the copies and from each heartbeat's audit
head), and a visit a crash left open still sends its entries."""
from __future__ import annotations

import pytest

from backend_helpers import key
from kiosk.core import KioskCore
from kiosk.visit import CitizenIdentity
from offline_queue import Outbox
from simulation.config import config_for_simulation
from simulation.stack import ZHANG_SAN, seed_zhang_san


def entry(seq: int, mac: str) -> dict:
    return {"seq": seq, "at_utc": "2026-11-30T06:00:00.000Z", "visit_id": "v1", "service_item": "1.10.6",
            "step": "report_loss_temporary", "outcome": "done", "details": "{}", "mac": mac}


def flags(backend) -> list[tuple[str, str]]:
    with backend.store._transaction() as conn:
        return [tuple(row) for row in conn.execute("SELECT kind, detail FROM audit_flags ORDER BY id")]


def send(client, *entries):
    return client.call("record_audit_entries", {"terminal_number": "KIOSK-0001", "entries": list(entries)},
                       idempotency_key=key())


def test_a_copy_only_grows_and_a_fork_or_a_gap_is_flagged(client, backend):
    assert send(client, entry(1, "a" * 64), entry(2, "b" * 64))["flags"] == []
    assert send(client, entry(2, "b" * 64))["new"] == 0   # the same entry again: nothing to say
    forked = send(client, entry(2, "c" * 64))
    assert forked["flags"] == [{"kind": "fork", "detail": "entry 2 differs from the copy"}] and forked["new"] == 0
    gapped = send(client, entry(5, "d" * 64))
    assert gapped["flags"] == [{"kind": "gap", "detail": "entries 3 to 4 never arrived"}]
    assert flags(backend) == [("fork", "entry 2 differs from the copy"), ("gap", "entries 3 to 4 never arrived")]
    with backend.store._transaction() as conn:   # the copy held is never replaced
        assert conn.execute("SELECT mac FROM audit_copies WHERE seq = 2").fetchone()[0] == "b" * 64


def test_heartbeats_flag_a_chain_started_again_or_forked(client, backend):
    send(client, entry(1, "a" * 64), entry(2, "b" * 64))
    beat = [3, None, "0.1.0"]
    assert client.record_heartbeat("KIOSK-0001", *beat, audit_head=(2, "b" * 64),
                                   idempotency_key=key())["audit_flags"] == []
    restarted = client.record_heartbeat("KIOSK-0001", *beat, audit_head=(0, "0" * 64), idempotency_key=key())
    assert [f["kind"] for f in restarted["audit_flags"]] == ["restart"]
    client.record_heartbeat("KIOSK-0001", *beat, audit_head=(2, "b" * 64), idempotency_key=key())
    forked = client.record_heartbeat("KIOSK-0001", *beat, audit_head=(2, "e" * 64), idempotency_key=key())
    assert [f["kind"] for f in forked["audit_flags"]] == ["fork"]


@pytest.fixture
def config(reference_backend, pki_files, tmp_path):
    return config_for_simulation(reference_backend.url, pki_files, tmp_path)


def test_a_visit_a_crash_left_open_still_sends_its_entries(config, reference_backend):
    seed_zhang_san(reference_backend)
    kiosk = KioskCore(config)   # never started: its worker sends nothing, as after a power cut
    visit = kiosk.services.new_visit()
    visit.identify(CitizenIdentity.from_id_document(ZHANG_SAN))
    kiosk.services.report_loss(visit, "temporary")   # queued and recorded; the visit never ends
    kiosk.close()
    with Outbox.connect(config.outbox.db) as conn:
        written = [row[0] for row in conn.execute("SELECT mac FROM audit_entries ORDER BY seq")]
    assert written
    KioskCore(config).start().close(drain_s=10)   # the kiosk back after the power cut
    with reference_backend.store._transaction() as conn:
        copies = [row[0] for row in conn.execute("SELECT mac FROM audit_copies ORDER BY seq")]
    assert copies == written

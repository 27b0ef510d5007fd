"""The link going wrong: backend down, slow, 5xx, 429, garbage and oversized replies. The
client raises a typed error, the outbox keeps every job, and the kiosk goes on working."""
from __future__ import annotations

import socket
import sqlite3
import time

import pytest

from backend_helpers import client_for, issue_card, key
from hostile import HostileBackend
from kiosk.backend.delivery import UNCLEAR_REFUSAL_ATTEMPTS, health_probe, outbox_sender
from kiosk.backend.errors import BackendRejected, BackendUnavailable, MalformedReply
from offline_queue import DeliveryWorker


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_backend_down_is_unavailable_with_the_link_down(pki):
    client = client_for(f"https://localhost:{free_port()}", pki, connect_timeout_s=1)
    with pytest.raises(BackendUnavailable) as caught:
        client.health()
    assert caught.value.link_down and not isinstance(caught.value, MalformedReply)
    assert not client.is_up()


def test_a_slow_backend_hits_the_read_timeout(pki):
    with HostileBackend(pki, "slow") as hostile:
        client = client_for(hostile.url, pki, read_timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as caught:
            client.health()
        assert time.monotonic() - started < 1.5
        assert "0.3s" in caught.value.reason and not caught.value.link_down
        client.close()


@pytest.mark.parametrize("behaviour", ["trickle_headers", "trickle_body"])
def test_a_reply_trickling_in_byte_by_byte_hits_the_whole_call_deadline(pki, behaviour):
    with HostileBackend(pki, behaviour) as hostile:
        hostile.slow_s = 0.2   # every byte well within the read timeout
        client = client_for(hostile.url, pki, read_timeout_s=1.0, call_deadline_s=1.5)
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as caught:
            client.health()
        assert time.monotonic() - started < 2.5
        assert "1.5s" in caught.value.reason
        client.close()


@pytest.mark.parametrize("behaviour, status, retry_after", [
    ("error_500", 500, None), ("busy_429", 429, 7.0), ("in_progress_409", 409, 1.0)])
def test_retryable_statuses_are_unavailable_with_retry_after(pki, behaviour, status, retry_after):
    with HostileBackend(pki, behaviour) as hostile:
        client = client_for(hostile.url, pki)
        with pytest.raises(BackendUnavailable) as caught:
            client.submit_review("1.10.6", 5, idempotency_key=key())
        assert (caught.value.status, caught.value.retry_after_s) == (status, retry_after)
        client.close()


def test_retry_after_as_an_http_date(pki):
    with HostileBackend(pki, "busy_429_date") as hostile:
        client = client_for(hostile.url, pki)
        with pytest.raises(BackendUnavailable) as caught:
            client.health()
        assert 100 < caught.value.retry_after_s <= 120
        client.close()


@pytest.mark.parametrize("behaviour", ["not_json", "json_array", "oversized", "oversized_chunked", "redirect"])
def test_replies_that_break_the_contract_are_malformed(pki, behaviour):
    with HostileBackend(pki, behaviour) as hostile:
        client = client_for(hostile.url, pki, max_reply_bytes=1 << 20)
        with pytest.raises(MalformedReply):
            client.health()
        # the client is still usable afterwards (a poisoned connection was dropped, not reused)
        hostile.behaviour = "busy_429"
        with pytest.raises(BackendUnavailable) as caught:
            client.health()
        assert caught.value.status == 429
        client.close()


def test_a_refusal_without_a_readable_body_is_still_a_typed_refusal(pki):
    with HostileBackend(pki, "refused_garbage") as hostile:
        client = client_for(hostile.url, pki)
        with pytest.raises(BackendRejected) as caught:
            client.health()
        assert (caught.value.status, caught.value.code) == (403, "http_403")
        client.close()


@pytest.mark.parametrize("behaviour", ["error_500", "busy_429", "not_json", "oversized", "slow"])
def test_jobs_survive_a_misbehaving_backend_and_go_through_once_it_is_well(pki, backend, client, outbox,
                                                                           behaviour):
    card_id = issue_card(client)
    jobs = [outbox.enqueue("report_loss", {"card_id": card_id, "kind": "temporary"}, subject=card_id, urgent=True),
            outbox.enqueue("cancel_loss_report", {"card_id": card_id}, subject=card_id),
            outbox.enqueue("submit_review", {"service_item": "1.10.6", "level": 4}, subject="visit-1")]
    with HostileBackend(pki, behaviour) as hostile:
        hostile.slow_s = 0.6
        bad_client = client_for(hostile.url, pki, read_timeout_s=0.3)
        worker = DeliveryWorker(outbox, outbox_sender(bad_client), health_probe(bad_client))
        assert worker.deliver_due() == 2  # one per subject: the cancellation waits for its loss report
        worker.stop()
        bad_client.close()
    assert outbox.stats().pending == 3 and outbox.stats().dead == 0
    assert {j.attempts for j in outbox.jobs() if j.id != jobs[1].id} == {1}
    # the kiosk keeps working meanwhile: new work is still accepted
    outbox.enqueue("submit_review", {"service_item": "1.10.6", "level": 5}, subject="visit-2")

    worker = DeliveryWorker(outbox, outbox_sender(client), health_probe(client), poll_s=0.05)
    outbox.wake_jobs_waiting_for_link()
    for job in outbox.jobs(["pending"]):  # back-off over: make the retries due now
        with outbox.transaction() as tx:
            tx.execute("UPDATE outbox_jobs SET next_attempt_at = 0 WHERE id = ?", (job.id,))
    while outbox.stats().pending:
        assert worker.deliver_due() > 0
    worker.stop()
    assert outbox.stats().done == 4
    with sqlite3.connect(backend.store.path) as db:
        events = [r[0] for r in db.execute("SELECT event FROM card_events WHERE card_id = ? ORDER BY id", (card_id,))]
        reviews = db.execute("SELECT count(*) FROM reviews").fetchone()[0]
    assert events[-2:] == ["loss_reported_temporary", "loss_report_cancelled"] and reviews == 2


def test_a_refused_job_is_a_dead_letter_with_the_backend_s_reason(client, outbox):
    card_id = issue_card(client)
    outbox.enqueue("cancel_loss_report", {"card_id": card_id}, subject=card_id)
    worker = DeliveryWorker(outbox, outbox_sender(client), health_probe(client))
    worker.deliver_due()
    worker.stop()
    [dead] = outbox.jobs(["dead"])
    assert dead.last_error == "422 no_loss_report: this card has no loss report to cancel"


def test_a_refusal_that_may_be_a_proxy_s_is_tried_again_before_it_is_a_dead_letter(pki, outbox):
    outbox.enqueue("submit_review", {"service_item": "1.10.6", "level": 4}, subject="visit-1")
    with HostileBackend(pki, "refused_garbage") as hostile:   # 403 without the contract's error body
        bad_client = client_for(hostile.url, pki)
        worker = DeliveryWorker(outbox, outbox_sender(bad_client), health_probe(bad_client))
        for attempt in range(1, UNCLEAR_REFUSAL_ATTEMPTS + 1):
            with outbox.transaction() as tx:   # the back-off over
                tx.execute("UPDATE outbox_jobs SET next_attempt_at = 0")
            worker.deliver_due()
            [job] = outbox.jobs(["pending", "dead"])
            assert job.attempts == attempt and job.state == ("dead" if attempt == UNCLEAR_REFUSAL_ATTEMPTS else "pending")
        worker.stop()
        bad_client.close()
    assert hostile.requests == UNCLEAR_REFUSAL_ATTEMPTS


def test_a_dead_letter_sent_again_once_its_cause_is_fixed_goes_through(client, outbox):
    card_id = issue_card(client)
    outbox.enqueue("cancel_loss_report", {"card_id": card_id}, subject=card_id)
    worker = DeliveryWorker(outbox, outbox_sender(client), health_probe(client))
    worker.deliver_due()
    [dead] = outbox.jobs(["dead"])
    client.report_loss(card_id, "temporary", idempotency_key=key())   # the cause: now there is a report
    outbox.retry_dead(dead.id)
    worker.deliver_due()
    worker.stop()
    assert outbox.stats().dead == 0 and outbox.stats().done == 1
    assert client.card_status(card_id)["status"] == "normal"


def test_the_background_worker_delivers_and_notices_the_link_coming_back(pki, tmp_path, outbox):
    from reference_backend.server import open_backend
    port = free_port()
    client = client_for(f"https://localhost:{port}", pki, connect_timeout_s=0.5)
    worker = DeliveryWorker(outbox, outbox_sender(client), health_probe(client), poll_s=0.05,
                            probe_interval_s=0.1).start()
    outbox.enqueue("submit_review", {"service_item": "1.10.2", "level": 5}, subject="visit-1")
    deadline = time.monotonic() + 5
    while worker.link_up and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not worker.link_up and worker.status().pending == 1
    assert outbox.next_due_in() > 0.5  # its back-off alone would wait
    server = open_backend("127.0.0.1", port, tmp_path / "late.db", pki.directory).start()
    try:
        while worker.status().pending and time.monotonic() < deadline:
            time.sleep(0.02)
        status = worker.status()
        assert status.link_up and status.pending == 0 and status.last_delivery_at is not None
    finally:
        worker.stop()
        client.close()
        server.stop()

"""The outbox on its own: transactions, leases, order, settling, sealing at rest."""
from __future__ import annotations

import json
import os
import random
import sqlite3
import stat

import pytest

from offline_queue import (Backoff, DeadLetter, Delivered, DeliveryWorker, KeyRing, Outbox, OutboxError,
                           PermanentFailure, RetryLater, Sealed, SealingError, TransientFailure)

ID_NUMBER = "371302198001011239"
NAME = "张三"


def local_records(path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT what FROM visits ORDER BY rowid")]


def test_a_job_and_its_local_record_are_written_together(outbox):
    with outbox.transaction() as tx:
        tx.execute("CREATE TABLE visits (what TEXT)")
    with outbox.transaction() as tx:
        tx.execute("INSERT INTO visits VALUES (?)", ("loss reported",))
        job = tx.enqueue("report_loss", {"card_id": "C1", "kind": "temporary"}, subject="C1", urgent=True)
    assert job.urgent and len(job.idempotency_key) == 32
    with pytest.raises(RuntimeError):
        with outbox.transaction() as tx:
            tx.execute("INSERT INTO visits VALUES (?)", ("cancelled",))
            tx.enqueue("cancel_loss_report", {"card_id": "C1"}, subject="C1")
            raise RuntimeError("the screen failed half-way")
    assert local_records(outbox.path) == ["loss reported"]
    assert [j.operation for j in outbox.jobs()] == ["report_loss"]


def test_a_caller_can_enqueue_on_its_own_connection(outbox):
    conn = Outbox.connect(outbox.path)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("CREATE TABLE visits (what TEXT)")
    conn.execute("INSERT INTO visits VALUES ('review')")
    outbox.enqueue_on(conn, "submit_review", {"service_item": "1.10.6", "level": 5}, subject="visit-1")
    assert outbox.stats().pending == 0  # not committed yet: invisible
    conn.execute("COMMIT")
    conn.close()
    assert outbox.stats().pending == 1 and local_records(outbox.path) == ["review"]


def test_bad_jobs_are_refused_before_they_reach_the_disk(outbox):
    with pytest.raises(OutboxError):
        outbox.enqueue("", {}, subject="x")
    with pytest.raises(OutboxError):
        outbox.enqueue("report_loss", {"when": object()}, subject="x")
    with pytest.raises(OutboxError):
        outbox.enqueue("report_loss", {}, subject="")
    assert outbox.stats().pending == 0


def test_claim_leases_by_id_and_a_lost_lease_cannot_settle(timed_outbox, clock):
    timed_outbox.enqueue("submit_review", {"level": 5}, subject="a")
    [first] = timed_outbox.claim(10, lease_s=30)
    assert first.attempts == 1 and first.payload == {"level": 5}
    assert timed_outbox.claim(10, lease_s=30) == []  # leased: nobody else gets it
    clock.now += 31
    [again] = timed_outbox.claim(10, lease_s=30)  # the lease ran out: claimable again
    assert again.id == first.id and again.attempts == 2 and again.lease_token != first.lease_token
    assert timed_outbox.settle([Delivered(first)]) == 0  # the old holder's ack is ignored
    assert timed_outbox.settle([Delivered(again)]) == 1
    assert timed_outbox.stats().done == 1


def test_expired_leases_are_requeued_when_the_outbox_opens(tmp_path, keys, clock):
    box = Outbox(tmp_path / "o.db", keys, clock=clock)
    box.enqueue("submit_review", {"level": 5}, subject="a")
    box.claim(1, lease_s=5)
    box.close()  # the kiosk dies with the job leased
    clock.now += 6
    reopened = Outbox(tmp_path / "o.db", keys, clock=clock)
    assert [j.state for j in reopened.jobs()] == ["pending"]
    assert reopened.claim(1, lease_s=5)[0].attempts == 2
    reopened.close()


def test_a_subject_s_jobs_go_in_order_and_other_subjects_do_not_wait(timed_outbox):
    loss = timed_outbox.enqueue("report_loss", {"card_id": "A"}, subject="card-A", urgent=True)
    cancel = timed_outbox.enqueue("cancel_loss_report", {"card_id": "A"}, subject="card-A")
    other = timed_outbox.enqueue("submit_review", {}, subject="visit-B")
    batch = timed_outbox.claim(10, lease_s=30)
    assert [j.id for j in batch] == [loss.id, other.id]
    timed_outbox.settle([RetryLater(batch[0], 0, "503"), Delivered(batch[1])])
    [retried] = timed_outbox.claim(10, lease_s=30)
    assert retried.id == loss.id  # the cancellation still waits behind its loss report
    timed_outbox.settle([Delivered(retried)])
    assert [j.id for j in timed_outbox.claim(10, lease_s=30)] == [cancel.id]


def test_urgent_jobs_are_claimed_first(timed_outbox):
    for n in range(3):
        timed_outbox.enqueue("submit_review", {}, subject=f"visit-{n}")
    loss = timed_outbox.enqueue("report_loss", {"card_id": "Z"}, subject="card-Z", urgent=True)
    assert timed_outbox.claim(1, lease_s=30)[0].id == loss.id


def test_a_dead_letter_keeps_its_reason_and_staff_can_retry_it(timed_outbox):
    timed_outbox.enqueue("cancel_loss_report", {"card_id": "A"}, subject="card-A")
    [job] = timed_outbox.claim(1, lease_s=30)
    timed_outbox.settle([DeadLetter(job, "422 no_loss_report: this card has no loss report to cancel")])
    [dead] = timed_outbox.jobs(["dead"])
    assert dead.last_error.startswith("422 no_loss_report") and timed_outbox.stats().dead == 1
    timed_outbox.retry_dead(job.id)
    [again] = timed_outbox.claim(1, lease_s=30)
    assert again.idempotency_key == job.idempotency_key and again.attempts == 1
    with pytest.raises(OutboxError):
        timed_outbox.retry_dead(job.id)  # not dead any more


def test_stats_give_depth_and_the_age_of_the_oldest_job(timed_outbox, clock):
    assert timed_outbox.stats().oldest_pending_age_s is None
    timed_outbox.enqueue("submit_review", {}, subject="a")
    clock.now += 90
    timed_outbox.enqueue("submit_review", {}, subject="b")
    stats = timed_outbox.stats()
    assert (stats.pending, stats.oldest_pending_age_s) == (2, 90)


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    backoff = Backoff(base_s=2, cap_s=60)
    for attempts, ceiling in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (30, 60)]:
        delays = {backoff.delay(attempts) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def run_one_round(outbox, deliver, probe=lambda: True) -> DeliveryWorker:
    worker = DeliveryWorker(outbox, deliver, probe, senders=2)
    worker.deliver_due()
    worker.stop()
    return worker


def test_the_worker_honours_retry_after(timed_outbox, clock):
    timed_outbox.enqueue("submit_review", {}, subject="a")

    def busy(job):
        raise TransientFailure("429 backend busy", retry_after_s=120)

    run_one_round(timed_outbox, busy)
    assert 120 <= timed_outbox.next_due_in() <= 180   # never sooner than asked, jittered by half at most
    assert timed_outbox.jobs()[0].last_error == "429 backend busy"


def test_kiosks_told_the_same_retry_after_come_back_spread_out():
    waits = [Backoff.after_retry_after(4) for _ in range(200)]
    assert min(waits) >= 4 and max(waits) <= 6 and max(waits) - min(waits) > 1


def test_the_worker_wakes_jobs_when_the_link_comes_back(timed_outbox):
    timed_outbox.enqueue("submit_review", {}, subject="a")
    timed_outbox.enqueue("submit_review", {}, subject="b")

    def link_down(job):
        raise TransientFailure("backend not reachable", link_down=True)

    worker = run_one_round(timed_outbox, link_down)
    assert not worker.link_up and timed_outbox.next_due_in() > 0
    worker = DeliveryWorker(timed_outbox, link_down, probe=lambda: True)
    worker.link_up = False
    assert worker.probe_link() and worker.link_up
    assert timed_outbox.next_due_in() == 0
    worker.stop()


def test_after_an_outage_the_queue_starts_at_a_random_point_of_the_spread(timed_outbox):
    timed_outbox.enqueue("submit_review", {}, subject="a")

    def link_down(job):
        raise TransientFailure("backend not reachable", link_down=True)

    run_one_round(timed_outbox, link_down)
    worker = DeliveryWorker(timed_outbox, link_down, probe=lambda: True, reconnect_spread_s=30,
                            rng=random.Random(7))
    worker.link_up = False
    assert worker.probe_link()
    assert timed_outbox.next_due_in() == pytest.approx(random.Random(7).uniform(0, 30))
    worker.stop()


def test_a_refused_job_becomes_a_dead_letter_and_a_sender_fault_is_retried(timed_outbox):
    timed_outbox.enqueue("report_loss", {}, subject="a")
    timed_outbox.enqueue("report_loss", {}, subject="b")

    def deliver(job):
        if job.id == 1:
            raise PermanentFailure("404 card_not_found: no such card")
        raise KeyError("a bug in the sender")

    run_one_round(timed_outbox, deliver)
    states = {j.id: (j.state, j.last_error) for j in timed_outbox.jobs()}
    assert states == {1: ("dead", "404 card_not_found: no such card"), 2: ("pending", "sender failed: KeyError")}


# --- sealing ---------------------------------------------------------------------------------

def test_personal_data_is_never_in_the_database_file_or_its_wal(tmp_path, keys):
    box = Outbox(tmp_path / "o.db", keys)
    for n in range(50):
        box.enqueue("apply_card", {"holder": {"id_number": ID_NUMBER, "name": NAME}}, subject=ID_NUMBER)
    box.settle([DeadLetter(job, "422 refused") for job in box.claim(5, lease_s=30)])
    files = [tmp_path / "o.db", tmp_path / "o.db-wal"]
    assert (tmp_path / "o.db-wal").stat().st_size > 0  # the WAL really holds the recent pages
    for path in files:
        data = path.read_bytes()
        for secret in (ID_NUMBER.encode(), NAME.encode("utf-8"), NAME.encode("gbk"), NAME.encode("utf-16-le"),
                       ID_NUMBER.encode("utf-16-le")):
            assert secret not in data, f"{secret!r} in {path.name}"
    assert box.claim(1, lease_s=30)[0].payload["holder"]["name"] == NAME
    box.close()


def test_a_sealed_payload_does_not_open_elsewhere_or_tampered(keys):
    sealed = keys.seal(b'{"name": "x"}', b"key-1")
    assert keys.open(sealed, b"key-1") == b'{"name": "x"}'
    with pytest.raises(SealingError):
        keys.open(sealed, b"key-2")  # copied to another row
    flipped = Sealed(sealed.key_id, sealed.blob[:-1] + bytes([sealed.blob[-1] ^ 1]))
    with pytest.raises(SealingError):
        keys.open(flipped, b"key-1")
    with pytest.raises(SealingError):
        KeyRing.generate().open(sealed, b"key-1")


def test_the_key_file_is_private_kept_and_rows_survive_a_new_key(tmp_path):
    path = tmp_path / "keys" / "outbox.key"
    ring = KeyRing.load_or_create(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert KeyRing.load_or_create(path).subject_token("A") == ring.subject_token("A")
    old = ring.seal(b"old row", b"k")
    first_key = bytes.fromhex(json.loads(path.read_text())["keys"]["k1"])
    rotated = KeyRing({"k1": first_key, "k2": os.urandom(16)}, current="k2")
    assert rotated.open(old, b"k") == b"old row" and rotated.seal(b"new", b"k").key_id == "k2"
    assert rotated.subject_token("A") == ring.subject_token("A")  # a card's order survives the change


def test_a_broken_key_file_is_reported(tmp_path):
    path = tmp_path / "bad.key"
    path.write_text('{"current": "k1", "keys": {"k1": "abcd"}}')
    with pytest.raises(SealingError, match="16 bytes"):
        KeyRing.load(path)
    path.write_text("not json")
    with pytest.raises(SealingError, match="malformed"):
        KeyRing.load(path)


def test_a_delivered_job_keeps_its_id_and_ids_never_repeat(timed_outbox):
    first = timed_outbox.enqueue("submit_review", {}, subject="a")
    timed_outbox.settle([Delivered(job) for job in timed_outbox.claim(1, lease_s=30)])
    second = timed_outbox.enqueue("submit_review", {}, subject="a")
    assert second.id == first.id + 1
    assert [(j.id, j.state) for j in timed_outbox.jobs()] == [(first.id, "done"), (second.id, "pending")]

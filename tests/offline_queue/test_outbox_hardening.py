"""The outbox never blocks on one bad row and never lets work die unnoticed (#16): a row whose
payload cannot be opened is quarantined alone; a lost key file with rows left refuses to
start; a job failing while the backend answers is given up, visibly, within limits; an urgent
loss report is never held behind another job of the same person."""
from __future__ import annotations

import sqlite3

import pytest

from kiosk.file_safety import UnsafeFileError, refuse_a_lost_key_file
from offline_queue import DeliveryWorker, TransientFailure


def damage(outbox, job_id: int) -> None:
    with sqlite3.connect(outbox.path) as db:
        db.execute("UPDATE outbox_jobs SET payload = x'00112233445566778899aabbccddeeff00112233' WHERE id = ?",
                   (job_id,))


def test_a_row_that_does_not_open_is_quarantined_alone_and_the_others_go_on(timed_outbox):
    damaged = timed_outbox.enqueue("report_loss", {"card_id": "C1", "kind": "temporary"}, subject="C1", urgent=True)
    later_same_subject = timed_outbox.enqueue("cancel_loss_report", {"card_id": "C1"}, subject="C1")
    other = timed_outbox.enqueue("submit_review", {"service_item": "1.10.6", "level": 5}, subject="visit-1")
    damage(timed_outbox, damaged.id)
    claimed = timed_outbox.claim(10, 60)
    assert [job.id for job in claimed] == [other.id]   # the damaged one is not leased, and blocks nothing
    [quarantined] = timed_outbox.jobs(["quarantined"])
    assert quarantined.id == damaged.id and "cannot be opened" in quarantined.last_error
    assert timed_outbox.stats().quarantined == 1
    assert [job.id for job in timed_outbox.claim(10, 60)] == [later_same_subject.id]


def test_a_lost_key_file_with_rows_left_refuses_to_start(tmp_path, timed_outbox):
    timed_outbox.enqueue("submit_review", {"service_item": "1.10.6", "level": 5}, subject="visit-1")
    refuse_a_lost_key_file(tmp_path / "the-key-it-was-sealed-with.key", tmp_path / "no-database-yet.db")
    with pytest.raises(UnsafeFileError, match="is missing, and .* holds 1 rows"):
        refuse_a_lost_key_file(tmp_path / "the-key-it-was-sealed-with.key", timed_outbox.path)


def test_a_job_failing_while_the_backend_answers_is_given_up_within_limits(timed_outbox, clock):
    job = timed_outbox.enqueue("submit_review", {"service_item": "1.10.6", "level": 5}, subject="visit-1")

    def failing(_job):
        raise TransientFailure("500 backend error")
    worker = DeliveryWorker(timed_outbox, failing, lambda: True, give_up_attempts=3, give_up_s=3600)
    for attempt in (1, 2, 3):
        with timed_outbox.transaction() as tx:
            tx.execute("UPDATE outbox_jobs SET next_attempt_at = 0")
        worker.deliver_due()
    worker.stop()
    [dead] = timed_outbox.jobs(["dead"])
    assert dead.id == job.id and dead.last_error.startswith("given up after 3 attempts")


def test_old_work_is_given_up_by_age_but_never_while_the_link_is_down(timed_outbox, clock):
    timed_outbox.enqueue("submit_review", {"service_item": "1.10.6", "level": 5}, subject="visit-1")
    clock.now += 10 * 86400   # ten days offline

    def link_down(_job):
        raise TransientFailure("backend not reachable", link_down=True)
    worker = DeliveryWorker(timed_outbox, link_down, lambda: False, give_up_attempts=3, give_up_s=86400)
    worker.deliver_due()
    assert timed_outbox.stats().pending == 1 and timed_outbox.stats().dead == 0

    def backend_error(_job):
        raise TransientFailure("503 backend error")
    worker._deliver = backend_error   # the link is back, the backend fails the job
    with timed_outbox.transaction() as tx:
        tx.execute("UPDATE outbox_jobs SET next_attempt_at = 0")
    worker.deliver_due()
    worker.stop()
    assert timed_outbox.stats().dead == 1 and "over 240.0 h" in timed_outbox.jobs(["dead"])[0].last_error


def test_an_urgent_loss_report_is_not_held_behind_a_failing_job_of_the_same_person(timed_outbox):
    application = timed_outbox.enqueue("apply_card", {"holder": {}}, subject="person-1")
    loss = timed_outbox.enqueue("report_person_loss", {"id_number": "x", "kind": "temporary"}, subject="person-1",
                          urgent=True)
    review = timed_outbox.enqueue("submit_review", {"service_item": "1.10.6", "level": 5}, subject="person-1")
    assert [job.id for job in timed_outbox.claim(10, 60)] == [loss.id, application.id]
    assert review.id not in [job.id for job in timed_outbox.jobs(["leased"])]   # a normal job still waits its turn

"""The delivery worker: takes due jobs from the outbox and hands them to a sender.

The sender is whatever the composition root injects: a callable `deliver(job)` that returns
when the backend has the job (a fresh result or a replay of an earlier one), raises
`TransientFailure` when the job should be tried again (link down, timeout, 409 in progress,
429, 5xx, a garbled reply) and `PermanentFailure` when trying again cannot help (other 4xx).
It is called from several threads at once, so it must be thread-safe.

While the link is down the worker does not wear the jobs out: it probes the backend cheaply
(`probe() -> bool`) every few seconds and, as soon as the probe succeeds, makes the jobs that
were waiting for the link due at once instead of after their back-off.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from offline_queue.outbox import ClaimedJob, DeadLetter, Delivered, Outbox, Outcome, RetryLater

log = logging.getLogger(__name__)


class TransientFailure(Exception):
    """Try again later. `retry_after_s` is the backend's own wish (Retry-After), if it said;
    `link_down` says the backend could not be reached at all."""

    def __init__(self, reason: str, *, retry_after_s: float | None = None, link_down: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.link_down = link_down


class PermanentFailure(Exception):
    """The backend refused the job for good; it becomes a dead letter with this reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter: attempt n waits between half and all of
    base * 2^(n-1), capped; the jitter keeps kiosks that lost the link together from all
    coming back in the same second."""
    base_s: float = 2.0
    cap_s: float = 600.0

    def delay(self, attempts: int, rng=random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    @staticmethod
    def after_retry_after(retry_after_s: float, rng=random) -> float:
        """The backend's Retry-After, never less, and up to half as much again: kiosks it shed
        together with the same answer must not all come back in the same second."""
        return retry_after_s + rng.uniform(0, retry_after_s / 2)


@dataclass(frozen=True)
class WorkerStatus:
    link_up: bool
    pending: int
    dead: int
    oldest_pending_age_s: float | None
    last_delivery_at: float | None
    last_failure: str | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class DeliveryWorker:
    """Delivers the outbox's due jobs with a pool of senders. A job that keeps failing while the
    backend answers (not while the link is down: a field office may be offline for days) is
    given up as a dead letter after `give_up_attempts` attempts or `give_up_s` seconds, so that
    staff see it instead of it retrying unseen for ever. When the link comes back, the waiting
    jobs start at a random point within `reconnect_spread_s`: at the end of a province-wide
    outage, thousands of kiosks find the backend again within seconds of each other."""

    def __init__(self, outbox: Outbox, deliver: Callable[[ClaimedJob], object], probe: Callable[[], bool], *,
                 senders: int = 4, batch_size: int = 32, lease_s: float = 60.0, poll_s: float = 2.0,
                 probe_interval_s: float = 5.0, backoff: Backoff = Backoff(), give_up_attempts: int = 50,
                 give_up_s: float = 7 * 86400.0, reconnect_spread_s: float = 0.0, rng=random):
        self.outbox = outbox
        self._deliver = deliver
        self._probe = probe
        self._batch_size = batch_size
        self._lease_s = lease_s
        self._poll_s = poll_s
        self._probe_interval_s = probe_interval_s
        self._backoff = backoff
        self._give_up_attempts = give_up_attempts
        self._give_up_s = give_up_s
        self._reconnect_spread_s = reconnect_spread_s
        self._rng = rng
        self._pool = ThreadPoolExecutor(max_workers=senders, thread_name_prefix="outbox-sender")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.link_up = True
        self.last_delivery_at: float | None = None
        self.last_failure: str | None = None
        outbox.add_listener(self._wake.set)

    # --- running ------------------------------------------------------------------------

    def start(self) -> "DeliveryWorker":
        self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._step()
            except Exception:  # a worker that dies silently loses nothing but delivers nothing
                log.exception("outbox worker step failed; going on after a pause")
                self._stopping.wait(self._poll_s)

    def _step(self) -> None:
        if not self.link_up:
            if self.probe_link():
                return
            self._stopping.wait(self._probe_interval_s)
            return
        if self.deliver_due() == 0:
            due_in = self.outbox.next_due_in()
            self._wake.wait(self._poll_s if due_in is None else min(self._poll_s, max(due_in, 0.01)))
            self._wake.clear()

    def probe_link(self) -> bool:
        """Asks the backend whether it is reachable; if so, jobs waiting for the link are due."""
        try:
            up = bool(self._probe())
        except Exception as exc:
            log.debug("health probe failed: %s", type(exc).__name__)
            up = False
        if up:
            self.link_up = True
            after_s = self._rng.uniform(0, self._reconnect_spread_s)
            woken = self.outbox.wake_jobs_waiting_for_link(after_s)
            log.info("backend link is back; %d jobs due in %.1f s", woken, after_s)
        return up

    def deliver_due(self) -> int:
        """One round: claim a batch, send it, record the outcomes. Returns jobs claimed."""
        jobs = self.outbox.claim(self._batch_size, self._lease_s)
        if not jobs:
            return 0
        outcomes = list(self._pool.map(self._attempt, jobs))
        self.outbox.settle(outcomes)
        return len(jobs)

    def _attempt(self, job: ClaimedJob) -> Outcome:
        try:
            self._deliver(job)
        except TransientFailure as exc:
            self.last_failure = exc.reason
            if exc.link_down:
                self.link_up = False
            age_s = self.outbox.now() - job.created_at
            if not exc.link_down and (job.attempts >= self._give_up_attempts or age_s >= self._give_up_s):
                reason = f"given up after {job.attempts} attempts over {age_s / 3600:.1f} h: {exc.reason}"
                log.warning("job %d (%s): %s", job.id, job.operation, reason)
                return DeadLetter(job, reason)
            delay = (self._backoff.after_retry_after(exc.retry_after_s, self._rng) if exc.retry_after_s is not None
                     else self._backoff.delay(job.attempts, self._rng))
            log.info("job %d (%s) attempt %d: %s; again in %.1fs", job.id, job.operation, job.attempts,
                     exc.reason, delay)
            return RetryLater(job, delay, exc.reason, link_down=exc.link_down)
        except PermanentFailure as exc:
            self.last_failure = exc.reason
            log.warning("job %d (%s) refused for good: %s", job.id, job.operation, exc.reason)
            return DeadLetter(job, exc.reason)
        except Exception as exc:
            # A fault in the sender is not the job's fault: keep the job and try again later.
            reason = f"sender failed: {type(exc).__name__}"
            self.last_failure = reason
            log.exception("job %d (%s): %s", job.id, job.operation, reason)
            return RetryLater(job, self._backoff.delay(job.attempts), reason)
        self.last_delivery_at = time.time()
        return Delivered(job)

    def status(self) -> WorkerStatus:
        stats = self.outbox.stats()
        return WorkerStatus(link_up=self.link_up, pending=stats.pending, dead=stats.dead,
                            oldest_pending_age_s=stats.oldest_pending_age_s,
                            last_delivery_at=self.last_delivery_at, last_failure=self.last_failure)

"""The durable outbox: work the backend must learn of, kept in SQLite until it is delivered.

Lessons taken from persist-queue's and huey's SQLite queues:
* a job is claimed by its row id with a lease (an expiry time and a token), never by object
  identity, and settled by id and token, so a worker that lost its lease cannot settle a
  job someone else now holds;
* nothing is deleted before the work is done; a delivered job moves, without its payload
  and subject, to `outbox_done` as the trace of what was sent;
* WAL with synchronous=FULL: a job the caller was told about survives a power cut;
* a job is written in the same transaction as the local record it belongs to
  (`with outbox.transaction() as tx:`), with its idempotency key made at that moment.

Order: jobs about the same subject (a card, a person) are delivered one after the other in
the order they were written (a loss report before its cancellation); a job waits while an
earlier job of its subject is still pending. Different subjects do not wait for each other,
and urgent jobs (loss reports) are claimed before the others.

Payloads are sealed (SM4-GCM, see sealing.py); the subject is stored as a keyed token. The
only clear text in the file is the operation name, times, counters and error reasons.
"""
from __future__ import annotations

import enum
import json
import logging
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from offline_queue.sealing import KeyRing, Sealed, SealingError

log = logging.getLogger(__name__)



class JobState(enum.StrEnum):
    PENDING = "pending"   # waiting to be sent, or to be retried after a back-off
    LEASED = "leased"     # claimed by a sender until its lease runs out
    DONE = "done"         # delivered (moved to outbox_done)
    DEAD = "dead"         # refused for good: a dead letter for staff
    QUARANTINED = "quarantined"   # its sealed payload cannot be opened: set aside for staff, alone


URGENT, NORMAL = 0, 1
MAX_REASON_CHARS = 300
_PAYLOAD_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_jobs (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT NOT NULL,      -- a UUID4 made at enqueue
    operation        TEXT NOT NULL,
    subject          TEXT NOT NULL,      -- keyed token of the card/person, never the id itself
    priority         INTEGER NOT NULL,   -- 0 urgent, 1 normal
    key_id           TEXT NOT NULL,
    payload          BLOB NOT NULL,      -- sealed
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       REAL NOT NULL,
    next_attempt_at  REAL NOT NULL,
    lease_until      REAL,
    lease_token      TEXT,
    waits_for_link   INTEGER NOT NULL DEFAULT 0,  -- last failure was the link: retry when it is back
    last_error       TEXT,
    finished_at      REAL
);
-- Only open jobs and dead letters stay in outbox_jobs, so it needs no index: claiming scans
-- a small table, and a durable enqueue writes one table page to the WAL, not one per index.
CREATE TABLE IF NOT EXISTS outbox_done (
    id               INTEGER PRIMARY KEY,  -- the job's id while it was open
    idempotency_key  TEXT NOT NULL,
    operation        TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    created_at       REAL NOT NULL,
    finished_at      REAL NOT NULL
);
"""


class OutboxError(Exception):
    """The outbox cannot do what was asked (bad job description, unknown job)."""


@dataclass(frozen=True)
class OutboxJob:
    """What a caller gets back from enqueue: enough to find the job again, nothing personal."""
    id: int
    idempotency_key: str
    operation: str
    urgent: bool


@dataclass(frozen=True)
class ClaimedJob:
    """A job leased to a worker for delivery, with its payload opened."""
    id: int
    idempotency_key: str
    operation: str
    payload: dict
    attempts: int          # including this one
    lease_token: str
    created_at: float


@dataclass(frozen=True)
class JobSummary:
    """One job as staff see it: no payload, no subject."""
    id: int
    operation: str
    state: str
    urgent: bool
    attempts: int
    created_at: float
    next_attempt_at: float | None   # None once done
    last_error: str | None
    finished_at: float | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class OutboxStats:
    pending: int            # waiting, including jobs leased right now
    dead: int
    done: int
    oldest_pending_age_s: float | None
    quarantined: int = 0    # payloads that cannot be opened (a damaged row, a lost key)
    leased: int = 0         # of `pending`, those a sender holds right now (in flight)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


# How a delivery attempt ended; the worker hands a batch of these to `Outbox.settle`.
@dataclass(frozen=True)
class Delivered:
    job: ClaimedJob


@dataclass(frozen=True)
class RetryLater:
    job: ClaimedJob
    delay_s: float
    reason: str
    link_down: bool = False


@dataclass(frozen=True)
class DeadLetter:
    job: ClaimedJob
    reason: str


Outcome = Delivered | RetryLater | DeadLetter


class OutboxTransaction:
    """One SQLite transaction shared by the caller's own statements and its outbox jobs."""

    def __init__(self, outbox: "Outbox", connection: sqlite3.Connection):
        self._outbox = outbox
        self.connection = connection
        self.enqueued: list[OutboxJob] = []

    def execute(self, sql: str, parameters: tuple | dict = ()) -> sqlite3.Cursor:
        return self.connection.execute(sql, parameters)

    def enqueue(self, operation: str, payload: dict, *, subject: str, urgent: bool = False) -> OutboxJob:
        job = self._outbox.enqueue_on(self.connection, operation, payload, subject=subject, urgent=urgent)
        self.enqueued.append(job)
        return job


class Outbox:
    def __init__(self, path: str | Path, keys: KeyRing | None, *, clock: Callable[[], float] = time.time,
                 busy_timeout_s: float = 10.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._keys = keys  # None: staff tools that look and re-queue, but never open a payload
        self._clock = clock
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self._conn = self.connect(self.path, busy_timeout_s)
        with self._lock:
            self._conn.executescript(_SCHEMA)
        self.requeue_expired_leases()

    @staticmethod
    def connect(path: str | Path, busy_timeout_s: float = 10.0) -> sqlite3.Connection:
        """A connection with the outbox's durability settings, for callers that keep their own
        records in the same file and use `enqueue_on` inside their own transactions."""
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                               timeout=busy_timeout_s)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """`listener()` is called after each commit that added jobs (the worker wakes up)."""
        self._listeners.append(listener)

    # --- writing jobs -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[OutboxTransaction]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            tx = OutboxTransaction(self, self._conn)
            try:
                yield tx
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        if tx.enqueued:
            self._notify()

    def enqueue(self, operation: str, payload: dict, *, subject: str, urgent: bool = False) -> OutboxJob:
        """One job in a transaction of its own; returns once it is on disk."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                job = self.enqueue_on(self._conn, operation, payload, subject=subject, urgent=urgent)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        self._notify()
        return job

    def enqueue_on(self, conn: sqlite3.Connection, operation: str, payload: dict, *,
                   subject: str, urgent: bool = False) -> OutboxJob:
        """Writes a job with `conn` inside the caller's open transaction; the caller commits
        (and then calls `notify_enqueued` to wake the worker early)."""
        keys = self._need_keys()
        if not operation or not isinstance(operation, str):
            raise OutboxError("a job needs an operation name")
        if not subject:
            raise OutboxError("a job needs a subject (card or person) to keep its order")
        if not isinstance(payload, dict):
            raise OutboxError("a job's payload is a JSON object")
        key = secrets.token_hex(16)  # 128 random bits, as the Idempotency-Key draft recommends
        try:
            plaintext = _PAYLOAD_ENCODER.encode(payload).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise OutboxError(f"payload is not JSON: {exc}") from None
        sealed = keys.seal(plaintext, key.encode("ascii"))
        now = self._clock()
        cursor = conn.execute(
            # Ids never repeat: a delivered job's id lives on in outbox_done, where SQLite's own
            # choice (max id + 1 of this table) would hand it out again.
            "INSERT INTO outbox_jobs (id, idempotency_key, operation, subject, priority, key_id, payload,"
            " state, created_at, next_attempt_at) VALUES (1 + max(coalesce((SELECT max(id) FROM outbox_jobs), 0),"
            " coalesce((SELECT max(id) FROM outbox_done), 0)), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, operation, keys.subject_token(subject), URGENT if urgent else NORMAL,
             sealed.key_id, sealed.blob, JobState.PENDING, now, now))
        return OutboxJob(cursor.lastrowid, key, operation, urgent)

    def _need_keys(self) -> KeyRing:
        if self._keys is None:
            raise OutboxError("this outbox was opened without the key file")
        return self._keys

    def seal(self, plaintext: bytes, associated_data: bytes) -> Sealed:
        """Seals a value another table of this database keeps (with the jobs' key): nothing
        personal is written in clear."""
        return self._need_keys().seal(plaintext, associated_data)

    def open_sealed(self, sealed: Sealed, associated_data: bytes) -> bytes:
        return self._need_keys().open(sealed, associated_data)

    def notify_enqueued(self) -> None:
        self._notify()

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    # --- delivering ---------------------------------------------------------------------

    def claim(self, limit: int, lease_s: float) -> list[ClaimedJob]:
        """Leases up to `limit` due jobs, urgent first. A subject's jobs go in order, one at a
        time, except that an urgent job waits only for the subject's earlier urgent ones: a
        loss report is never held behind another job of the same person that keeps failing.
        Only jobs whose payload opens are leased; one that does not is quarantined, alone, so
        that it never blocks the others (the first of a subject's jobs included)."""
        keys = self._need_keys()
        now = self._clock()
        token = secrets.token_hex(8)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                rows = self._conn.execute(
                    "SELECT id, idempotency_key, operation, key_id, payload, attempts, created_at"
                    " FROM outbox_jobs AS j"
                    " WHERE ((j.state = 'pending' AND j.next_attempt_at <= :now)"
                    "     OR (j.state = 'leased' AND j.lease_until <= :now))"
                    "   AND (j.id IN (SELECT min(id) FROM outbox_jobs WHERE state IN ('pending', 'leased')"
                    "                 GROUP BY subject)"
                    "        OR j.priority = 0 AND j.id IN (SELECT min(id) FROM outbox_jobs"
                    "                 WHERE state IN ('pending', 'leased') AND priority = 0 GROUP BY subject))"
                    " ORDER BY j.priority, j.id LIMIT :limit",
                    {"now": now, "limit": limit}).fetchall()
                claimed, quarantined = [], []
                for row in rows:
                    try:
                        payload = json.loads(keys.open(Sealed(row[3], row[4]), row[1].encode("ascii")))
                    except (SealingError, ValueError, TypeError) as exc:   # damaged, or sealed with a lost key
                        quarantined.append((f"payload cannot be opened: {type(exc).__name__}: {exc}"[:MAX_REASON_CHARS],
                                            now, row[0]))
                        continue
                    claimed.append(ClaimedJob(id=row[0], idempotency_key=row[1], operation=row[2], payload=payload,
                                              attempts=row[5] + 1, lease_token=token, created_at=row[6]))
                self._conn.executemany(
                    "UPDATE outbox_jobs SET state = 'quarantined', last_error = ?, finished_at = ?,"
                    " lease_until = NULL, lease_token = NULL WHERE id = ?", quarantined)
                self._conn.executemany(
                    "UPDATE outbox_jobs SET state = 'leased', lease_until = ?, lease_token = ?,"
                    " attempts = attempts + 1 WHERE id = ?",
                    [(now + lease_s, token, job.id) for job in claimed])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        for reason, _now, job_id in quarantined:
            log.error("outbox job %d quarantined: %s", job_id, reason)
        return claimed

    def settle(self, outcomes: Iterable[Outcome]) -> int:
        """Records how deliveries ended, all in one transaction. A job whose lease was lost
        (expired and claimed again) is left alone. Returns how many jobs were settled."""
        now = self._clock()
        settled = 0
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for outcome in outcomes:
                    job = outcome.job
                    if isinstance(outcome, Delivered):
                        self._conn.execute(
                            "INSERT INTO outbox_done SELECT id, idempotency_key, operation, priority, attempts,"
                            " created_at, ? FROM outbox_jobs WHERE id = ? AND state = 'leased' AND lease_token = ?",
                            (now, job.id, job.lease_token))
                        sql, values = "DELETE FROM outbox_jobs", []
                    elif isinstance(outcome, RetryLater):
                        sql = ("UPDATE outbox_jobs SET state = 'pending', next_attempt_at = ?, last_error = ?,"
                               " waits_for_link = ?, lease_until = NULL, lease_token = NULL")
                        values = [now + outcome.delay_s, outcome.reason[:MAX_REASON_CHARS], int(outcome.link_down)]
                    else:
                        sql = ("UPDATE outbox_jobs SET state = 'dead', finished_at = ?, last_error = ?,"
                               " lease_until = NULL, lease_token = NULL, waits_for_link = 0")
                        values = [now, outcome.reason[:MAX_REASON_CHARS]]
                    cursor = self._conn.execute(
                        sql + " WHERE id = ? AND state = 'leased' AND lease_token = ?",
                        (*values, job.id, job.lease_token))
                    settled += cursor.rowcount
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return settled

    def requeue_expired_leases(self) -> int:
        """Jobs whose worker died mid-delivery go back to pending (and will be sent again;
        the idempotency key makes the repeat harmless)."""
        with self._lock:
            return self._conn.execute(
                "UPDATE outbox_jobs SET state = 'pending', lease_until = NULL, lease_token = NULL"
                " WHERE state = 'leased' AND lease_until <= ?", (self._clock(),)).rowcount

    def wake_jobs_waiting_for_link(self, after_s: float = 0.0) -> int:
        """The link is back: jobs that failed only because it was down are due in `after_s`
        seconds, whatever their back-off said. Jobs held back by a Retry-After keep their time."""
        with self._lock:
            count = self._conn.execute(
                "UPDATE outbox_jobs SET next_attempt_at = ?, waits_for_link = 0"
                " WHERE state = 'pending' AND waits_for_link = 1", (self._clock() + after_s,)).rowcount
        if count:
            self._notify()
        return count

    def now(self) -> float:
        """The outbox's clock (the one job times are written with)."""
        return self._clock()

    def next_due_in(self) -> float | None:
        """Seconds until the next pending job is due (0 if one is due now), None if none."""
        with self._lock:
            row = self._conn.execute(
                "SELECT min(CASE state WHEN 'pending' THEN next_attempt_at ELSE lease_until END)"
                " FROM outbox_jobs WHERE state IN ('pending', 'leased')").fetchone()
        return None if row[0] is None else max(0.0, row[0] - self._clock())

    # --- looking and staff actions ------------------------------------------------------

    def stats(self) -> OutboxStats:
        with self._lock:
            counts = dict(self._conn.execute(
                "SELECT state, count(*) FROM outbox_jobs GROUP BY state").fetchall())
            counts[JobState.DONE] = self._conn.execute("SELECT count(*) FROM outbox_done").fetchone()[0]
            oldest = self._conn.execute(
                "SELECT min(created_at) FROM outbox_jobs WHERE state IN ('pending', 'leased')").fetchone()[0]
        return OutboxStats(
            pending=counts.get(JobState.PENDING, 0) + counts.get(JobState.LEASED, 0),
            dead=counts.get(JobState.DEAD, 0), done=counts.get(JobState.DONE, 0),
            oldest_pending_age_s=None if oldest is None else max(0.0, self._clock() - oldest),
            quarantined=counts.get(JobState.QUARANTINED, 0), leased=counts.get(JobState.LEASED, 0))

    def jobs(self, states: Iterable[str] = (JobState.PENDING, JobState.LEASED, JobState.DEAD, JobState.DONE),
             limit: int = 1000) -> list[JobSummary]:
        states = list(states)
        marks = ", ".join("?" for _ in states)
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, operation, state, priority, attempts, created_at, next_attempt_at, last_error,"
                f" finished_at FROM outbox_jobs WHERE state IN ({marks})"
                " UNION ALL SELECT id, operation, 'done', priority, attempts, created_at, NULL, NULL, finished_at"
                " FROM outbox_done WHERE ? ORDER BY id LIMIT ?",
                (*states, JobState.DONE in states, limit)).fetchall()
        return [JobSummary(id=r[0], operation=r[1], state=r[2], urgent=r[3] == URGENT, attempts=r[4],
                           created_at=r[5], next_attempt_at=r[6], last_error=r[7], finished_at=r[8])
                for r in rows]

    def job_state(self, job_id: int) -> tuple[str, int] | None:
        """(state, delivery attempts so far) of one job; None for an id never given out."""
        with self._lock:
            row = self._conn.execute("SELECT state, attempts FROM outbox_jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                row = self._conn.execute("SELECT 'done', attempts FROM outbox_done WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    def retry_dead(self, job_id: int) -> None:
        """Staff decided a dead letter is worth another try (e.g. after fixing data at the
        backend): it starts again with a fresh back-off, under the same idempotency key."""
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE outbox_jobs SET state = 'pending', attempts = 0, next_attempt_at = ?,"
                " finished_at = NULL WHERE id = ? AND state = 'dead'", (self._clock(), job_id))
        if cursor.rowcount != 1:
            raise OutboxError(f"job {job_id} is not a dead letter")
        self._notify()

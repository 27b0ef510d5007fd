"""What every service item shares: its result, the local record, and the one way work reaches
the backend.

Two paths, chosen per action by its offline rule in the catalogue (catalog.py):

* queued: the local record, the audit entry and the outbox job are written in ONE SQLite
  transaction (the job's idempotency key is made then); the delivery worker sends it. When the
  link is up the citizen waits a moment for the delivery and is told "done"; otherwise the
  result is "pending" with the outbox reference, and takes effect on delivery.
* online: the backend must answer now (instant issuance, activation, ...). The call carries an
  idempotency key and the result is recorded locally; when the backend cannot be reached the
  action is refused with an explanation and the nearest thing that works offline. An answer
  lost after the request was sent is never guessed at: the request is sent again under the
  same key (the backend replays what it did), and if it still has no answer, the key is kept
  for the same request, so that trying again later can never have a second effect.
"""
from __future__ import annotations

import datetime
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

from kiosk.audit import AuditTrail, canonical_json
from kiosk.backend.client import BackendClient
from kiosk.backend.errors import BackendRejected, BackendUnavailable
from kiosk.outcome import Outcome
from kiosk.services import catalog
from offline_queue import JobState, Outbox

MAX_AUDIT_ENTRIES_PER_JOB = 200  # the contract's limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS service_records (
    id              INTEGER PRIMARY KEY,
    visit_id        TEXT NOT NULL,
    service_item    TEXT NOT NULL,
    action          TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    outbox_job_id   INTEGER,             -- set when the action went through the outbox
    idempotency_key TEXT,                -- set when the action called the backend directly
    detail          TEXT NOT NULL,       -- JSON without personal data
    at_utc          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_sent (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq        INTEGER NOT NULL     -- the last audit entry queued for the backend
);
CREATE TABLE IF NOT EXISTS unclear_calls (
    request         TEXT PRIMARY KEY,    -- keyed digest of the operation and its payload
    idempotency_key TEXT NOT NULL,
    since           REAL NOT NULL        -- time.time() of the first unanswered send
);
"""
UNCLEAR_RESENDS = 2          # an answer lost after sending: the same request again, this often ...
UNCLEAR_PAUSE_S = 0.3        # ... after this pause, doubling
UNCLEAR_KEY_KEPT_S = 86400   # a request still unanswered reuses its key when tried again this soon


class IssuanceFailed(Exception):
    """Instant issuance stopped before the card existed; the mark is cancelled, the blank retained."""

    citizen_message = "制卡未成功，已为您取消本次制卡，卡片已回收，请到窗口办理或稍后再试。"


class IssuanceHeld(IssuanceFailed):
    """Instant issuance stopped before the card existed, and the kiosk could not undo all of it
    (a jammed card, a backend that does not answer): the issuance journal holds it for staff."""

    citizen_message = "制卡未成功，卡片留在制卡机内，待工作人员处理。您的原卡不受影响，请到窗口办理或稍后再试。"


class IssuanceUnclear(IssuanceFailed):
    """The written card was reported and no answer came: it may be the holder's card now. The
    card stays in the printer until staff settle it (kiosk issuance resume|reject)."""

    citizen_message = "新卡已制作，但登记结果暂未确认，卡片留在制卡机内，请联系工作人员核实后为您取卡。"


@dataclass(frozen=True)
class ServiceResult:
    """How one action of one item ended, in words for the citizen and for staff.
    `outbox_reference` is set for queued work: it is printed on the receipt."""

    service_item: str
    action: str                 # an action of the catalogue, or one of its named results
    outcome: Outcome
    citizen_message: str
    staff_detail: str = ""
    outbox_reference: int | None = None
    data: dict = field(default_factory=dict)   # masked values for the receipt and the screen
    message_args: dict = field(default_factory=dict)   # what fills citizen_message's {fields}, in any language

    def message(self, translate=lambda text: text) -> str:
        """The citizen's words, translated by `translate` before its {fields} are filled."""
        return translate(self.citizen_message).format(**self.message_args) if self.message_args \
            else translate(self.citizen_message)

    def __post_init__(self):
        # An action the catalogue does not know would drop off the receipt and the statistics.
        if not catalog.is_result_name(self.action):
            raise ValueError(f"{self.action!r} is not an action of the catalogue")
        object.__setattr__(self, "outcome", Outcome(self.outcome))

    @property
    def service_name(self) -> str:
        return catalog.ITEMS[self.service_item]

    @property
    def ok(self) -> bool:
        return self.outcome.ok


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class BackendLink:
    """The kiosk's two ways to the backend (outbox and direct), the local service records and
    their audit trail: a record and its audit entry are always written in one transaction."""

    def __init__(self, client: BackendClient, outbox: Outbox, audit: AuditTrail, *, delivery_wait_s: float = 3.0,
                 link_up: Callable[[], bool] = lambda: True):
        self.client = client
        self.outbox = outbox
        self.audit = audit
        self.delivery_wait_s = delivery_wait_s
        self._link_up = link_up  # the delivery worker's view: no waiting for a link known down
        with outbox.transaction() as tx:
            for statement in _SCHEMA.strip().split(";\n"):
                if statement.strip():
                    tx.execute(statement)
            audit.ensure_schema(tx)

    def _record(self, tx, visit_id: str, service_item: str, action: str, outcome: Outcome, detail: dict,
                *, job_id: int | None = None, idempotency_key: str | None = None) -> None:
        audit_details = {**detail, **({"outbox_job": job_id} if job_id is not None else {})}
        self.audit.append(tx, visit_id=visit_id, service_item=service_item, step=action, outcome=outcome,
                          details=audit_details)
        tx.execute("INSERT INTO service_records (visit_id, service_item, action, outcome, outbox_job_id,"
                   " idempotency_key, detail, at_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (visit_id, service_item, action, outcome, job_id, idempotency_key,
                    json.dumps(detail, ensure_ascii=False, sort_keys=True), _utc_now()))

    def record(self, visit_id: str, service_item: str, action: str, outcome: Outcome, detail: dict) -> None:
        """A local-only record: a refusal, or a card operation with nothing to tell the backend."""
        with self.outbox.transaction() as tx:
            self._record(tx, visit_id, service_item, action, outcome, detail)

    def queue(self, visit_id: str, service_item: str, action: str, operation: str, payload: dict, *,
              subject: str, detail: dict, urgent: bool = False) -> tuple[Outcome, int]:
        """Writes the job with its local record, then waits up to `delivery_wait_s` for the
        worker to deliver it (not at all while the worker knows the link is down). Returns (DONE
        or PENDING, the outbox job id). A job the backend refused comes back as REFUSED with the
        job id (it is a dead letter staff can see)."""
        with self.outbox.transaction() as tx:
            job = tx.enqueue(operation, payload, subject=subject, urgent=urgent)
            self._record(tx, visit_id, service_item, action, Outcome.PENDING, detail, job_id=job.id)
        deadline = time.monotonic() + self.delivery_wait_s
        while True:
            state, attempts = self.outbox.job_state(job.id)
            if state == JobState.DONE:
                self._settle_record(job.id, Outcome.DONE)
                return Outcome.DONE, job.id
            if state == JobState.DEAD:
                self._settle_record(job.id, Outcome.REFUSED)
                return Outcome.REFUSED, job.id
            failed_once = state == JobState.PENDING and attempts > 0  # it will be retried with back-off
            if failed_once or time.monotonic() >= deadline or not self._link_up():
                return Outcome.PENDING, job.id
            time.sleep(0.01)

    def _settle_record(self, job_id: int, outcome: Outcome) -> None:
        with self.outbox.transaction() as tx:
            row = tx.execute("SELECT visit_id, service_item, action FROM service_records WHERE outbox_job_id = ?",
                             (job_id,)).fetchone()
            tx.execute("UPDATE service_records SET outcome = ? WHERE outbox_job_id = ?", (outcome, job_id))
            self.audit.append(tx, visit_id=row[0], service_item=row[1], step=f"{row[2]}_delivery",
                              outcome=outcome, details={"outbox_job": job_id})

    def call(self, visit_id: str, service_item: str, action: str, operation: str, payload: dict,
             detail: dict, *, idempotency_key: str | None = None) -> dict:
        """A call the citizen needs answered now. Raises BackendUnavailable / BackendRejected
        after recording the attempt; the caller turns them into a result. A request whose answer
        was lost after sending is sent again under the same key (see the module's docstring).
        A caller that keeps its own record of the key (the issuance journal) passes it."""
        request = self.audit.pseudonym(f"{operation}\n{canonical_json(payload)}")
        key = idempotency_key or self._unclear_key(request) or secrets.token_hex(16)
        for resend in range(UNCLEAR_RESENDS + 1):
            try:
                reply = self.client.call(operation, payload, idempotency_key=key)
                break
            except BackendRejected as exc:
                with self.outbox.transaction() as tx:
                    tx.execute("DELETE FROM unclear_calls WHERE request = ?", (request,))
                    self._record(tx, visit_id, service_item, action, Outcome.REFUSED, {**detail, "code": exc.code},
                                 idempotency_key=key)
                raise
            except BackendUnavailable as exc:
                if exc.sent and resend < UNCLEAR_RESENDS:
                    time.sleep(exc.retry_after_s if exc.retry_after_s is not None and exc.retry_after_s <= 2
                               else UNCLEAR_PAUSE_S * 2 ** resend)
                    continue
                with self.outbox.transaction() as tx:
                    if exc.sent:   # it may have taken effect: the key stays with the request
                        tx.execute("INSERT OR IGNORE INTO unclear_calls VALUES (?, ?, ?)", (request, key, time.time()))
                    self._record(tx, visit_id, service_item, action, Outcome.FAILED,
                                 {**detail, "link": "unclear" if exc.sent else "down"}, idempotency_key=key)
                raise
        with self.outbox.transaction() as tx:
            tx.execute("DELETE FROM unclear_calls WHERE request = ?", (request,))
            self._record(tx, visit_id, service_item, action, Outcome.DONE, detail, idempotency_key=key)
        return reply

    def _unclear_key(self, request: str) -> str | None:
        """The key of the same request sent lately without an answer, if any."""
        with self.outbox.transaction() as tx:
            row = tx.execute("SELECT idempotency_key FROM unclear_calls WHERE request = ? AND since > ?",
                             (request, time.time() - UNCLEAR_KEY_KEPT_S)).fetchone()
        return row[0] if row else None

    def send_audit_trail(self, terminal_number: str) -> list[int]:
        """Queues for the backend a copy of every audit entry not queued before, in order, where
        a removed or rewritten local trail can be checked against it: a visit's entries when it
        ends, and (called at start) whatever a crash left behind. Returns the outbox job ids."""
        jobs = []
        with self.outbox.transaction() as tx:
            row = tx.execute("SELECT last_seq FROM audit_sent WHERE id = 1").fetchone()
            entries = self.audit.entries(tx, after_seq=row[0] if row else 0)
            for start in range(0, len(entries), MAX_AUDIT_ENTRIES_PER_JOB):
                batch = entries[start:start + MAX_AUDIT_ENTRIES_PER_JOB]
                jobs.append(tx.enqueue("record_audit_entries", {"terminal_number": terminal_number, "entries": [
                    {"seq": e.seq, "at_utc": e.at_utc.isoformat(), "visit_id": e.visit_id,
                     "service_item": e.service_item, "step": e.step, "outcome": e.outcome,
                     "details": canonical_json(e.details), "mac": e.mac} for e in batch]},
                    subject=f"audit:{terminal_number}").id)
            if entries:
                tx.execute("INSERT INTO audit_sent (id, last_seq) VALUES (1, ?)"
                           " ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq", (entries[-1].seq,))
        return jobs

    def read(self, operation: str, payload: dict) -> dict:
        """A read (status lookups): nothing to record."""
        return self.client.call(operation, payload)

    def person_read(self, visit, operation: str) -> dict:
        """A read of the visit's person (their cards, their photo): the backend gives it only
        within a visit this kiosk opened for them, opened once per visit."""
        id_number = visit.identity.id_number
        if visit.backend_visit_token is None:
            visit.backend_visit_token = self.read("open_visit", {"id_number": id_number})["visit_token"]
        return self.read(operation, {"id_number": id_number, "visit_token": visit.backend_visit_token})

"""The issuance journal: where each card made on the spot (立等可取) is, step by step, so that a
kiosk that lost its power or its process in the middle knows at the next start which card is
where and what the backend holds, and finishes or rejects it.

Each step is written (synchronous=FULL, in the outbox's database) as soon as it is done:

    opened             the application is known; the mark is asked for next
    marked             the backend marked the application for instant issuance
    blank_fed          a blank is at the encoder; its identifier is known
    chip_personalised  the chip holds the holder's data (and the factory PIN)
    pin_set            the chip holds the citizen's own PIN
    face_printed       the face is printed; the card is off the contact station
    reporting          the written card is being reported under `report_key`: the answer may be lost
    reported           the backend holds the card as the holder's (a replaced card is cancelled)

An entry ends `handed_out` (ejected to the citizen, or to staff) or `rejected` (the card
retained in the reject box and the mark cancelled: the application stays open, to be issued
again). An entry found `running` at a start was cut off by a crash. Until someone settles it,
an entry `needs_staff`; see InstantIssuance.recover() for who settles what.
"""
from __future__ import annotations

import datetime
import enum
import os
import secrets
from dataclasses import dataclass

from offline_queue import Outbox, Sealed

_SCHEMA = """
CREATE TABLE IF NOT EXISTS issuance_journal (
    id              INTEGER PRIMARY KEY,
    application_id  TEXT NOT NULL,
    visit_id        TEXT NOT NULL,
    service_item    TEXT NOT NULL,
    step            TEXT NOT NULL,
    status          TEXT NOT NULL,       -- running, needs_staff, handed_out, rejected
    holds_card      INTEGER NOT NULL DEFAULT 0,   -- the printer holds this entry's card
    card_id         TEXT,
    card_number     TEXT,
    report_key      TEXT NOT NULL,       -- the Idempotency-Key of report_written_card, chosen up front
    pid             INTEGER NOT NULL,    -- the process at work on it
    note            TEXT NOT NULL DEFAULT '',     -- for staff: why it stopped, what is left
    updated_utc     TEXT NOT NULL,
    account_key_id  TEXT,                -- the card's bank account, sealed with the outbox's key (#15)
    account_sealed  BLOB
)
"""


class IssuanceStep(enum.StrEnum):
    OPENED = "opened"
    MARKED = "marked"
    BLANK_FED = "blank_fed"
    CHIP_PERSONALISED = "chip_personalised"
    PIN_SET = "pin_set"
    FACE_PRINTED = "face_printed"
    REPORTING = "reporting"
    REPORTED = "reported"


STEP_ORDER = list(IssuanceStep)


class EntryStatus(enum.StrEnum):
    RUNNING = "running"
    NEEDS_STAFF = "needs_staff"
    HANDED_OUT = "handed_out"
    REJECTED = "rejected"


UNFINISHED = (EntryStatus.RUNNING, EntryStatus.NEEDS_STAFF)


@dataclass(frozen=True)
class JournalEntry:
    id: int
    application_id: str
    visit_id: str
    service_item: str
    step: IssuanceStep
    status: EntryStatus
    holds_card: bool
    card_id: str | None
    card_number: str | None
    report_key: str
    pid: int
    note: str
    updated_utc: str

    def reached(self, step: IssuanceStep) -> bool:
        return STEP_ORDER.index(self.step) >= STEP_ORDER.index(step)

    @property
    def cut_off(self) -> bool:
        """Running, but not in a live process other than this one: a crash stopped it."""
        if self.status != EntryStatus.RUNNING:
            return False
        if self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:   # alive, under another user
            return False
        return False

    def as_dict(self) -> dict:
        return {"application_id": self.application_id, "visit_id": self.visit_id, "service_item": self.service_item,
                "step": str(self.step), "status": str(self.status), "holds_card": self.holds_card,
                "card_id": self.card_id, "card_number": self.card_number, "note": self.note,
                "updated_utc": self.updated_utc}


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


_COLUMNS = ("id, application_id, visit_id, service_item, step, status, holds_card, card_id, card_number,"
            " report_key, pid, note, updated_utc")


def _entry(row) -> JournalEntry:
    values = list(row)
    values[4], values[5], values[6] = IssuanceStep(values[4]), EntryStatus(values[5]), bool(values[6])
    return JournalEntry(*values)


class JournalError(Exception):
    """The journal holds no such entry, or not in a state that allows what was asked."""


class IssuanceJournal:
    """The journal's rows; every change is its own durable transaction."""

    def __init__(self, outbox: Outbox):
        self.outbox = outbox
        with outbox.transaction() as tx:
            tx.execute(_SCHEMA)
            columns = {row[1] for row in tx.execute("PRAGMA table_info(issuance_journal)")}
            for column, kind in (("account_key_id", "TEXT"), ("account_sealed", "BLOB")):
                if column not in columns:   # a journal made before the bank side
                    tx.execute(f"ALTER TABLE issuance_journal ADD COLUMN {column} {kind}")

    def keep_account(self, entry: JournalEntry, account: str) -> None:
        """The card's bank account, for its report (and that report's resend after a crash),
        sealed: the database never holds it in clear."""
        sealed = self.outbox.seal(account.encode("ascii"), self._account_label(entry))
        with self.outbox.transaction() as tx:
            tx.execute("UPDATE issuance_journal SET account_key_id = ?, account_sealed = ? WHERE id = ?",
                       (sealed.key_id, sealed.blob, entry.id))

    def account_of(self, entry: JournalEntry) -> str | None:
        with self.outbox.transaction() as tx:
            row = tx.execute("SELECT account_key_id, account_sealed FROM issuance_journal WHERE id = ?",
                             (entry.id,)).fetchone()
        if row is None or row[1] is None:
            return None
        return self.outbox.open_sealed(Sealed(row[0], row[1]), self._account_label(entry)).decode("ascii")

    @staticmethod
    def _account_label(entry: JournalEntry) -> bytes:
        return f"issuance-journal/{entry.id}/{entry.report_key}/bank-account".encode("ascii")

    def open(self, application_id: str, visit_id: str, service_item: str) -> JournalEntry:
        with self.outbox.transaction() as tx:
            entry_id = tx.execute(
                "INSERT INTO issuance_journal (application_id, visit_id, service_item, step, status, report_key,"
                " pid, updated_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (application_id, visit_id, service_item, IssuanceStep.OPENED, EntryStatus.RUNNING,
                 secrets.token_hex(16), os.getpid(), _utc_now())).lastrowid
        return self.get(entry_id)

    def get(self, entry_id: int) -> JournalEntry:
        with self.outbox.transaction() as tx:
            row = tx.execute(f"SELECT {_COLUMNS} FROM issuance_journal WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise JournalError(f"no issuance journal entry {entry_id}")
        return _entry(row)

    def record(self, entry: JournalEntry, step: IssuanceStep, **changes) -> JournalEntry:
        """`step` is done. `changes` may set holds_card, card_id and card_number."""
        return self._update(entry, step=step, **changes)

    def needs_staff(self, entry: JournalEntry, note: str, **changes) -> JournalEntry:
        return self._update(entry, status=EntryStatus.NEEDS_STAFF, note=note, **changes)

    def take_over(self, entry: JournalEntry) -> JournalEntry:
        """This process works on the entry now (a recovery, a staff command)."""
        return self._update(entry, pid=os.getpid())

    def close(self, entry: JournalEntry, status: EntryStatus, note: str = "") -> JournalEntry:
        if status in UNFINISHED:
            raise ValueError(f"{status} does not close an entry")
        return self._update(entry, status=status, note=note, holds_card=False)

    def _update(self, entry: JournalEntry, **changes) -> JournalEntry:
        allowed = {"step", "status", "holds_card", "card_id", "card_number", "note", "pid"}
        if not set(changes) <= allowed:
            raise ValueError(f"not journal columns: {sorted(set(changes) - allowed)}")
        changes = {name: (int(value) if isinstance(value, bool) else value) for name, value in changes.items()}
        assignments = ", ".join(f"{name} = ?" for name in changes)
        with self.outbox.transaction() as tx:
            tx.execute(f"UPDATE issuance_journal SET {assignments}, updated_utc = ? WHERE id = ?",
                       (*changes.values(), _utc_now(), entry.id))
        return self.get(entry.id)

    def unfinished(self) -> list[JournalEntry]:
        with self.outbox.transaction() as tx:
            rows = tx.execute(f"SELECT {_COLUMNS} FROM issuance_journal WHERE status IN (?, ?) ORDER BY id",
                              UNFINISHED).fetchall()
        return [_entry(row) for row in rows]

    def recent(self, limit: int = 20) -> list[JournalEntry]:
        with self.outbox.transaction() as tx:
            rows = tx.execute(f"SELECT {_COLUMNS} FROM issuance_journal ORDER BY id DESC LIMIT ?",
                              (limit,)).fetchall()
        return [_entry(row) for row in rows]

    def unfinished_for(self, application_id: str) -> JournalEntry:
        """The one unfinished entry of an application (what staff name in a command)."""
        entries = [e for e in self.unfinished() if e.application_id == application_id]
        if not entries:
            raise JournalError(f"no unfinished issuance of application {application_id}")
        return entries[-1]

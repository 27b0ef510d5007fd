"""The audit trail (服务全程可追溯): every step of every visit, in a tamper-evident log.

Each entry is chained to the one before it:

    mac(n) = HMAC(key, "kiosk audit entry v1" || seq || at_utc || visit_id || service_item
                       || step || outcome || details || mac(n-1))

with every field length-prefixed (4 bytes, big-endian) and seq as 8 signed big-endian bytes;
entry 1 chains to 64 zeros. HMAC-SM3 by default, HMAC-SHA256 as the alternative setting.
A chain alone cannot tell that its last entries were cut off, so `audit_head` holds one MACed
record of the last sequence number and MAC, rewritten in the same transaction as each append.
(Restoring an old copy of the whole database, head included, is not detectable locally; the
entries the backend receives through the outbox are the outside anchor for that.)

Entries are written with the caller's executor, inside the caller's transaction, beside the
local record and the outbox job they belong to. That transaction must be BEGIN IMMEDIATE (as
`Outbox.transaction()` is): the write lock is then held from the moment the head is read, so
two appenders cannot both extend the same entry and fork the chain.

Personal data never goes in clear: details carry masked values (`3713**********1234`, `张*`)
or `pseudonym(key, value)`, and `append` refuses values shaped like an ID number or a name.
"""
from __future__ import annotations

import datetime
import hmac as constant_time
import json
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from cryptography.hazmat.primitives import hashes, hmac

from offline_queue.sealing import KeyRing

ALGORITHMS = {"sm3": hashes.SM3, "sha256": hashes.SHA256}
KEY_BYTES = 32
GENESIS_MAC = "0" * 64
PSEUDONYM_BYTES = 16
# Moved entries are looked for among the sequence numbers no genuine entry holds, when there
# are at most this many (a swap, a removal with renumbering); beyond that, an entry that does
# not verify where it is stored is reported as edited.
MAX_CANDIDATE_SEQS = 64

_ENTRY_LABEL = b"kiosk audit entry v1"
_HEAD_LABEL = b"kiosk audit head v1"
_KEY_CHECK_LABEL = b"kiosk audit key check v1"
_PSEUDONYM_LABEL = b"kiosk audit pseudonym v1\x00"
# The label cannot be a card or person identifier (those never hold a NUL), so the token it
# yields is never one the outbox writes down as a job's subject.
_KEYRING_LABEL = "\x00kiosk audit trail MAC key v1"

# An identity document's number standing alone: 18 characters (17 digits and a digit or X: the
# resident ID card, the residence permit) or a foreigner's permanent residence number (three
# letters, twelve digits). Bounded by non-alphanumerics so that hex tokens (idempotency keys,
# pseudonyms) are not mistaken for one.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|[A-Z]{3}[0-9]{12})(?![0-9A-Za-z])")
# Two or more CJK ideographs in a row: a name (a masked name keeps one, `张*`). Details use
# English codes; Chinese text belongs on screens and receipts, not in the trail.
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]{2,}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_entries (
    seq           INTEGER PRIMARY KEY,   -- 1, 2, 3, ... with no gaps
    at_utc        TEXT NOT NULL,         -- ISO 8601, UTC, microseconds: 2026-11-26T09:30:00.000000Z
    visit_id      TEXT NOT NULL,
    service_item  TEXT NOT NULL,         -- "1.10.6", or a bundle name such as "lost_card"
    step          TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    details       TEXT NOT NULL,         -- canonical JSON, no personal data in clear
    prev_mac      TEXT NOT NULL,         -- hex
    mac           TEXT NOT NULL          -- hex
);
CREATE INDEX IF NOT EXISTS audit_entries_by_visit ON audit_entries (visit_id);
CREATE TABLE IF NOT EXISTS audit_head (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    algorithm     TEXT NOT NULL,
    key_check     TEXT NOT NULL,         -- tells a wrong key from a tampered trail
    last_seq      INTEGER NOT NULL,
    last_mac      TEXT NOT NULL,
    mac           TEXT NOT NULL
);
"""

# Kinds of finding, as `AuditFinding.kind`.
EDITED = "edited"                # does not verify anywhere: a field or its MAC was changed, or it was forged
REORDERED = "reordered"          # genuine, but stored under another sequence number than it was written with
DUPLICATED = "duplicated"        # a copy of a genuine entry that is also present
MISSING = "missing"              # sequence numbers with no entry
CHAIN_BROKEN = "chain_broken"    # two genuine neighbours that were not written one after the other
BEYOND_HEAD = "beyond_head"      # genuine entries after the last one the head vouches for
HEAD = "head"                    # the head record is missing, edited, or names another last entry


class AuditError(Exception):
    """The audit trail refuses what was asked, or cannot be read."""


class PersonalDataInDetails(AuditError):
    """An entry's details hold something shaped like an ID number or a name."""


class WrongAuditKey(AuditError):
    """The trail was written with another key or algorithm than the verifier's."""


class Executor(Protocol):
    """A sqlite3.Connection, or the outbox's OutboxTransaction."""

    def execute(self, sql: str, parameters: tuple | dict = ...) -> sqlite3.Cursor: ...


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at_utc: datetime.datetime
    visit_id: str
    service_item: str
    step: str
    outcome: str
    details: dict
    prev_mac: str
    mac: str


@dataclass(frozen=True)
class AuditFinding:
    kind: str
    seq: int | None          # the entry as stored; for MISSING the first number of the range
    message: str
    until_seq: int | None = None     # MISSING: the last number of the range
    written_seq: int | None = None   # REORDERED, DUPLICATED: the number it was written with


@dataclass(frozen=True)
class AuditVerification:
    entries: int
    findings: list[AuditFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def _new_mac(key: bytes, algorithm: str) -> hmac.HMAC:
    if algorithm not in ALGORITHMS:
        raise AuditError(f"unknown audit algorithm {algorithm!r} (known: {', '.join(ALGORITHMS)})")
    return hmac.HMAC(key, ALGORITHMS[algorithm]())


def pseudonym(key: bytes, value: str, algorithm: str = "sm3") -> str:
    """A keyed hash of a personal value (an ID number, a card number) for the trail: the same
    value always gives the same pseudonym, so a person's visits can be found, but without
    the key the value cannot be guessed from it, not even by trying every ID number."""
    mac = _new_mac(key, algorithm)
    mac.update(_PSEUDONYM_LABEL + value.encode("utf-8"))
    return mac.finalize()[:PSEUDONYM_BYTES].hex()


def audit_key_from(keyring: KeyRing, secret: bytes) -> bytes:
    """The trail's 32-byte MAC key, from the kiosk's key file and the audit secret kept apart
    from it (kiosk/audit_secret.py): the files beside the database alone do not give it.

    The key ring's keyed SM3 token of a fixed label (it comes from the first key in the file,
    so it survives a change of the current key, and old entries still verify) is expanded with
    HMAC-SM3, over the secret, to 32 bytes. The label holds a NUL, which no card or person
    identifier does, so the token is never one the outbox stores in clear as a subject.
    """
    if len(secret) < KEY_BYTES:
        raise AuditError(f"the audit secret must be at least {KEY_BYTES} bytes")
    material = bytes.fromhex(keyring.subject_token(_KEYRING_LABEL))
    mac = hmac.HMAC(material, hashes.SM3())
    mac.update(b"kiosk audit trail MAC key v2\0" + secret)
    return mac.finalize()


def canonical_json(details: dict) -> str:
    try:
        return json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AuditError(f"details are not plain JSON: {exc}") from None


def _refuse_personal_data(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_personal_data(key, f"{where} key")
            _refuse_personal_data(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _refuse_personal_data(item, f"{where}[{index}]")
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value)
        # The message names where, never what: the value must not reach a log either.
        if _ID_NUMBER.search(text):
            raise PersonalDataInDetails(f"{where} looks like an ID number: store a masked value or a pseudonym")
        if _CJK_RUN.search(text):
            raise PersonalDataInDetails(f"{where} looks like a name (Chinese text): store a masked value, "
                                        "a pseudonym, or an English code")


def _length_prefixed(parts: Iterable[bytes]) -> bytes:
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def _utc_text(moment: datetime.datetime) -> str:
    if moment.tzinfo is None:
        raise AuditError("audit times must be timezone-aware")
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _connection_of(executor: Executor) -> sqlite3.Connection | None:
    if isinstance(executor, sqlite3.Connection):
        return executor
    connection = getattr(executor, "connection", None)
    return connection if isinstance(connection, sqlite3.Connection) else None


@dataclass
class _StoredEntry:
    """One row as raw bytes, so that a corrupted row is checked, not choked on."""
    seq: int
    fields: tuple[bytes | None, ...]   # at_utc, visit_id, service_item, step, outcome, details
    prev_mac: bytes | None
    mac: bytes | None
    written_seq: int | None = None   # found for a suspect that verifies under another number


class AuditTrail:
    def __init__(self, key: bytes, algorithm: str = "sm3", *,
                 clock: Callable[[], datetime.datetime] = _utc_now):
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise AuditError(f"the audit key must be {KEY_BYTES} bytes (see audit_key_from)")
        _new_mac(key, algorithm)  # an unknown algorithm is refused here, not at the first append
        self._key = key
        self.algorithm = algorithm
        self._clock = clock
        self._key_check = self._mac(_KEY_CHECK_LABEL)[:16]

    def _mac(self, message: bytes) -> str:
        mac = _new_mac(self._key, self.algorithm)
        mac.update(message)
        return mac.finalize().hex()

    def _entry_mac(self, seq: int, fields: Iterable[bytes], prev_mac: bytes) -> str:
        return self._mac(_ENTRY_LABEL + seq.to_bytes(8, "big", signed=True) + _length_prefixed([*fields, prev_mac]))

    def _head_mac(self, last_seq: int, last_mac: bytes) -> str:
        return self._mac(_HEAD_LABEL + _length_prefixed([self.algorithm.encode("ascii")])
                         + last_seq.to_bytes(8, "big", signed=True) + _length_prefixed([last_mac]))

    def pseudonym(self, value: str) -> str:
        return pseudonym(self._key, value, self.algorithm)

    # --- writing ----------------------------------------------------------------------

    def ensure_schema(self, executor: Executor) -> None:
        """Creates the tables, and the head of an empty trail. A head that is gone while
        entries remain is left gone: `verify` reports it and `append` refuses to go on."""
        if executor.execute("PRAGMA encoding").fetchone()[0] != "UTF-8":
            raise AuditError("the audit trail needs a UTF-8 database (MACs are over the stored UTF-8 bytes)")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                executor.execute(statement, ())
        if executor.execute("SELECT count(*) FROM audit_head").fetchone()[0] == 0 and \
                executor.execute("SELECT count(*) FROM audit_entries").fetchone()[0] == 0:
            executor.execute(
                "INSERT OR IGNORE INTO audit_head (id, algorithm, key_check, last_seq, last_mac, mac)"
                " VALUES (1, ?, ?, 0, ?, ?)",
                (self.algorithm, self._key_check, GENESIS_MAC, self._head_mac(0, GENESIS_MAC.encode("ascii"))))

    def append(self, executor: Executor, *, visit_id: str, service_item: str, step: str, outcome: str,
               details: dict) -> AuditEntry:
        """Adds one entry inside the caller's open BEGIN IMMEDIATE transaction."""
        connection = _connection_of(executor)
        if connection is not None and not connection.in_transaction:
            raise AuditError("append must run inside the caller's transaction (BEGIN IMMEDIATE), "
                             "with the local record and the outbox job it belongs to")
        for name, value in (("visit_id", visit_id), ("service_item", service_item), ("step", step),
                            ("outcome", outcome)):
            if not isinstance(value, str) or not value:
                raise AuditError(f"{name} must be a non-empty string")
            _refuse_personal_data(value, name)
        if not isinstance(details, dict):
            raise AuditError("details must be a dict")
        _refuse_personal_data(details, "details")
        details_text = canonical_json(details)

        head = executor.execute(
            "SELECT CAST(algorithm AS BLOB), CAST(key_check AS BLOB), last_seq, CAST(last_mac AS BLOB),"
            " CAST(mac AS BLOB) FROM audit_head WHERE id = 1").fetchone()
        if head is None:
            raise AuditError("the audit head record is missing: run `kiosk audit verify`")
        self._check_key(head)
        _, _, last_seq, last_mac, head_mac = head
        if not isinstance(last_seq, int) or last_mac is None or \
                not constant_time.compare_digest(head_mac or b"", self._head_mac(last_seq, last_mac).encode("ascii")):
            raise AuditError("the audit head record does not verify: the trail was tampered with; "
                             "run `kiosk audit verify` before extending it")

        seq = last_seq + 1
        at = self._clock()
        fields = (_utc_text(at), visit_id, service_item, step, outcome, details_text)
        prev_mac = last_mac.decode("ascii")
        mac = self._entry_mac(seq, (f.encode("utf-8") for f in fields), last_mac)
        executor.execute(
            "INSERT INTO audit_entries (seq, at_utc, visit_id, service_item, step, outcome, details, prev_mac, mac)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (seq, *fields, prev_mac, mac))
        executor.execute("UPDATE audit_head SET last_seq = ?, last_mac = ?, mac = ? WHERE id = 1",
                         (seq, mac, self._head_mac(seq, mac.encode("ascii"))))
        return AuditEntry(seq, at.astimezone(datetime.timezone.utc), visit_id, service_item, step, outcome,
                          json.loads(details_text), prev_mac, mac)

    def _check_key(self, head: tuple) -> None:
        algorithm, key_check = head[0], head[1]
        if algorithm != self.algorithm.encode("ascii"):
            shown = algorithm.decode("utf-8", "replace") if isinstance(algorithm, bytes) else algorithm
            raise WrongAuditKey(f"the trail was written with {shown!r}, this verifier uses {self.algorithm!r} "
                                "(a wrong setting, or the head record was edited)")
        if not constant_time.compare_digest(key_check or b"", self._key_check.encode("ascii")):
            raise WrongAuditKey("the key does not match this audit trail: a wrong key file, "
                                "or the head record was edited")

    # --- reading ----------------------------------------------------------------------

    def head(self, connection: Executor) -> tuple[int, str]:
        """(sequence number, MAC) of the last entry: what the heartbeats tell the backend, so it
        can see the chain go on, or be cut, forked or started again."""
        row = connection.execute("SELECT last_seq, last_mac FROM audit_head WHERE id = 1", ()).fetchone()
        if row is None:
            raise AuditError("the audit head record is missing: run `kiosk audit verify`")
        return row[0], row[1]

    def entries(self, connection: Executor, visit_id: str | None = None, *, after_seq: int = 0) -> list[AuditEntry]:
        """Entries in sequence order, all (after `after_seq`) or one visit's. Does not verify
        them: see `verify`."""
        sql = ("SELECT seq, at_utc, visit_id, service_item, step, outcome, details, prev_mac, mac"
               " FROM audit_entries")
        rows = (connection.execute(sql + " WHERE seq > ? ORDER BY seq", (after_seq,)) if visit_id is None else
                connection.execute(sql + " WHERE visit_id = ? ORDER BY seq", (visit_id,)))
        try:
            return [AuditEntry(row[0], datetime.datetime.strptime(row[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                               tzinfo=datetime.timezone.utc), row[2], row[3], row[4], row[5], json.loads(row[6]),
                               row[7], row[8]) for row in rows]
        except (sqlite3.OperationalError, ValueError, TypeError) as exc:
            raise AuditError(f"the audit trail holds an unreadable entry ({exc}); run `kiosk audit verify`") from None

    def verify(self, connection: Executor) -> AuditVerification:
        """Checks every entry and the head, in one read snapshot (appends may go on meanwhile).

        An entry that does not verify under the number it is stored with is tried under the
        numbers no genuine entry holds: if it verifies there, it was moved (reordered), not
        edited. Raises WrongAuditKey when the key or algorithm is not the trail's."""
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('audit_entries', 'audit_head')", ())}
        if tables != {"audit_entries", "audit_head"}:
            raise AuditError("there is no audit trail in this database")
        own_snapshot = isinstance(connection, sqlite3.Connection) and not connection.in_transaction
        if own_snapshot:
            connection.execute("BEGIN")
        try:
            return self._verify(connection)
        finally:
            if own_snapshot:
                connection.execute("ROLLBACK")

    def _verify(self, connection: Executor) -> AuditVerification:
        findings: list[AuditFinding] = []
        head = connection.execute(
            "SELECT CAST(algorithm AS BLOB), CAST(key_check AS BLOB), last_seq, CAST(last_mac AS BLOB),"
            " CAST(mac AS BLOB) FROM audit_head WHERE id = 1", ()).fetchone()
        head_last: int | None = None
        head_last_mac: bytes | None = None
        if head is None:
            findings.append(AuditFinding(HEAD, None, "the head record is missing: entries at the end "
                                                     "may have been removed"))
        else:
            self._check_key(head)
            _, _, last_seq, last_mac, head_mac = head
            if isinstance(last_seq, int) and last_mac is not None and constant_time.compare_digest(
                    head_mac or b"", self._head_mac(last_seq, last_mac).encode("ascii")):
                head_last, head_last_mac = last_seq, last_mac
            else:
                findings.append(AuditFinding(HEAD, None, "the head record was edited: its MAC does not match"))

        # One pass in stored order keeps only what does not verify; a trail of a million
        # genuine entries costs a million MACs, not a million rows in memory.
        count = 0
        genuine_gaps: list[tuple[int, int]] = []   # numbers no genuine entry holds, as ranges
        highest_genuine = 0
        previous: _StoredEntry | None = None
        suspects: list[_StoredEntry] = []
        genuine_beyond_head: list[int] = []
        for row in connection.execute(
                "SELECT seq, CAST(at_utc AS BLOB), CAST(visit_id AS BLOB), CAST(service_item AS BLOB),"
                " CAST(step AS BLOB), CAST(outcome AS BLOB), CAST(details AS BLOB), CAST(prev_mac AS BLOB),"
                " CAST(mac AS BLOB) FROM audit_entries ORDER BY seq", ()):
            count += 1
            entry = _StoredEntry(row[0], tuple(row[1:7]), row[7], row[8])
            if not self._verifies_as(entry, entry.seq):
                suspects.append(entry)
                previous = None
                continue
            if entry.seq > highest_genuine + 1:
                genuine_gaps.append((highest_genuine + 1, entry.seq - 1))
            highest_genuine = entry.seq
            expected_prev = GENESIS_MAC.encode("ascii") if entry.seq == 1 else \
                previous.mac if previous is not None and previous.seq == entry.seq - 1 else None
            if expected_prev is not None and entry.prev_mac != expected_prev:
                findings.append(AuditFinding(CHAIN_BROKEN, entry.seq,
                                             f"entry {entry.seq} does not follow entry {entry.seq - 1}: "
                                             "the two were not written one after the other"))
            if head_last is not None:
                if entry.seq > head_last:
                    genuine_beyond_head.append(entry.seq)
                elif entry.seq == head_last and entry.mac != head_last_mac:
                    findings.append(AuditFinding(HEAD, entry.seq, f"the head record's last MAC is not "
                                                                  f"that of entry {entry.seq}"))
            previous = entry

        expected_last = head_last if head_last is not None else max([highest_genuine] + [s.seq for s in suspects])
        if expected_last > highest_genuine:
            genuine_gaps.append((highest_genuine + 1, expected_last))
        unheld = sum(last - first + 1 for first, last in genuine_gaps)
        candidates = [n for first, last in genuine_gaps for n in range(first, last + 1)] \
            if unheld <= MAX_CANDIDATE_SEQS else []

        written: set[int] = set()
        edited: set[int] = set()
        for entry in suspects:
            entry.written_seq = next((n for n in candidates if self._verifies_as(entry, n)), None)
            if entry.written_seq is None:
                edited.add(entry.seq)
                findings.append(AuditFinding(EDITED, entry.seq, f"entry {entry.seq} was edited or forged: "
                                                                "its MAC does not match its contents"))
            elif entry.written_seq in written:
                findings.append(AuditFinding(DUPLICATED, entry.seq, f"entry {entry.seq} is a copy of entry "
                                             f"{entry.written_seq}", written_seq=entry.written_seq))
            else:
                written.add(entry.written_seq)
                findings.append(AuditFinding(REORDERED, entry.seq, f"entry {entry.seq} was written as entry "
                                             f"{entry.written_seq}: entries were reordered",
                                             written_seq=entry.written_seq))
                if entry.written_seq == head_last and entry.mac != head_last_mac:
                    findings.append(AuditFinding(HEAD, entry.seq, f"the head record's last MAC is not "
                                                                  f"that of entry {head_last}"))

        # A number is missing when no entry holds it: neither a genuine one, nor a moved one
        # written with it, nor an edited one stored under it.
        for start, end in _without(genuine_gaps, written | edited):
            where = " (removed from the end)" if end == head_last else ""
            what = f"entry {start} is" if start == end else f"entries {start}-{end} are"
            findings.append(AuditFinding(MISSING, start, f"{what} missing{where}", until_seq=end))
        for first, last in _ranges(genuine_beyond_head):
            findings.append(AuditFinding(BEYOND_HEAD, first, f"entries {first}-{last} are genuine but the head "
                                         f"record ends at {head_last}: the head was rolled back", until_seq=last))
        findings.sort(key=lambda f: (f.seq is not None, f.seq or 0))
        return AuditVerification(count, findings)

    def _verifies_as(self, entry: _StoredEntry, seq: int) -> bool:
        if entry.mac is None or entry.prev_mac is None or any(f is None for f in entry.fields):
            return False
        return constant_time.compare_digest(entry.mac,
                                            self._entry_mac(seq, entry.fields, entry.prev_mac).encode("ascii"))


def _ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Ascending numbers as inclusive runs: 3 4 5 9 -> (3, 5), (9, 9)."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _without(ranges: list[tuple[int, int]], numbers: set[int]) -> list[tuple[int, int]]:
    """Inclusive ranges with some numbers taken out, by arithmetic (a range may be huge)."""
    remaining: list[tuple[int, int]] = []
    for first, last in ranges:
        for n in sorted(n for n in numbers if first <= n <= last):
            if n > first:
                remaining.append((first, n - 1))
            first = n + 1
        if first <= last:
            remaining.append((first, last))
    return remaining

"""The reference backend's store and business rules, on a SQLite file or a PostgreSQL database
(reference_backend/database.py).

Each state-changing operation runs in one transaction together with the record of its
Idempotency-Key, so an effect and the memory of it are written or lost together: a repeat of
a completed request replays the first answer and can never act twice, whichever worker process
of the backend it reaches.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from drivers import keyscheme
from drivers import pin_block
from drivers.financial import luhn_valid
from reference_backend.database import LOCK_WAIT_S, LockWaitExpired, open_database

NORMAL, TEMPORARY_LOSS, FORMAL_LOSS, SEALED, CANCELLED = (
    "normal", "temporary_loss", "formal_loss", "sealed", "cancelled")
CARD_STATUSES = (NORMAL, TEMPORARY_LOSS, FORMAL_LOSS, SEALED, CANCELLED)
SERVICE_ITEMS = ("1.10.1", "1.10.2", "1.10.5", "1.10.6", "1.10.7", "1.10.8")
REVIEW_LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
RENEWAL_WINDOW = datetime.timedelta(days=60)
CARD_VALIDITY_YEARS = 10
MAX_COMMENT_CHARS = 500
# A person's data is read only within a visit the asking terminal opened for that person: one
# open visit per terminal (a kiosk serves one citizen at a time), for half an hour, and no more
# visits an hour than a busy lobby sees (a terminal opening more is enumerating people).
VISIT_SECONDS = 30 * 60
# What an application says besides the holder (#14, kiosk/application.py): the person's category
# and the place it names, a mobile number, where a card not made on the spot goes, a guardian.
CATEGORIES = {"employee": "employer", "resident": "community", "student": "school", "retiree": None}
OFFICES = ("聊城市社会保障卡服务中心", "东昌府区社保服务大厅", "经济技术开发区便民服务中心")   # where cards are collected
GUARDIAN_BELOW_AGE, ADULT_AGE = 16, 18
# Where a card applied for (not made on the spot) is (制卡进度, #14): the card factory's and the
# offices' systems report each step; the reference backend takes them through advance_production.
PRODUCTION_STATES = ("received", "in_production", "sent_to_office", "ready", "collected")
PROGRESS_LISTED = 5   # the person's latest applications a progress query answers with
# A terminal whose last heartbeat is older than this is silent: three of the kiosk's default
# intervals (300 s) missed.
SILENT_AFTER_S = 900.0
OPERATIONS_PREFIX = "OPS-"   # the common name of an operations team's certificate
MAX_PHOTO_BYTES = 200_000   # a registry photo (358x441 JPEG) is some 30 KB; the contract's bound
MAX_KIOSK_PHOTO_BYTES = 45_000   # a photo taken at a kiosk; with a signature, within a request's 96 KB as base64
MAX_SIGNATURE_BYTES = 8_000      # the applicant's signature, a 1-bit PNG (kiosk/signature.py)
VISITS_PER_HOUR = 60
# The only command the HSM makes a MAC for: RELOAD PIN (80 5E 00 00), with its own key.
HSM_MAC_COMMANDS = {("805E0000", keyscheme.KEY_PIN_RELOAD)}
# The electronic social security card (电子社保卡, #19): the citizen's app shows a QR code that
# stands for them, once, for a minute. Whoever holds a code is that person while it lasts, so
# the store keeps only its SHA-256 (192 random bits: no dictionary to try) and the code itself
# never reaches the database or a log.
ESSC_CODE_PREFIX = "ESSC1:"
ESSC_CODE_SECONDS = 60.0
MAX_ESSC_CODE_CHARS = 512
# The replacement fee (工本费, #19), paid by QR code at the kiosk: an order waits for the payment
# provider for five minutes, then is expired and can no longer be paid.
FEE_ORDER_SECONDS = 300
MAX_FEE_FEN = 100_000   # 1,000 yuan: far above any card fee, so a slip of a digit is refused
PENDING, PAID, FAILED, FEE_CANCELLED, EXPIRED, WAIVED, REFUND_REQUESTED = (
    "pending", "paid", "failed", "cancelled", "expired", "waived", "refund_requested")
PAY_CODE_PREFIX = "REFPAY1:"   # the reference backend's simulated payment provider

_SCHEMA = """
CREATE TABLE IF NOT EXISTS persons (
    id_number TEXT PRIMARY KEY, name TEXT NOT NULL, sex TEXT NOT NULL, ethnicity INTEGER NOT NULL,
    birth_date TEXT NOT NULL, birthplace TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cards (
    card_id TEXT PRIMARY KEY, card_number TEXT NOT NULL UNIQUE, id_number TEXT NOT NULL,
    status TEXT NOT NULL, region_code TEXT NOT NULL, issue_date TEXT NOT NULL, expiry_date TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applications (
    application_id TEXT PRIMARY KEY, id_number TEXT NOT NULL, region_code TEXT NOT NULL,
    channel TEXT NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL, card_number TEXT,
    card_id TEXT, replaces_card_id TEXT, commitment INTEGER NOT NULL, created_at REAL NOT NULL,
    terminal TEXT NOT NULL DEFAULT '', details TEXT NOT NULL DEFAULT '{}');
CREATE UNIQUE INDEX IF NOT EXISTS applications_card_number ON applications (card_number);
CREATE TABLE IF NOT EXISTS card_numbers (
    id INTEGER PRIMARY KEY, application_id TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS card_events (
    id INTEGER PRIMARY KEY, card_id TEXT NOT NULL, event TEXT NOT NULL, detail TEXT,
    terminal TEXT NOT NULL, idempotency_key TEXT, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY, service_item TEXT NOT NULL, level INTEGER NOT NULL, comment TEXT NOT NULL,
    terminal TEXT NOT NULL, idempotency_key TEXT, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS heartbeats (
    id INTEGER PRIMARY KEY, terminal TEXT NOT NULL, queue_depth INTEGER NOT NULL,
    oldest_pending_age_s REAL, software_version TEXT NOT NULL, at REAL NOT NULL,
    dead_letters INTEGER NOT NULL DEFAULT 0, staff_lockouts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS insurance (
    id_number TEXT PRIMARY KEY, category TEXT NOT NULL, place TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS production (
    application_id TEXT PRIMARY KEY, state TEXT NOT NULL, office TEXT, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS terminal_health (
    terminal TEXT PRIMARY KEY, health TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit_copies (
    terminal TEXT NOT NULL, seq INTEGER NOT NULL, at_utc TEXT NOT NULL, visit_id TEXT NOT NULL,
    service_item TEXT NOT NULL, step TEXT NOT NULL, outcome TEXT NOT NULL, details TEXT NOT NULL,
    mac TEXT NOT NULL, received_at REAL NOT NULL, PRIMARY KEY (terminal, seq));
CREATE TABLE IF NOT EXISTS audit_heads (
    terminal TEXT PRIMARY KEY, seq INTEGER NOT NULL, mac TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit_flags (
    id INTEGER PRIMARY KEY, terminal TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS staff_calls (
    id INTEGER PRIMARY KEY, terminal TEXT NOT NULL, reason TEXT NOT NULL, idempotency_key TEXT, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS card_accounts (
    card_id TEXT PRIMARY KEY, bank_account TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bank_accounts (
    bank_account TEXT PRIMARY KEY, card_id TEXT NOT NULL, pin_hash TEXT NOT NULL, consent_at REAL NOT NULL,
    terminal TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bank_issued_pins (
    bank_account TEXT PRIMARY KEY, pin_hash TEXT NOT NULL, tries_left INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS terminal_pin_keys (
    terminal TEXT PRIMARY KEY, pin_key BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS pad_keys (
    terminal TEXT NOT NULL, key_set INTEGER NOT NULL, pin_key BLOB NOT NULL, PRIMARY KEY (terminal, key_set));
CREATE TABLE IF NOT EXISTS photos (
    id_number TEXT PRIMARY KEY, jpeg BLOB NOT NULL, registered_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS visits (
    token TEXT PRIMARY KEY, terminal TEXT NOT NULL, id_number TEXT NOT NULL, opened_at REAL NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS essc_codes (
    code_hash TEXT PRIMARY KEY, id_number TEXT NOT NULL, expires_at REAL NOT NULL, used_at REAL, used_by TEXT);
CREATE TABLE IF NOT EXISTS fee_orders (
    order_id TEXT PRIMARY KEY, terminal TEXT NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL,
    subject TEXT NOT NULL, amount_fen INTEGER NOT NULL, status TEXT NOT NULL, pay_code TEXT NOT NULL,
    created_at REAL NOT NULL, expires_at REAL NOT NULL, paid_at REAL, refund_id TEXT);
CREATE TABLE IF NOT EXISTS fee_events (
    id INTEGER PRIMARY KEY, order_id TEXT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL,
    terminal TEXT NOT NULL, idempotency_key TEXT, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    client TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    body TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (client, key));
-- What the rules look up by person, card and terminal: fast as the tables grow, and on
-- PostgreSQL a serializable transaction then reads (and collides on) those rows only.
CREATE INDEX IF NOT EXISTS cards_id_number ON cards (id_number);
CREATE INDEX IF NOT EXISTS applications_id_number ON applications (id_number);
CREATE INDEX IF NOT EXISTS applications_replaces_card_id ON applications (replaces_card_id);
CREATE INDEX IF NOT EXISTS card_events_card_id ON card_events (card_id);
CREATE INDEX IF NOT EXISTS visits_terminal ON visits (terminal, opened_at);
CREATE INDEX IF NOT EXISTS fee_events_order_id ON fee_events (order_id);
"""
# Columns added since the first stores were made (SQLite files made by an earlier version get them).
_ADDED_COLUMNS = (("heartbeats", "dead_letters", "INTEGER NOT NULL DEFAULT 0"),
                  ("heartbeats", "staff_lockouts", "INTEGER NOT NULL DEFAULT 0"),
                  ("applications", "terminal", "TEXT NOT NULL DEFAULT ''"),
                  ("applications", "details", "TEXT NOT NULL DEFAULT '{}'"))


MAX_AUDIT_ENTRIES = 200


class Refusal(Exception):
    """A request the backend says no to: HTTP status, the contract's error code, a message.
    Messages never repeat personal data from the request."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class RequestInProgress(Exception):
    """The same Idempotency-Key has been worked on, in another transaction, for longer than a
    repeat waits for it (answer 409, try again)."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict
    replayed: bool = False


# --- field checks -------------------------------------------------------------------------

# The person's number: the 18-character one of the resident ID card and the residence permit,
# or a foreigner's permanent residence number (2017: three letters, twelve digits).
_ID_NUMBER = re.compile(r"^(?:[0-9]{17}[0-9X]|[A-Z]{3}[0-9]{12})$")
_CARD_ID = re.compile(r"^[0-9A-F]{32}$")
_CARD_NUMBER = re.compile(r"^[A-Z0-9]{9}$")
_REGION = re.compile(r"^[0-9]{6}$")
_DATE = re.compile(r"^[0-9]{8}$")
_BANK_ACCOUNT = re.compile(r"^[0-9]{16,19}$")
# The bank that co-issues the province's cards: the blanks it supplies carry its accounts (the
# simulation's bank, drivers/sim/ssse_card.py).
CARD_BANK_BIN = "621999"


BANK_PIN_TRIES = 3   # wrong issued PINs before the bank's branch must unlock it


def _pin_hash(pin: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${salt.hex()}${hashlib.scrypt(pin.encode('ascii'), salt=salt, n=2**14, r=8, p=1).hex()}"


def _pin_matches(pin: str, stored: str) -> bool:
    _scheme, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(pin.encode("ascii"), salt=bytes.fromhex(salt), n=2**14, r=8, p=1).hex()
    return hmac.compare_digest(candidate, digest)


def _of_the_card_bank(account: str) -> bool:
    """A valid account (its Luhn check digit) of the bank that co-issues the cards."""
    return luhn_valid(account) and account.startswith(CARD_BANK_BIN)


def _storable(text: str) -> bool:
    """Text both databases keep as it came: UTF-8 (no lone surrogate), no NUL (PostgreSQL's TEXT has none)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _text(pattern: re.Pattern | None = None, max_chars: int = 200, choices: tuple = ()):
    def check(name, value):
        if not isinstance(value, str) or len(value) > max_chars:
            raise Refusal(400, "invalid_field", f"{name} must be text of at most {max_chars} characters")
        if not _storable(value):
            raise Refusal(400, "invalid_field", f"{name} must be Unicode text without NUL characters")
        if pattern is not None and not pattern.fullmatch(value):   # `$` would let a trailing newline in
            raise Refusal(400, "invalid_field", f"{name} is not in the expected format")
        if choices and value not in choices:
            raise Refusal(400, "invalid_field", f"{name} must be one of {', '.join(choices)}")
        return value
    return check


def _integer(low: int, high: int):
    def check(name, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)   # JSON's 5.0 is the integer 5 (the contract's integer)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Refusal(400, "invalid_field", f"{name} must be a whole number from {low} to {high}")
        return value
    return check


def _number(name, value):
    """A finite number of at least 0, as a float (no NaN, no infinity, none too large for one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Refusal(400, "invalid_field", f"{name} must be a number of at least 0")
    try:
        number = float(value)
    except OverflowError:
        raise Refusal(400, "invalid_field", f"{name} must be a finite number") from None
    if not math.isfinite(number) or number < 0:
        raise Refusal(400, "invalid_field", f"{name} must be a finite number of at least 0")
    return number


def _optional(check):
    return lambda name, value: None if value is None else check(name, value)


def _object(name, value):
    if not isinstance(value, dict):
        raise Refusal(400, "invalid_field", f"{name} must be an object")
    return value


def _base64_file(kind: str, magic: bytes, max_bytes: int):
    """A check for a file sent as base64 (a kiosk's photo, a signature): decodes, begins as
    `kind` does, within the contract's bound; returns the bytes."""
    def check(name, value) -> bytes:
        if not isinstance(value, str) or len(value) > 4 * max_bytes // 3 + 4:
            raise Refusal(400, "invalid_field", f"{name} must be base64 of at most {max_bytes} bytes")
        try:
            data = base64.b64decode(value, validate=True)
        except ValueError:   # binascii.Error, or characters outside ASCII
            raise Refusal(400, "invalid_field", f"{name} is not base64") from None
        if not data.startswith(magic) or len(data) > max_bytes:
            raise Refusal(400, "invalid_field", f"{name} is not {kind} of at most {max_bytes} bytes")
        return data
    return check


_photo = _base64_file("a JPEG", b"\xff\xd8", MAX_KIOSK_PHOTO_BYTES)   # taken at a kiosk
_signature_png = _base64_file("a PNG", b"\x89PNG\r\n\x1a\n", MAX_SIGNATURE_BYTES)


def _signature(name, value) -> str:
    """The applicant's signature (#19), kept with the application as it came."""
    _signature_png(name, value)
    return value


def _boolean(name, value):
    if not isinstance(value, bool):
        raise Refusal(400, "invalid_field", f"{name} must be true or false")
    return value


def _date(name, value):
    _text(_DATE)(name, value)
    try:
        datetime.datetime.strptime(value, "%Y%m%d")
    except ValueError:
        raise Refusal(400, "invalid_field", f"{name} is not a real date (YYYYMMDD)") from None
    return value


def fields(body: dict, required: dict, optional: dict | None = None) -> dict:
    """Checks a request body: every required field present and valid, no unknown field (so a
    PIN sent by mistake is refused, not stored)."""
    optional = optional or {}
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        raise Refusal(400, "unknown_field", f"unknown field(s): {', '.join(unknown)}")
    checked = {}
    for name, check in required.items():
        if name not in body:
            raise Refusal(400, "missing_field", f"{name} is required")
        checked[name] = check(name, body[name])
    for name, check in optional.items():
        if name in body:
            checked[name] = check(name, body[name])
    return checked


# A heartbeat's health (#18, the contract's Health): each device's state and supplies.
DEVICE_NAMES = ("card_reader", "psam", "id_reader", "receipt_printer", "card_printer", "camera", "pin_pad",
                "qr_scanner")
DEVICE_FIELDS = {"detail": _text(max_chars=200), "paper": _text(choices=("ok", "near_end", "out")),
                 "ribbon_remaining": _optional(_integer(0, 10**6)), "ribbon_capacity": _optional(_integer(0, 10**6)),
                 "blank_cards": _boolean, "reject_box_full": _boolean}


def _health(name, value) -> dict:
    """Checked field by field: the fleet status serves only what the contract allows."""
    health = fields(_object(name, value), {"devices": _object, "disk": _object},
                    {"probed_at": _optional(_number), "outbox": _object, "software_version": _text(max_chars=40)})
    unknown = sorted(set(health["devices"]) - set(DEVICE_NAMES))
    if unknown:
        raise Refusal(400, "invalid_field", f"unknown device(s): {', '.join(unknown)}")
    health["devices"] = {device: fields(_object(device, state), {"state": _text(choices=("ok", "warning", "fault", "absent"))},
                                        DEVICE_FIELDS)
                         for device, state in health["devices"].items()}
    health["disk"] = fields(health["disk"], {"free_bytes": _integer(0, 2**62), "total_bytes": _integer(0, 2**62)})
    if "outbox" in health:
        health["outbox"] = fields(health["outbox"], {"pending": _integer(0, 10**9), "dead": _integer(0, 10**9)},
                                  {"oldest_pending_age_s": _optional(_number)})
    return health


ID_NUMBER = _text(_ID_NUMBER, 18)


def _age(birth: datetime.date, today: datetime.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _birth_of(id_number: str) -> datetime.date | None:
    """The birth date an 18-digit ID number carries (None for a foreigner's number)."""
    try:
        return datetime.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None
CARD_ID = _text(_CARD_ID, 32)
PIN_BLOCK = _text(re.compile(r"^[0-9A-F]{32}$"), 32)   # an SM4 PIN block, hex
HOLDER_FIELDS = {"id_number": ID_NUMBER, "name": _text(max_chars=30), "sex": _text(choices=("1", "2")),
                 "ethnicity": _integer(1, 99), "birth_date": _date, "birthplace": _text(_REGION, 6)}
AUDIT_ENTRY_FIELDS = {"seq": _integer(1, 2**62), "at_utc": _text(max_chars=40), "visit_id": _text(max_chars=40),
                      "service_item": _text(max_chars=20), "step": _text(max_chars=60),
                      "outcome": _text(max_chars=20), "details": _text(max_chars=2000),
                      "mac": _text(re.compile(r"^[0-9a-f]{64}$"), 64)}

_SOME_TEXT = re.compile(r".+", re.DOTALL)   # at least one character
# A scanned code is judged by the lookup alone: anything that is not a live issued code (a
# garbled scan, control characters and all) is unknown, in the words the citizen is shown.
ESSC_CODE = _text(_SOME_TEXT, MAX_ESSC_CODE_CHARS)
FEE_ORDER_FIELDS = {"action": _text(_SOME_TEXT, 40), "reason": _text(_SOME_TEXT, 40),
                    "amount_fen": _integer(1, MAX_FEE_FEN), "subject": _text(_SOME_TEXT, 40)}


def _document_of(id_number: str) -> str:
    """The identity document whose number `id_number` is: a foreigner's permanent residence
    card (letters first), a residence permit of a Hong Kong, Macao or Taiwan resident (81, 82,
    83), or else the resident ID card."""
    if not id_number[0].isdigit():
        return "foreign_permanent_resident"
    return "hmt_residence_permit" if id_number[:2] in ("81", "82", "83") else "resident_id"


def _essc_code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def _upsert(conn, table: str, row: dict, key: tuple[str, ...]) -> None:
    """Inserts `row`, or updates the row of `table` with the same `key` columns."""
    updates = ", ".join(f"{column} = excluded.{column}" for column in row if column not in key)
    conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
                 f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}", tuple(row.values()))


class BackendStore:
    """`db` is a SQLite file (the embedded default) or a PostgreSQL DSN (`postgresql://...`).
    Several threads may share a store, and several processes (each with its own store) a
    database: the database's locks and constraints keep the rules, not this process's memory.
    `lock_wait_s` bounds how long a request waits for another's transaction."""

    def __init__(self, db: str | Path, *, clock: Callable[[], float] = time.time,
                 master_keys: dict[int, bytes] | None = None, lock_wait_s: float = LOCK_WAIT_S):
        self._db = open_database(db, lock_wait_s)
        self.path = self._db.path   # the SQLite file (None on PostgreSQL)
        self._clock = clock
        self.silent_after_s = SILENT_AFTER_S
        # The reference HSM holds the published test master keys of drivers/keyscheme.py.
        self._master_keys = master_keys or dict(keyscheme.TEST_MASTER_KEYS)
        self._regional_master_keys = {keyscheme.OTHER_REGION: dict(keyscheme.OTHER_REGION_TEST_MASTER_KEYS)}
        self._db.create_schema(_SCHEMA, _ADDED_COLUMNS)

    @property
    def _conn(self):
        """The SQLite store's connection, for tests that look into the file."""
        return self._db.connection

    def close(self) -> None:
        self._db.close()

    def _transaction(self):
        """One transaction, not run again on a collision: for seeding, which nothing runs beside."""
        return self._db.transaction()

    def read(self, action: Callable) -> Reply:
        """`action(conn)` in a transaction of its own (a visit opened is a write)."""
        return Reply(200, self._db.run(action))

    def change(self, client: str, key: str, fingerprint: str, action: Callable) -> Reply:
        """Runs `action(conn, client, key)` once per (client, Idempotency-Key): a repeat with the
        same payload replays the first reply, another payload is refused with 422. A refusal had
        no effect and is not remembered: the same request is judged afresh when it comes again
        (a dead letter sent again once its cause is fixed can go through).

        The key's row is claimed first, in the transaction of the effect: a repeat arriving
        meanwhile, in this process or another, waits until the first commits (then replays its
        reply) or rolls back (then is judged itself). On PostgreSQL it waits on the row's unique
        key, and after `lock_wait_s` gets RequestInProgress; on SQLite it waits for the one
        writer, as every request does, and after `lock_wait_s` gets LockWaitExpired (busy)."""
        def attempt(conn) -> Reply:
            conn.execute("SAVEPOINT request")
            try:
                claimed = conn.execute("INSERT INTO idempotency (client, key, fingerprint, status, body, at)"
                                       " VALUES (?, ?, ?, 0, '', ?) ON CONFLICT (client, key) DO NOTHING"
                                       " RETURNING key", (client, key, fingerprint, self._clock())).fetchone()
            except LockWaitExpired:
                raise RequestInProgress() from None
            if claimed is None:
                held = conn.execute("SELECT fingerprint, status, body FROM idempotency WHERE client = ? AND key = ?",
                                    (client, key)).fetchone()
                if held[0] != fingerprint:
                    raise Refusal(422, "idempotency_key_reused", "this Idempotency-Key was used with another request")
                return Reply(held[1], json.loads(held[2]), replayed=True)
            try:
                reply = action(conn, client, key)
            except Refusal as refusal:
                conn.execute("ROLLBACK TO request")   # nor the effect, nor the claim of the key
                return Reply(refusal.status, refusal.body())
            conn.execute("UPDATE idempotency SET status = ?, body = ? WHERE client = ? AND key = ?",
                         (reply.status, json.dumps(reply.body, ensure_ascii=False), client, key))
            return reply
        return self._db.run(attempt)

    # --- helpers ----------------------------------------------------------------------------

    def _today(self) -> datetime.date:
        return datetime.datetime.fromtimestamp(self._clock(), datetime.timezone.utc).date()

    @staticmethod
    def _card(conn, card_id: str) -> dict:
        row = conn.execute("SELECT card_id, card_number, id_number, status, region_code, issue_date, expiry_date"
                           " FROM cards WHERE card_id = ?", (card_id,)).fetchone()
        if row is None:
            raise Refusal(404, "card_not_found", "no such card")
        return dict(zip(("card_id", "card_number", "id_number", "status", "region_code", "issue_date",
                         "expiry_date"), row))

    @staticmethod
    def _public_card(card: dict) -> dict:
        return {k: card[k] for k in ("card_id", "card_number", "status", "region_code", "issue_date", "expiry_date")}

    @staticmethod
    def _application(conn, application_id: str, terminal: str) -> dict:
        """The application, for the terminal that made it only: it opens a person's data and
        the making of their card."""
        row = conn.execute("SELECT application_id, id_number, region_code, channel, reason, status, card_number,"
                           " card_id, replaces_card_id, terminal FROM applications WHERE application_id = ?",
                           (application_id,)).fetchone()
        if row is None:
            raise Refusal(404, "application_not_found", "no such application")
        if row[9] != terminal:
            raise Refusal(403, "other_terminal_application", "this application was made at another terminal")
        return dict(zip(("application_id", "id_number", "region_code", "channel", "reason", "status",
                         "card_number", "card_id", "replaces_card_id"), row))

    def _event(self, conn, card_id: str, event: str, terminal: str, key: str | None, detail: str = "") -> None:
        conn.execute("INSERT INTO card_events (card_id, event, detail, terminal, idempotency_key, at)"
                     " VALUES (?, ?, ?, ?, ?, ?)", (card_id, event, detail, terminal, key, self._clock()))

    def _cancel_replaced(self, conn, card_id: str, reason: str, terminal: str, key: str) -> None:
        self._set_status(conn, card_id, CANCELLED)
        self._event(conn, card_id, f"cancelled_for_replacement_{reason}", terminal, key)

    def _set_status(self, conn, card_id: str, status: str) -> None:
        conn.execute("UPDATE cards SET status = ? WHERE card_id = ?", (status, card_id))

    def _new_application(self, conn, terminal: str, holder_id: str, region: str, channel: str, reason: str,
                         commitment: bool, replaces: str | None = None) -> str:
        application_id = f"AP{region}{secrets.token_hex(8).upper()}"   # not guessable: it opens a person's data
        conn.execute("INSERT INTO applications (application_id, id_number, region_code, channel, reason, status,"
                     " replaces_card_id, commitment, created_at, terminal)"
                     " VALUES (?, ?, ?, ?, ?, 'applied', ?, ?, ?, ?)",
                     (application_id, holder_id, region, channel, reason, replaces, int(commitment), self._clock(),
                      terminal))
        return application_id

    # --- seeding (demo and tests: cards that exist before the kiosk does) ------------------

    def seed_card(self, *, holder: dict, card_id: str, card_number: str, region_code: str,
                  issue_date: str, expiry_date: str, status: str = NORMAL) -> None:
        holder = fields(holder, HOLDER_FIELDS)
        fields({"card_id": card_id, "card_number": card_number, "region_code": region_code,
                "issue_date": issue_date, "expiry_date": expiry_date, "status": status},
               {"card_id": CARD_ID, "card_number": _text(_CARD_NUMBER, 9), "region_code": _text(_REGION, 6),
                "issue_date": _date, "expiry_date": _date, "status": _text(choices=CARD_STATUSES)})
        with self._transaction() as conn:
            _upsert(conn, "persons", holder, key=("id_number",))
            _upsert(conn, "cards", {"card_id": card_id, "card_number": card_number, "id_number": holder["id_number"],
                                    "status": status, "region_code": region_code, "issue_date": issue_date,
                                    "expiry_date": expiry_date}, key=("card_id",))

    def seed_insurance(self, id_number: str, category: str, place: str = "") -> None:
        """The person's social insurance record: their category and its place (demo and tests)."""
        ID_NUMBER("id_number", id_number)
        if category not in CATEGORIES or bool(CATEGORIES[category]) != bool(place):
            raise ValueError(f"{category!r} with {'a' if CATEGORIES.get(category) else 'no'} place")
        with self._transaction() as conn:
            _upsert(conn, "insurance", {"id_number": id_number, "category": category, "place": place},
                    key=("id_number",))

    def seed_heartbeat(self, terminal: str, *, at: float, software_version: str, queue_depth: int = 0) -> None:
        """A kiosk's last heartbeat at `at` (demo and tests: a kiosk that went silent then)."""
        with self._transaction() as conn:
            conn.execute("INSERT INTO heartbeats (terminal, queue_depth, software_version, at) VALUES (?, ?, ?, ?)",
                         (terminal, queue_depth, software_version, at))

    def seed_photo(self, id_number: str, jpeg: bytes) -> None:
        """The person's registered photo (demo and tests: the registry a province already has)."""
        ID_NUMBER("id_number", id_number)
        if not jpeg.startswith(b"\xff\xd8") or len(jpeg) > MAX_PHOTO_BYTES:
            raise ValueError(f"a registered photo is a JPEG of at most {MAX_PHOTO_BYTES} bytes")
        with self._transaction() as conn:
            _upsert(conn, "photos", {"id_number": id_number, "jpeg": jpeg, "registered_at": self._clock()},
                    key=("id_number",))

    # --- reads ------------------------------------------------------------------------------

    def person_photo(self, conn, terminal: str, body: dict) -> dict:
        """The registered photo of the person of the terminal's open visit, for its face check."""
        id_number = self._person_of_visit(conn, terminal, body)
        row = conn.execute("SELECT jpeg FROM photos WHERE id_number = ?", (id_number,)).fetchone()
        if row is None:
            raise Refusal(404, "photo_not_found", "no registered photo for this person")
        return {"format": "jpeg", "photo": base64.b64encode(row[0]).decode("ascii")}

    def open_visit(self, conn, terminal: str, body: dict) -> dict:
        """The citizen the terminal has identified (by ID card) now: the one person whose data
        it may read until the visit closes. Opening one closes the terminal's previous visit."""
        wanted = fields(body, {"id_number": ID_NUMBER})
        now = self._clock()
        opened = conn.execute("SELECT count(*) FROM visits WHERE terminal = ? AND opened_at > ?",
                              (terminal, now - 3600)).fetchone()[0]
        if opened >= VISITS_PER_HOUR:
            raise Refusal(429, "too_many_visits", f"a terminal opens at most {VISITS_PER_HOUR} visits an hour")
        conn.execute("UPDATE visits SET closed = 1 WHERE terminal = ? AND closed = 0", (terminal,))
        token = secrets.token_hex(16)
        conn.execute("INSERT INTO visits (token, terminal, id_number, opened_at) VALUES (?, ?, ?, ?)",
                     (token, terminal, wanted["id_number"], now))
        return {"visit_token": token, "expires_in_s": VISIT_SECONDS}

    def _person_of_visit(self, conn, terminal: str, body: dict) -> str:
        """The person a read names, once it is the one of an open visit of this terminal."""
        wanted = fields(body, {"id_number": ID_NUMBER, "visit_token": _text(re.compile(r"^[0-9a-f]{32}\Z"), 32)})
        row = conn.execute("SELECT 1 FROM visits WHERE token = ? AND terminal = ? AND id_number = ? AND closed = 0"
                           " AND opened_at > ?", (wanted["visit_token"], terminal, wanted["id_number"],
                                                  self._clock() - VISIT_SECONDS)).fetchone()
        if row is None:
            raise Refusal(403, "not_this_visit", "no open visit of this terminal for this person")
        return wanted["id_number"]

    def query_person(self, conn, terminal: str, body: dict) -> dict:
        id_number = self._person_of_visit(conn, terminal, body)
        row = conn.execute("SELECT name FROM persons WHERE id_number = ?", (id_number,)).fetchone()
        if row is None:
            raise Refusal(404, "person_not_found", "no person with this ID number")
        cards = conn.execute("SELECT card_id FROM cards WHERE id_number = ? ORDER BY issue_date",
                             (id_number,)).fetchall()
        return {"name": row[0], "cards": [self._public_card(self._card(conn, c[0])) for c in cards]}

    def application_progress(self, conn, terminal: str, body: dict) -> dict:
        """Where the person's cards applied for are (制卡进度查询, #14), latest first: made on the
        spot (collected at once), or received, in production, sent to the office, ready to
        collect there, collected."""
        id_number = self._person_of_visit(conn, terminal, body)
        rows = conn.execute(
            "SELECT a.channel, a.reason, a.status, a.created_at, p.state, p.office FROM applications a"
            " LEFT JOIN production p ON p.application_id = a.application_id WHERE a.id_number = ?"
            " ORDER BY a.created_at DESC LIMIT ?", (id_number, PROGRESS_LISTED)).fetchall()
        applications = []
        for channel, reason, status, created_at, state, office in rows:
            if status == "written":   # made on the spot and handed over
                state, office = "collected", None
            applications.append({
                "applied_on": datetime.datetime.fromtimestamp(created_at, datetime.timezone.utc).date().isoformat(),
                "channel": channel, "reason": reason, "state": state or "received",
                **({"office": office} if office and state in ("sent_to_office", "ready") else {})})
        return {"applications": applications}

    def advance_production(self, application_id: str, state: str, office: str | None = None) -> None:
        """The card factory's or an office's report of an application's card (demo and tests)."""
        if state not in PRODUCTION_STATES or (state in ("sent_to_office", "ready") and not office):
            raise ValueError(f"{state!r}: one of {PRODUCTION_STATES}, with the office where it is sent or ready")
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM applications WHERE application_id = ?", (application_id,)).fetchone() is None:
                raise ValueError("no such application")
            _upsert(conn, "production", {"application_id": application_id, "state": state, "office": office,
                                         "updated_at": self._clock()}, key=("application_id",))

    def card_status(self, conn, terminal: str, card_id: str, body: dict) -> dict:
        return self._public_card(self._card(conn, CARD_ID("card_id", card_id)))

    def personalisation(self, conn, terminal: str, application_id: str, body: dict) -> dict:
        application = self._application(conn, application_id, terminal)
        if application["status"] != "marked":
            raise Refusal(422, "not_marked_for_instant_issuance", "mark the application for instant issuance first")
        person = conn.execute("SELECT id_number, name, sex, ethnicity, birth_date, birthplace FROM persons"
                              " WHERE id_number = ?", (application["id_number"],)).fetchone()
        today = self._today()
        expiry = today.replace(year=today.year + CARD_VALIDITY_YEARS)
        reply = {"application_id": application_id, "card_number": application["card_number"],
                 "bank_bin": CARD_BANK_BIN,
                 "region_code": application["region_code"], "issue_date": today.strftime("%Y%m%d"),
                 "expiry_date": expiry.strftime("%Y%m%d"),
                 "holder": dict(zip(("id_number", "name", "sex", "ethnicity", "birth_date", "birthplace"), person))}
        photo = conn.execute("SELECT jpeg FROM photos WHERE id_number = ?", (application["id_number"],)).fetchone()
        if photo is not None:   # the card face carries the holder's registry photo (#14)
            reply["photo"] = base64.b64encode(photo[0]).decode("ascii")
        return reply

    def _card_key(self, wanted: dict) -> bytes:
        """The card's own key: the HSM's master key `key_id` of the card's region, diversified by
        the card identifier."""
        keys = self._regional_master_keys.get(wanted["card_id"][:6], self._master_keys)
        master = keys.get(wanted["key_id"])
        if master is None:
            raise Refusal(422, "unknown_key_id", "the HSM holds no key with this id")
        return keyscheme.diversify(master, bytes.fromhex(wanted["card_id"]))

    def external_auth_cryptogram(self, conn, terminal: str, body: dict) -> dict:
        """The backend HSM's step for a kiosk without PSAM (see drivers/keyscheme.py): with the
        external authentication key only."""
        wanted = fields(body, {"card_id": CARD_ID, "challenge": _text(re.compile(r"^[0-9A-F]{16}$"), 16),
                               "key_id": _integer(1, 255)})
        if wanted["key_id"] != keyscheme.KEY_EXTERNAL_AUTH:
            raise Refusal(403, "hsm_operation_not_allowed", "external authentication uses its own key only")
        card_key = self._card_key(wanted)
        cryptogram = keyscheme.external_auth_cryptogram(card_key, bytes.fromhex(wanted["challenge"]))
        return {"cryptogram": cryptogram.hex().upper()}

    def internal_auth_check(self, conn, terminal: str, body: dict) -> dict:
        """The backend HSM checks a card's INTERNAL AUTHENTICATE answer, with that key only."""
        wanted = fields(body, {"card_id": CARD_ID, "challenge": _text(re.compile(r"^[0-9A-F]{16}\Z"), 16),
                               "response": _text(re.compile(r"^(?:[0-9A-F]{16}|[0-9A-F]{32})\Z"), 32),
                               "key_id": _integer(1, 255),
                               "cipher": _text(choices=tuple(keyscheme.ANSWER_LENGTHS))})
        if wanted["key_id"] != keyscheme.KEY_INTERNAL_AUTH:
            raise Refusal(403, "hsm_operation_not_allowed", "internal authentication uses its own key only")
        card_key = self._card_key(wanted)
        expected = keyscheme.internal_auth_response(card_key, bytes.fromhex(wanted["challenge"]), wanted["cipher"])
        return {"genuine": hmac.compare_digest(expected, bytes.fromhex(wanted["response"]))}

    def command_mac(self, conn, terminal: str, body: dict) -> dict:
        """The backend HSM's MAC for PIN RELOAD, and for nothing else: a MAC for any command a
        terminal names would let it write the card at will. The new PIN arrives as an SM4 PIN
        block under the terminal's key; opened here for this computation only, never stored,
        logged or echoed."""
        wanted = fields(body, {"card_id": CARD_ID, "challenge": _text(re.compile(r"^[0-9A-F]{16}$"), 16),
                               "header": _text(re.compile(r"^[0-9A-F]{8}$"), 8),
                               "pin_block": PIN_BLOCK,
                               "key_id": _integer(1, 255)})
        if (wanted["header"], wanted["key_id"]) not in HSM_MAC_COMMANDS:
            raise Refusal(403, "hsm_operation_not_allowed", "the HSM makes a MAC for PIN RELOAD with its key only")
        key = conn.execute("SELECT pin_key FROM terminal_pin_keys WHERE terminal = ?", (terminal,)).fetchone()
        if key is None:
            raise Refusal(422, "no_terminal_pin_key", "the HSM holds no PIN key for this terminal")
        try:
            new_pin = pin_block.open_card_pin(key[0], bytes.fromhex(wanted["pin_block"]))
        except pin_block.PinBlockError:
            raise Refusal(422, "pin_block_invalid", "the PIN block does not open under the terminal's key") from None
        card_key = self._card_key(wanted)
        mac = keyscheme.command_mac(card_key, bytes.fromhex(wanted["challenge"]), bytes.fromhex(wanted["header"]),
                                    new_pin)
        return {"mac": mac.hex().upper()}

    # --- changes (each runs inside `change`, so with its Idempotency-Key) -------------------

    def apply_card(self, conn, terminal: str, key: str, body: dict) -> Reply:
        wanted = fields(body, {"holder": lambda n, v: v, "region_code": _text(_REGION, 6),
                               "channel": _text(choices=("instant", "batch")), "commitment": _boolean,
                               "application": lambda n, v: v})
        holder = fields(wanted["holder"] if isinstance(wanted["holder"], dict) else {}, HOLDER_FIELDS)
        live = conn.execute("SELECT count(*) FROM cards WHERE id_number = ? AND status != ?",
                            (holder["id_number"], CANCELLED)).fetchone()[0]
        if live:
            raise Refusal(422, "card_exists", "this person already has a card; apply for a replacement instead")
        already = conn.execute("SELECT application_id, status, terminal, channel FROM applications"
                               " WHERE id_number = ? AND status IN ('applied', 'marked')",
                               (holder["id_number"],)).fetchone()
        if already is not None:
            if already[1:] != ("applied", terminal, "instant") or wanted["channel"] != "instant":
                raise Refusal(422, "application_open", "this person already has an open application")
            # An instant issuance that failed (or was cut off) here left it open: this terminal resumes it.
            return Reply(201, {"application_id": already[0], "status": "applied"})
        details = self._application_details(holder, wanted["application"], wanted["channel"])
        photo = details.pop("photo", None)   # the registry keeps it, not the application's record
        _upsert(conn, "persons", holder, key=("id_number",))
        if photo is not None:
            _upsert(conn, "photos", {"id_number": holder["id_number"], "jpeg": photo, "registered_at": self._clock()},
                    key=("id_number",))
        application_id = self._new_application(conn, terminal, holder["id_number"], wanted["region_code"],
                                               wanted["channel"], "first", wanted["commitment"])
        conn.execute("UPDATE applications SET details = ? WHERE application_id = ?",
                     (json.dumps(details, ensure_ascii=False), application_id))
        return Reply(201, {"application_id": application_id, "status": "applied"})

    def _application_details(self, holder: dict, value, channel: str) -> dict:
        """An application's `application` object (#14), every rule a card-management system keeps."""
        details = fields(_object("application", value),
                         {"phone": _text(re.compile(r"1[3-9][0-9]{9}"), 11), "category": _text(choices=tuple(CATEGORIES))},
                         {"employer": _text(max_chars=100), "school": _text(max_chars=100),
                          "community": _text(max_chars=100), "mailing": _object, "guardian": _object,
                          "photo": _photo, "signature": _signature})
        place = CATEGORIES[details["category"]]
        extra = sorted({"employer", "school", "community"} & set(details) - {place})
        if extra or (place and not details.get(place, "").strip()):
            raise Refusal(422, "place_required", f"a {details['category']} names its {place} and no other place"
                          if place else f"a {details['category']} names no place")
        if channel == "batch":
            if "mailing" not in details:
                raise Refusal(422, "mailing_required", "a card not made on the spot needs mailing (collect or mail)")
            mailing = fields(details["mailing"], {"method": _text(choices=("collect", "mail"))},
                             {"office": _text(max_chars=100), "address": _text(max_chars=100)})
            if "office" in mailing and mailing["office"] not in OFFICES:   # the backend's list, not the schema's
                raise Refusal(422, "unknown_office", f"office must be one of {', '.join(OFFICES)} (application_options)")
            if (mailing["method"] == "collect") != ("office" in mailing) or \
                    (mailing["method"] == "mail") != bool(mailing.get("address", "").strip()):
                raise Refusal(422, "mailing_invalid", "collect names an office, mail an address, and nothing else")
        elif "mailing" in details:
            raise Refusal(422, "mailing_invalid", "a card made on the spot is handed over, not mailed")
        today = self._today()
        birth = datetime.datetime.strptime(holder["birth_date"], "%Y%m%d").date()
        if _age(birth, today) < GUARDIAN_BELOW_AGE:
            if "guardian" not in details:
                raise Refusal(422, "guardian_required", "an applicant under 16 applies through a guardian")
            guardian = fields(details["guardian"], {"id_number": ID_NUMBER, "name": _text(max_chars=30),
                                                    "relation": _text(choices=("parent", "other"))})
            guardian_birth = _birth_of(guardian["id_number"])
            if guardian["id_number"] == holder["id_number"] or guardian_birth is None \
                    or _age(guardian_birth, today) < ADULT_AGE:
                raise Refusal(422, "guardian_invalid", "the guardian is another person, an adult")
        elif "guardian" in details:
            raise Refusal(422, "guardian_invalid", "an applicant of 16 or more applies in person")
        return details

    def application_options(self, conn, terminal: str, body: dict) -> dict:
        """What the kiosk offers a person applying (#14): their category and place as their social
        insurance record holds them (absent when it holds none), and the offices cards are
        collected at."""
        id_number = self._person_of_visit(conn, terminal, body)
        row = conn.execute("SELECT category, place FROM insurance WHERE id_number = ?", (id_number,)).fetchone()
        reply = {"offices": list(OFFICES)}
        if row is not None:
            place = CATEGORIES[row[0]]
            reply["insured"] = {"category": row[0], **({place: row[1]} if place else {})}
        return reply

    def mark_instant_issuance(self, conn, terminal: str, key: str, application_id: str, body: dict) -> Reply:
        fields(body, {})
        application = self._application(conn, application_id, terminal)
        if application["channel"] != "instant":
            raise Refusal(422, "not_instant_channel", "this application is for batch issuance")
        if application["status"] != "applied":
            raise Refusal(422, "application_not_open", f"the application is {application['status']}")
        card_number = application["card_number"] or self._new_card_number(conn, application_id)
        conn.execute("UPDATE applications SET status = 'marked', card_number = ? WHERE application_id = ?",
                     (card_number, application_id))
        return Reply(200, {"application_id": application_id, "status": "marked", "card_number": card_number})

    def _new_card_number(self, conn, application_id: str) -> str:
        """A card number no card or application holds: from the database's own counter (the ids
        of card_numbers, distinct across worker processes), passing over a number a seeded or
        imported card already has. The unique index on applications.card_number stands behind it."""
        while True:
            number = "M{:08d}".format(conn.execute("INSERT INTO card_numbers (application_id, at) VALUES (?, ?)"
                                                   " RETURNING id", (application_id, self._clock())).fetchone()[0])
            if not conn.execute("SELECT 1 FROM cards WHERE card_number = ? UNION ALL"
                                " SELECT 1 FROM applications WHERE card_number = ?", (number, number)).fetchone():
                return number

    def cancel_instant_issuance(self, conn, terminal: str, key: str, application_id: str, body: dict) -> Reply:
        wanted = fields(body, {"reason": _text(max_chars=200)})
        application = self._application(conn, application_id, terminal)
        if application["status"] != "marked":
            raise Refusal(422, "not_marked_for_instant_issuance", "only a marked application can be unmarked")
        conn.execute("UPDATE applications SET status = 'applied' WHERE application_id = ?", (application_id,))
        return Reply(200, {"application_id": application_id, "status": "applied", "reason": wanted["reason"]})

    def report_written_card(self, conn, terminal: str, key: str, application_id: str, body: dict) -> Reply:
        wanted = fields(body, {"card_id": CARD_ID, "card_number": _text(_CARD_NUMBER, 9)},
                        {"bank_account": _text(_BANK_ACCOUNT, 19)})
        application = self._application(conn, application_id, terminal)
        if application["status"] != "marked":
            raise Refusal(422, "not_marked_for_instant_issuance", "the application is not marked for this card")
        account = wanted.get("bank_account")
        if account is not None and not _of_the_card_bank(account):
            raise Refusal(422, "not_the_banks_account", "the bank account is not a valid account of the card's bank")
        if wanted["card_number"] != application["card_number"]:
            raise Refusal(422, "card_number_mismatch", "the written card number is not the one assigned")
        if conn.execute("SELECT 1 FROM cards WHERE card_id = ?", (wanted["card_id"],)).fetchone():
            raise Refusal(422, "card_id_in_use", "a card with this identifier already exists")
        today = self._today()
        conn.execute("INSERT INTO cards VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (wanted["card_id"], wanted["card_number"], application["id_number"], SEALED,
                      application["region_code"], today.strftime("%Y%m%d"),
                      today.replace(year=today.year + CARD_VALIDITY_YEARS).strftime("%Y%m%d")))
        conn.execute("UPDATE applications SET status = 'written', card_id = ? WHERE application_id = ?",
                     (wanted["card_id"], application_id))
        if account is not None:
            conn.execute("INSERT INTO card_accounts VALUES (?, ?)", (wanted["card_id"], account))
        if application["replaces_card_id"]:
            self._cancel_replaced(conn, application["replaces_card_id"], application["reason"], terminal, key)
        self._event(conn, wanted["card_id"], "written", terminal, key, application_id)
        return Reply(201, self._public_card(self._card(conn, wanted["card_id"])))

    def seed_terminal_pin_key(self, terminal: str, pin_key: bytes) -> None:
        """The HSM's copy of the key under which the terminal seals a new social security PIN
        (its [security] hsm_pin_key_file)."""
        if len(pin_key) != 16:
            raise ValueError("a terminal PIN key is 16 bytes (SM4)")
        with self._transaction() as conn:
            _upsert(conn, "terminal_pin_keys", {"terminal": terminal, "pin_key": pin_key}, key=("terminal",))

    def seed_pad_key(self, terminal: str, key_set: int, pin_key: bytes) -> None:
        """The key ceremony's bank half: the PIN key the terminal's pad holds in `key_set`, as the
        bank's HSM keeps it (the pad's half is `kiosk pinpad load-key`)."""
        if len(pin_key) != 16 or not 0 <= key_set <= 7:
            raise ValueError("a PIN key is 16 bytes (SM4) in key set 0..7")
        with self._transaction() as conn:
            _upsert(conn, "pad_keys", {"terminal": terminal, "key_set": key_set, "pin_key": pin_key},
                    key=("terminal", "key_set"))

    def issue_bank_pin(self, account: str, pin: str) -> None:
        """The bank's own PIN mailer (密码函): an initial transaction PIN the bank issued with
        the card, which the citizen must give before choosing their own at activation."""
        if not _of_the_card_bank(account) or not re.fullmatch(r"[0-9]{6}", pin):
            raise ValueError("an account of the card's bank and a six-digit PIN")
        with self._transaction() as conn:
            _upsert(conn, "bank_issued_pins", {"bank_account": account, "pin_hash": _pin_hash(pin),
                                               "tries_left": BANK_PIN_TRIES}, key=("bank_account",))

    def _account_of_card(self, conn, card_id: str, account: str) -> None:
        """Refuses unless `account` is the card's account at the card's bank."""
        known = conn.execute("SELECT bank_account FROM card_accounts WHERE card_id = ?", (card_id,)).fetchone()
        if (known is not None and known[0] != account) or not _of_the_card_bank(account):
            raise Refusal(422, "not_the_cards_account", "the account is not this card's account at the card's bank")

    def bank_account_state(self, conn, terminal: str, card_id: str, body: dict) -> dict:
        """What activating the card's account will ask: nothing when it is active already; the
        PIN the bank issued with the card (and its tries left) before the citizen's own."""
        account = fields(body, {"bank_account": _text(_BANK_ACCOUNT, 19)})["bank_account"]
        self._card(conn, card_id)
        self._account_of_card(conn, card_id, account)
        if conn.execute("SELECT 1 FROM bank_accounts WHERE bank_account = ?", (account,)).fetchone():
            return {"active": True, "issued_pin": False, "tries_left": 0}
        issued = conn.execute("SELECT tries_left FROM bank_issued_pins WHERE bank_account = ?", (account,)).fetchone()
        return {"active": False, "issued_pin": issued is not None, "tries_left": issued[0] if issued else 0}

    def activate_bank_account(self, conn, terminal: str, key: str, card_id: str, body: dict) -> Reply:
        """1.10.2, the bank's half (the bank gateway): the card's financial account is activated
        with the transaction PIN the citizen typed twice on the terminal's encrypting pad, after
        the PIN the bank issued with the card when it issued one (`current_block`). The PIN
        blocks open only here, under the pad's key; the PIN is kept as a hash. A wrong issued
        PIN counts a try, and that answer is kept (a resend of it counts nothing more)."""
        wanted = fields(body, {"bank_account": _text(_BANK_ACCOUNT, 19), "pin_block": PIN_BLOCK, "confirm_block": PIN_BLOCK,
                               "key_set": _integer(0, 7), "consent": lambda name, value: value},
                        optional={"current_block": PIN_BLOCK})
        if wanted["consent"] is not True:
            raise Refusal(422, "consent_required", "the citizen's consent to open the account is required")
        card = self._card(conn, card_id)
        if card["status"] != NORMAL:
            raise Refusal(422, "card_not_active", "activate the social security application first")
        account = wanted["bank_account"]
        self._account_of_card(conn, card_id, account)
        if conn.execute("SELECT 1 FROM bank_accounts WHERE bank_account = ?", (account,)).fetchone():
            raise Refusal(422, "bank_account_already_active", "the account is already active")
        pin_key = conn.execute("SELECT pin_key FROM pad_keys WHERE terminal = ? AND key_set = ?",
                               (terminal, wanted["key_set"])).fetchone()
        if pin_key is None:
            raise Refusal(422, "no_pad_key", "the bank holds no PIN key for this terminal's pad")

        def opened(name: str) -> str:
            try:
                return pin_block.open_block(pin_key[0], bytes.fromhex(wanted[name]), account)
            except pin_block.PinBlockError:
                raise Refusal(422, "pin_block_invalid", "the PIN block does not open under the pad's key") from None

        issued = conn.execute("SELECT pin_hash, tries_left FROM bank_issued_pins WHERE bank_account = ?",
                              (account,)).fetchone()
        if issued is not None:
            if issued[1] <= 0:
                raise Refusal(422, "bank_pin_locked", "the issued PIN is locked; the bank's branch unlocks it")
            if wanted.get("current_block") is None:
                raise Refusal(422, "bank_pin_required", "give the PIN the bank issued with the card (current_block)")
            if not _pin_matches(opened("current_block"), issued[0]):
                tries_left = issued[1] - 1
                conn.execute("UPDATE bank_issued_pins SET tries_left = ? WHERE bank_account = ?", (tries_left, account))
                return Reply(422, {"error": {"code": "wrong_bank_pin" if tries_left else "bank_pin_locked",
                                             "message": f"the issued PIN is wrong; {tries_left} tries left"}})
        elif wanted.get("current_block") is not None:
            raise Refusal(422, "no_issued_pin", "the bank issued no PIN with this card; leave out current_block")
        pins = [opened(name) for name in ("pin_block", "confirm_block")]
        if pins[0] != pins[1]:
            raise Refusal(422, "bank_pins_differ", "the two PIN entries differ")
        if len(pins[0]) != 6 or len(set(pins[0])) == 1 or pins[0] in "01234567890" or pins[0] in "98765432109":
            raise Refusal(422, "bank_pin_too_simple", "the transaction PIN is six digits, not all alike or in a row")
        conn.execute("DELETE FROM bank_issued_pins WHERE bank_account = ?", (account,))
        conn.execute("INSERT INTO bank_accounts VALUES (?, ?, ?, ?, ?)",
                     (account, card_id, _pin_hash(pins[0]), self._clock(), terminal))
        self._event(conn, card_id, "bank_account_activated", terminal, key)
        return Reply(200, {"card_id": card_id, "bank_account_active": True})

    def activate_card(self, conn, terminal: str, key: str, card_id: str, body: dict) -> Reply:
        fields(body, {})
        card = self._card(conn, card_id)
        if card["status"] == FORMAL_LOSS:
            raise Refusal(422, "card_under_formal_loss", "a card under formal loss cannot be activated")
        if card["status"] != SEALED:
            raise Refusal(422, "card_not_sealed", f"only a sealed card can be activated; this one is {card['status']}")
        self._set_status(conn, card_id, NORMAL)
        self._event(conn, card_id, "activated", terminal, key)
        return Reply(200, self._public_card(self._card(conn, card_id)))

    def report_loss(self, conn, terminal: str, key: str, card_id: str, body: dict) -> Reply:
        wanted = fields(body, {"kind": _text(choices=("temporary", "formal"))})
        card = self._card(conn, card_id)
        status = TEMPORARY_LOSS if wanted["kind"] == "temporary" else FORMAL_LOSS
        allowed = {TEMPORARY_LOSS: (NORMAL, SEALED), FORMAL_LOSS: (NORMAL, SEALED, TEMPORARY_LOSS)}[status]
        if card["status"] not in allowed:
            raise Refusal(422, "loss_report_not_allowed",
                          f"a {wanted['kind']} loss report is not possible for a card that is {card['status']}")
        self._set_status(conn, card_id, status)
        self._event(conn, card_id, f"loss_reported_{wanted['kind']}", terminal, key)
        return Reply(200, self._public_card(self._card(conn, card_id)))

    def report_person_loss(self, conn, terminal: str, key: str, body: dict) -> Reply:
        """A loss report by the holder's ID number: the card itself is lost, so the kiosk may
        not know its identifier (and offline cannot look it up). The newest live card is meant."""
        wanted = fields(body, {"id_number": ID_NUMBER, "kind": _text(choices=("temporary", "formal"))})
        row = conn.execute("SELECT card_id FROM cards WHERE id_number = ? AND status != ?"
                           " ORDER BY issue_date DESC LIMIT 1", (wanted["id_number"], CANCELLED)).fetchone()
        if row is None:
            raise Refusal(422, "no_live_card", "this person has no card that could be reported lost")
        return self.report_loss(conn, terminal, key, row[0], {"kind": wanted["kind"]})

    def cancel_loss_report(self, conn, terminal: str, key: str, card_id: str, body: dict) -> Reply:
        fields(body, {})
        card = self._card(conn, card_id)
        if card["status"] not in (TEMPORARY_LOSS, FORMAL_LOSS):
            raise Refusal(422, "no_loss_report", "this card has no loss report to cancel")
        self._set_status(conn, card_id, NORMAL)
        self._event(conn, card_id, "loss_report_cancelled", terminal, key)
        return Reply(200, self._public_card(self._card(conn, card_id)))

    def apply_replacement(self, conn, terminal: str, key: str, card_id: str, body: dict) -> Reply:
        wanted = fields(body, {"reason": _text(choices=("lost", "damaged", "expiring", "data_change")),
                               "channel": _text(choices=("instant", "batch")), "commitment": _boolean})
        card = self._card(conn, card_id)
        if card["status"] == CANCELLED:
            raise Refusal(422, "card_cancelled", "this card is cancelled; apply for a new card")
        if wanted["reason"] == "lost" and card["status"] not in (TEMPORARY_LOSS, FORMAL_LOSS):
            raise Refusal(422, "loss_not_reported", "report the card lost before replacing it as lost")
        if wanted["reason"] == "expiring":
            expiry = datetime.datetime.strptime(card["expiry_date"], "%Y%m%d").date()
            if expiry - self._today() > RENEWAL_WINDOW:
                raise Refusal(422, "renewal_too_early", "a card can be renewed from 60 days before it expires")
        already = conn.execute("SELECT application_id, status, terminal FROM applications WHERE replaces_card_id = ?"
                               " AND status IN ('applied', 'marked')", (card_id,)).fetchone()
        if already is not None:
            if already[1] != "applied" or already[2] != terminal:
                raise Refusal(422, "application_open", "a replacement of this card is already open")
            # An issuance that failed here left it open: this terminal resumes it.
            return Reply(201, {"application_id": already[0], "status": "applied", "replaced_card_id": card_id})
        # The old card must not be usable beside the new one. A card made on the spot cancels it
        # when it is reported written, so that an issuance that fails leaves the citizen the card
        # they came with (and an application staff can resume); a batch application at once.
        if wanted["channel"] == "batch":
            self._cancel_replaced(conn, card_id, wanted["reason"], terminal, key)
        application_id = self._new_application(conn, terminal, card["id_number"], card["region_code"], wanted["channel"],
                                               wanted["reason"], wanted["commitment"], replaces=card_id)
        return Reply(201, {"application_id": application_id, "status": "applied", "replaced_card_id": card_id})

    def record_pin_event(self, conn, terminal: str, key: str, card_id: str, body: dict) -> Reply:
        wanted = fields(body, {"event": _text(choices=("changed", "reset")), "at": _text(max_chars=40)})
        card = self._card(conn, card_id)
        if card["status"] == CANCELLED:
            raise Refusal(422, "card_cancelled", "this card is cancelled")
        self._event(conn, card_id, f"pin_{wanted['event']}", terminal, key, wanted["at"])
        return Reply(201, {"card_id": card_id, "event": wanted["event"]})

    def submit_review(self, conn, terminal: str, key: str, body: dict) -> Reply:
        wanted = fields(body, {"service_item": _text(choices=SERVICE_ITEMS), "level": _integer(1, 5)},
                        {"comment": _text(max_chars=MAX_COMMENT_CHARS)})
        review_id = conn.execute("INSERT INTO reviews (service_item, level, comment, terminal, idempotency_key, at)"
                                 " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                                 (wanted["service_item"], wanted["level"], wanted.get("comment", ""), terminal,
                                  key, self._clock())).fetchone()[0]
        return Reply(201, {"review_id": review_id, "level_name": REVIEW_LEVELS[wanted["level"]]})

    def record_audit_entries(self, conn, terminal: str, key: str, terminal_number: str, body: dict) -> Reply:
        """A copy of a kiosk's audit entries (服务全程可追溯): kept outside the kiosk, a removed or
        rewritten local trail can be compared with it. An entry already held is not replaced."""
        wanted = fields(body, {"entries": lambda name, value: value})
        if terminal_number != terminal:
            raise Refusal(403, "wrong_terminal", "a kiosk sends its own audit trail only")
        entries = wanted["entries"]
        if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_AUDIT_ENTRIES:
            raise Refusal(400, "bad_request", f"entries must be a list of 1..{MAX_AUDIT_ENTRIES} entries")
        rows = [fields(entry if isinstance(entry, dict) else {}, AUDIT_ENTRY_FIELDS) for entry in entries]
        flags = []
        stored = 0
        for row in sorted(rows, key=lambda r: r["seq"]):
            held = conn.execute("SELECT mac FROM audit_copies WHERE terminal = ? AND seq = ?",
                                (terminal, row["seq"])).fetchone()
            if held is not None:
                if held[0] != row["mac"]:   # another entry at a place already held: the chain forked
                    flags.append(self._audit_flag(conn, terminal, "fork", f"entry {row['seq']} differs from the copy"))
                continue
            last = conn.execute("SELECT max(seq) FROM audit_copies WHERE terminal = ?", (terminal,)).fetchone()[0]
            if last is not None and row["seq"] > last + 1:
                flags.append(self._audit_flag(conn, terminal, "gap",
                                              f"entries {last + 1} to {row['seq'] - 1} never arrived"))
            conn.execute("INSERT INTO audit_copies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (terminal, row["seq"], row["at_utc"], row["visit_id"], row["service_item"], row["step"],
                          row["outcome"], row["details"], row["mac"], self._clock()))
            stored += 1
        return Reply(201, {"received": len(rows), "new": stored, "flags": flags})

    def _audit_flag(self, conn, terminal: str, kind: str, detail: str) -> dict:
        """Something staff must look at in a kiosk's audit trail: kept, and answered."""
        conn.execute("INSERT INTO audit_flags (terminal, kind, detail, at) VALUES (?, ?, ?, ?)",
                     (terminal, kind, detail, self._clock()))
        return {"kind": kind, "detail": detail}

    def _check_audit_head(self, conn, terminal: str, head: dict) -> list[dict]:
        """A heartbeat's audit head against the last one and the copies: the chain must only grow."""
        flags = []
        last = conn.execute("SELECT seq, mac FROM audit_heads WHERE terminal = ?", (terminal,)).fetchone()
        if last is not None and head["seq"] < last[0]:
            flags.append(self._audit_flag(conn, terminal, "restart",
                                          f"the chain is at {head['seq']}, it was at {last[0]}"))
        elif last is not None and head["seq"] == last[0] and head["mac"] != last[1]:
            flags.append(self._audit_flag(conn, terminal, "fork", f"entry {head['seq']} differs from the last head"))
        copy = conn.execute("SELECT mac FROM audit_copies WHERE terminal = ? AND seq = ?",
                            (terminal, head["seq"])).fetchone()
        if copy is not None and copy[0] != head["mac"] and not any(f["kind"] == "fork" for f in flags):
            flags.append(self._audit_flag(conn, terminal, "fork", f"entry {head['seq']} differs from the copy"))
        _upsert(conn, "audit_heads", {"terminal": terminal, "seq": head["seq"], "mac": head["mac"], "at": self._clock()},
                key=("terminal",))
        return flags

    def call_staff(self, conn, terminal: str, key: str, terminal_number: str, body: dict) -> Reply:
        """A kiosk asks for a member of staff (a citizen its face check could not vouch for)."""
        wanted = fields(body, {"reason": _text(max_chars=60)})
        if terminal_number != terminal:
            raise Refusal(403, "wrong_terminal", "a kiosk calls staff for itself only")
        call_id = conn.execute("INSERT INTO staff_calls (terminal, reason, idempotency_key, at) VALUES (?, ?, ?, ?)"
                               " RETURNING id", (terminal, wanted["reason"], key, self._clock())).fetchone()[0]
        return Reply(201, {"call_id": call_id})

    def record_heartbeat(self, conn, terminal: str, key: str, terminal_number: str, body: dict) -> Reply:
        wanted = fields(body, {"queue_depth": _integer(0, 10**9), "software_version": _text(max_chars=40)},
                        {"oldest_pending_age_s": _number, "dead_letters": _integer(0, 10**9),
                         "staff_lockouts": _integer(0, 10**6), "audit_head": lambda name, value: value,
                         "health": _health})
        if terminal_number != terminal:
            raise Refusal(403, "wrong_terminal", "a kiosk reports its own heartbeat only")
        flags = []
        if "audit_head" in wanted:
            head = fields(wanted["audit_head"] if isinstance(wanted["audit_head"], dict) else {},
                          {"seq": _integer(0, 2**62), "mac": _text(re.compile(r"^[0-9a-f]{64}$"), 64)})
            flags = self._check_audit_head(conn, terminal, head)
        conn.execute("INSERT INTO heartbeats (terminal, queue_depth, oldest_pending_age_s, software_version, at,"
                     " dead_letters, staff_lockouts) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (terminal, wanted["queue_depth"], wanted.get("oldest_pending_age_s"), wanted["software_version"],
                      self._clock(), wanted.get("dead_letters", 0), wanted.get("staff_lockouts", 0)))
        if "health" in wanted:
            _upsert(conn, "terminal_health", {"terminal": terminal, "at": self._clock(),
                                              "health": json.dumps(wanted["health"], ensure_ascii=False)},
                    key=("terminal",))
        return Reply(201, {"terminal": terminal, "received_at": self._clock(), "audit_flags": flags})

    def fleet_status(self, conn, client: str, body: dict) -> dict:
        """The province's operations team's view (#18): each terminal's last heartbeat, its
        health, its audit head, and whether it has gone silent. Operations certificates only
        (common name OPS-...): a kiosk sees no other kiosk."""
        fields(body, {})
        if not client.startswith(OPERATIONS_PREFIX):
            raise Refusal(403, "operations_only", "the fleet status is for operations certificates")
        now = self._clock()
        rows = conn.execute(
            "SELECT h.terminal, h.at, h.software_version, h.queue_depth, h.oldest_pending_age_s, h.dead_letters,"
            " h.staff_lockouts, t.health, a.seq FROM heartbeats h"
            " JOIN (SELECT terminal, MAX(id) AS id FROM heartbeats GROUP BY terminal) latest ON latest.id = h.id"
            " LEFT JOIN terminal_health t ON t.terminal = h.terminal"
            " LEFT JOIN audit_heads a ON a.terminal = h.terminal ORDER BY h.terminal").fetchall()
        return {"silent_after_s": self.silent_after_s, "terminals": [
            {"terminal": terminal, "last_seen_at": at, "silent": now - at > self.silent_after_s,
             "software_version": version, "queue_depth": depth, "oldest_pending_age_s": oldest,
             "dead_letters": dead, "staff_lockouts": lockouts, "audit_head_seq": audit_seq,
             **({"health": json.loads(health)} if health else {})}
            for terminal, at, version, depth, oldest, dead, lockouts, health, audit_seq in rows]}

    # --- the electronic social security card's QR code (#19) ---------------------------------

    def issue_essc_code(self, id_number: str, ttl_s: float = ESSC_CODE_SECONDS) -> str:
        """A code the citizen's app shows for a known person (the simulation's phone): good for
        `ttl_s` seconds, and once."""
        ID_NUMBER("id_number", id_number)
        if _number("ttl_s", ttl_s) == 0:
            raise Refusal(400, "invalid_field", "ttl_s must be a number of seconds above 0")
        code = ESSC_CODE_PREFIX + secrets.token_urlsafe(24)

        def issue(conn) -> str:
            if conn.execute("SELECT 1 FROM persons WHERE id_number = ?", (id_number,)).fetchone() is None:
                raise Refusal(404, "person_not_found", "no person with this ID number")
            conn.execute("INSERT INTO essc_codes (code_hash, id_number, expires_at) VALUES (?, ?, ?)",
                         (_essc_code_hash(code), id_number, self._clock() + ttl_s))
            return code
        return self._db.run(issue)

    def resolve_essc_code(self, conn, terminal: str, key: str, body: dict) -> Reply:
        """The person a scanned code stands for. The code is used up by the first resolution,
        from whichever terminal: a code photographed over a shoulder is worth nothing once its
        owner has been served. Its Idempotency-Key replays this answer to the terminal that
        lost it, which is not a second use."""
        code_hash = _essc_code_hash(fields(body, {"code": ESSC_CODE})["code"])
        row = conn.execute("SELECT c.expires_at, c.used_at, p.id_number, p.name, p.sex, p.ethnicity, p.birth_date"
                           " FROM essc_codes c JOIN persons p ON p.id_number = c.id_number WHERE c.code_hash = ?",
                           (code_hash,)).fetchone()
        if row is None:
            raise Refusal(422, "essc_code_unknown", "this is not a code of the electronic social security card")
        expires_at, used_at, id_number, name, sex, ethnicity, birth_date = row
        if used_at is not None:
            raise Refusal(422, "essc_code_used", "this code has been used already; show a new one in the app")
        if self._clock() >= expires_at:
            raise Refusal(422, "essc_code_expired", "this code has expired; show a new one in the app")
        conn.execute("UPDATE essc_codes SET used_at = ?, used_by = ? WHERE code_hash = ?",
                     (self._clock(), terminal, code_hash))
        document = _document_of(id_number)
        return Reply(200, {"id_number": id_number, "name": name, "sex": sex,
                           # only the resident ID card records an ethnicity (as the ID reader reads it)
                           "ethnicity": ethnicity if document == "resident_id" else None,
                           "birth_date": birth_date, "document": document})

    # --- fees (工本费, #19): orders, and the payment provider the reference backend simulates -----

    def create_fee_order(self, conn, terminal: str, key: str, body: dict) -> Reply:
        """An order for the fee of `action` for `reason`, to be paid with the payment app on the
        QR code `pay_code`. The kiosk's fee table sets the amount; the backend records it."""
        wanted = fields(body, FEE_ORDER_FIELDS)
        now = self._clock()
        order_id = f"FO{secrets.token_hex(8).upper()}"   # not guessable: only its terminal reads it anyway
        pay_code = PAY_CODE_PREFIX + secrets.token_urlsafe(16)
        conn.execute("INSERT INTO fee_orders (order_id, terminal, action, reason, subject, amount_fen, status,"
                     " pay_code, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (order_id, terminal, wanted["action"], wanted["reason"], wanted["subject"],
                      wanted["amount_fen"], PENDING, pay_code, now, now + FEE_ORDER_SECONDS))
        self._fee_event(conn, order_id, "created", terminal, key)
        return Reply(201, {"order_id": order_id, "status": PENDING, "amount_fen": wanted["amount_fen"],
                           "pay_code": pay_code, "expires_at": now + FEE_ORDER_SECONDS,
                           "expires_in_s": FEE_ORDER_SECONDS})

    def fee_order_status(self, conn, terminal: str, order_id: str, body: dict) -> dict:
        """What the kiosk polls while the citizen pays."""
        return self._fee_order(conn, order_id, terminal)

    def cancel_fee_order(self, conn, terminal: str, key: str, order_id: str, body: dict) -> Reply:
        fields(body, {})
        order = self._pending_fee_order(conn, order_id, terminal)
        return Reply(200, self._settle_fee_order(conn, order, FEE_CANCELLED, terminal, key))

    def waive_fee_order(self, conn, terminal: str, key: str, order_id: str, body: dict) -> Reply:
        """Staff let the citizen off the fee: who and why are kept with the order."""
        wanted = fields(body, {"staff_id": _text(_SOME_TEXT, 40), "reason": _text(_SOME_TEXT, 200)})
        order = self._pending_fee_order(conn, order_id, terminal)
        return Reply(200, self._settle_fee_order(conn, order, WAIVED, terminal, key, wanted))

    def request_fee_refund(self, conn, terminal: str, key: str, order_id: str, body: dict) -> Reply:
        """A paid fee whose card could not be made goes back to the citizen: the request is
        recorded for the finance office, under an id the citizen's receipt names."""
        wanted = fields(body, {"reason": _text(max_chars=200)})
        order = self._fee_order(conn, order_id, terminal)
        if order["status"] != PAID:
            raise Refusal(422, "fee_order_not_paid", f"only a paid order is refunded; this one is {order['status']}")
        refund_id = f"RF{secrets.token_hex(8).upper()}"
        conn.execute("UPDATE fee_orders SET refund_id = ? WHERE order_id = ?", (refund_id, order_id))
        self._settle_fee_order(conn, order, REFUND_REQUESTED, terminal, key,
                               {"refund_id": refund_id, "reason": wanted["reason"]})
        return Reply(201, {"order_id": order_id, "refund_id": refund_id, "status": REFUND_REQUESTED})

    def pay_fee_order(self, order_id: str) -> dict:
        """The payment provider confirms the citizen's payment (demo and tests)."""
        return self._db.run(lambda conn: self._provider_settles(conn, order_id, PAID))

    def fail_fee_order(self, order_id: str) -> dict:
        """The payment provider reports the payment failed (demo and tests)."""
        return self._db.run(lambda conn: self._provider_settles(conn, order_id, FAILED))

    def expire_fee_order(self, order_id: str) -> dict:
        """A pending order's time is up now, not in five minutes (the demo's simulator panel)."""
        def expire(conn) -> dict:
            self._pending_fee_order(conn, order_id, None)
            conn.execute("UPDATE fee_orders SET expires_at = ? WHERE order_id = ?", (self._clock(), order_id))
            return self._fee_order(conn, order_id, None)
        return self._db.run(expire)

    def _provider_settles(self, conn, order_id: str, status: str) -> dict:
        order = self._pending_fee_order(conn, order_id, None)
        return self._settle_fee_order(conn, order, status, "payment_provider", None)

    def _fee_order(self, conn, order_id: str, terminal: str | None) -> dict:
        """The order as it stands (a pending order past its time is expired), for the terminal
        that made it; `terminal` None is the payment provider, which serves every terminal."""
        row = conn.execute("SELECT order_id, terminal, status, amount_fen, expires_at, paid_at FROM fee_orders"
                           " WHERE order_id = ?", (order_id,)).fetchone()
        if row is None:
            raise Refusal(404, "fee_order_not_found", "no such fee order")
        if terminal is not None and row[1] != terminal:
            raise Refusal(403, "other_terminal_order", "this fee order was made at another terminal")
        status = EXPIRED if row[2] == PENDING and self._clock() >= row[4] else row[2]
        return {"order_id": row[0], "status": status, "amount_fen": row[3], "expires_at": row[4], "paid_at": row[5]}

    def _pending_fee_order(self, conn, order_id: str, terminal: str | None) -> dict:
        order = self._fee_order(conn, order_id, terminal)
        if order["status"] != PENDING:
            raise Refusal(422, "fee_order_not_pending", f"this fee order is {order['status']}, no longer pending")
        return order

    def _settle_fee_order(self, conn, order: dict, status: str, terminal: str, key: str | None,
                          detail: dict | None = None) -> dict:
        """`order` moved to `status`, and the move kept in its history (a waiver's staff member
        and reason, a refund's reason: the audit of the fee)."""
        paid_at = self._clock() if status == PAID else order["paid_at"]
        conn.execute("UPDATE fee_orders SET status = ?, paid_at = ? WHERE order_id = ?",
                     (status, paid_at, order["order_id"]))
        self._fee_event(conn, order["order_id"], status, terminal, key, detail)
        return {**order, "status": status, "paid_at": paid_at}

    def _fee_event(self, conn, order_id: str, event: str, terminal: str, key: str | None,
                   detail: dict | None = None) -> None:
        conn.execute("INSERT INTO fee_events (order_id, event, detail, terminal, idempotency_key, at)"
                     " VALUES (?, ?, ?, ?, ?, ?)",
                     (order_id, event, json.dumps(detail or {}, ensure_ascii=False), terminal, key, self._clock()))

"""What opens diagnostics mode: the staff PIN, or a staff card with its PIN; locked for a
while after five wrong tries of either, so a curious citizen cannot guess their way in.

The staff PIN is stored only as `scrypt$N$r$p$salt_hex$hash_hex` ([ui] staff_pin_scrypt; make
one with `kiosk config hash-staff-pin`), so neither the disk nor the configuration holds it.

A staff card is a member of staff's own social security card, enrolled by the SHA-256 of its
card identifier ([ui] staff_cards; `kiosk config hash-staff-card`). The identifier is only a
name anyone can read from EF05: before the card is trusted it must prove it holds its own key
(INTERNAL AUTHENTICATE with a fresh challenge, checked by the PSAM or the backend's HSM), and
then accept its holder's PIN, so neither a copy, an emulator answering 9000, nor a lost staff
card opens anything. The lockout survives a restart (StaffLockoutStore).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from typing import Callable

from drivers.apdu import CardError
from drivers.pin import Pin
from drivers.ssse import CardNotGenuine, WrongPin
from kiosk.device_messages import citizen_message

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
MAX_TRIES = 5
LOCKOUT_S = 300.0
MAX_LOCKOUT_S = 86400.0


def hash_staff_pin(digit_values: list[int], salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(bytes(digit_values), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def well_formed(stored: str) -> bool:
    parts = stored.split("$")
    try:
        return (len(parts) == 6 and parts[0] == "scrypt" and all(p.isdigit() for p in parts[1:4])
                and len(bytes.fromhex(parts[4])) >= 8 and len(bytes.fromhex(parts[5])) >= 32)
    except ValueError:
        return False


def staff_pin_matches(digit_values: list[int], stored: str) -> bool:
    if not well_formed(stored):
        return False  # a malformed or missing hash never lets anyone in
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(bytes(digit_values), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate, bytes.fromhex(digest))


def staff_card_digest(card_identifier: str) -> str:
    """What [ui] staff_cards lists for a card: the SHA-256 of its identifier (hex, as read)."""
    return hashlib.sha256(card_identifier.strip().upper().encode("ascii")).hexdigest()


def parse_staff_cards(listed: str) -> tuple[str, ...]:
    """[ui] staff_cards: digests separated by commas; raises ValueError for anything else."""
    digests = tuple(part.strip().lower() for part in listed.split(",") if part.strip())
    for digest in digests:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"{digest[:16]!r}… is not a SHA-256 digest (64 hex digits)")
    return digests


LOCKOUT_SCHEMA = """
CREATE TABLE IF NOT EXISTS staff_lockout (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    wrong        INTEGER NOT NULL,   -- wrong tries in a row since the last lockout or sign-in
    lockouts     INTEGER NOT NULL,   -- lockouts in a row without a sign-in: each lasts twice the last
    locked_until REAL NOT NULL       -- time.time(): a restart must not open the gate
)
"""


class StaffLockoutStore:
    """The gate's counts in the kiosk's database (the outbox's), so a restart forgets nothing."""

    def __init__(self, outbox):
        self.outbox = outbox
        with outbox.transaction() as tx:
            tx.execute(LOCKOUT_SCHEMA)

    def load(self) -> tuple[int, int, float]:
        with self.outbox.transaction() as tx:
            row = tx.execute("SELECT wrong, lockouts, locked_until FROM staff_lockout WHERE id = 1").fetchone()
        return tuple(row) if row else (0, 0, 0.0)

    def save(self, wrong: int, lockouts: int, locked_until: float) -> None:
        with self.outbox.transaction() as tx:
            tx.execute("INSERT INTO staff_lockout (id, wrong, lockouts, locked_until) VALUES (1, ?, ?, ?)"
                       " ON CONFLICT (id) DO UPDATE SET wrong = excluded.wrong, lockouts = excluded.lockouts,"
                       " locked_until = excluded.locked_until", (wrong, lockouts, locked_until))


class _MemoryLockout:
    def __init__(self):
        self.values = (0, 0, 0.0)

    def load(self) -> tuple[int, int, float]:
        return self.values

    def save(self, wrong: int, lockouts: int, locked_until: float) -> None:
        self.values = (wrong, lockouts, locked_until)


def _no_event(event: str, detail: dict) -> None:
    pass


class StaffGate:
    """Checks staff PINs and staff cards. After MAX_TRIES wrong tries in a row it refuses every
    try, right or wrong, for LOCKOUT_S seconds, twice as long at each lockout that follows
    without a sign-in (up to MAX_LOCKOUT_S). The counts live in `store`; each sign-in, lockout
    and card that fails its proof is told to `on_event` (the kiosk writes it to the audit trail)."""

    def __init__(self, stored_hash: str, staff_cards: str = "", *, store=None,
                 on_event: Callable[[str, dict], None] = _no_event, max_tries: int = MAX_TRIES,
                 lockout_s: float = LOCKOUT_S, max_lockout_s: float = MAX_LOCKOUT_S,
                 clock: Callable[[], float] = time.time):
        self.stored_hash = stored_hash
        self.staff_cards = parse_staff_cards(staff_cards)
        self.max_tries = max_tries
        self.lockout_s = lockout_s
        self.max_lockout_s = max_lockout_s
        self.store = store if store is not None else _MemoryLockout()
        self.on_event = on_event
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def locked(self) -> bool:
        return self._clock() < self.store.load()[2]

    @property
    def lockouts(self) -> int:
        """Lockouts in a row without a sign-in: the heartbeat tells the office."""
        return self.store.load()[1]

    def try_pin(self, digit_values: list[int]) -> bool:
        with self._lock:
            if self.locked:
                return False
            if staff_pin_matches(digit_values, self.stored_hash):
                self._signed_in({"by": "staff_pin"})
                return True
            self._count_wrong("staff PIN")
            return False

    def card_enrolled(self, card_identifier: str) -> bool:
        digest = staff_card_digest(card_identifier)
        return any(hmac.compare_digest(digest, enrolled) for enrolled in self.staff_cards)

    def sign_in(self, pin: Pin, staff_card: str | None, verify_pin_on_card: Callable[[Pin], None],
                prove_card: Callable[[], object] = lambda: None) -> tuple[bool, str]:
        """The staff PIN, or (with `staff_card`, the identifier of the card in the reader) that
        card's own PIN once the card has proved itself genuine (`prove_card`: INTERNAL
        AUTHENTICATE; it returns the identifier it proved): (signed in, what went wrong with
        the card in the screen's words, or "")."""
        if staff_card is None:
            return self.try_pin(pin.digit_values()), ""
        try:
            return self.try_staff_card(staff_card, lambda: verify_pin_on_card(pin), prove_card), ""
        except CardError as exc:   # not genuine, pulled out, or it could not check the PIN
            return False, citizen_message(exc)

    def try_staff_card(self, card_identifier: str, verify_pin_on_card: Callable[[], None],
                       prove_card: Callable[[], object] = lambda: None) -> bool:
        """An enrolled card that proves it holds its key and whose holder's PIN it accepts. A
        card that fails the proof, or a wrong PIN, counts as a wrong try (the proof failing is
        raised again as CardNotGenuine); other card errors (the card pulled out) reach the caller."""
        with self._lock:
            if self.locked or not self.card_enrolled(card_identifier):
                return False
            digest = staff_card_digest(card_identifier)[:16]
            try:
                proved = prove_card()
                if proved is not None and str(proved).upper() != card_identifier.upper():
                    raise CardNotGenuine("the card that proved itself is not the one enrolled")
            except CardNotGenuine as exc:
                self.on_event("staff_card_not_genuine", {"card": digest, "why": str(exc)[:120]})
                self._count_wrong("staff card proof")
                raise
            try:
                verify_pin_on_card()
            except WrongPin:
                self._count_wrong("staff card PIN")
                return False
            self._signed_in({"by": "staff_card", "card": digest})
            return True

    def _signed_in(self, detail: dict) -> None:
        self.store.save(0, 0, 0.0)
        self.on_event("staff_signed_in", detail)

    def _count_wrong(self, what: str) -> None:
        wrong, lockouts, locked_until = self.store.load()
        wrong += 1
        if wrong >= self.max_tries:
            seconds = min(self.lockout_s * 2 ** lockouts, self.max_lockout_s)
            wrong, lockouts, locked_until = 0, lockouts + 1, self._clock() + seconds
            self.on_event("staff_lockout", {"after": what, "lockouts": lockouts, "seconds": seconds})
        self.store.save(wrong, lockouts, locked_until)

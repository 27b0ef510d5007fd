"""What opens diagnostics mode: the staff PIN, or a staff card with its PIN; locked for a
while after five wrong tries of either, so a curious citizen cannot guess their way in.

The staff PIN is stored only as `scrypt$N$r$p$salt_hex$hash_hex` ([ui] staff_pin_scrypt; make
one with `kiosk config hash-staff-pin`), so neither the disk nor the configuration holds it.

A staff card is a member of staff's own social security card, enrolled by the SHA-256 of its
card identifier ([ui] staff_cards; `kiosk config hash-staff-card`). Holding it is not enough:
the card itself must accept its holder's PIN, so a lost staff card opens nothing.
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
from drivers.ssse import WrongPin
from kiosk.device_messages import citizen_message

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
MAX_TRIES = 5
LOCKOUT_S = 300.0


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


class StaffGate:
    """Checks staff PINs; after MAX_TRIES wrong ones in a row it refuses every PIN, right or
    wrong, for LOCKOUT_S seconds."""

    def __init__(self, stored_hash: str, staff_cards: str = "", *, max_tries: int = MAX_TRIES,
                 lockout_s: float = LOCKOUT_S, clock: Callable[[], float] = time.monotonic):
        self.stored_hash = stored_hash
        self.staff_cards = parse_staff_cards(staff_cards)
        self.max_tries = max_tries
        self.lockout_s = lockout_s
        self._clock = clock
        self._wrong = 0
        self._locked_until = 0.0
        self._lock = threading.Lock()

    @property
    def locked(self) -> bool:
        return self._clock() < self._locked_until

    def try_pin(self, digit_values: list[int]) -> bool:
        with self._lock:
            if self.locked:
                return False
            if staff_pin_matches(digit_values, self.stored_hash):
                self._wrong = 0
                return True
            self._count_wrong()
            return False

    def card_enrolled(self, card_identifier: str) -> bool:
        digest = staff_card_digest(card_identifier)
        return any(hmac.compare_digest(digest, enrolled) for enrolled in self.staff_cards)

    def sign_in(self, pin: Pin, staff_card: str | None,
                verify_pin_on_card: Callable[[Pin], None]) -> tuple[bool, str]:
        """The staff PIN, or (with `staff_card`, the identifier of the card in the reader) that
        card's own PIN: (signed in, what went wrong with the card in the screen's words, or "")."""
        if staff_card is None:
            return self.try_pin(pin.digit_values()), ""
        try:
            return self.try_staff_card(staff_card, lambda: verify_pin_on_card(pin)), ""
        except CardError as exc:   # the card pulled out, or it could not check the PIN
            return False, citizen_message(exc)

    def try_staff_card(self, card_identifier: str, verify_pin_on_card: Callable[[], None]) -> bool:
        """An enrolled card whose holder's PIN the card accepts. A wrong PIN counts as a wrong
        try here too; other card errors (the card pulled out) reach the caller."""
        with self._lock:
            if self.locked or not self.card_enrolled(card_identifier):
                return False
            try:
                verify_pin_on_card()
            except WrongPin:
                self._count_wrong()
                return False
            self._wrong = 0
            return True

    def _count_wrong(self) -> None:
        self._wrong += 1
        if self._wrong >= self.max_tries:
            self._wrong = 0
            self._locked_until = self._clock() + self.lockout_s

"""The staff PIN that opens diagnostics mode: stored only as its scrypt hash, and locked for a
while after five wrong tries, so a curious citizen cannot guess their way in.

The hash is `scrypt$N$r$p$salt_hex$hash_hex` ([ui] staff_pin_scrypt; make one with
`kiosk config hash-staff-pin`), so neither the disk nor the configuration holds the PIN.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from typing import Callable

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


class StaffGate:
    """Checks staff PINs; after MAX_TRIES wrong ones in a row it refuses every PIN, right or
    wrong, for LOCKOUT_S seconds."""

    def __init__(self, stored_hash: str, *, max_tries: int = MAX_TRIES, lockout_s: float = LOCKOUT_S,
                 clock: Callable[[], float] = time.monotonic):
        self.stored_hash = stored_hash
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
            self._wrong += 1
            if self._wrong >= self.max_tries:
                self._wrong = 0
                self._locked_until = self._clock() + self.lockout_s
            return False

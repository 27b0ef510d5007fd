"""Staff sign-in for diagnostics: the staff PIN, checked against its scrypt hash.

The hash is stored as `scrypt$N$r$p$salt_hex$hash_hex` (make one with `hash_staff_pin`), so
neither the kiosk's disk nor its configuration holds the PIN itself.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1


def hash_staff_pin(pin_text: str, salt: bytes | None = None) -> str:
    """The value for the configuration, from the PIN as typed (digits)."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(bytes(int(c) for c in pin_text), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def staff_pin_matches(digit_values: list[int], stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(bytes(digit_values), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except ValueError:   # a malformed hash never lets anyone in
        return False
    return hmac.compare_digest(candidate, bytes.fromhex(digest))


class StaffSignInScreen(Screen):
    problem = StringProperty("")

    def on_pre_enter(self, *args):
        self.problem = ""
        self.ids.pad.new_entry()

    def complete(self) -> None:
        app = App.get_running_app()
        pin = self.ids.pad.take_pin()
        stored = app.staff_pin_hash

        def check() -> None:
            with pin:
                ok = bool(stored) and staff_pin_matches(pin.digit_values(), stored)
            Clock.schedule_once(lambda _dt: app.staff_signed_in() if ok else self._refused())

        threading.Thread(target=check, name="staff-pin", daemon=True).start()

    def _refused(self) -> None:
        self.problem = "工作人员密码错误"
        self.ids.pad.new_entry()

    def clear(self) -> None:
        self.ids.pad.clear()
        self.problem = ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

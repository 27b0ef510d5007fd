"""The PIN pad: our own widget, never Kivy's VKeyboard (whose key positions are fixed, so a
camera or a neighbour learns the PIN from where the finger goes).

The digits sit in a fresh random order for every entry (configurable), the entry is shown only
as dots, a clear key starts over, and a notice asks the citizen to shield the pad. The digits
are kept in a bytearray that becomes the `Pin` itself: the caller takes it with `take_pin()`
and wipes it after the one APDU that needs it; `clear()` zeroes whatever was typed.
"""
from __future__ import annotations

import random
from pathlib import Path

from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.pin_policy import PIN_LENGTH, Pin
from kiosk.i18n import N_, _

PRIVACY_NOTICE = N_("请用手遮挡输入。工作人员不会询问您的密码。")
_system_random = random.SystemRandom()  # the order must not be predictable from the time of day


class PinPad(BoxLayout):
    randomise = BooleanProperty(True)
    entered = NumericProperty(0)        # how many digits are typed: the dots, never the digits
    dots = StringProperty("○" * PIN_LENGTH)
    privacy_notice = StringProperty(PRIVACY_NOTICE)

    __events__ = ("on_complete",)

    def __init__(self, **kwargs):
        self._digits = bytearray()
        super().__init__(**kwargs)

    def on_kv_post(self, base_widget):
        self.new_entry()

    def new_entry(self) -> None:
        """Wipes what was typed and lays the digits out again (in a new random order)."""
        self.clear()
        order = list("0123456789")
        if self.randomise:
            _system_random.shuffle(order)
        keys = self.ids.key_grid
        keys.clear_widgets()
        # Three rows of three digits, then: clear, the tenth digit, confirm.
        for digit in order[:9]:
            keys.add_widget(self._digit_key(digit))
        clear = Factory.SecondaryButton(text=_("清除"), on_release=lambda _b: self.clear())
        clear.name = "clear"
        keys.add_widget(clear)
        keys.add_widget(self._digit_key(order[9]))
        confirm = Factory.KioskButton(text=_("确认"), on_release=lambda _b: self._confirm())
        confirm.name = "confirm"
        keys.add_widget(confirm)

    def _digit_key(self, digit: str):
        key = Factory.KioskButton(text=digit, on_release=lambda _b: self.press(digit))
        key.name = f"digit-{digit}"
        return key

    def press(self, digit: str) -> None:
        if len(self._digits) < PIN_LENGTH:
            self._digits.append(ord(digit))
            self._show()

    def clear(self) -> None:
        self._digits[:] = bytes(len(self._digits))
        self._digits = bytearray()
        self._show()

    def _show(self) -> None:
        self.show_count(len(self._digits))

    def show_count(self, entered: int) -> None:
        """The dots for `entered` digits (typed here, or on the encrypting PIN pad)."""
        self.entered = max(0, min(entered, PIN_LENGTH))
        self.dots = "●" * self.entered + "○" * (PIN_LENGTH - self.entered)

    def _confirm(self) -> None:
        if len(self._digits) == PIN_LENGTH:
            self.dispatch("on_complete")

    def take_pin(self) -> Pin:
        """Hands the typed digits over as a Pin (which the caller wipes); the pad keeps nothing."""
        digits, self._digits = self._digits, bytearray()
        self._show()
        return Pin(digits)

    def on_complete(self):
        pass


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

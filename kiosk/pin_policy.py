"""Which new PINs the kiosk refuses, before the card is ever touched (1.10.5).

A PIN guessed in six tries blocks the card, so the guesses people make first are refused:
one digit six times, a run up or down, the holder's birth date in the usual orders, the last
six characters of the ID number, and the PIN being replaced.
"""
from __future__ import annotations

import datetime

from drivers.pin import PIN_LENGTH, Pin

__all__ = ["PIN_LENGTH", "Pin", "WeakPin", "check_new_pin"]   # the screens take the PIN type from here


class WeakPin(ValueError):
    citizen_message = "新密码过于简单（如相同数字、连续数字、生日或证件号后六位），请换一个。"

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"new PIN refused: {reason}")


def _birth_date_forms(birth_date: datetime.date) -> set[str]:
    return {birth_date.strftime(fmt) for fmt in ("%y%m%d", "%m%d%y", "%d%m%y", "%Y%m")}


def check_new_pin(new: Pin, birth_date: datetime.date | None = None, id_number: str | None = None,
                  old: Pin | None = None) -> None:
    """Raises WeakPin with the rule it broke; says nothing about the digits themselves."""
    digits = new.digit_values()
    steps = {b - a for a, b in zip(digits, digits[1:])}
    if steps == {0}:
        raise WeakPin("all digits are the same")
    if steps in ({1}, {-1}):
        raise WeakPin("the digits run up or down in sequence")
    if birth_date is not None and any(new.matches(form) for form in _birth_date_forms(birth_date)):
        raise WeakPin("it is the holder's birth date")
    if id_number and id_number[-6:].isdigit() and new.matches(id_number[-6:]):
        raise WeakPin("it is the last six digits of the ID number")
    if old is not None and new.same_as(old):
        raise WeakPin("it is the same as the current PIN")

"""The card PIN, kept in a bytearray that is wiped as soon as the one APDU that needs it is sent.

Python copies what it hands to pyscard, and a PIN typed into a `str` (getpass) lives until
that string is collected; what we control is that no object of ours keeps the digits: not a
log line, an exception text, a repr, the outbox, or a long-lived attribute.
"""
from __future__ import annotations

from drivers.apdu import CardError

PIN_LENGTH = 6


class InvalidPinFormat(CardError):
    pass


class Pin:
    """Six ASCII digits in a bytearray. `wipe()` zeroes them; `with Pin(...) as pin:` wipes on exit."""

    def __init__(self, digits: bytearray):
        if len(digits) != PIN_LENGTH or not all(0x30 <= d <= 0x39 for d in digits):
            digits[:] = bytes(len(digits))
            raise InvalidPinFormat(f"a PIN is {PIN_LENGTH} digits")
        self._digits = digits

    @classmethod
    def from_text(cls, text: str) -> "Pin":
        try:
            digits = bytearray(text.strip().encode("ascii"))
        except UnicodeEncodeError:
            raise InvalidPinFormat(f"a PIN is {PIN_LENGTH} digits") from None
        return cls(digits)

    def bcd(self) -> bytearray:
        """Three bytes of packed BCD, as VERIFY and CHANGE PIN want them. Wipe after use."""
        packed = bytearray(PIN_LENGTH // 2)
        for i in range(0, PIN_LENGTH, 2):
            packed[i // 2] = ((self._digits[i] - 0x30) << 4) | (self._digits[i + 1] - 0x30)
        return packed

    def digit_values(self) -> list[int]:
        """For the weak-PIN rules; the caller drops the list when done."""
        return [d - 0x30 for d in self._digits]

    def same_as(self, other: "Pin") -> bool:
        return self._digits == other._digits

    def matches(self, digits: str) -> bool:
        """True when the PIN equals `digits` (e.g. part of a birth date)."""
        return self._digits == digits.encode("ascii")

    def wipe(self) -> None:
        self._digits[:] = bytes(len(self._digits))

    def __enter__(self) -> "Pin":
        return self

    def __exit__(self, *exc) -> None:
        self.wipe()

    def __repr__(self) -> str:
        return "Pin(******)"

    __str__ = __repr__

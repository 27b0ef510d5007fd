"""PIN blocks under SM4 (#15).

ISO 9564 format 0, as the encrypting PIN pad makes them for a bank PIN and the bank's side
opens them; the kiosk never makes or opens one (a bank PIN exists only in the pad and at the
bank): the pad simulator and the reference backend's bank gateway do.

    block = (0 | PIN length | PIN digits | F padding)  XOR  (0000 | 12 rightmost PAN digits
            without the check digit), 8 bytes
    sent  = SM4-ECB(PIN key, block || FF FF FF FF FF FF FF FF)

ISO 9564 format 1 (no account: 1 | PIN length | PIN digits | random fill), for the social
security PIN the kiosk sends to the backend's HSM in HSM mode, which the touchscreen took:
`seal_card_pin` makes it straight from the PIN's BCD bytes, so no string of digits is made.

SM4's block is 16 bytes and format 0's is 8: the pad fills the second half with FF before it
encrypts. That filling is this project's convention, shared by the simulator and the reference
backend; a real pad's manual names its own, and it is set here in one place.
"""
from __future__ import annotations

import os

from drivers.keyscheme import sm4_ecb_decrypt, sm4_ecb_encrypt

FILL = b"\xff" * 8


class PinBlockError(ValueError):
    """A PIN block that does not open as format 0 for this account; says what, never digits."""


def account_digits(pan: str) -> str:
    """What of the account goes into the block: its 12 rightmost digits without the check
    digit (all the pad is told)."""
    if not (pan.isascii() and pan.isdigit() and len(pan) >= 13):
        raise PinBlockError("the account is not 13 or more digits")
    return pan[-13:-1]


def _account_field(digits: str) -> bytes:
    if not (digits.isascii() and digits.isdigit() and len(digits) == 12):
        raise PinBlockError("the account field is 12 digits")
    return bytes.fromhex("0000" + digits)


def format0(pin: str, digits: str) -> bytes:
    """The 8-byte block of `pin` for the account's 12 `digits` (account_digits)."""
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 12):
        raise PinBlockError("a PIN is 4 to 12 digits")
    field = bytes.fromhex(f"0{len(pin):X}{pin}".ljust(16, "F"))
    return bytes(a ^ b for a, b in zip(field, _account_field(digits)))


def encrypt(key: bytes, pin: str, digits: str) -> bytes:
    return sm4_ecb_encrypt(key, format0(pin, digits) + FILL)


def seal_card_pin(key: bytes, bcd: bytes) -> bytes:
    """A six-digit PIN, given as its 3 BCD bytes, as an SM4 format 1 block."""
    if len(bcd) != 3 or any(b >> 4 > 9 or b & 0x0F > 9 for b in bcd):
        raise PinBlockError("a card PIN is six digits in three BCD bytes")
    return sm4_ecb_encrypt(key, b"\x16" + bytes(bcd) + os.urandom(4) + FILL)


def open_card_pin(key: bytes, encrypted: bytes) -> bytes:
    """The HSM's side of `seal_card_pin`: the PIN's 3 BCD bytes, or PinBlockError."""
    plain = _decrypt(key, encrypted)
    if plain[0] != 0x16:
        raise PinBlockError("the block is not ISO 9564 format 1 for six digits")
    bcd = plain[1:4]
    if any(b >> 4 > 9 or b & 0x0F > 9 for b in bcd):
        raise PinBlockError("the block's PIN is not digits")
    return bcd


def _decrypt(key: bytes, encrypted: bytes) -> bytes:
    if len(encrypted) != 16:
        raise PinBlockError(f"an SM4 PIN block is 16 bytes, not {len(encrypted)}")
    plain = sm4_ecb_decrypt(key, encrypted)
    if plain[8:] != FILL:
        raise PinBlockError("the block was not made under this key")
    return plain


def open_block(key: bytes, encrypted: bytes, pan: str) -> str:
    """The PIN digits of an encrypted block (the bank's side), or PinBlockError."""
    plain = _decrypt(key, encrypted)
    field = bytes(a ^ b for a, b in zip(plain[:8], _account_field(account_digits(pan)))).hex().upper()
    length = int(field[1], 16)
    if field[0] != "0" or not 4 <= length <= 12:
        raise PinBlockError("the block is not ISO 9564 format 0")
    pin, filler = field[2:2 + length], field[2 + length:]
    if not pin.isdigit() or set(filler) - {"F"}:
        raise PinBlockError("the block is not ISO 9564 format 0 for this account")
    return pin

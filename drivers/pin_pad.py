"""The encrypting PIN pad (EPP) on RS-232 (#15): the command subset of SZZT's ZT588 series, as
its open-source drivers document it, with SM4 keys as the pad's Chinese-banking models hold.

Frame: STX, the text's length as three decimal digits, the text, ETX, then the XOR of every
byte from the length to ETX as two hex digits. A command's text is a command character and
its parameters in ASCII; the answer's first byte E0..EF is an error. Key presses arrive
outside frames, one byte each: a digit (plain-text mode), `*` for a digit hidden by the pad
(PIN mode), backspace, Enter (CR) or Cancel (ESC).

    3         user information: model, serial, and whether keys are loaded (settings byte bit 0
              set: blank, no keys)
    5 0 =     beep          5 0 3 / 5 0 2   plain-text input on / off (also ends PIN entry)
    6 KK F H LL PAN   PIN entry under PIN key KK (0x40 + 8 x key set), block format F (space:
              ISO 9564 format 0), hint H, length LL, the account's 12 digits
    7         the encrypted PIN block: track (2 digits), PIN length (2), block (hex)
    1 KK T L KEY      load a key in clear (the staff procedure of `kiosk pinpad load-key`)

A bank PIN never reaches this process: in PIN mode the pad sends `*` per digit and, on Enter,
an SM4-encrypted ISO 9564 block (drivers/pin_block.py is the bank's side). The social
security PIN, which the card itself checks, is taken in plain-text mode into a wiped `Pin`.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import serial

from drivers import pin_block
from drivers.pin import PIN_LENGTH, InvalidPinFormat, Pin
from drivers.serial_port import SerialSettingError, open_port

log = logging.getLogger(__name__)

STX, ETX = 0x02, 0x03
ENTER, CANCEL, BACKSPACE, HIDDEN_DIGIT = "\r", "\x1b", "\b", "*"
PIN_KEY_BASE = 0x40
ISO9564_FORMAT_0 = " "
KEY_TYPE_PIN = 3
MAX_TEXT = 999
SILENCE_PROBE_S = 2.0   # no key for this long during an entry: is the pad still there?
USER_INFORMATION_BYTES = 1 + 50 + 48 + 20 + 8 + 6 + 3 + 3 + 4 + 4
ERRORS = {0xE1: "no key loaded (IMK)", 0xE2: "no key loaded (TMK)", 0xE3: "key of the wrong size",
          0xE4: "key not found", 0xE5: "key not found or not compatible", 0xE6: "key parity check failed",
          0xE7: "key not valid", 0xE8: "command of the wrong length", 0xE9: "incorrect data",
          0xEB: "incorrect parameter", 0xEC: "authorisation required", 0xED: "authorisation locked",
          0xEE: "input timed out", 0xEF: "general error"}


class PinPadError(Exception):
    """Anything that stopped the PIN pad; str() is for staff and never holds a digit."""


class PinPadConfigError(PinPadError, ValueError):
    pass


class PinPadUnavailable(PinPadError):
    """The port cannot be opened, or the pad does not answer."""


class PinPadFrameError(PinPadError):
    """An answer that is not a well-formed frame (checksum, length, no ETX)."""


class PinPadRefused(PinPadError):
    def __init__(self, code: int, command: str):
        self.code = code
        super().__init__(f"PIN pad refused {command}: {ERRORS.get(code, f'error {code:02X}')}")


class PinPadKeyMissing(PinPadRefused):
    """The pad holds no PIN key for this key set: staff must load it."""


class PinEntryCancelled(PinPadError):
    """The citizen pressed Cancel, or the kiosk cancelled the entry."""


class PinEntryTimedOut(PinPadError):
    pass


def checksum(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def encode_frame(text: bytes) -> bytes:
    if len(text) > MAX_TEXT:
        raise ValueError(f"a frame holds at most {MAX_TEXT} bytes of text")
    body = f"{len(text):03d}".encode("ascii") + text + bytes((ETX,))
    return bytes((STX,)) + body + f"{checksum(body):02X}".encode("ascii")


@dataclass(frozen=True)
class PadStatus:
    model: str
    serial_number: str
    keys_loaded: bool


@dataclass(frozen=True)
class EncryptedPinBlock:
    """What leaves the pad for the bank: the block, and the key set it is under."""

    block: bytes
    key_set: int
    pin_length: int

    def __repr__(self) -> str:
        return f"EncryptedPinBlock(key_set={self.key_set}, pin_length={self.pin_length})"


KeyPressed = Callable[[str], None]   # "digit" (hidden or plain), "backspace"


class PinPad:
    def __init__(self, device: str, *, baudrate: int = 9600, read_timeout: float = 1.0,
                 write_timeout: float = 1.0, entry_timeout_s: float = 60.0):
        try:
            self._port = open_port(device, baudrate, read_timeout=read_timeout, write_timeout=write_timeout)
        except SerialSettingError as exc:
            raise PinPadConfigError(f"PIN pad: {exc}") from None
        except serial.SerialException as exc:
            raise PinPadUnavailable(f"PIN pad port {device} cannot be opened: {exc}") from None
        self.device = device
        self.entry_timeout_s = entry_timeout_s
        self._keys: list[str] = []   # presses that arrived while an answer was awaited

    def close(self) -> None:
        self._port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- commands --

    def status(self) -> PadStatus:
        text = self._command(b"3", "user information")
        # status, user data 50, key map 48, settings 20 (hex), function code 8, model 6,
        # hardware 3 and software 3 versions, production date 4, serial number 4
        if len(text) != USER_INFORMATION_BYTES:
            raise PinPadFrameError(f"user information of {len(text)} bytes, not {USER_INFORMATION_BYTES}")
        try:
            settings = bytes.fromhex(text[99:119].decode("ascii"))
        except ValueError:
            raise PinPadFrameError("the user information's settings are not hex") from None
        model = text[127:133].decode("ascii", "replace").strip()
        serial_number = text[143:147].decode("ascii", "replace").strip()
        return PadStatus(model, serial_number, keys_loaded=not settings[0] & 0x01)

    def beep(self) -> None:
        self._command(b"50" + b"=".hex().upper().encode(), "beep")

    def load_pin_key(self, key_set: int, key: bytes) -> None:
        """Loads a PIN key in clear: the staff procedure, on a pad in the bank's key room."""
        if not 0 <= key_set <= 7 or len(key) != 16:
            raise PinPadConfigError("a PIN key is 16 bytes (SM4) in key set 0..7")
        self._command(f"1{PIN_KEY_BASE + 8 * key_set:02X}{KEY_TYPE_PIN}1".encode() + key.hex().upper().encode(),
                      "load PIN key")

    def cancel_entry(self) -> None:
        self._command(b"50" + b"2".hex().upper().encode(), "input off")

    def read_pin_block(self, pan: str, *, key_set: int = 0, length: int = PIN_LENGTH,
                       on_key: KeyPressed = lambda kind: None, cancel: threading.Event | None = None
                       ) -> EncryptedPinBlock:
        """The citizen types the bank PIN on the pad; what comes back is the block encrypted
        under key set `key_set` for account `pan`. Raises PinEntryCancelled, PinEntryTimedOut,
        PinPadKeyMissing, PinPadUnavailable..."""
        try:
            account = pin_block.account_digits(pan)
        except pin_block.PinBlockError as exc:
            raise PinPadConfigError(f"PIN entry: {exc}") from None
        key = PIN_KEY_BASE + 8 * key_set
        self._command(f"6{key:02X}{ISO9564_FORMAT_0}0{length:02d}{account}".encode("ascii"), "PIN entry")
        self.beep()   # the pad takes keys now: a sound where the citizen's hands are
        self._await_enter(HIDDEN_DIGIT, length, on_key, cancel)
        text = self._command(b"7", "get PIN block")
        try:
            pin_length, block = int(text[3:5]), bytes.fromhex(text[5:].decode("ascii"))
        except ValueError:
            raise PinPadFrameError("the PIN block answer is not track, length and hex") from None
        if len(block) != 16 or pin_length != length:
            raise PinPadFrameError(f"a PIN block of {len(block)} bytes for {pin_length} digits")
        return EncryptedPinBlock(block, key_set, pin_length)

    def read_card_pin(self, *, on_key: KeyPressed = lambda kind: None,
                      cancel: threading.Event | None = None) -> Pin:
        """The social security card's PIN in plain-text mode: the digits go straight into a
        `Pin` (wiped after its one APDU), never into a str of ours."""
        self._command(b"50" + b"3".hex().upper().encode(), "input on")
        self.beep()
        digits = bytearray()
        try:
            self._await_enter(None, PIN_LENGTH, on_key, cancel, digits)
            return Pin(digits)   # the Pin owns the digits now, and wipes them
        except InvalidPinFormat:
            raise PinPadFrameError("the pad sent keys that are not six digits") from None
        except BaseException:
            digits[:] = bytes(len(digits))
            raise
        finally:
            try:
                self._command(b"50" + b"2".hex().upper().encode(), "input off")
            except PinPadError as exc:
                log.warning("PIN pad: plain-text input could not be switched off: %s", exc)

    # -- key presses --

    def _await_enter(self, hidden: str | None, length: int, on_key: KeyPressed, cancel: threading.Event | None,
                     digits: bytearray | None = None) -> None:
        typed = 0
        deadline = time.monotonic() + self.entry_timeout_s
        heard = time.monotonic()
        while True:
            if cancel is not None and cancel.is_set():
                self._stop_entry()
                raise PinEntryCancelled("the kiosk cancelled the PIN entry")
            if time.monotonic() > deadline:
                self._stop_entry()
                raise PinEntryTimedOut(f"no Enter within {self.entry_timeout_s:g} s")
            key = self._next_key()
            if key is None:
                if time.monotonic() - heard > SILENCE_PROBE_S:
                    # A citizen thinking, or a pad unplugged? Only the pad can say: RS-232 has
                    # no line that tells (the ZT588's drivers watch DSR; not every cable has it).
                    self._command(b"3", "status during entry")
                    heard = time.monotonic()
                continue
            heard = time.monotonic()
            if key == CANCEL:
                self._stop_entry()
                raise PinEntryCancelled("the citizen pressed Cancel on the pad")
            if key == BACKSPACE and typed:
                typed -= 1
                if digits is not None:
                    digits.pop()
                on_key("backspace")
            elif key == ENTER and typed == length:
                return
            elif (key == hidden if hidden else key.isdigit()) and typed < length:
                typed += 1
                if digits is not None:
                    digits.append(ord(key))
                on_key("digit")
            # Enter before the last digit, a digit too many: the pad beeps, nothing changes.

    def _stop_entry(self) -> None:
        try:
            self.cancel_entry()
        except PinPadError as exc:
            log.warning("PIN pad: entry could not be stopped: %s", exc)

    def _next_key(self) -> str | None:
        if self._keys:
            return self._keys.pop(0)
        try:
            byte = self._port.read(1)
        except serial.SerialException as exc:
            raise PinPadUnavailable(f"PIN pad port {self.device} failed: {exc}") from None
        if not byte:
            return None
        if byte[0] == STX:
            raise PinPadFrameError("a frame arrived while only key presses were due")
        return byte.decode("latin-1")

    # -- frames on the wire --

    def _command(self, text: bytes, what: str) -> bytes:
        try:
            self._port.write(encode_frame(text))
            answer = self._read_frame(what)
        except serial.SerialTimeoutException:
            raise PinPadUnavailable(f"PIN pad on {self.device} does not take data") from None
        except serial.SerialException as exc:
            raise PinPadUnavailable(f"PIN pad port {self.device} failed: {exc}") from None
        if answer and 0xE0 <= answer[0] <= 0xEF:
            kind = PinPadKeyMissing if answer[0] in (0xE1, 0xE2, 0xE4, 0xE5) else PinPadRefused
            raise kind(answer[0], what)
        return answer

    def _read_frame(self, what: str) -> bytes:
        while True:   # key presses may come before the answer: keep them for the entry
            byte = self._port.read(1)
            if not byte:
                raise PinPadUnavailable(f"PIN pad on {self.device} did not answer {what} "
                                        f"within {self._port.timeout} s")
            if byte[0] == STX:
                break
            self._keys.append(byte.decode("latin-1"))
        head = self._port.read(3)
        if len(head) < 3 or not head.isdigit():
            raise PinPadFrameError(f"answer to {what} has no length")
        length = int(head)
        rest = self._port.read(length + 3)
        if len(rest) < length + 3:
            raise PinPadFrameError(f"answer to {what} truncated")
        text, etx, check = rest[:length], rest[length], rest[length + 1:]
        if etx != ETX:
            raise PinPadFrameError(f"answer to {what} does not end with ETX")
        if check.upper() != f"{checksum(head + text + bytes((ETX,))):02X}".encode("ascii"):
            raise PinPadFrameError(f"answer to {what} fails its checksum")
        return text

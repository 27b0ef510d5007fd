"""A keyboard-wedge QR scanner (#19): one that types what it reads as key presses on USB, ending
with Enter. It is read through evdev from its own input device (a stable path under
/dev/input/by-id/, e.g. `usb-Honeywell_..._-event-kbd`), grabbed for as long as the kiosk has it
open, so that its keystrokes never reach the desktop or another window.

Key presses are turned into characters with the US layout, the one such scanners type in by
default: letters, digits, the punctuation of the main keys and the keypad, Shift for capitals
and the upper symbols. A code ends at Enter. A key outside that layout (a function key, Ctrl,
Alt, a scanner set to another keyboard country) makes the code a GarbledScan, as does a code
that stops before its Enter, overlong or unclean text (drivers/qr_scanner.check_code). Such a
scanner cannot be triggered: it reads whenever a code is held under it, so keys that arrive
outside a wait are thrown away, never handed to the next one.
"""
from __future__ import annotations

import errno
import select
import string
import threading
import time

import evdev
from evdev import ecodes

from drivers.qr_scanner import MAX_CODE_CHARS, GarbledScan, QrScannerUnavailable, check_code

POLL_S = 0.1                # how often a wait looks at `stop`
INTERRUPTED_AFTER_S = 1.0   # no key for this long in the middle of a code: the read was cut short

SHIFTS = {ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT}
ENTERS = {ecodes.KEY_ENTER, ecodes.KEY_KPENTER}
# US layout: key -> (character, character with Shift)
US_LAYOUT = {getattr(ecodes, f"KEY_{letter.upper()}"): (letter, letter.upper()) for letter in string.ascii_lowercase}
US_LAYOUT.update({getattr(ecodes, f"KEY_{digit}"): (digit, shifted) for digit, shifted in zip("1234567890", "!@#$%^&*()")})
US_LAYOUT.update({
    ecodes.KEY_MINUS: ("-", "_"), ecodes.KEY_EQUAL: ("=", "+"), ecodes.KEY_LEFTBRACE: ("[", "{"),
    ecodes.KEY_RIGHTBRACE: ("]", "}"), ecodes.KEY_BACKSLASH: ("\\", "|"), ecodes.KEY_SEMICOLON: (";", ":"),
    ecodes.KEY_APOSTROPHE: ("'", '"'), ecodes.KEY_GRAVE: ("`", "~"), ecodes.KEY_COMMA: (",", "<"),
    ecodes.KEY_DOT: (".", ">"), ecodes.KEY_SLASH: ("/", "?"), ecodes.KEY_SPACE: (" ", " "),
})
# The keypad, which some scanners type digits on; Shift does not change it (Num Lock is on).
US_LAYOUT.update({getattr(ecodes, f"KEY_KP{digit}"): (digit, digit) for digit in "0123456789"})
US_LAYOUT.update({ecodes.KEY_KPMINUS: ("-", "-"), ecodes.KEY_KPPLUS: ("+", "+"),
                  ecodes.KEY_KPASTERISK: ("*", "*"), ecodes.KEY_KPSLASH: ("/", "/"), ecodes.KEY_KPDOT: (".", ".")})
KEY_DOWN, KEY_UP = 1, 0   # and 2, a held key repeating: a scanner never holds one


def key_name(code: int) -> str:
    name = ecodes.KEY.get(code, f"key {code}")
    return name if isinstance(name, str) else name[0]   # some codes have two names


class KeyAssembler:
    """Key events of one scanner -> the codes it typed. `press` takes each EV_KEY event and
    gives the code when Enter ends it; GarbledScan if it was not typed cleanly."""

    def __init__(self, source: str):
        self.source = source
        self.reset()

    def reset(self) -> None:
        """Forget a code begun: the keys typed so far belong to no one."""
        self._characters: list[str] = []
        self._typed = 0                   # characters typed, kept or not (past the limit)
        self._strange_key: str | None = None   # the first key outside the layout
        self._shifts_down: set[int] = set()

    @property
    def typing(self) -> int:
        """How many keys of a code have come, before its Enter."""
        return self._typed + (self._strange_key is not None)

    def press(self, code: int, value: int) -> str | None:
        if code in SHIFTS:
            if value == KEY_DOWN:
                self._shifts_down.add(code)
            elif value == KEY_UP:
                self._shifts_down.discard(code)
            return None
        if value != KEY_DOWN:
            return None
        if code in ENTERS:
            return self._end_of_code()
        if code not in US_LAYOUT:
            self._strange_key = self._strange_key or key_name(code)
            return None
        self._typed += 1
        if self._typed <= MAX_CODE_CHARS:
            self._characters.append(US_LAYOUT[code][bool(self._shifts_down)])
        return None

    def _end_of_code(self) -> str:
        text, typed, strange_key = "".join(self._characters), self._typed, self._strange_key
        self.reset()
        if strange_key is not None:
            raise GarbledScan(f"{self.source} typed a key outside the US layout ({strange_key}): "
                              "is it set to another keyboard country, or to send control keys?")
        if typed > MAX_CODE_CHARS:
            raise GarbledScan(f"{self.source} typed a code of {typed} characters, more than {MAX_CODE_CHARS}")
        return check_code(text, self.source)


class QrWedge:
    """A keyboard-wedge scanner on an evdev input device (`QrWedge.open`), with the serial
    scanner's `wait_for_code`. The device is anything with evdev's `fd`, `read()`, `ungrab()`
    and `close()`."""

    def __init__(self, device, *, path: str):
        self.path = path
        self._device = device
        self._keys = KeyAssembler(repr(self))

    @classmethod
    def open(cls, path: str) -> "QrWedge":
        """The scanner's input device at `path`, grabbed. QrScannerUnavailable if it is
        missing, not a keyboard, or grabbed by another program."""
        try:
            device = evdev.InputDevice(path)
        except OSError as exc:
            raise QrScannerUnavailable(f"keyboard-wedge scanner {path} cannot be opened: {exc.strerror}") from None
        try:
            if ecodes.KEY_ENTER not in device.capabilities().get(ecodes.EV_KEY, []):
                raise QrScannerUnavailable(f"keyboard-wedge scanner {path} ({device.name}) has no Enter key: "
                                           "not a keyboard")
            device.grab()
        except OSError as exc:
            device.close()
            reason = "another program has grabbed it" if exc.errno == errno.EBUSY else exc.strerror
            raise QrScannerUnavailable(f"keyboard-wedge scanner {path} cannot be grabbed: {reason}") from None
        except QrScannerUnavailable:
            device.close()
            raise
        return cls(device, path=path)

    def close(self) -> None:
        try:
            self._device.ungrab()
        except OSError:   # unplugged: nothing is grabbed any more
            pass
        self._device.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"keyboard-wedge scanner {self.path}"

    def wait_for_code(self, stop: threading.Event) -> str | None:
        """The next code typed, or None once `stop` is set. Raises QrScannerUnavailable or
        GarbledScan."""
        # Keys typed before this wait (a phone held up between visits) are no one's here.
        self._read_events()
        self._keys.reset()
        last_key = time.monotonic()
        while not stop.is_set():
            events = self._read_events() if self._key_waiting() else []
            if not events:
                if self._keys.typing and time.monotonic() - last_key > INTERRUPTED_AFTER_S:
                    typed = self._keys.typing
                    self._keys.reset()
                    raise GarbledScan(f"{self} stopped after {typed} keys of a code, before its Enter "
                                      "(a read interrupted)")
                continue
            last_key = time.monotonic()
            for event in events:
                if event.type == ecodes.EV_KEY:
                    code = self._keys.press(event.code, event.value)
                    if code is not None:
                        return code   # the key releases after it are thrown away with the next wait's
        self._keys.reset()
        return None

    def _key_waiting(self) -> bool:
        ready, _, _ = select.select([self._device.fd], [], [], POLL_S)
        return bool(ready)

    def _read_events(self) -> list:
        """The events waiting (none: an empty list). QrScannerUnavailable if the device is gone."""
        try:
            return list(self._device.read())
        except BlockingIOError:
            return []
        except OSError as exc:
            gone = " (unplugged)" if exc.errno == errno.ENODEV else ""
            raise QrScannerUnavailable(f"{self} failed{gone}: {exc.strerror}") from None

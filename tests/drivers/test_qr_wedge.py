"""The keyboard-wedge QR scanner (drivers/qr_wedge.py): key events in the US layout become the
code typed, Shift-aware, ending at Enter; keys outside the layout, a code cut short or
overlong are GarbledScan; keys typed outside a wait are no one's; an unplugged or missing
device is unavailable. The events are synthetic: this machine has no /dev/uinput, so the
grab of a real input device is not exercised here."""
from __future__ import annotations

import errno
import os
import threading
import time

import pytest
from evdev import InputEvent, ecodes

from drivers import qr_wedge
from drivers.qr_scanner import GarbledScan, QrScanError, QrScannerUnavailable
from drivers.qr_wedge import KeyAssembler, QrWedge

ESSC_CODE = "https://ssc.mohrss.gov.cn/qr?c=7F3a-9c_01~e5&t=1764115200#x"
CHARACTER_KEYS: dict[str, tuple[int, int]] = {}   # character -> (key, shift), the main keys before the keypad
for key, characters in qr_wedge.US_LAYOUT.items():
    for shift, character in enumerate(characters):
        CHARACTER_KEYS.setdefault(character, (key, shift))


def keystrokes(text: str, enter: bool = True) -> list[tuple[int, int]]:
    """(key, value) as a wedge scanner types `text`: Shift down around each shifted key."""
    strokes = []
    for character in text:
        code, shift = CHARACTER_KEYS[character]
        strokes += [(ecodes.KEY_LEFTSHIFT, 1)] * shift + [(code, 1), (code, 0)] + [(ecodes.KEY_LEFTSHIFT, 0)] * shift
    return strokes + [(ecodes.KEY_ENTER, 1), (ecodes.KEY_ENTER, 0)] * enter


def assemble(strokes: list[tuple[int, int]]) -> list[str]:
    keys = KeyAssembler("keyboard-wedge scanner test")
    return [code for code in (keys.press(*stroke) for stroke in strokes) if code is not None]


# --- key events -> text -----------------------------------------------------------------------

def test_the_us_layout_with_shift_gives_every_printable_ascii_character():
    printable = "".join(chr(c) for c in range(0x20, 0x7F))
    assert assemble(keystrokes(printable)) == [printable]


def test_keys_map_as_a_us_keyboard_types_them():
    shift, up = (ecodes.KEY_RIGHTSHIFT, 1), (ecodes.KEY_RIGHTSHIFT, 0)
    strokes = [(ecodes.KEY_Q, 1), shift, (ecodes.KEY_Q, 1), (ecodes.KEY_2, 1), (ecodes.KEY_SLASH, 1), up,
               (ecodes.KEY_2, 1), (ecodes.KEY_SLASH, 1), (ecodes.KEY_KP7, 1), (ecodes.KEY_KPDOT, 1),
               (ecodes.KEY_KPENTER, 1)]
    assert assemble(strokes) == ["qQ@?2/7."]


def test_key_releases_and_repeats_type_nothing_and_two_codes_come_apart():
    strokes = keystrokes("AB1") + [(ecodes.KEY_C, 2), (ecodes.KEY_C, 0)] + keystrokes("cd2")
    assert assemble(strokes) == ["AB1", "cd2"]


@pytest.mark.parametrize("strokes, fault", [
    (keystrokes("AB")[:-2] + [(ecodes.KEY_LEFTCTRL, 1)] + keystrokes("C"), r"outside the US layout \(KEY_LEFTCTRL\)"),
    ([(ecodes.KEY_F5, 1)] + keystrokes("C"), r"\(KEY_F5\)"),
    (keystrokes("Z" * 600), "600 characters, more than 512"),
    (keystrokes(""), "empty code"),
])
def test_a_code_not_typed_cleanly_is_a_garbled_scan_at_its_enter(strokes, fault):
    keys = KeyAssembler("keyboard-wedge scanner test")
    for stroke in strokes[:-2]:
        assert keys.press(*stroke) is None
    with pytest.raises(GarbledScan, match=fault):
        keys.press(ecodes.KEY_ENTER, 1)
    assert keys.typing == 0   # and the next code starts afresh
    assert assemble(keystrokes("NEXT")) == ["NEXT"]


# --- the wait, on an input device -------------------------------------------------------------

class FakeInputDevice:
    """What QrWedge uses of evdev's InputDevice, fed by the test: a pipe makes `fd` readable
    when events are waiting, as the kernel does for an event device."""

    def __init__(self):
        self.fd, self._wake = os.pipe()
        os.set_blocking(self.fd, False)   # as evdev opens an event device
        self._events: list[InputEvent] = []
        self._lock = threading.Lock()
        self.unplugged = False
        self.grabbed = True
        self.read_from = threading.Event()   # a wait has begun: it has thrown away the keys before it

    def type(self, strokes: list[tuple[int, int]]) -> None:
        with self._lock:
            self._events += [InputEvent(0, 0, ecodes.EV_KEY, code, value) for code, value in strokes]
            self._events.append(InputEvent(0, 0, ecodes.EV_SYN, ecodes.SYN_REPORT, 0))
        os.write(self._wake, b".")

    def unplug(self) -> None:
        self.unplugged = True
        os.write(self._wake, b".")

    def read(self):
        try:
            try:
                os.read(self.fd, 4096)
            except BlockingIOError:
                pass
            if self.unplugged:
                raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
            with self._lock:
                events, self._events = self._events, []
            if not events:
                raise BlockingIOError
            return iter(events)
        finally:
            self.read_from.set()

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        os.close(self.fd)
        os.close(self._wake)


@pytest.fixture
def device():
    return FakeInputDevice()


@pytest.fixture
def wedge(device):
    with QrWedge(device, path="/dev/input/by-id/usb-test-event-kbd") as wedge:
        yield wedge
    assert not device.grabbed


def wait_in_thread(wedge: QrWedge, stop: threading.Event) -> dict:
    outcome: dict = {}

    def wait() -> None:
        try:
            outcome["code"] = wedge.wait_for_code(stop)
        except QrScanError as exc:
            outcome["error"] = exc

    outcome["thread"] = threading.Thread(target=wait)
    outcome["thread"].start()
    return outcome


def test_a_code_typed_during_the_wait_is_read(device, wedge):
    waiting = wait_in_thread(wedge, threading.Event())
    device.read_from.wait(1)
    device.type(keystrokes(ESSC_CODE))
    waiting["thread"].join(2)
    assert waiting["code"] == ESSC_CODE


def test_keys_typed_before_the_wait_are_no_ones(device, wedge):
    device.type(keystrokes("LEFT-BY-THE-LAST-VISIT"))
    device.type(keystrokes("HALF", enter=False))
    waiting = wait_in_thread(wedge, threading.Event())
    device.read_from.wait(1)
    device.type(keystrokes("THIS-VISIT"))
    waiting["thread"].join(2)
    assert waiting["code"] == "THIS-VISIT"


def test_stop_ends_the_wait_with_none(wedge):
    stop = threading.Event()
    waiting = wait_in_thread(wedge, stop)
    started = time.monotonic()
    stop.set()
    waiting["thread"].join(2)
    assert waiting["code"] is None and time.monotonic() - started < qr_wedge.POLL_S + 0.2


def test_a_code_that_stops_before_its_enter_is_a_garbled_scan(device, wedge, monkeypatch):
    monkeypatch.setattr(qr_wedge, "INTERRUPTED_AFTER_S", 0.2)
    waiting = wait_in_thread(wedge, threading.Event())
    device.read_from.wait(1)
    device.type(keystrokes("ESSC-00", enter=False))
    waiting["thread"].join(2)
    assert isinstance(waiting["error"], GarbledScan)
    assert "stopped after 7 keys of a code, before its Enter" in str(waiting["error"])


def test_an_unplugged_scanner_is_unavailable(device, wedge):
    waiting = wait_in_thread(wedge, threading.Event())
    device.read_from.wait(1)
    device.unplug()
    waiting["thread"].join(2)
    assert isinstance(waiting["error"], QrScannerUnavailable) and "(unplugged)" in str(waiting["error"])


@pytest.mark.parametrize("path, reason", [("/dev/input/by-id/usb-no-such-scanner-event-kbd", "No such file"),
                                          ("/dev/null", "cannot be opened")])
def test_a_missing_device_or_one_that_is_not_an_input_device_is_unavailable(path, reason):
    with pytest.raises(QrScannerUnavailable, match=reason):
        QrWedge.open(path)

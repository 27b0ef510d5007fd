"""The 2D barcode scanner that reads the electronic social security card's QR code (#19), on
RS-232 or USB-CDC: the serial command subset of Honeywell's imagers (Xenon 1900/1950,
Granit 1910i/1980i, the HF series), as their user guides document it.

    SYN T CR            activate the trigger: the scanner scans until it reads a code, is
                        deactivated, or its serial read time-out (TRGSTO, 30 s by default) ends
    SYN U CR            deactivate the trigger
    SYN M CR TRGMOD?.   a menu query: the current trigger mode. The answer is the tag, its value
                        and ACK (06; ENQ 05: unknown tag, NAK 15: bad value), then the
                        terminator: "TRGMOD0<ACK>." for Manual/Serial trigger, the mode the
                        serial trigger needs

A code read arrives as its data followed by the configured suffix, CR by default (a LF after
the CR, for a scanner set to CR LF, is dropped). The scanner must be in Manual/Serial trigger
mode (TRGMOD0) with no prefix; the kiosk checks the mode on each wait, and staff set it with
the scanner's programming codes.

The code's text is opaque here: it is only checked to be a clean code (printable UTF-8, no
NUL, at most 512 characters, read whole), and handed on. Keyboard-wedge scanners
(drivers/qr_wedge.py) and the camera (drivers/qr_camera.py) hand on codes through the same
checks and errors. Nothing read is ever logged or put in a message: a code identifies a person.
"""
from __future__ import annotations

import logging
import re
import threading
import time

import serial

from drivers.serial_port import SerialSettingError, open_port

log = logging.getLogger(__name__)

SYN, CR, LF = b"\x16", b"\r", b"\n"
TRIGGER_ON, TRIGGER_OFF = SYN + b"T" + CR, SYN + b"U" + CR
MENU_PREFIX = SYN + b"M" + CR
TRIGGER_MODE_QUERY = MENU_PREFIX + b"TRGMOD?."
MANUAL_SERIAL_TRIGGER = b"0"
ACK = 0x06
# The answer to the trigger mode query: the tag, its value, ACK/ENQ/NAK, the query's terminator.
# No clean code looks like it: ACK, ENQ and NAK are not printable.
TRIGGER_MODE_ANSWER = re.compile(rb"TRGMOD([0-9]*)([\x05\x06\x15])[.!]")
MAX_CODE_CHARS = 512
MAX_CODE_BYTES = 4 * MAX_CODE_CHARS   # UTF-8 takes at most four bytes a character
KEEPALIVE_S = 5.0   # no byte for this long while waiting: is the scanner still there?


class QrScanError(Exception):
    """Anything that stopped reading a QR code; str() is for staff and never holds the code."""


class QrScannerConfigError(QrScanError, ValueError):
    """A scanner setting (baud rate, timeout) that cannot be used."""


class QrScannerUnavailable(QrScanError):
    """The scanner's port or device is missing, it does not answer or take data, or it is
    not set up to be triggered."""


class GarbledScan(QrScanError):
    """What was read is not a clean code: not printable UTF-8, a NUL, overlong, cut short."""


def check_code(text: str, source: str) -> str:
    """`text` if it is a clean code; GarbledScan naming the fault (never the text) otherwise."""
    if not text:
        raise GarbledScan(f"{source} read an empty code")
    if len(text) > MAX_CODE_CHARS:
        raise GarbledScan(f"{source} read a code of {len(text)} characters, more than {MAX_CODE_CHARS}")
    for position, char in enumerate(text):
        if not char.isprintable():   # NUL and every other control character included
            raise GarbledScan(f"{source} read a code with a character that is not printable "
                              f"(U+{ord(char):04X}) at position {position}")
    return text


def decode_code(data: bytes, source: str) -> str:
    """A code's bytes as text: UTF-8 and clean (check_code), or GarbledScan."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GarbledScan(f"{source} read a code that is not UTF-8 (byte {exc.start} of {len(data)})") from None
    return check_code(text, source)


class QrScanner:
    """One Honeywell scanner in Manual/Serial trigger mode on a transport (a serial port:
    `QrScanner.open`). The transport's read timeout bounds each answer and how long the
    kiosk takes to notice `stop`; its write timeout bounds each command."""

    def __init__(self, transport, *, device: str):
        self.device = device
        self._port = transport
        self._buffer = bytearray()   # bytes of a frame not yet whole
        self._codes: list[bytes] = []   # codes that arrived while a menu answer was awaited

    @classmethod
    def open(cls, port: str, baudrate: int = 9600, read_timeout: float = 0.2,
             write_timeout: float = 1.0) -> "QrScanner":
        """The scanner on serial port `port`. QrScannerConfigError for a setting that cannot
        be used, QrScannerUnavailable if the port cannot be opened."""
        try:
            transport = open_port(port, baudrate, read_timeout=read_timeout, write_timeout=write_timeout)
        except SerialSettingError as exc:
            raise QrScannerConfigError(f"QR scanner: {exc}") from None
        except serial.SerialException as exc:
            raise QrScannerUnavailable(f"QR scanner port {port} cannot be opened: {exc}") from None
        return cls(transport, device=port)

    def close(self) -> None:
        self._port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"QR scanner on {self.device}"

    # -- reading a code --

    def wait_for_code(self, stop: threading.Event) -> str | None:
        """Trigger the scanner and wait for a code: its text without the suffix, or None once
        `stop` is set. Raises QrScannerUnavailable or GarbledScan; the trigger is off after."""
        # Whatever was read before this wait (a phone held up between visits) is no one's here.
        self._discard_input()
        self._check_trigger_mode()
        self._send(TRIGGER_ON, "trigger on")
        try:
            code = self._await_code(stop)
        except GarbledScan:
            self._trigger_off()   # a code cut short may leave it scanning
            raise
        # After a read the scanner is off already; after a stop it would go on scanning, and
        # read the next phone held up for no one.
        self._trigger_off()
        return code

    def _await_code(self, stop: threading.Event) -> str | None:
        heard = time.monotonic()
        while not stop.is_set():
            if self._codes:
                return decode_code(self._codes.pop(0), repr(self))
            frame = self._read_frame()
            if frame is None:
                if time.monotonic() - heard > KEEPALIVE_S:
                    # A citizen looking for the app, or a scanner unplugged? Only a question
                    # tells on RS-232. The trigger again: the scanner's own read time-out
                    # would end a scan that lasts longer.
                    self._check_trigger_mode()
                    self._send(TRIGGER_ON, "trigger on")
                    heard = time.monotonic()
                continue
            heard = time.monotonic()
            if TRIGGER_MODE_ANSWER.fullmatch(frame):
                log.debug("%s: a late trigger mode answer, ignored", self)
                continue
            return decode_code(frame, repr(self))
        return None

    def _trigger_off(self) -> None:
        try:
            self._send(TRIGGER_OFF, "trigger off")
        except QrScannerUnavailable as exc:
            log.warning("%s: the trigger could not be switched off: %s", self, exc)

    # -- commands --

    def _check_trigger_mode(self) -> None:
        """The scanner answers, in Manual/Serial trigger mode; QrScannerUnavailable otherwise."""
        self._send(TRIGGER_MODE_QUERY, "trigger mode query")
        while True:
            frame = self._read_frame()
            if frame is None:
                raise QrScannerUnavailable(f"{self} did not answer the trigger mode query "
                                           f"within {self._port.timeout} s")
            answer = TRIGGER_MODE_ANSWER.fullmatch(frame)
            if answer is None:
                self._codes.append(frame)   # a code read meanwhile: the wait takes it next
                continue
            mode, status = answer.group(1), answer.group(2)[0]
            if status != ACK:
                raise QrScannerUnavailable(f"{self} refused the trigger mode query (TRGMOD?): "
                                           "not a Honeywell scanner, or its menu commands are off")
            if mode != MANUAL_SERIAL_TRIGGER:
                raise QrScannerUnavailable(f"{self} is in trigger mode {mode.decode('ascii')}, not Manual/Serial "
                                           "(TRGMOD0): scan its Manual/Serial Trigger programming code")
            return

    def _send(self, command: bytes, what: str) -> None:
        try:
            self._port.write(command)
        except serial.SerialTimeoutException:
            raise QrScannerUnavailable(f"{self} does not take data ({what} not sent within "
                                       f"{self._port.write_timeout} s)") from None
        except serial.SerialException as exc:
            raise QrScannerUnavailable(f"QR scanner port {self.device} failed: {exc}") from None

    # -- frames on the wire --

    def _read_frame(self) -> bytes | None:
        """The next code (its suffix cut) or menu answer off the line, or None when the line is
        quiet for the read timeout. GarbledScan for a code cut short or overlong."""
        while True:
            frame = self._take_frame()
            if frame is not None:
                return frame
            if len(self._buffer) > MAX_CODE_BYTES:
                self._skip_rest_of_code()
                raise GarbledScan(f"{self} sent more than {MAX_CODE_BYTES} bytes without the CR suffix: "
                                  f"no code is that long")
            chunk = self._read_chunk()
            if not chunk:
                if self._buffer:
                    cut = len(self._buffer)
                    self._buffer.clear()
                    raise GarbledScan(f"{self} stopped after {cut} bytes of a code, before its CR suffix "
                                      f"(a read interrupted)")
                return None
            self._buffer += chunk

    def _skip_rest_of_code(self) -> None:
        """Read on to the suffix (or until the line is quiet), so that the rest of an overlong
        code is not taken for the next one."""
        while True:
            end = self._buffer.find(CR)
            if end >= 0:
                del self._buffer[:end + 1]
                return
            self._buffer.clear()
            chunk = self._read_chunk()
            if not chunk:
                return
            self._buffer += chunk

    def _read_chunk(self) -> bytes:
        """What has arrived, or at least one byte within the read timeout (b"": none came)."""
        try:
            return self._port.read(max(1, self._port.in_waiting))
        except serial.SerialException as exc:
            raise QrScannerUnavailable(f"QR scanner port {self.device} failed: {exc}") from None

    def _take_frame(self) -> bytes | None:
        """A whole frame from the front of the buffer, if one is there."""
        while self._buffer[:1] == LF:   # the rest of a CR LF suffix
            del self._buffer[:1]
        answer = TRIGGER_MODE_ANSWER.match(self._buffer)
        if answer is not None:
            frame = bytes(answer.group(0))
            del self._buffer[:answer.end()]
            return frame
        end = self._buffer.find(CR)
        if end < 0:
            return None
        frame = bytes(self._buffer[:end])
        del self._buffer[:end + 1]
        return frame

    def _discard_input(self) -> None:
        self._buffer.clear()
        self._codes.clear()
        try:
            self._port.reset_input_buffer()
        except serial.SerialException as exc:
            raise QrScannerUnavailable(f"QR scanner port {self.device} failed: {exc}") from None

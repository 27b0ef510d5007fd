"""The receipt printer on RS-232: real-time status (`DLE EOT 1..4`) and printing a job.

A receipt is promised only when the printer says it can print; the job is sent in small
writes, each bounded by `write_timeout`, and the status is read again after it, so a printer
that runs out of paper or stops answering makes the job fail with a typed error within the
timeouts. The printer talks through any transport with pyserial's `read`, `write`,
`reset_input_buffer`, `timeout` and `write_timeout` (`ReceiptPrinter.open` opens a serial
port). Callers run this off the UI thread; every call returns or raises within its timeouts.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import serial

from drivers import escpos
from drivers.serial_port import SerialSettingError, open_port

log = logging.getLogger(__name__)

# A valid status byte is 0xx1xx10: bits 1 and 4 set, bits 0 and 7 clear.
_STATUS_FIXED_MASK, _STATUS_FIXED_BITS = 0x93, 0x12
_WRITE_CHUNK = 256


class PrinterError(Exception):
    """The receipt could not be printed; str() is for staff."""



class PrinterConfigError(PrinterError, ValueError):
    """A printer setting (encoding, paper width, baud rate, timeout) that cannot be used."""


class PrinterUnavailable(PrinterError):
    """The serial port could not be opened (unplugged USB adapter, wrong device name)."""


class PrinterNotResponding(PrinterError):
    """No status answer within the read timeout, or data not taken within the write timeout."""


class PrinterProtocolError(PrinterError):
    """The printer answered, but not with status bytes: wrong device, wrong baud rate, noise."""


class PrinterPaperOut(PrinterError):
    pass


class PrinterCoverOpen(PrinterError):
    pass


class PrinterFault(PrinterError):
    """Mechanical, auto-cutter or unrecoverable error, or offline for a reason it does not give."""


@dataclass(frozen=True)
class PrinterStatus:
    """The four `DLE EOT` answers, decoded. Paper near end still prints; staff should refill."""

    online: bool
    cover_open: bool
    paper_near_end: bool
    paper_out: bool
    mechanical_error: bool
    autocutter_error: bool
    unrecoverable_error: bool
    auto_recoverable_error: bool

    @property
    def fault(self) -> bool:
        return self.mechanical_error or self.autocutter_error or self.unrecoverable_error

    @property
    def ready(self) -> bool:
        return self.online and not (self.cover_open or self.paper_out or self.fault
                                    or self.auto_recoverable_error)

    def describe(self) -> str:
        """Staff wording, e.g. 'online, paper near end'."""
        problems = [name for flag, name in (
            (self.cover_open, "cover open"), (self.paper_out, "paper out"),
            (self.paper_near_end and not self.paper_out, "paper near end"),
            (self.mechanical_error, "mechanical error"), (self.autocutter_error, "auto-cutter error"),
            (self.unrecoverable_error, "unrecoverable error"),
            (self.auto_recoverable_error, "recovering from an error")) if flag]
        return ", ".join(["online" if self.online else "offline"] + problems)

    def raise_if_cannot_print(self) -> None:
        if self.cover_open:
            raise PrinterCoverOpen(f"printer cover open ({self.describe()})")
        if self.paper_out:
            raise PrinterPaperOut(f"printer out of paper ({self.describe()})")
        if self.fault:
            raise PrinterFault(f"printer reports an error ({self.describe()})")
        if not self.ready:
            raise PrinterFault(f"printer cannot print ({self.describe()})")


def decode_status(answer: bytes) -> PrinterStatus:
    """Decode the answers to DLE EOT 1, 2, 3, 4 (one byte each, in that order)."""
    if len(answer) != 4:
        raise PrinterProtocolError(f"expected 4 status bytes, got {len(answer)}: {answer.hex(' ')}")
    for n, byte in enumerate(answer, start=1):
        if byte & _STATUS_FIXED_MASK != _STATUS_FIXED_BITS:
            raise PrinterProtocolError(f"printer answered {byte:02X} to DLE EOT {n}, not a status byte")
    printer, offline, error, paper = answer

    def bit(byte: int, n: int) -> bool:
        return bool(byte >> n & 1)

    return PrinterStatus(
        online=not bit(printer, 3),
        cover_open=bit(offline, 2),
        # The paper sensors report in pairs of bits (2+3 near end, 5+6 end); either one counts.
        paper_near_end=bit(paper, 2) or bit(paper, 3),
        paper_out=bit(paper, 5) or bit(paper, 6) or bit(offline, 5),
        mechanical_error=bit(error, 2),
        autocutter_error=bit(error, 3),
        unrecoverable_error=bit(error, 5),
        auto_recoverable_error=bit(error, 6),
    )


def encode_status(status: PrinterStatus) -> bytes:
    """The four status bytes a printer in this state sends (used by the simulator)."""
    def byte(*bits: tuple[int, bool]) -> int:
        value = _STATUS_FIXED_BITS
        for n, on in bits:
            value |= on << n
        return value

    return bytes([
        byte((3, not status.online)),
        byte((2, status.cover_open), (5, status.paper_out),
             (6, status.fault or status.auto_recoverable_error)),
        byte((2, status.mechanical_error), (3, status.autocutter_error),
             (5, status.unrecoverable_error), (6, status.auto_recoverable_error)),
        byte((2, status.paper_near_end), (3, status.paper_near_end),
             (5, status.paper_out), (6, status.paper_out)),
    ])


_STATUS_QUERY = b"".join(escpos.status_request(n) for n in (1, 2, 3, 4))


class ReceiptPrinter:
    """One ESC/POS printer on a transport (a serial port: `ReceiptPrinter.open`).

    `encoding` ("gb18030" or "gbk") and `paper_mm` (58 or 80) depend on the model; the
    transport's read timeout bounds each status answer, its write timeout each 256-byte piece
    of a job. `device` names the printer in messages for staff.
    """

    def __init__(self, transport, *, device: str, encoding: str = "gb18030", paper_mm: int = 80):
        try:
            self.encoding = escpos.check_encoding(encoding)
            self.columns = escpos.columns_for(paper_mm)
        except escpos.EscPosConfigError as exc:
            raise PrinterConfigError(f"receipt printer: {exc}") from None
        self.paper_mm = paper_mm
        self.device = device
        self._port = transport

    @classmethod
    def open(cls, device: str, *, baudrate: int = 9600, encoding: str = "gb18030", paper_mm: int = 80,
             read_timeout: float = 1.0, write_timeout: float = 2.0) -> "ReceiptPrinter":
        """The printer on serial port `device`: read_timeout bounds each status answer,
        write_timeout each 256-byte piece of a job."""
        try:
            port = open_port(device, baudrate, read_timeout=read_timeout, write_timeout=write_timeout)
        except SerialSettingError as exc:
            raise PrinterConfigError(f"receipt printer: {exc}") from None
        except serial.SerialException as exc:
            raise PrinterUnavailable(f"receipt printer port {device} cannot be opened: {exc}") from None
        try:
            return cls(port, device=device, encoding=encoding, paper_mm=paper_mm)
        except PrinterConfigError:
            port.close()
            raise

    def close(self) -> None:
        self._port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def status(self) -> PrinterStatus:
        """Ask DLE EOT 1..4 and decode. Raises PrinterNotResponding or PrinterProtocolError."""
        try:
            # A late answer to an earlier, timed-out request must not be read as this one's.
            self._port.reset_input_buffer()
            self._port.write(_STATUS_QUERY)
            answer = self._port.read(4)
        except serial.SerialTimeoutException:
            raise PrinterNotResponding(f"printer on {self.device} does not take data "
                                       f"(write timeout {self._port.write_timeout} s)") from None
        except serial.SerialException as exc:
            raise PrinterUnavailable(f"printer port {self.device} failed: {exc}") from None
        if not answer:
            raise PrinterNotResponding(f"printer on {self.device} did not answer DLE EOT "
                                       f"within {self._port.timeout} s")
        if len(answer) < 4:
            raise PrinterNotResponding(f"printer on {self.device} answered {len(answer)} of 4 status bytes")
        return decode_status(answer)

    def print_job(self, job: bytes) -> PrinterStatus:
        """Print one job (ESC/POS bytes), or raise a typed PrinterError. Returns the status
        after the job, which may say the paper is near its end."""
        self.status().raise_if_cannot_print()
        self._send(job)
        after = self.status()
        after.raise_if_cannot_print()
        log.info("receipt printed on %s: %d bytes (%s)", self.device, len(job), after.describe())
        return after

    def _send(self, job: bytes) -> None:
        started = time.monotonic()
        for offset in range(0, len(job), _WRITE_CHUNK):
            try:
                self._port.write(job[offset:offset + _WRITE_CHUNK])
            except serial.SerialTimeoutException:
                raise PrinterNotResponding(
                    f"printer on {self.device} stopped taking data after {offset} of {len(job)} bytes "
                    f"(write timeout {self._port.write_timeout} s)") from None
            except serial.SerialException as exc:
                raise PrinterUnavailable(f"printer port {self.device} failed mid-job: {exc}") from None
        log.debug("job of %d bytes written in %.3f s", len(job), time.monotonic() - started)

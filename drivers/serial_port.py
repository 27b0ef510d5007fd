"""The one place a serial port is opened: always with a read timeout and a write timeout.

Without `write_timeout` a printer that stops taking data (paper out, flow control held)
blocks the writing thread forever; without a read `timeout` a silent device does the same.
"""
from __future__ import annotations

import serial

BAUD_RATES = (9600, 19200, 38400, 57600, 115200)


class SerialSettingError(ValueError):
    """A serial setting that cannot be used; the message names the setting and why."""


def check_settings(baudrate: int, read_timeout: float, write_timeout: float) -> None:
    if baudrate not in BAUD_RATES:
        raise SerialSettingError(f"baud rate {baudrate!r} is not one of {', '.join(map(str, BAUD_RATES))}")
    for name, value in (("read timeout", read_timeout), ("write timeout", write_timeout)):
        if not isinstance(value, (int, float)) or not 0 < value <= 60:
            raise SerialSettingError(f"{name} {value!r} s is not in (0, 60]")


def open_port(device: str, baudrate: int, *, read_timeout: float, write_timeout: float) -> serial.Serial:
    """Open `device` 8N1 without flow control. Raises SerialSettingError or serial.SerialException."""
    check_settings(baudrate, read_timeout, write_timeout)
    return serial.Serial(device, baudrate=baudrate, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
                         stopbits=serial.STOPBITS_ONE, timeout=read_timeout, write_timeout=write_timeout)

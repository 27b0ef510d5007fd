"""Fixtures for the serial devices: each simulator runs in a thread on a real pty pair, and the
drivers open its slave path through pyserial, exactly as they open a real COM port.

Short timeouts keep failure tests fast; they are the same settings the kiosk exposes.
"""
from __future__ import annotations

import pytest

from drivers.id_card_reader import IdCardReader
from drivers.receipt_printer import ReceiptPrinter
from drivers.sim.id_card_reader import SimulatedIdCardReader
from drivers.sim.receipt_printer import SimulatedReceiptPrinter

FAST_BAUD = 115200
READ_TIMEOUT = 0.5
WRITE_TIMEOUT = 0.5


@pytest.fixture
def printer_sim():
    sim = SimulatedReceiptPrinter(baudrate=FAST_BAUD, encoding="gb18030", paper_mm=80)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def printer(printer_sim):
    with ReceiptPrinter.open(printer_sim.path, baudrate=FAST_BAUD, encoding="gb18030", paper_mm=80,
                             read_timeout=READ_TIMEOUT, write_timeout=WRITE_TIMEOUT) as driver:
        yield driver


@pytest.fixture
def idreader_sim():
    sim = SimulatedIdCardReader(baudrate=FAST_BAUD)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def idreader(idreader_sim):
    with IdCardReader(idreader_sim.path, baudrate=FAST_BAUD, read_timeout=READ_TIMEOUT,
                      write_timeout=WRITE_TIMEOUT, retries=2) as driver:
        yield driver

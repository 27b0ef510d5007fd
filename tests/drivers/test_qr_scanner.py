"""The QR scanner driver (drivers/qr_scanner.py) against the simulated Honeywell scanner over a
real pty: a code is read on the trigger and handed on whole; stop ends the wait and switches
the trigger off; a code cut short, overlong or not clean text is a GarbledScan; a silent
scanner, one that takes no data, a missing port or the wrong trigger mode is unavailable."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from drivers import qr_scanner
from drivers.qr_scanner import (GarbledScan, QrScanError, QrScanner, QrScannerConfigError, QrScannerUnavailable,
                                check_code, decode_code)
from drivers.sim.qr_scanner import SimulatedQrScanner

READ_TIMEOUT = 0.2
# What the e-SSC app shows is opaque to the kiosk; this stands in for one.
ESSC_CODE = "https://ssc.mohrss.gov.cn/qr?c=7f3a9c01e5b24d6a8f1e0c2b9d7a6e5f&t=1764115200"


@pytest.fixture
def sim():
    with SimulatedQrScanner(baudrate=115200) as device:
        yield device


@pytest.fixture
def scanner(sim):
    with QrScanner.open(sim.port, 115200, read_timeout=READ_TIMEOUT, write_timeout=0.3) as scanner:
        yield scanner


def wait_in_thread(scanner: QrScanner, stop: threading.Event) -> dict:
    outcome: dict = {}

    def wait() -> None:
        try:
            outcome["code"] = scanner.wait_for_code(stop)
        except QrScanError as exc:
            outcome["error"] = exc

    outcome["thread"] = threading.Thread(target=wait)
    outcome["thread"].start()
    return outcome


def until(condition, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the simulated scanner never got there"
        time.sleep(0.01)


# --- codes, as any source hands them on -------------------------------------------------------

@pytest.mark.parametrize("text", [ESSC_CODE, "电子社保卡 ABC-123", "x" * 512])
def test_a_clean_code_is_handed_on_unchanged(text):
    assert check_code(text, "test") == text
    assert decode_code(text.encode("utf-8"), "test") == text


@pytest.mark.parametrize("data, fault", [
    (b"", "empty code"), (b"ABC\x00DEF", r"not printable \(U\+0000\) at position 3"),
    (b"ABC\x1b[2J", r"U\+001B"), (b"\xff\xfeABC", "not UTF-8"), (b"\xe7\x94", "not UTF-8"),
    (b"y" * 513, "513 characters, more than 512"), ("编码\u200b".encode(), r"U\+200B"),
])
def test_anything_that_is_not_a_clean_code_is_a_garbled_scan(data, fault):
    with pytest.raises(GarbledScan, match=fault) as garbled:
        decode_code(data, "QR scanner on test")
    assert str(garbled.value).startswith("QR scanner on test read a")


# --- the scanner on its serial line -----------------------------------------------------------

def test_a_code_under_the_scanner_is_read_on_the_trigger_without_its_suffix(sim, scanner):
    sim.present(ESSC_CODE)
    assert not sim.triggered
    assert scanner.wait_for_code(threading.Event()) == ESSC_CODE
    assert sim.reads == 1 and not sim.triggered


def test_a_code_shown_while_the_scanner_waits_is_read_at_once(sim, scanner):
    waiting = wait_in_thread(scanner, threading.Event())
    until(lambda: sim.triggered)
    sim.present("ABC-123")
    waiting["thread"].join(2)
    assert waiting == {"thread": waiting["thread"], "code": "ABC-123"}


def test_a_code_read_before_the_wait_is_no_ones(sim, scanner):
    sim.send(b"LEFT-BY-THE-LAST-VISIT\r")   # a scanner left triggered, read between visits
    time.sleep(0.05)
    sim.present("THIS-VISIT")
    assert scanner.wait_for_code(threading.Event()) == "THIS-VISIT"


def test_a_cr_lf_suffix_is_taken_as_well(sim, scanner):
    sim.garble(b"ABC-123\r\n")   # "garble" sends raw bytes: here a good code with CR LF
    assert scanner.wait_for_code(threading.Event()) == "ABC-123"


def test_stop_ends_the_wait_with_none_and_switches_the_trigger_off(sim, scanner):
    stop = threading.Event()
    waiting = wait_in_thread(scanner, stop)
    until(lambda: sim.triggered)
    started = time.monotonic()
    stop.set()
    waiting["thread"].join(2)
    assert waiting["code"] is None and time.monotonic() - started < READ_TIMEOUT + 0.3
    until(lambda: not sim.triggered)
    sim.present("NEXT-CITIZEN")
    assert sim.reads == 0   # not read for no one: it waits for the next trigger
    sim.take_away()
    threading.Timer(0.3, stop.set).start()
    assert scanner.wait_for_code(stop) is None and sim.reads == 0


@pytest.mark.parametrize("raw, fault", [
    (None, "stopped after 8 bytes of a code, before its CR suffix"),
    (b"ABC\x00DEF\r", r"U\+0000"), (b"\x8f\xa1\xc1\r", "not UTF-8"),
    (b"Z" * 600 + b"\r", "600 characters"), (b"Z" * 3000, "more than 2048 bytes without the CR suffix"),
])
def test_a_broken_read_is_a_garbled_scan_and_the_next_read_is_clean(sim, scanner, raw, fault):
    sim.present("ESSC-0000000001")
    sim.garble(raw)
    with pytest.raises(GarbledScan, match=fault):
        scanner.wait_for_code(threading.Event())
    sim.present("ESSC-0000000002")
    assert scanner.wait_for_code(threading.Event()) == "ESSC-0000000002"


def test_an_unplugged_scanner_is_unavailable_within_the_read_timeout(sim, scanner):
    sim.unplugged = True
    started = time.monotonic()
    with pytest.raises(QrScannerUnavailable, match="did not answer the trigger mode query within 0.2 s"):
        scanner.wait_for_code(threading.Event())
    assert time.monotonic() - started < READ_TIMEOUT + 0.3


def test_a_scanner_unplugged_during_the_wait_is_noticed(sim, scanner, monkeypatch):
    monkeypatch.setattr(qr_scanner, "KEEPALIVE_S", 0.3)
    waiting = wait_in_thread(scanner, threading.Event())
    until(lambda: sim.triggered)
    sim.unplugged = True
    waiting["thread"].join(2)
    assert isinstance(waiting["error"], QrScannerUnavailable)


def test_the_keepalive_triggers_again_before_the_scanners_own_read_time_out(sim, scanner, monkeypatch):
    monkeypatch.setattr(qr_scanner, "KEEPALIVE_S", 0.1)
    sim.read_timeout_s = 0.3
    stop = threading.Event()
    waiting = wait_in_thread(scanner, stop)
    time.sleep(0.7)   # two read time-outs of the scanner's own
    sim.present("LATE-BUT-READ")
    waiting["thread"].join(2)
    assert waiting["code"] == "LATE-BUT-READ"


def fill_the_line(path: str) -> None:
    """Write to the pty until it takes nothing more, even after the kernel has moved what it
    holds on to the reading side's buffers."""
    line = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        while True:
            taken = 0
            for size in (4096, 1):
                try:
                    while True:
                        taken += os.write(line, b"\0" * size)
                except BlockingIOError:
                    pass
            if not taken:
                return
            time.sleep(0.05)
    finally:
        os.close(line)


def test_a_scanner_that_takes_no_data_is_unavailable_within_the_write_timeout(sim, scanner):
    sim.taking_data.clear()
    time.sleep(0.15)   # the simulator's read under way ends; from now on nothing empties the pty
    fill_the_line(sim.port)
    started = time.monotonic()
    with pytest.raises(QrScannerUnavailable, match="does not take data"):
        scanner.wait_for_code(threading.Event())
    assert time.monotonic() - started < 0.3 + 0.5


def test_a_scanner_in_another_trigger_mode_says_which(sim, scanner):
    sim.trigger_mode = "3"
    with pytest.raises(QrScannerUnavailable, match=r"trigger mode 3, not Manual/Serial \(TRGMOD0\)"):
        scanner.wait_for_code(threading.Event())


def test_the_simulator_runs_on_its_own_and_prints_its_port_first():
    started = subprocess.Popen([sys.executable, "-m", "drivers.sim.qr_scanner", "--baud", "115200", "--code", "ABC-1"],
                               stdout=subprocess.PIPE, text=True)
    try:
        port = started.stdout.readline().strip()
        with QrScanner.open(port, 115200) as scanner:
            assert scanner.wait_for_code(threading.Event()) == "ABC-1"
    finally:
        started.send_signal(signal.SIGTERM)
        assert started.wait(5) == 0


def test_a_missing_port_and_bad_settings_are_typed_errors(sim):
    with pytest.raises(QrScannerUnavailable, match="/dev/ttyQR9 cannot be opened"):
        QrScanner.open("/dev/ttyQR9")
    with pytest.raises(QrScannerConfigError, match="baud rate"):
        QrScanner.open(sim.port, 1200)
    with pytest.raises(QrScannerConfigError, match="write timeout"):
        QrScanner.open(sim.port, write_timeout=0)

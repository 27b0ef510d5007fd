"""The electronic social security card's QR code as identification (#19): the kiosk reads the
code under the simulated scanner (a pty) and the reference backend says whose it is, once. An
expired, a used and a garbled code are refused in plain words and the wait goes on; a backend
out of reach or a scanner that is gone are told too."""
from __future__ import annotations

import threading
import time

import pytest

from backend_helpers import ContractClient, key, new_holder
from drivers.qr_scanner import GarbledScan, QrScannerUnavailable
from drivers.sim.qr_scanner import SimulatedQrScanner
from kiosk.core import KioskCore
from kiosk.device_messages import citizen_message
from kiosk.identification import EsscCodeExpired, EsscCodeUsed, EsscUnavailable
from kiosk.visit import Visit
from simulation.config import config_for_simulation


@pytest.fixture
def scanner():
    device = SimulatedQrScanner()
    device.start()
    yield device
    device.stop()


@pytest.fixture
def core(scanner, backend, pki, tmp_path):
    core = KioskCore(config_for_simulation(backend.url, pki, tmp_path, qr_scanner={"port": scanner.path}))
    yield core
    core.close()


@pytest.fixture
def identification(core):
    return core.identification


@pytest.fixture
def person(backend, pki):
    """Someone the backend knows (an application made for them), with the e-SSC app."""
    holder = new_holder()
    client = ContractClient(backend.url, ca_file=str(pki.ca_cert), cert_file=str(pki.kiosk_cert),
                            key_file=str(pki.kiosk_key))
    client.apply_card(holder, "371300", channel="batch", idempotency_key=key())
    client.close()
    return holder


class Waiting:
    """`wait_for_essc_code` on a thread of its own, as the identify screen runs it."""

    def __init__(self, identification, visit=None):
        self.stop = threading.Event()
        self.problems: list[Exception] = []
        self.identity = None
        self.visit = visit or Visit()
        self._thread = threading.Thread(target=self._wait, args=(identification,), daemon=True)
        self._thread.start()

    def _wait(self, identification):
        self.identity = identification.wait_for_essc_code(self.visit, self.stop, self.problems.append)

    def until(self, condition, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert condition()

    def end(self):
        self.stop.set()
        self._thread.join(5)
        return self.identity


def test_a_code_identifies_its_person_once(core, identification, scanner, backend, person):
    code = backend.store.issue_essc_code(person["id_number"])
    waiting = Waiting(identification, core.services.new_visit())
    scanner.present(code)
    waiting.until(lambda: not waiting._thread.is_alive())
    identity = waiting.identity
    assert (identity.id_number, identity.name) == (person["id_number"], person["name"])
    assert identity.photo_wlt == b"" and waiting.problems == []
    with core.outbox.transaction() as tx:   # in the visit's audit trail, without the code or the person
        [entry] = [e for e in core.audit.entries(tx) if e.visit_id == waiting.visit.visit_id]
    assert (entry.step, entry.outcome, entry.details) == ("identified_by_essc", "done", {"document": "essc"})
    again = Waiting(identification)
    scanner.present(code)   # a screenshot of yesterday's code, shown again
    again.until(lambda: again.problems)
    assert isinstance(again.problems[0], EsscCodeUsed) and "已使用" in citizen_message(again.problems[0])
    assert again.end() is None


def test_an_expired_code_is_refused_and_a_fresh_one_goes_through(identification, scanner, backend, person):
    stale = backend.store.issue_essc_code(person["id_number"], ttl_s=0.05)
    time.sleep(0.1)
    waiting = Waiting(identification)
    scanner.present(stale)
    waiting.until(lambda: waiting.problems)
    assert isinstance(waiting.problems[0], EsscCodeExpired) and "过期" in citizen_message(waiting.problems[0])
    scanner.present(backend.store.issue_essc_code(person["id_number"]))   # refreshed in the app
    waiting.until(lambda: not waiting._thread.is_alive(), timeout_s=8)
    assert waiting.identity.id_number == person["id_number"]


def test_a_garbled_scan_is_told_and_the_wait_goes_on(identification, scanner, backend, person):
    waiting = Waiting(identification)
    time.sleep(0.3)   # the scanner triggered
    scanner.garble(b"\x00\xff\xfe\r")   # a damaged screen, read as rubbish
    waiting.until(lambda: waiting.problems)
    assert isinstance(waiting.problems[0], GarbledScan) and "未能识别二维码" in citizen_message(waiting.problems[0])
    scanner.present(backend.store.issue_essc_code(person["id_number"]))
    waiting.until(lambda: not waiting._thread.is_alive(), timeout_s=8)
    assert waiting.identity is not None


def test_without_the_backend_an_essc_code_cannot_be_used(identification, scanner, backend, person):
    code = backend.store.issue_essc_code(person["id_number"])
    backend.stop()
    with pytest.raises(EsscUnavailable) as refused:
        identification.resolve_essc_code(Visit(), code)
    assert "请使用身份证" in citizen_message(refused.value)


def test_a_scanner_that_is_gone_ends_the_wait_and_says_so(identification, scanner):
    scanner.unplugged = True
    waiting = Waiting(identification)
    waiting.until(lambda: not waiting._thread.is_alive(), timeout_s=8)
    assert waiting.identity is None and isinstance(waiting.problems[-1], QrScannerUnavailable)
    assert "扫码设备" in citizen_message(waiting.problems[-1])


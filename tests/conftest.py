"""Fixtures shared by the test folders, and the markers each test gets from what it uses.

The real PC/SC stack: pyscard -> pcscd -> vpcd -> simulator. `./run test` starts pcscd and says
where in KIOSK_RUN_DIR; a bare `pytest` starts its own.
The backend link: a test PKI, the reference backend on a free loopback port over real TLS, a
client with the kiosk certificate, and an outbox with its key.
The serial devices: each simulator runs in a thread on a real pty pair, and the drivers open its
slave path through pyserial, exactly as they open a real COM port. Short timeouts keep failure
tests fast; they are the same settings the kiosk exposes.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from backend_helpers import client_for
from drivers.id_card_reader import IdCardReader
from drivers.pcsc import wait_for_card
from drivers.receipt_printer import ReceiptPrinter
from drivers.sim.id_card_reader import SimulatedIdCardReader
from drivers.sim.pcscd import (CARD_READER, PSAM_READER, VPCD_CARD_PORT, VPCD_PSAM_PORT, Pcscd, machine_lock,
                               vpcd_ready)
from drivers.sim.psam import SimulatedPsam
from drivers.sim.receipt_printer import SimulatedReceiptPrinter
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from drivers.sim.vpcd import VpcdLink
from offline_queue import KeyRing, Outbox

FAST_BAUD = 115200
READ_TIMEOUT = 0.5
WRITE_TIMEOUT = 0.5


@pytest.fixture(scope="session")
def pcscd():
    """The running pcscd (started here when the test command did not)."""
    run_dir = os.environ.get("KIOSK_RUN_DIR")
    if run_dir and vpcd_ready():
        yield Pcscd(Path(run_dir))
        return
    with machine_lock(), tempfile.TemporaryDirectory(prefix="kiosk-pcscd-") as tmp:
        daemon = Pcscd(Path(tmp))
        daemon.start()
        yield daemon
        daemon.stop()


class CardSlot:
    """Puts simulated cards into a vpcd slot and takes them out, waiting until pcscd agrees."""

    def __init__(self, port: int, reader: str):
        self.port = port
        self.reader = reader
        self.link: VpcdLink | None = None

    def insert(self, card) -> VpcdLink:
        self.remove()
        self.link = VpcdLink(card, port=self.port).insert()
        wait_for_card(self.reader, timeout=5)
        return self.link

    def insert_profile(self, profile: str | CardProfile, **behaviour) -> SimulatedSocialSecurityCard:
        if not isinstance(profile, CardProfile):
            profile = CardProfile.load(profile)
        for key, value in behaviour.items():
            setattr(profile, key, value)
        card = SimulatedSocialSecurityCard(profile)
        self.insert(card)
        return card

    def remove(self) -> None:
        if self.link is not None:
            self.link.remove()
            self.link = None
            wait_for_card(self.reader, timeout=5, present=False)


@pytest.fixture
def card_slot(pcscd):
    slot = CardSlot(VPCD_CARD_PORT, CARD_READER)
    yield slot
    slot.remove()


@pytest.fixture
def psam_slot(pcscd):
    slot = CardSlot(VPCD_PSAM_PORT, PSAM_READER)
    slot.insert(SimulatedPsam())
    yield slot
    slot.remove()


@pytest.fixture(scope="session")
def pki_files(tmp_path_factory):
    """A test CA with a server and a kiosk certificate, made with `cryptography`."""
    from kiosk.backend.pki import make_test_pki
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def reference_backend(pki_files, tmp_path):
    """The reference backend on a free loopback port, over real TLS with client certificates."""
    from kiosk.backend.server import open_backend
    server = open_backend("127.0.0.1", 0, tmp_path / "backend.db", pki_files.directory).start()
    yield server
    server.stop()


@pytest.fixture
def backend_client(reference_backend, pki_files):
    from kiosk.backend.client import BackendClient
    client = BackendClient(reference_backend.url, ca_file=str(pki_files.ca_cert), cert_file=str(pki_files.kiosk_cert),
                           key_file=str(pki_files.kiosk_key))
    yield client
    client.close()


# --- the backend link (tests/kiosk/backend, tests/offline_queue) ---

@pytest.fixture(scope="session")
def pki(pki_files):
    """`pki_files`, under the name the backend and outbox tests use."""
    return pki_files


@pytest.fixture
def backend(reference_backend):
    """`reference_backend`, under the name the backend and outbox tests use."""
    return reference_backend


@pytest.fixture
def client(backend, pki):
    client = client_for(backend.url, pki)
    yield client
    client.close()


@pytest.fixture
def keys():
    return KeyRing.generate()


@pytest.fixture
def outbox(tmp_path, keys):
    box = Outbox(tmp_path / "outbox.db", keys)
    yield box
    box.close()


# --- the serial devices (tests/drivers, tests/kiosk); the card printer's own printer_sim and
# printer (tests/drivers/card_printer/conftest.py) stand in for these two in its folder ---

@pytest.fixture
def printer_sim():
    sim = SimulatedReceiptPrinter(baudrate=FAST_BAUD, encoding="gb18030", paper_mm=80)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def printer(printer_sim):
    with ReceiptPrinter(printer_sim.path, baudrate=FAST_BAUD, encoding="gb18030", paper_mm=80,
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

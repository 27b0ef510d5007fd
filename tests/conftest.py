"""Fixtures for tests that go through the real PC/SC stack: pyscard -> pcscd -> vpcd -> simulator.

`./run test` starts pcscd and says where in KIOSK_RUN_DIR; a bare `pytest` starts its own.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from drivers.pcsc import wait_for_card
from drivers.sim.pcscd import (CARD_READER, PSAM_READER, VPCD_CARD_PORT, VPCD_PSAM_PORT, Pcscd, machine_lock,
                               vpcd_ready)
from drivers.sim.psam import SimulatedPsam
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from drivers.sim.vpcd import VpcdLink


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
    """A test CA with a server and a kiosk certificate (and another kiosk's), made with `cryptography`."""
    from reference_backend.pki import make_test_pki
    return make_test_pki(tmp_path_factory.mktemp("pki"), other_kiosks=("KIOSK-0002",))


@pytest.fixture
def reference_backend(pki_files, tmp_path):
    """The reference backend on a free loopback port, over real TLS with client certificates."""
    from reference_backend.server import open_backend
    server = open_backend("127.0.0.1", 0, tmp_path / "backend.db", pki_files.directory).start()
    yield server
    server.stop()


@pytest.fixture
def backend_client(reference_backend, pki_files):
    from tests.backend.backend_helpers import ContractClient
    client = ContractClient(reference_backend.url, ca_file=str(pki_files.ca_cert), cert_file=str(pki_files.kiosk_cert),
                           key_file=str(pki_files.kiosk_key))
    yield client
    client.close()

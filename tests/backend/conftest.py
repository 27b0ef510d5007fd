"""Fixtures for the backend link: a test PKI, the reference backend on a free loopback port
over real TLS, a client with the kiosk certificate, and an outbox with its key."""
from __future__ import annotations

import pytest

from backend_helpers import client_for
from kiosk.backend.pki import make_test_pki
from kiosk.backend.server import open_backend
from offline_queue import KeyRing, Outbox


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def backend(pki, tmp_path):
    server = open_backend("127.0.0.1", 0, tmp_path / "backend.db", pki.directory).start()
    yield server
    server.stop()


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

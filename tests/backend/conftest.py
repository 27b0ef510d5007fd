"""Fixtures for the backend link: a test PKI, the reference backend on a free loopback port
over real TLS, a client with the kiosk certificate, and an outbox with its key."""
from __future__ import annotations

import pytest

from backend_helpers import client_for
from offline_queue import KeyRing, Outbox


@pytest.fixture(scope="session")
def pki(pki_files):
    """The test PKI of tests/conftest.py, under the name these tests use."""
    return pki_files


@pytest.fixture
def backend(reference_backend):
    """The reference backend of tests/conftest.py, under the name these tests use."""
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

"""Fixtures for the audit trail and statistics: a real key file and a real SQLite file, shared
with the outbox the way the kiosk shares them."""
from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from kiosk.audit import AuditTrail, audit_key_from
from offline_queue import KeyRing, Outbox
from records_helpers import append_visit


@pytest.fixture
def key_file(tmp_path) -> Path:
    path = tmp_path / "kiosk.key"
    KeyRing.generate().save(path)
    return path


@pytest.fixture
def keys(key_file) -> KeyRing:
    return KeyRing.load(key_file)


@pytest.fixture
def audit_secret(tmp_path) -> bytes:
    """The second secret of the MAC key, where `kiosk audit verify --key-file` looks with the
    built-in settings (beside the key file: a deployed kiosk keeps it apart)."""
    secret = secrets.token_bytes(32)
    (tmp_path / "audit.secret").write_text(secret.hex())
    return secret


@pytest.fixture
def trail(keys, audit_secret) -> AuditTrail:
    return AuditTrail(audit_key_from(keys, audit_secret))


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "kiosk.db"


@pytest.fixture
def outbox(db_path, keys):
    box = Outbox(db_path, keys)
    yield box
    box.close()


@pytest.fixture
def connection(outbox, db_path):
    """A second connection on the same file, as the verifier and tampering tests use it."""
    conn = Outbox.connect(db_path)
    yield conn
    conn.close()


@pytest.fixture
def filled(outbox, trail, connection):
    """A trail of 10 entries (two visits) in a real file, and a connection to tamper with it."""
    with outbox.transaction() as tx:
        trail.ensure_schema(tx)
    append_visit(outbox, trail, "visit-a", 6)
    append_visit(outbox, trail, "visit-b", 4)
    return connection

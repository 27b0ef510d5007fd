"""The store's two databases as fixtures: `store_db` runs a test once on a SQLite file and once
on a fresh schema of the PostgreSQL cluster that `./run test` starts (KIOSK_TEST_POSTGRES_DSN).
A folder's conftest.py imports the fixtures it uses from here.

Without the variable the PostgreSQL half fails, saying so: a test is never skipped because a
service is absent.
"""
from __future__ import annotations

import os
import uuid

import psycopg
import pytest

DSN_VARIABLE = "KIOSK_TEST_POSTGRES_DSN"


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    dsn = os.environ.get(DSN_VARIABLE)
    if not dsn:
        pytest.fail(f"{DSN_VARIABLE} is not set: `./run test` starts a PostgreSQL cluster and sets it; by hand:"
                    f" export {DSN_VARIABLE}=$(.venv/bin/python -m reference_backend.postgres start /tmp/kiosk-postgres)",
                    pytrace=False)
    return dsn


@pytest.fixture
def postgres_db(postgres_dsn):
    """A DSN whose tables land in a schema of their own, dropped after the test (a schema is
    made in milliseconds, a database in a second)."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    yield f"{postgres_dsn}{'&' if '?' in postgres_dsn else '?'}options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_db(request, tmp_path):
    """Where a BackendStore keeps its data: a SQLite file, then a PostgreSQL DSN."""
    if request.param == "sqlite":
        return tmp_path / "store.db"
    return request.getfixturevalue("postgres_db")

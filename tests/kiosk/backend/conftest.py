"""The store-level tests here run on both of the store's databases (tests/postgres_fixtures.py)."""
from postgres_fixtures import postgres_db, postgres_dsn, store_db  # noqa: F401  (fixtures)

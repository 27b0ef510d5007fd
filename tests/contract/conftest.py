"""Schemathesis runs against the backend on PostgreSQL, the store a province would pilot."""
from postgres_fixtures import postgres_db, postgres_dsn  # noqa: F401  (fixtures)

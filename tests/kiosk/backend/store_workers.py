"""What the worker processes of tests/kiosk/backend/test_store_databases.py do, each with its
own BackendStore on one database (importable by a spawned process, unlike a test module)."""
from __future__ import annotations

import time

from reference_backend.store import BackendStore

REVIEW = {"service_item": "1.10.6", "level": 5, "comment": "很方便"}


def submit_review(db, worker: int, start, results) -> None:
    """The same review under the same key; the first to claim it takes a while."""
    store = BackendStore(db)
    start.wait()

    def slow_review(conn, terminal, key):
        time.sleep(0.2)   # the others arrive while it is at work
        return store.submit_review(conn, terminal, key, REVIEW)

    reply = store.change("KIOSK-0001", "one-key", "POST /v1/reviews", slow_review)
    results.put((reply.status, reply.body, reply.replayed))
    store.close()


def mark_instant_issuances(db, applications: list[list[str]], worker: int, start, results) -> None:
    """Marks this worker's share of the applications: (application id, card number) each."""
    store = BackendStore(db)
    start.wait()
    for application_id in applications[worker]:
        reply = store.change("KIOSK-0001", f"mark-{application_id}", "mark",
                             lambda conn, terminal, key: store.mark_instant_issuance(conn, terminal, key,
                                                                                     application_id, {}))
        results.put((application_id, reply.body["card_number"]))
    store.close()

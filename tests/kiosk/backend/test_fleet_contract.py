"""The fleet status's contract at the reference backend (#18): a heartbeat's health is checked
field by field, and whatever of it is malformed is refused whole (nothing kept)."""
from __future__ import annotations

import pytest

from backend_helpers import key
from kiosk.backend.errors import BackendRejected


@pytest.mark.parametrize("health, told", [
    ({"devices": {"toaster": {"state": "ok"}}, "disk": {"free_bytes": 1, "total_bytes": 2}}, "unknown device"),
    ({"devices": {"camera": {"state": "fine"}}, "disk": {"free_bytes": 1, "total_bytes": 2}}, "state"),
    ({"devices": {}, "disk": {"free_bytes": -1, "total_bytes": 2}}, "free_bytes"),
    ({"devices": {}, "disk": {"free_bytes": 1, "total_bytes": 2}, "probed_at": float("inf")}, "not JSON"),
    ({"devices": {"card_printer": {"state": "ok", "ribbon_remaining": "lots"}},
      "disk": {"free_bytes": 1, "total_bytes": 2}}, "ribbon_remaining"),
    ({"devices": [], "disk": {}}, "devices"),
])
def test_a_malformed_health_is_refused_and_nothing_of_it_kept(client, backend, health, told):
    with pytest.raises(BackendRejected) as refused:
        client.call("record_heartbeat", {"terminal_number": "KIOSK-0001", "queue_depth": 0,
                                         "software_version": "1", "health": health}, idempotency_key=key())
    assert refused.value.status == 400 and told in refused.value.message
    assert backend.store._conn.execute("SELECT count(*) FROM terminal_health").fetchone() == (0,)

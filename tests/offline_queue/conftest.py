"""The outbox's tests share a clock that only moves when a test moves it (`clock`, tests/conftest.py)."""
from __future__ import annotations

import pytest

from offline_queue import Outbox


@pytest.fixture
def timed_outbox(tmp_path, keys, clock):
    box = Outbox(tmp_path / "outbox.db", keys, clock=clock)
    yield box
    box.close()

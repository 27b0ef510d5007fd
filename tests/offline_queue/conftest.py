"""The outbox's tests share a clock that only moves when a test moves it."""
from __future__ import annotations

import pytest

from offline_queue import Outbox


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def timed_outbox(tmp_path, keys, clock):
    box = Outbox(tmp_path / "outbox.db", keys, clock=clock)
    yield box
    box.close()

"""The crash test: a kiosk process enqueuing and delivering is killed with SIGKILL at random
moments, over and over. At the end every job acknowledged to its caller reached the backend
exactly once, and no job reached it twice."""
from __future__ import annotations

import collections
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from backend_helpers import client_for
from kiosk.backend.delivery import health_probe, outbox_sender
from offline_queue import DeliveryWorker, KeyRing, Outbox

CHILD = Path(__file__).with_name("crash_child.py")
KILLS = 22


def test_sigkill_at_random_moments_loses_nothing_and_duplicates_nothing(backend, pki, tmp_path):
    rng = random.Random()
    db, key_file, ack_log = tmp_path / "outbox.db", tmp_path / "outbox.key", tmp_path / "acked.log"
    KeyRing.load_or_create(key_file)
    root = Path(__file__).resolve().parents[2]
    for round_number in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, str(CHILD), backend.url, str(pki.directory), str(db), str(key_file), str(ack_log),
             str(round_number * 1_000_000)],
            stdout=subprocess.PIPE, cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
        assert child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.05, 0.4))
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
        child.stdout.close()

    # A last kiosk start delivers what the killed ones left behind (after their leases expire).
    client = client_for(backend.url, pki)
    outbox = Outbox(db, KeyRing.load(key_file))
    worker = DeliveryWorker(outbox, outbox_sender(client), health_probe(client), poll_s=0.05).start()
    deadline = time.monotonic() + 30
    while outbox.stats().pending and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop()
    stats = outbox.stats()
    sent_again = sum(1 for job in outbox.jobs() if job.attempts > 1)
    outbox.close()
    client.close()

    acknowledged = [int(line) for line in ack_log.read_text().split("\n")[:-1]]  # a torn last line is not an ack
    with sqlite3.connect(backend.store.path) as store:
        delivered = collections.Counter(
            int(comment.removeprefix("crash-")) for (comment,) in store.execute("SELECT comment FROM reviews"))
    assert stats.pending == 0 and stats.dead == 0
    assert len(acknowledged) > KILLS * 5, "the child should have done real work between kills"
    assert sent_again > 0, "some kills should have hit deliveries in flight (leased, then claimed again)"
    assert [m for m in acknowledged if delivered[m] != 1] == []  # each acknowledged job: exactly once
    assert [m for m, n in delivered.items() if n > 1] == []      # and no job at all twice
    assert sum(delivered.values()) == stats.done                  # every job written reached the backend

"""The kiosk process killed with SIGKILL at random points of its visits (loss reports, ratings,
audit trails going out) and started again, over and over. At the end every item a citizen was
told was done or queued is at the backend exactly once, and nothing is there twice."""
from __future__ import annotations

import collections
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.soak import person

CHILD = Path(__file__).with_name("service_crash_child.py")
REPO = Path(__file__).resolve().parents[2]
KILLS = 12
PER_ROUND = 400   # citizens each round may serve; the backend knows them all


def start_child(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CHILD), *map(str, args)], stdout=subprocess.PIPE, cwd=REPO,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def test_sigkill_mid_visit_loses_nothing_and_duplicates_nothing(reference_backend, pki_files, tmp_path):
    backend = reference_backend
    for n in range(KILLS * PER_ROUND):
        citizen = person(n)
        backend.store.seed_card(holder={"id_number": citizen.id_number, "name": citizen.name, "sex": "1",
                                        "ethnicity": 1, "birth_date": citizen.birth_date.strftime("%Y%m%d"),
                                        "birthplace": "110105"},
                                card_id=f"110100D156000005{n:016X}", card_number=f"S{n:08d}",
                                region_code="110100", issue_date="20240315", expiry_date="20340315",
                                status="normal")
    rng = random.Random()
    ack_log = tmp_path / "acked.log"
    for round_number in range(KILLS):
        first = round_number * PER_ROUND
        child = start_child(backend.url, pki_files.directory, tmp_path, ack_log, first, first + PER_ROUND)
        assert child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.1, 0.5))
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
        child.stdout.close()
    # The kiosk started once more: it sends what the killed ones left in the outbox.
    last = start_child(backend.url, pki_files.directory, tmp_path, ack_log, -1, -1)
    assert last.wait(60) == 0
    last.stdout.close()

    acknowledged = collections.defaultdict(set)
    for line in ack_log.read_text().split("\n")[:-1]:   # a torn last line is no acknowledgement
        item, n = line.split()
        acknowledged[item].add(int(n))
    with sqlite3.connect(backend.store.path) as store:
        losses = collections.Counter(int(card_id[16:], 16) for (card_id,) in store.execute(
            "SELECT card_id FROM card_events WHERE event = 'loss_reported_temporary'"))
        reviews = collections.Counter(int(comment.removeprefix("visit-")) for (comment,) in store.execute(
            "SELECT comment FROM reviews"))
    assert len(acknowledged["loss"]) > KILLS * 3, "the kiosk should have served citizens between kills"
    assert [n for n in acknowledged["loss"] if losses[n] != 1] == []
    assert [n for n in acknowledged["review"] if reviews[n] != 1] == []
    assert [n for n, count in losses.items() if count > 1] == []
    assert [n for n, count in reviews.items() if count > 1] == []
    with sqlite3.connect(tmp_path / "kiosk.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM outbox_jobs").fetchone()[0] == 0   # all delivered

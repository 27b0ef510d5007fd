"""The disk full while a queued request is written to the outbox: the citizen is told it was
not accepted (never that it was), the kiosk goes on, and once there is room again every
request it accepted is in the outbox exactly once, the database intact."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from offline_queue import KeyRing, Outbox

REPO = Path(__file__).resolve().parents[2]


def test_disk_full_while_queueing_a_loss_report(tmp_path, pki_files):
    child = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("disk_full_child.py")), str(tmp_path),
         str(pki_files.ca_cert), str(pki_files.kiosk_cert), str(pki_files.kiosk_key)],
        capture_output=True, text=True, timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    *accepted, refused = report["outcomes"]
    assert accepted and all(o["outcome"] == "pending" and o["job"] for o in accepted)
    assert refused["outcome"] == "failed" and refused["message"] and refused["job"] is None, refused
    assert report["after"]["outcome"] == "pending"  # room again: the kiosk takes requests again

    with sqlite3.connect(tmp_path / "kiosk.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    outbox = Outbox(tmp_path / "kiosk.db", KeyRing.load(tmp_path / "kiosk.key"))
    try:
        jobs = {job.id for job in outbox.jobs()}
        promised = {o["job"] for o in accepted} | {report["after"]["job"]}
        assert promised <= jobs
        assert outbox.stats().pending == len(promised)  # nothing the citizen was not told about
    finally:
        outbox.close()

"""Helpers shared by the records tests."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from kiosk.audit import AuditTrail
from offline_queue import Outbox

REPO = Path(__file__).resolve().parents[3]


def append_visit(outbox: Outbox, trail: AuditTrail, visit_id: str, steps: int, pause_s: float = 0.0) -> None:
    """One visit of `steps` entries, each in its own transaction beside an outbox job; a pause
    between steps, as a citizen's taps leave, lets another appender in."""
    for step in range(steps):
        time.sleep(pause_s)
        with outbox.transaction() as tx:
            trail.append(tx, visit_id=visit_id, service_item="1.10.6", step=f"step-{step}", outcome="ok",
                         details={"card": "3713**********1234", "holder": "张*", "n": step})
            tx.enqueue("loss_report_event", {"step": step}, subject=visit_id)


def run_records_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def raw_rows(connection: sqlite3.Connection) -> list[tuple]:
    return connection.execute("SELECT * FROM audit_entries ORDER BY seq").fetchall()

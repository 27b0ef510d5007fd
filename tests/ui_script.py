"""Runs one of the UI scripts (tests/*/ui_*.py) in a subprocess: Kivy runs one App per process.
Each script plays its steps on the real screens under Xvfb and prints one JSON line of what it
saw, with `error` set when a step failed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# For a script whose kiosk has no smart cards (simulated_kiosk(smart_cards=False)): its PC/SC
# client library looks for pcscd at a socket that is not there, so the kiosk sees no reader and
# never touches the pcscd the tests beside it kill and restart.
NO_PCSCD = {"PCSCLITE_CSOCK_NAME": "/nonexistent/pcscd.comm"}


def run_ui_script(script: Path, *, timeout: float = 120, env: dict | None = None) -> dict:
    assert os.environ.get("DISPLAY"), "./run test starts Xvfb; run the suite through it"
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=timeout, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    seen = json.loads(lines[-1])
    assert seen["error"] is None and result.returncode == 0, (seen["error"], result.stderr[-3000:])
    return seen

"""`kiosk demo --panel`: the simulator panel beside the kiosk plays the citizen and the faults."""
import json
import os
import subprocess
import sys
from pathlib import Path


def test_each_panel_switch_acts_on_its_simulator_and_the_kiosk_reacts(pcscd):
    assert os.environ.get("DISPLAY"), "./run test starts Xvfb; run the suite through it"
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("ui_panel.py"))],
                            capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    seen = json.loads(lines[-1])
    assert seen["error"] is None and result.returncode == 0, seen["error"]
    assert seen["panel_said"] == "已完成：断开网络"

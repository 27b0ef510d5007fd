"""Diagnostics opened with a staff card and its own PIN, on the real screens under Xvfb."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def seen(pcscd):
    assert os.environ.get("DISPLAY"), "./run test starts Xvfb; run the suite through it"
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("ui_staff.py"))],
                            capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    seen = json.loads(lines[-1])
    assert seen["error"] is None and result.returncode == 0, seen["error"]
    return seen


def test_the_sign_in_asks_for_the_staff_pin_until_a_staff_card_is_inserted(seen):
    assert seen["before"] == "请输入工作人员密码，或插入工作人员卡"
    assert seen["card_prompt"] == "已读取工作人员卡，请输入该卡的密码"


def test_a_wrong_card_pin_is_refused_and_the_right_one_opens_diagnostics(seen):
    assert seen["wrong"] == "工作人员密码错误"   # and the script then reached diagnostics with the card's PIN

"""Typed errors as the citizen sees them, by touch on the real screens (ui_errors.py runs
the app in a subprocess under Xvfb, with the simulated card and PSAM)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def seen(pcscd):
    assert os.environ.get("DISPLAY"), "./run test starts Xvfb; run the suite through it"
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("ui_errors.py"))],
                            capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    seen = json.loads(lines[-1])
    assert seen["error"] is None and result.returncode == 0, seen["error"]
    return seen


def test_a_wrong_current_pin_is_a_failure_in_plain_words(seen):
    assert seen["wrong_pin"] == ["【未能办理】社会保障卡密码修改与重置：密码错误。"]


def test_two_different_new_pins_are_asked_again(seen):
    assert seen["mismatch"] == "两次输入的新密码不一致，请重新设置。"


def test_a_weak_new_pin_is_refused_with_the_reason(seen):
    [line] = seen["weak_pin"]
    assert line.startswith("【未能办理】") and "过于简单" in line


def test_the_pin_pad_lays_its_digits_out_anew_for_each_entry(seen):
    first, second = seen["order_1"], seen["order_2"]
    assert sorted(first) == sorted(second) and "clear" in first and "confirm" in first
    assert first != second   # 1 in 10! that a fair shuffle repeats

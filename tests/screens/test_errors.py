"""Typed errors as the citizen sees them, by touch on the real screens (ui_errors.py runs
the app in a subprocess under Xvfb, with the simulated card and PSAM)."""
from pathlib import Path

import pytest

from tests.ui_script import run_ui_script


@pytest.fixture(scope="module")
def seen(pcscd):
    return run_ui_script(Path(__file__).with_name("ui_errors.py"))


def test_a_wrong_current_pin_is_a_failure_in_plain_words(seen):
    assert seen["wrong_pin"] == ["【未能办理】社会保障卡密码修改与重置：密码错误，还可以再试 5 次。"]


def test_two_different_new_pins_are_asked_again(seen):
    assert seen["mismatch"] == "两次输入的新密码不一致，请重新设置。"


def test_a_weak_new_pin_is_refused_with_the_reason(seen):
    [line] = seen["weak_pin"]
    assert line.startswith("【未能办理】") and "过于简单" in line


def test_the_pin_pad_lays_its_digits_out_anew_for_each_entry(seen):
    first, second = seen["order_1"], seen["order_2"]
    assert sorted(first) == sorted(second) and "clear" in first and "confirm" in first
    assert first != second   # 1 in 10! that a fair shuffle repeats

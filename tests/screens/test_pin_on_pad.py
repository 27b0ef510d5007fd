"""The card's PINs on the encrypting PIN pad ([pin_entry] device = "pad", #15): a PIN change
through the screens with every PIN typed on the simulated pad; its dots follow the keys; Cancel
on the pad is told in plain words and the pad asks again."""
from pathlib import Path

import pytest

from simulation import demo
from tests.ui_script import run_ui_script


@pytest.fixture(scope="module")
def seen(pcscd):
    return run_ui_script(Path(__file__).with_name("ui_pin_on_pad.py"), timeout=180)


def test_the_pins_typed_on_the_pad_change_the_cards_pin(seen):
    assert any("密码已修改成功" in line for line in seen["result"]), seen["result"]
    assert seen["card_pin"] == demo.NEW_PIN


def test_the_dots_follow_the_pad_and_cancel_is_told(seen):
    assert seen["dots"].endswith("●●●○○○")
    assert seen["cancelled"] == "您已取消密码输入，本项业务未办理。"

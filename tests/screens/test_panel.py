"""`kiosk demo --panel`: the simulator panel beside the kiosk plays the citizen and the faults;
the card it inserts (card_v3, with a financial application of the [bank] bins' 模拟银行) is
shown on the card-holder screen."""
from pathlib import Path

import pytest

from tests.ui_script import run_ui_script

ACCOUNT = "6219993713000123452"   # card_v3.toml's


@pytest.fixture(scope="module")
def seen(pcscd):
    return run_ui_script(Path(__file__).with_name("ui_panel.py"))


def test_each_panel_switch_acts_on_its_simulator_and_the_kiosk_reacts(seen):
    assert seen["panel_said"] == "已完成：断开网络"


def test_the_card_holder_screen_shows_the_bank_and_the_masked_account_never_the_full_one(seen):
    assert "模拟银行 621999*********3452" in seen["card_holder"], seen["card_holder"]
    assert not any(ACCOUNT in text or ACCOUNT[6:-4] in text for text in seen["card_holder"])

"""1.10.2's bank side through the screens (#15): the pad's prompts on the progress screen and in
the voice, the
account activated with the PIN typed twice on the simulated encrypting pad; Cancel on the pad
is told in plain words and activates nothing."""
from pathlib import Path

import pytest

from tests.ui_script import run_ui_script


@pytest.fixture(scope="module")
def seen(pcscd):
    # SDL's dummy audio driver plays the voice into nothing: what it played is still known.
    return run_ui_script(Path(__file__).with_name("ui_bank.py"), timeout=180, env={"SDL_AUDIODRIVER": "dummy"})


def test_the_account_is_activated_with_the_pin_typed_twice_on_the_pad(seen):
    assert seen["first_prompt"] == "请在密码键盘上输入6位银行交易密码，按确认键结束"
    assert seen["second_prompt"] == "请在密码键盘上再次输入银行交易密码，按确认键结束"
    assert (seen["first_spoken"], seen["second_spoken"]) == ("bank_pin", "bank_pin_again")   # heard, too
    assert any("银行账户已激活" in line for line in seen["activated"]), seen["activated"]
    assert seen["active_accounts"] == 1


def test_cancel_on_the_pad_is_told_and_nothing_more_is_activated(seen):
    assert any("您已取消密码输入" in line for line in seen["cancelled"]), seen["cancelled"]

"""Diagnostics opened with a staff card and its own PIN, on the real screens under Xvfb."""
from pathlib import Path

import pytest

from tests.ui_script import run_ui_script


@pytest.fixture(scope="module")
def seen(pcscd):
    return run_ui_script(Path(__file__).with_name("ui_staff.py"))


def test_the_sign_in_asks_for_the_staff_pin_until_a_staff_card_is_inserted(seen):
    assert seen["before"] == "请输入工作人员密码，或插入工作人员卡"
    assert seen["card_prompt"] == "已读取工作人员卡，请输入该卡的密码"


def test_a_wrong_card_pin_is_refused_and_the_right_one_opens_diagnostics(seen):
    assert seen["wrong"] == "工作人员密码错误"   # and the script then reached diagnostics with the card's PIN


def test_a_fee_waived_with_a_staff_card_lets_the_visit_go_on_and_the_backend_knows_who(seen):
    assert seen["waived"] == "waived"
    assert any("waived" in event and "staff-card:" in event for event in seen["waiver_events"])


def test_a_clone_of_a_staff_card_answering_9000_to_everything_does_not_open_diagnostics(seen):
    assert seen["clone"] == "此卡未通过真伪校验，不能使用。" and seen["clone_screen"] == "staff"

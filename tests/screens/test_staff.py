"""Diagnostics opened with a staff card and its own PIN, on the real screens under Xvfb; its
tiles for a healthy kiosk, then with the receipt printer out of paper and the backend down. A
fee waived by staff on the staff-assisted path, audited."""
import re
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


# What an exception's class name looks like: never on the diagnostics screen.
CLASS_NAME = re.compile(r"[A-Z][a-z]+[A-Z]\w*(Error|Unavailable|Rejected|Exception)")


def test_diagnostics_shows_a_green_tile_for_each_healthy_device(seen):
    levels = seen["healthy_levels"]
    assert {"card_reader", "psam", "receipt_printer", "backend"} <= levels.keys()
    assert levels["receipt_printer"] == levels["backend"] == levels["card_reader"] == levels["psam"] == "ok"
    assert "凭条打印机" in seen["healthy_texts"] and "业务系统" in seen["healthy_texts"]


def test_a_printer_out_of_paper_and_the_backend_down_turn_their_tiles_red_in_plain_words(seen):
    levels, texts = seen["trouble_levels"], seen["trouble_texts"]
    assert levels["receipt_printer"] == "fault" and levels["backend"] == "fault"
    assert levels["card_reader"] == "ok"   # the others stay as they were
    assert "缺纸，请装入新纸卷" in texts and "已用完，请装入新纸卷" in texts   # the tile and the supply
    assert any(text.startswith("无法连接业务系统") for text in texts)
    assert "凭条打印机  缺纸，请装入新纸卷" in seen["trouble_faults"]   # with its time, in the fault history
    assert re.search(r"\d\d:\d\d  业务系统  无法连接业务系统", seen["trouble_faults"])


def test_no_label_on_the_diagnostics_screen_names_an_exception_class(seen):
    for texts in (seen["healthy_texts"], seen["trouble_texts"]):
        assert len(texts) > 20 and not [text for text in texts if CLASS_NAME.search(text)]
        assert not [text for text in texts if "Traceback" in text or " object at 0x" in text]


def test_a_fee_waived_with_a_staff_card_lets_the_visit_go_on_and_the_backend_knows_who(seen):
    assert seen["waived"] == "waived"
    assert any("waived" in event and "staff-card:" in event for event in seen["waiver_events"])


def test_the_staff_path_through_the_screens_is_in_the_visits_audit_trail(seen):
    """The call (its reason) and the staff card that vouched (its digest, never its identifier)."""
    [called, assisted] = seen["staff_audit"]
    assert called[0] == "staff_called" and called[2]["reason"] == "lost_card: fee waiver"
    assert assisted == ["staff_assisted", "done", {"staff_card": seen["staff_card_digest"]}]


def test_a_clone_of_a_staff_card_answering_9000_to_everything_does_not_open_diagnostics(seen):
    assert seen["clone"] == "此卡未通过真伪校验，不能使用。" and seen["clone_screen"] == "staff"

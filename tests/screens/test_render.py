"""Every screen, in Chinese and English, in normal and elder mode, drawn under Xvfb with its
longest real texts: no character drawn as a box (tofu), no label overflowing its box."""
from pathlib import Path

import pytest

from tests.ui_script import run_ui_script


@pytest.fixture(scope="module")
def rendered(pcscd):
    return run_ui_script(Path(__file__).with_name("ui_render.py"), timeout=300)


def test_every_screen_was_drawn_in_both_languages_and_modes(rendered):
    checked = rendered["checked"]
    for screen in ("home", "card_holder", "guide/lost_card", "identify", "face", "staff_assist", "confirm", "pin", "progress",
                   "result", "rating", "staff", "diagnostics", "idle"):
        for combo in ("zh", "zh, elder", "en", "en, elder"):
            assert f"{screen} [{combo}]" in checked
    assert rendered["labels"] > 500


def test_no_text_is_drawn_with_a_font_lacking_its_glyphs(rendered):
    assert rendered["box_seen"], "the tofu check did not recognise a character the font lacks"
    assert not rendered["tofu"], "\n".join(rendered["tofu"])


def test_a_receipt_shown_on_screen_comes_with_its_qr_code(rendered):
    side = rendered["result_qr_size"]
    assert side and side[0] == side[1] and side[0] >= 21 + 8   # version 1 at least, with its quiet zone
    assert rendered["too_long_for_qr"], "a receipt too long for a QR code must leave the text alone on screen"


def test_no_label_overflows_its_box(rendered):
    assert not rendered["overflow"], "\n".join(rendered["overflow"])


def test_no_wrapped_line_starts_with_closing_punctuation(rendered):
    assert not rendered["punctuation"], "\n".join(rendered["punctuation"])

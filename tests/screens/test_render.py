"""Every screen, in Chinese and English, in normal and elder mode, drawn under Xvfb with its
longest real texts: no character drawn as a box (tofu), no label overflowing its box."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def rendered(pcscd):
    assert os.environ.get("DISPLAY"), "./run test starts Xvfb; run the suite through it"
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("ui_render.py"))],
                            capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    found = json.loads(lines[-1])
    assert found["error"] is None and result.returncode == 0, found["error"]
    return found


def test_every_screen_was_drawn_in_both_languages_and_modes(rendered):
    checked = rendered["checked"]
    for screen in ("home", "card_holder", "guide/lost_card", "identify", "confirm", "pin", "progress",
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

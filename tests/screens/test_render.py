"""Every screen, in Chinese and English, in normal and elder mode, drawn under Xvfb with its
longest real texts: no character drawn as a box (tofu), no label overflowing its box."""
from pathlib import Path

import pytest

from tests.ui_script import NO_PCSCD, run_ui_script


@pytest.fixture(scope="module")
def rendered():
    """(Its simulated kiosk has no smart cards: it runs beside the tests that use the vpcd slots,
    and with NO_PCSCD it never connects to the pcscd they stop and start.)"""
    return run_ui_script(Path(__file__).with_name("ui_render.py"), timeout=300, env=NO_PCSCD)


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


def test_the_result_shows_what_to_take_away_with_its_picture(rendered):
    # A card made on the spot, a receipt that could not be printed (it is on screen), no card of
    # the citizen's own in the reader: the new card, then one's documents.
    assert rendered["take_away"] == ["credit_card", "badge"]


def test_no_label_overflows_its_box(rendered):
    assert not rendered["overflow"], "\n".join(rendered["overflow"])


def test_every_line_is_typeset_by_the_rules(rendered):
    """No wrapped line starts with closing punctuation, none holds a lone last character, no
    English word is broken: on every screen, in both languages and both modes."""
    assert not rendered["typesetting"], "\n".join(rendered["typesetting"])


def test_text_is_drawn_only_in_the_type_scale_s_sizes_and_one_weight(rendered):
    """Whole-pixel sizes of the theme's scale, shrunk ones too, never bold: each size and weight
    is a font Kivy opens and keeps (screens/theme.py). Sizes as Kivy names its fonts: 26 and
    26.0 would be two."""
    from screens.theme import TEXT_SIZES
    stray = {size: where for size, where in rendered["text_sizes"].items() if size not in map(str, TEXT_SIZES)}
    assert not stray, stray
    assert len(rendered["text_sizes"]) > 5
    assert not rendered["bold"], rendered["bold"]   # one weight: a bold size is another font opened


def test_the_typesetting_check_catches_what_kivy_alone_would_draw(rendered):
    canaries = rendered["canaries"]
    for rule, fault in (("lone character", "holds one character"), ("broken word", "word is broken"),
                        ("closing mark", "starts with")):
        assert any(fault in f for f in canaries[f"{rule} (Label)"]), (rule, canaries)
        assert not canaries[f"{rule} (KioskLabel)"], (rule, canaries)


def test_every_screen_has_the_header_and_a_visit_its_steps_and_countdown(rendered):
    assert not rendered["headerless"], rendered["headerless"]
    headers = rendered["headers"]
    assert len(headers) >= 4 * 20
    for where, header in headers.items():
        screen = where.split(" [")[0].split("/")[0]
        assert header["hotline"] and header["terminal"], where
        if screen in ("home", "card_holder", "staff", "diagnostics"):
            assert header["steps"] == 0 and not header["countdown"], where
        else:   # the longest service's seven steps, the screen's own lit (the guide comes before them)
            assert header["steps"] == 7, where
            assert (header["current"] == -1) == (screen == "guide"), where
            assert header["countdown"] == (screen != "progress"), where   # a running service has no timeout

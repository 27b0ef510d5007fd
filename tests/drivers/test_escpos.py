"""The ESC/POS encoder, byte for byte, and the layout rules shared with the simulator."""
from __future__ import annotations

import pytest

from drivers import escpos
from drivers.escpos import Align, Page


@pytest.mark.parametrize("command, expected", [
    (escpos.initialize(), "1b 40"),
    (escpos.chinese_mode(True), "1c 26"),
    (escpos.chinese_mode(False), "1c 2e"),
    (escpos.bold(True), "1b 45 01"),
    (escpos.bold(False), "1b 45 00"),
    (escpos.align(Align.LEFT), "1b 61 00"),
    (escpos.align(Align.CENTER), "1b 61 01"),
    (escpos.align(Align.RIGHT), "1b 61 02"),
    (escpos.character_size(1, 1), "1d 21 00"),
    (escpos.character_size(2, 2), "1d 21 11"),
    (escpos.character_size(1, 2), "1d 21 01"),
    (escpos.character_size(8, 8), "1d 21 77"),
    (escpos.line_feed(), "0a"),
    (escpos.feed_lines(3), "1b 64 03"),
    (escpos.partial_cut(), "1d 56 42 00"),
    (escpos.partial_cut(16), "1d 56 42 10"),
    (escpos.status_request(1), "10 04 01"),
    (escpos.status_request(4), "10 04 04"),
])
def test_each_command_is_byte_exact(command, expected):
    assert command.hex(" ") == expected


def test_qr_code_is_model_2_size_level_store_print():
    assert escpos.qr_code("AB12", module_size=5, error_level=escpos.QrErrorLevel.Q).hex(" ") == " ".join([
        "1d 28 6b 04 00 31 41 32 00",         # model 2
        "1d 28 6b 03 00 31 43 05",            # module size 5
        "1d 28 6b 03 00 31 45 32",            # error correction Q
        "1d 28 6b 07 00 31 50 30 41 42 31 32",  # store "AB12": pL = 4 + 3
        "1d 28 6b 03 00 31 51 30",            # print
    ])


def test_long_qr_payload_puts_the_high_byte_in_pH():
    store = escpos.qr_code("x" * 300)[25:]  # after model (9), size (8) and level (8)
    assert store[:7] == bytes([0x1D, 0x28, 0x6B, (303) & 0xFF, 303 >> 8, 0x31, 0x50])


@pytest.mark.parametrize("encoding, expected", [
    ("gb18030", "c9 e7 b1 a3 bf a8 41"),
    ("gbk", "c9 e7 b1 a3 bf a8 41"),
])
def test_chinese_text_in_each_encoding(encoding, expected):
    assert escpos.text("社保卡A", encoding).hex(" ") == expected


def test_gb18030_reaches_characters_gbk_lacks():
    rare = "䶮"  # CJK extension A: four bytes in GB18030, absent from GBK
    assert escpos.text(rare, "gb18030").decode("gb18030") == rare
    assert escpos.text(rare, "gbk") == b"?"


@pytest.mark.parametrize("bad", ["utf-8", "big5", "", "latin1"])
def test_unknown_encoding_is_a_config_error_naming_the_value(bad):
    with pytest.raises(escpos.EscPosConfigError, match="encoding"):
        escpos.check_encoding(bad)


@pytest.mark.parametrize("bad", [57, 0, "80", None])
def test_unknown_paper_width_is_a_config_error(bad):
    with pytest.raises(escpos.EscPosConfigError, match="paper width"):
        Page(bad, "gbk")


def test_encoding_aliases_are_accepted_in_their_normal_form():
    assert escpos.check_encoding("GB18030") == "gb18030"
    assert escpos.check_encoding("cp936") == "gbk"


@pytest.mark.parametrize("call", [
    lambda: escpos.character_size(0, 1), lambda: escpos.character_size(1, 9),
    lambda: escpos.feed_lines(256), lambda: escpos.qr_code(""), lambda: escpos.qr_code("a", module_size=0),
])
def test_out_of_range_parameters_are_refused(call):
    with pytest.raises(escpos.EscPosConfigError):
        call()


def test_text_with_control_bytes_is_refused_so_it_cannot_smuggle_commands():
    with pytest.raises(ValueError):
        escpos.text("abc\x1d\x56\x00", "gbk")


def test_wrap_counts_chinese_as_two_columns_and_never_splits_a_character():
    assert escpos.wrap("社会保障卡ABC", 5) == ["社会", "保障", "卡ABC"]
    assert escpos.wrap("", 32) == [""]


def test_page_sends_style_changes_only_when_they_change():
    page = Page(58, "gbk").line("甲", bold=True).line("乙", bold=True).line("丙").cut()
    assert page.as_escpos().hex(" ") == " ".join([
        "1b 40 1c 26",
        "1b 45 01", "bc d7 0a",   # 甲, bold on
        "d2 d2 0a",               # 乙, still bold: no command repeated
        "1b 45 00", "b1 fb 0a",   # 丙, bold off
        "1d 56 42 00",
    ])


def test_page_text_aligns_to_the_paper_columns():
    page = Page(58, "gbk").line("右", align=Align.RIGHT).line("中", align=Align.CENTER).rule()
    assert page.as_text() == " " * 30 + "右\n" + " " * 15 + "中\n" + "-" * 32 + "\n"


def test_double_width_text_wraps_at_half_the_columns():
    page = Page(58, "gbk").line("一二三四五六七八九", width=2)
    assert [b.text for b in page.blocks] == ["一二三四五六七八", "九"]

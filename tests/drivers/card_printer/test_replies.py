"""The reply parser on its own: any bytes at all give text or a CardPrinterError, never a crash."""
import pytest
from hypothesis import example, given, strategies as st

from drivers.card_printer import (CardPosition, CardPrinterError, CardPrinterFault, CardJam, CoverOpen,
                                  HopperEmpty, MalformedReply, RibbonOut, parse_count, parse_position,
                                  parse_reply, parse_sensor)
from kiosk.device_messages import citizen_message


@given(st.binary(max_size=300))
def test_any_bytes_give_text_or_a_typed_error(raw):
    try:
        text = parse_reply("Rlr", raw)
    except CardPrinterError:
        return
    assert text.isascii() and text.isprintable() and not text.startswith("ERR")


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=100)
       .filter(lambda t: not t.startswith("ERR")))
def test_printable_ascii_comes_back_unchanged(text):
    assert parse_reply("Rlr", text.encode()) == text


@given(st.text(max_size=40))
@example("²")  # a digit to str.isdigit(), not to int(): found by this test in CI
@example("٣,٠٠ Volts")
def test_sensor_count_and_position_parsers_only_raise_malformed(text):
    for parse in (lambda t: parse_sensor("Rse", t), lambda t: parse_count("Rrt", t), parse_position):
        try:
            parse(text)
        except MalformedReply:
            pass


@given(st.integers(0, 99), st.integers(0, 99))
def test_sensor_voltages(volts, hundredths):
    assert parse_sensor("Rse;f", f"{volts},{hundredths:02d} Volts") == (volts + hundredths / 100 >= 1.0)


@pytest.mark.parametrize("state, error", [
    ("DEF_FEEDER_EMPTY", HopperEmpty), ("DEF_RIBBON_ENDED", RibbonOut), ("DEF_NO_RIBBON", RibbonOut),
    ("DEF_COVER_OPEN", CoverOpen), ("ERR_MECHANICAL", CardJam), ("SOMETHING_NEW", CardPrinterFault)])
def test_err_replies_become_typed_errors(state, error):
    with pytest.raises(error) as caught:
        parse_reply("Sis", f"ERR {state}".encode())
    assert type(caught.value) is error and caught.value.state == state
    assert state in str(caught.value) and "Sis" in str(caught.value)
    assert citizen_message(caught.value)


def test_known_positions():
    assert parse_position("SMART CARD") is CardPosition.CONTACT
    assert parse_position("OK") is CardPosition.NONE

"""The APDU layer against the simulated card object itself (no reader needed)."""
import pytest
from hypothesis import given, strategies as st

from drivers.apdu import (ApduChannel, CommandApdu, FileNotFound, MalformedResponse, PinBlocked,
                          ResponseApdu, StatusWordError, VerificationFailed, status_word_error)
from drivers.sim.iso7816 import Command
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from drivers.ssse_records import SSSE_DF_NAME

SELECT = CommandApdu(0x00, 0xA4, 0x04, 0x00, SSSE_DF_NAME)


def test_encoding_of_the_four_cases():
    assert CommandApdu(0x00, 0x84, 0x00, 0x00).encode() == bytes.fromhex("00840000")
    assert CommandApdu(0x00, 0x84, 0x00, 0x00, le=8).encode() == bytes.fromhex("0084000008")
    assert CommandApdu(0x00, 0xA4, 0x02, 0x00, b"\xef\x05").encode() == bytes.fromhex("00A4020002EF05")
    assert CommandApdu(0x00, 0xB2, 0x01, 0x2C, b"\x01", le=0).encode() == bytes.fromhex("00B2012C010100")
    with pytest.raises(ValueError):
        CommandApdu(0x100, 0, 0, 0)
    with pytest.raises(ValueError):
        CommandApdu(0, 0, 0, 0, bytes(256))


def test_status_words_become_typed_errors():
    wrong = status_word_error(0x63C2)   # a PIN or a cryptogram: the card application says which
    assert isinstance(wrong, VerificationFailed) and wrong.tries_left == 2
    assert isinstance(status_word_error(0x6983), PinBlocked)
    assert isinstance(status_word_error(0x6A82), FileNotFound)
    assert type(status_word_error(0x6F00)) is StatusWordError
    with pytest.raises(MalformedResponse):
        ResponseApdu.parse(b"\x90")


def card(**behaviour):
    profile = CardProfile.load("card_v3.toml")
    for key, value in behaviour.items():
        setattr(profile, key, value)
    return SimulatedSocialSecurityCard(profile)


def test_t0_data_comes_through_get_response():
    channel = ApduChannel(card(t0_get_response=True))
    channel.send(SELECT)
    record = channel.send(CommandApdu(0x00, 0xB2, 1, 0x2C, le=0))
    assert record[:2] == b"\x01\x10" and channel.apdu_count == 3


def test_wrong_le_is_retried_with_the_length_the_card_gives():
    channel = ApduChannel(card(strict_le=True))
    channel.send(SELECT)
    record = channel.send(CommandApdu(0x00, 0xB2, 3, 0x2C, le=0))
    assert record == b"\x03\x043.00" and channel.apdu_count == 3


def test_pin_try_counter_counts_down_to_blocked():
    channel = ApduChannel(card())
    channel.send(SELECT)
    verify = CommandApdu(0x00, 0x20, 0x00, 0x00, bytes.fromhex("000000"))
    for tries_left in (5, 4, 3, 2, 1):
        with pytest.raises(VerificationFailed) as raised:
            channel.send(verify)
        assert raised.value.tries_left == tries_left
    with pytest.raises(PinBlocked):
        channel.send(verify)
    with pytest.raises(PinBlocked):
        channel.send(CommandApdu(0x00, 0x20, 0x00, 0x00, bytes.fromhex("147258")))


@given(st.binary(max_size=300))
def test_simulator_answers_any_bytes_with_a_status_word(raw):
    response = card().process_apdu(raw)
    assert len(response) >= 2
    parsed = Command.parse(raw)
    if parsed is not None and len(raw) <= 5 + 255:
        assert parsed.cla == raw[0]

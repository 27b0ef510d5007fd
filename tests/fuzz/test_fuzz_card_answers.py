"""A card (or a reader) that answers anything at all: every answer ends in a typed CardError
or a reading, never another exception and never a hang.

The transport below is a hostile card: each APDU the kiosk sends gets an answer drawn by
hypothesis, from plausible (a real record, 9000, 61xx, 6Cxx) to pure noise.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from drivers.apdu import ApduChannel, CardError, CommandApdu, MalformedResponse, ResponseApdu, StatusWordError, \
    status_word_error
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from drivers.ssse import SocialSecurityCard
from kiosk.device_messages import citizen_message

V2 = CardProfile.load("card_v2.toml")
ANY_TRANSMIT_LIMIT = 1000  # far more APDUs than any real operation needs (a read is ~19)


class CardKeptTalking(AssertionError):
    """The kiosk went on sending APDUs to a card long after any real operation would stop."""


class HostileCard:
    """Answers each APDU with `answer(apdu)`; gives up loudly instead of letting a loop run forever."""

    def __init__(self, answer):
        self.answer = answer
        self.transmits = 0

    def transmit(self, apdu: bytes) -> bytes:
        self.transmits += 1
        if self.transmits > ANY_TRANSMIT_LIMIT:
            raise CardKeptTalking(f"{self.transmits} APDUs sent; the last was {apdu.hex()}")
        return self.answer(apdu)


status_words = st.one_of(
    st.sampled_from([b"\x90\x00", b"\x6a\x82", b"\x6a\x83", b"\x69\x82", b"\x69\x83", b"\x6a\x86", b"\x63\xc2"]),
    st.binary(min_size=2, max_size=2),
    st.builds(lambda n: bytes((0x61, n)), st.integers(0, 255)),
    st.builds(lambda n: bytes((0x6C, n)), st.integers(0, 255)))


def answers(data):
    """A mixture of the genuine card's answer, a corrupted one, and noise, chosen per APDU."""
    genuine = SimulatedSocialSecurityCard(CardProfile.load("card_v2.toml"))

    def answer(apdu: bytes) -> bytes:
        kind = data.draw(st.sampled_from(["genuine", "flipped", "status", "noise"]), label="kind")
        real = genuine.process_apdu(apdu)
        if kind == "genuine":
            return real
        if kind == "flipped":
            position = data.draw(st.integers(0, len(real) - 1), label="position")
            flipped = bytearray(real)
            flipped[position] ^= data.draw(st.integers(1, 255), label="xor")
            return bytes(flipped)
        if kind == "status":
            return data.draw(st.binary(max_size=40), label="data") + data.draw(status_words, label="sw")
        return data.draw(st.binary(max_size=300), label="noise")
    return answer


@given(st.binary(max_size=300))
def test_any_response_parses_or_is_malformed(raw):
    try:
        response = ResponseApdu.parse(raw)
    except MalformedResponse:
        assert len(raw) < 2
        return
    assert response.data + response.sw.to_bytes(2, "big") == raw


@given(st.integers(0, 0xFFFF))
def test_every_status_word_has_a_typed_error_and_words_for_the_citizen(sw):
    error = status_word_error(sw, "READ RECORD")
    assert isinstance(error, StatusWordError) and error.sw == sw
    assert citizen_message(error)
    assert f"{sw:04X}" in str(error) or f"{sw & 0x0F} tries left" in str(error)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_reading_a_hostile_card_gives_a_reading_or_a_card_error(data):
    card = HostileCard(answers(data))
    try:
        reading = SocialSecurityCard(ApduChannel(card), V2.atr, security_module=None).read()
    except CardError:
        return
    # It read: then what it read must be a decodable card, not half of one.
    assert reading.info.card_number and reading.holder.social_security_number


@given(st.integers(0, 255))
def test_a_card_answering_get_response_forever_is_a_card_error_not_a_hang(more_bytes):
    card = HostileCard(lambda apdu: bytes((0x00, 0x61, more_bytes)))
    with pytest.raises(MalformedResponse, match="GET RESPONSE"):
        ApduChannel(card).send(CommandApdu(0x00, 0xB2, 1, 0x2C, le=0))
    assert card.transmits < 100  # a real T=0 card needs at most a handful of GET RESPONSEs

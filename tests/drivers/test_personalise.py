"""Personalising blank cards (instant issuance) for each layout, and what an interrupted write leaves."""
import dataclasses
import datetime

import pytest

from drivers.apdu import ApduChannel
from drivers.apdu import CardRemoved
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from drivers.sim.psam import SimulatedPsam
from drivers.sim.vpcd import CardPulledOut
from drivers.security_module import PsamSecurityModule
from drivers.ssse import NotABlankCard, PersonalisationFailed, SocialSecurityCard
from drivers.ssse_records import CardHolder, CardIdentifier, CardInfo, CardNotPersonalised
from kiosk.card_service import CardService
from kiosk.config import KioskConfig

ENCODER = KioskConfig().readers.card  # vpcd has two slots: the simulated encoder shares slot 0
IDENTIFIER = bytes.fromhex("371300D15600000500000000000A0B0C")


def personalisation(generation: int, name: str = "王小明") -> tuple[CardInfo, CardHolder]:
    info = CardInfo(
        identifier=CardIdentifier(IDENTIFIER), card_type=str(generation), spec_version=f"{generation}.00",
        initialising_org="D15600000537130000000100", issue_date=datetime.date(2026, 11, 26),
        expiry_date=datetime.date(2036, 11, 26), card_number="N00000042")
    holder = CardHolder(social_security_number="37130219900315004X", name=name, sex="1", ethnicity=1,
                        birthplace="371302", birth_date=datetime.date(1990, 3, 15))
    return info, holder


@pytest.mark.parametrize("generation", [1, 2, 3])
def test_blank_personalised_reads_back_equal(card_slot, psam_slot, generation):
    blank = SimulatedSocialSecurityCard(CardProfile.blank(IDENTIFIER, generation))
    card_slot.insert(blank)
    info, holder = personalisation(generation)
    reading = CardService(KioskConfig()).personalise(ENCODER, info, holder)
    assert reading.info == info
    assert reading.holder == holder
    again = CardService(KioskConfig()).read()
    assert again.holder.name == "王小明" and again.info.generation == generation


def test_a_long_name_goes_on_into_the_extension_record(card_slot, psam_slot):
    card_slot.insert(SimulatedSocialSecurityCard(CardProfile.blank(IDENTIFIER, 3)))
    info, holder = personalisation(3, name="阿卜杜热合曼·买买提艾力江·吐尔逊")  # 17 characters, 34 GBK bytes
    reading = CardService(KioskConfig()).personalise(ENCODER, info, holder)
    assert reading.holder.name == holder.name


def test_a_personalised_card_is_not_a_blank(card_slot, psam_slot):
    card_slot.insert_profile("card_v3.toml")
    info, holder = personalisation(3)
    with pytest.raises(NotABlankCard):
        CardService(KioskConfig()).personalise(ENCODER, info, holder)


def test_data_for_another_card_is_refused(card_slot, psam_slot):
    card_slot.insert(SimulatedSocialSecurityCard(CardProfile.blank(bytes.fromhex("371300D156000005FFFFFFFFFFFFFFFF"))))
    info, holder = personalisation(3)
    with pytest.raises(PersonalisationFailed, match="encoder holds"):
        CardService(KioskConfig()).personalise(ENCODER, info, holder)


class PulledCardTransport:
    """A simulated card used directly as the transport, where pulling it out surfaces as
    CardRemoved like it does through pcscd: lets the test stop the write at every APDU."""

    def __init__(self, card):
        self.card = card

    def transmit(self, apdu: bytes) -> bytes:
        try:
            return self.card.process_apdu(apdu)
        except CardPulledOut:
            raise CardRemoved("card pulled out") from None


@pytest.mark.parametrize("processed", [False, True], ids=["pulled-before", "pulled-after"])
def test_interrupted_at_any_apdu_the_card_is_unusable_or_complete(processed):
    info, holder = personalisation(3)
    psam = PsamSecurityModule(ApduChannel(SimulatedPsam()))
    total = None
    stop = 0
    while total is None or stop <= total:
        profile = CardProfile.blank(IDENTIFIER, 3)
        card = SimulatedSocialSecurityCard(profile)
        profile.pull_out_after_apdus, profile.pull_out_after_processing = stop, processed
        channel = ApduChannel(PulledCardTransport(card))
        try:
            SocialSecurityCard(channel, card.atr, psam).personalise(info, holder)
            total = channel.apdu_count
        except CardRemoved:
            profile.pull_out_after_apdus = None
            card.power_on()
            after = SocialSecurityCard(ApduChannel(card), card.atr, psam)
            try:
                reading = after.read()
            except CardNotPersonalised:
                pass  # interrupted before the commit record: unusable, as it must be
            else:  # interrupted after the commit, during the final read-back
                assert dataclasses.astuple(reading.holder) == dataclasses.astuple(holder)
        stop += 1
    assert total > 30

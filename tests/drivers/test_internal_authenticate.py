"""INTERNAL AUTHENTICATE: a card proves it holds its own key, checked by the PSAM or by the
backend's HSM (#13, #15), in the cipher the card declares by its spec version (SM4 on 3.0
cards, 3DES on 2.0 and 1.0). A genuine simulated card passes; a clone of its files, an emulator
that answers 9000 to everything, or a card answering in another cipher than it declares does not."""
from __future__ import annotations

import pytest

from drivers.keyscheme import KEY_INTERNAL_AUTH
from drivers.sim.ssse_card import ClonedCard, another_regions_card
from drivers.ssse import CardNotGenuine
from kiosk.card_service import CardService
from kiosk.config import KioskConfig
from kiosk.backend.hsm import BackendHsmSecurityModule

CARD_ID = "371300D15600000500BF7C7A48FB4966"   # card_v3.toml


@pytest.fixture
def cards(pcscd, psam_slot):
    return CardService(KioskConfig())


def test_a_genuine_card_proves_itself_with_the_psam(cards, card_slot):
    card_slot.insert_profile("card_v3.toml")
    assert cards.prove_genuine().hex == CARD_ID


@pytest.mark.parametrize("profile", ["card_v2.toml", "card_v1.toml"])
def test_an_older_card_proves_itself_in_the_3des_it_declares(cards, card_slot, backend_client, profile):
    card_slot.insert_profile(profile)
    identifier = cards.read().info.identifier
    assert cards.prove_genuine() == identifier   # the PSAM, in 3DES
    hsm = CardService(KioskConfig().changed(security={"module": "hsm"}, readers={"psam": ""}),
                      BackendHsmSecurityModule(backend_client))
    assert hsm.prove_genuine() == identifier     # the backend's HSM, in 3DES


def test_a_card_answering_in_another_cipher_than_it_declares_is_not_genuine(cards, card_slot):
    """EF05 says 2.00 (3DES), the chip answers in SM4 as a 3.0 card does: not a genuine 2.0 card."""
    card_slot.insert_profile("card_v2.toml", generation=3)
    assert cards.read().info.spec_version == "2.00"
    with pytest.raises(CardNotGenuine):
        cards.prove_genuine()


@pytest.mark.parametrize("answer", [b"", bytes(16), bytes(range(16)), b"\x01" * 8],
                         ids=["9000 alone", "zeros", "garbage", "short"])
def test_a_clone_or_an_emulator_does_not(cards, card_slot, answer):
    card_slot.insert(ClonedCard(answer))
    assert cards.read().info.identifier.hex == CARD_ID   # it reads exactly like the original
    with pytest.raises(CardNotGenuine):
        cards.prove_genuine()


def test_the_backend_hsm_checks_the_answer_too(backend_client, pcscd, card_slot):
    card_slot.insert_profile("card_v3.toml")
    cards = CardService(KioskConfig().changed(security={"module": "hsm"}, readers={"psam": ""}),
                        BackendHsmSecurityModule(backend_client))
    assert cards.prove_genuine().hex == CARD_ID
    card_slot.remove()
    card_slot.insert(ClonedCard(bytes(16)))
    with pytest.raises(CardNotGenuine):
        cards.prove_genuine()
    # The HSM checks with the internal-authentication key only.
    assert backend_client.hsm_internal_auth(CARD_ID, bytes(8), bytes(16), KEY_INTERNAL_AUTH, "SM4") is False


def test_a_card_of_another_region_is_served_through_the_backend_hsm(backend_client, pcscd, psam_slot, card_slot):
    from drivers.apdu import AuthenticationFailed
    card_slot.insert(another_regions_card())
    with pytest.raises(AuthenticationFailed):   # the local PSAM holds no key of Shenzhen's cards
        CardService(KioskConfig()).read()
    cards = CardService(KioskConfig().changed(security={"hsm_regions": "440300"}), BackendHsmSecurityModule(backend_client))
    reading = cards.read()   # EF06 after external authentication by the HSM
    assert reading.holder.name == "张三" and reading.info.identifier.region_code == "440300"
    assert cards.prove_genuine() == reading.info.identifier
    assert cards.last_stats.psam_apdus == 0   # the PSAM was not asked
    card_slot.remove()
    card_slot.insert(ClonedCard(bytes(16)))   # a card of the local region still goes to the PSAM
    with pytest.raises(CardNotGenuine):
        cards.prove_genuine()

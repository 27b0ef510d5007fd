"""The card's financial application (#15): the account read through pyscard -> pcscd -> vpcd
-> the simulated card, within the APDU budget, masked everywhere; malformed or hostile data a
typed error; a card without a bank account read as such."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from drivers.apdu import ApduChannel
from drivers.financial import (PBOC_AIDS, BankAccount, FinancialApplication, MalformedFinancialData, NoFinancialApplication,
                               account_of, find_tag, luhn_valid, mask_account, parse_tlv)
from drivers.sim.ssse_card import BankApplication, CardProfile, SimulatedSocialSecurityCard
from kiosk.card_service import CardService, CardSummary, bank_of
from kiosk.config import KioskConfig, parse_bin_table

ACCOUNT = "6219993713000123452"   # card_v3.toml's
CONFIG = KioskConfig()   # a 3.0 card's holder file needs the PSAM; its bank application does not


class Direct:
    """The simulated card without pcscd, for the parser's corner cases."""

    def __init__(self, card):
        self.card = card

    def transmit(self, apdu: bytes) -> bytes:
        return self.card.process_apdu(apdu)


def read_directly(profile: CardProfile) -> BankAccount:
    return FinancialApplication(ApduChannel(Direct(SimulatedSocialSecurityCard(profile)))).read()


@pytest.mark.parametrize("t0", [False, True])
def test_the_account_is_read_in_at_most_eight_apdus_and_shown_masked(card_slot, psam_slot, t0):
    card_slot.insert_profile("card_v3.toml", t0_get_response=t0)
    service = CardService(CONFIG)
    account = service.bank_account()
    assert (account.pan, account.expiry, account.holder_name) == (ACCOUNT, "3403", "ZHANG/SAN")
    assert service.last_stats.card_apdus == (8 if t0 else 4)   # SELECT, GPO, two records (+ GET RESPONSEs)
    assert account.masked == "621999*********3452" and ACCOUNT not in repr(account)
    # The card's social security application still answers after the bank's was selected.
    assert service.read().info.card_number == "M12345678"


def test_a_card_without_a_bank_account_has_none(card_slot):
    card_slot.insert_profile("card_v2.toml")
    assert CardService(CONFIG).bank_account() is None
    with pytest.raises(NoFinancialApplication):
        read_directly(CardProfile.load("card_v2.toml"))


def test_the_screen_names_the_bank_from_the_bin_table_and_masks_the_account(card_slot, psam_slot):
    card_slot.insert_profile("card_v3.toml")
    service = CardService(CONFIG)
    reading, account = service.read(), service.bank_account()
    banks = parse_bin_table("621999=模拟银行, 62199937=模拟银行临沂分行, 622848=另一银行")
    assert bank_of(account, banks) == "模拟银行临沂分行"          # the longest BIN wins
    assert CardSummary.of(reading, account, banks).bank_account == "模拟银行临沂分行 621999*********3452"
    assert CardSummary.of(reading, None, banks).bank_account == "本卡无银行账户"
    assert bank_of(account, {"622848": "另一银行"}) == ""


@pytest.mark.parametrize("table", ["62=短", "621999", "621999=", "62199x=某行"])
def test_a_bin_table_entry_that_is_not_bin_equals_bank_is_refused(table):
    with pytest.raises(ValueError):
        parse_bin_table(table)


def test_an_account_failing_its_luhn_check_is_malformed():
    profile = CardProfile.load("card_v3.toml")
    profile.bank = BankApplication(ACCOUNT[:-1] + "0", "3403")   # past the profile's own check
    with pytest.raises(MalformedFinancialData, match="Luhn") as caught:
        read_directly(profile)
    assert ACCOUNT[:-1] not in str(caught.value)


@pytest.mark.parametrize("answer, message", [
    (bytes.fromhex("7706820200009402"), "says 2 bytes"),                  # AFL cut short
    (bytes.fromhex("770982027C00940308010300"), "AFL is 3"),              # an AFL of 3 bytes
    (bytes.fromhex("770A82020000940400010100"), "is not SFI"),            # SFI 0
    (bytes.fromhex("770A820200009404F8010100"), "is not SFI"),            # SFI 31
    (bytes.fromhex("770A8202000094040801FF00"), "lists 255"),             # far more records than an application has
    (bytes.fromhex("6F00"), "neither format"),
])
def test_a_hostile_processing_options_answer_is_malformed(answer, message):
    with pytest.raises(MalformedFinancialData, match=message):
        FinancialApplication._afl(answer)


def test_tlv_with_two_byte_tags_long_lengths_and_padding():
    data = bytes.fromhex("70 81 0B 5F24 03 341231 00 FF 5A 01 12".replace(" ", ""))
    assert find_tag(data, 0x5F24) == bytes.fromhex("341231") and find_tag(data, 0x5A) == b"\x12"
    assert [t.tag for t in parse_tlv(data)] == [0x70]


@given(st.binary(max_size=64))
def test_garbage_is_malformed_data_never_a_crash(data):
    try:
        account_of([data], b"")
    except MalformedFinancialData:
        pass


def test_luhn_and_masking():
    assert luhn_valid(ACCOUNT) and not luhn_valid(ACCOUNT[:-1] + "0") and not luhn_valid("12345")
    assert mask_account(ACCOUNT) == "621999*********3452" and mask_account("1234") == "****"


class DirectoryFirst(SimulatedSocialSecurityCard):
    """A card that answers its debit AID only once it was found in the 1PAY.SYS.DDF01 directory
    (a card whose AID the kiosk did not guess), and a directory record that is `directory`."""

    def __init__(self, directory: bytes):
        super().__init__(CardProfile.load("card_v3.toml"))
        self.directory, self.listed = directory, False

    def select(self, command):
        if command.data == b"1PAY.SYS.DDF01":
            self.current, self.listed = "PSE", True
            return bytes.fromhex("6F08840131A503880101") + b"\x90\x00"   # its FCI: the directory in SFI 1
        if command.data == PBOC_AIDS[0] and not self.listed:
            return b"\x6a\x82"
        return super().select(command)

    def read_record(self, command):
        if self.current == "PSE":
            return (self.directory if command.p1 == 1 else b"") + (b"\x90\x00" if command.p1 == 1 else b"\x6a\x83")
        return super().read_record(command)


def test_an_application_found_in_the_directory_is_read():
    entry = b"\x61\x0a\x4f\x08" + PBOC_AIDS[0]
    card = DirectoryFirst(b"\x70" + bytes((len(entry),)) + entry)
    assert FinancialApplication(ApduChannel(Direct(card))).read().pan == ACCOUNT


def test_a_broken_directory_record_is_malformed_data():
    with pytest.raises(MalformedFinancialData, match="70 template"):
        FinancialApplication(ApduChannel(Direct(DirectoryFirst(b"\x61\x00")))).read()

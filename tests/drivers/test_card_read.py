"""Reading each kind of card through pyscard -> pcscd -> vpcd -> the simulated card."""
import dataclasses
import datetime
import threading

import pytest

from drivers.apdu import AuthenticationFailed, OperationCancelled
from drivers.apdu import CardRemoved, NoCardPresent
from drivers.pcsc import ReaderUnavailable
from drivers.security_module import SecurityModuleRequired
from drivers.sim.psam import SimulatedPsam
from drivers.sim.ssse_card import CardProfile
from drivers.ssse import NotSocialSecurityCard
from drivers.ssse_records import MalformedRecord
from kiosk.card_service import CardService
from kiosk.config import KioskConfig, SecuritySection

CONFIG = KioskConfig()
NO_PSAM = dataclasses.replace(CONFIG, security=SecuritySection(module="none"))


def test_3_0_card_reads_with_external_authentication_through_the_psam(card_slot, psam_slot):
    card_slot.insert_profile("card_v3.toml")
    service = CardService(CONFIG)
    reading = service.read()
    assert reading.info.generation == 3
    assert reading.info.card_number == "M12345678"
    assert reading.info.identifier.hex == "371300D15600000500BF7C7A48FB4966"
    assert reading.info.issue_date == datetime.date(2024, 3, 15)
    assert reading.holder.name == "张三"
    assert reading.holder.social_security_number == "371302198001011239"
    assert reading.holder.masked_social_security_number == "3713**********1239"
    assert reading.holder.birth_date == datetime.date(1980, 1, 1)
    assert reading.holder.birthplace == "371302"
    # select + 7 EF05 records + challenge + external auth + 7 EF06 records; 2 on the PSAM
    assert (service.last_stats.card_apdus, service.last_stats.psam_apdus) == (17, 2)


def test_2_0_card_on_t0_reads_through_get_response_without_a_psam(card_slot):
    card_slot.insert_profile("card_v2.toml")
    service = CardService(NO_PSAM)
    reading = service.read()
    assert reading.info.generation == 2
    assert reading.holder.name == "欧阳娜娜"
    assert reading.holder.sex == "2"
    assert service.last_stats.card_apdus > 17  # every answer came through GET RESPONSE


def test_1_0_card_without_name_extension_with_strict_le_and_mf_first(card_slot):
    card = card_slot.insert_profile("card_v1.toml")
    reading = CardService(NO_PSAM).read()
    assert reading.info.spec_version == "1.00"
    assert reading.holder.name == "李四"
    assert reading.holder.ethnicity == 4
    assert reading.holder.birthplace == "6301"
    assert len(card.profile.ef06) == 6


def test_card_that_only_reads_records_by_tag(card_slot, psam_slot):
    card_slot.insert_profile("card_v3.toml", records_by_number=False)
    reading = CardService(CONFIG).read()
    assert reading.holder.name == "张三"


def test_ireadcardbas_line_has_the_national_layout(card_slot):
    card_slot.insert_profile("card_v1.toml")
    service = CardService(NO_PSAM)
    line = service.ireadcardbas(service.read())
    assert line == ("639900|630104198101011118|X00000019|639900D15600000500BF7C7A48FB4966|李四|"
                    "80318065B0872701BC83089000|1.00|20101001|20201001|KIOSK-0001|371300-0001|")


def test_3_0_card_without_security_module_is_refused_clearly(card_slot):
    card_slot.insert_profile("card_v3.toml")
    with pytest.raises(SecurityModuleRequired):
        CardService(NO_PSAM).read()


def test_3_0_card_with_psam_reader_empty_is_refused_clearly(card_slot):
    card_slot.insert_profile("card_v3.toml")
    with pytest.raises(SecurityModuleRequired, match="PSAM"):
        CardService(CONFIG).read()


def test_card_personalised_under_another_key_fails_authentication(card_slot, psam_slot):
    profile = CardProfile.load("card_v3.toml")
    profile.master_keys[1] = bytes(16)
    card_slot.insert_profile(profile)
    with pytest.raises(AuthenticationFailed):
        CardService(CONFIG).read()


def test_a_card_without_the_application_is_not_a_social_security_card(card_slot):
    card_slot.insert(SimulatedPsam())
    with pytest.raises(NotSocialSecurityCard):
        CardService(NO_PSAM).read()


@pytest.mark.parametrize("after", [0, 1, 5, 9])
def test_card_pulled_out_between_apdus_gives_card_removed(card_slot, psam_slot, after):
    card_slot.insert_profile("card_v3.toml", pull_out_after_apdus=after)
    with pytest.raises(CardRemoved):
        CardService(CONFIG).read()


def test_malformed_record_on_the_card_is_a_typed_error(card_slot):
    profile = CardProfile.load("card_v2.toml")
    profile.ef06[1] = bytes.fromhex("0905FFFEFDFC")   # length 5, 4 bytes: cut short
    card_slot.insert_profile(profile)
    with pytest.raises(MalformedRecord, match="length says 5"):
        CardService(NO_PSAM).read()


def test_no_card_and_unknown_reader(pcscd):
    with pytest.raises(NoCardPresent):
        CardService(NO_PSAM).read()
    other = dataclasses.replace(NO_PSAM, readers=dataclasses.replace(NO_PSAM.readers, card="No Such Reader"))
    with pytest.raises(ReaderUnavailable, match="No Such Reader"):
        CardService(other).read()


def test_a_cancelled_read_stops_before_the_next_apdu(card_slot):
    card_slot.insert_profile("card_v2.toml")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(OperationCancelled):
        CardService(NO_PSAM).read(cancel)

"""The GA 467 ID card reader against the simulated reader, over a real pty through pyserial."""
from __future__ import annotations

import dataclasses
import datetime
import time

import pytest
from hypothesis import given, settings, strategies as st

from drivers import id_card_reader as ga467
from drivers.id_card_reader import (
    FrameChecksumError, FrameError, IdCardDataInvalid, IdCardExpired, IdCardNotFound, IdCardReadFailed,
    IdCardReader, IdReaderConfigError, IdReaderNotResponding, IdReaderUnavailable, IdDocument)
from drivers.sim.id_card_reader import DEMO_FOREIGNER, DEMO_HMT_RESIDENT, DEMO_PERSON, IdReaderProfile, ProfileError
from kiosk.device_messages import citizen_message
from tests.conftest import READ_TIMEOUT

TODAY = datetime.date(2026, 11, 26)


def read_reply(person: IdDocument = DEMO_PERSON) -> bytes:
    text = ga467.encode_text(person)
    return ga467.encode_reply(0x90, b"\x01\x00\x04\x00" + text + person.photo_wlt)


# --- frames ---------------------------------------------------------------------------------

def test_command_frames_are_byte_exact():
    assert ga467.encode_command(ga467.CMD_FIND_CARD).hex(" ") == "aa aa aa 96 69 00 03 20 01 22"
    assert ga467.encode_command(ga467.CMD_SELECT_CARD).hex(" ") == "aa aa aa 96 69 00 03 20 02 21"
    assert ga467.encode_command(ga467.CMD_READ_TEXT_PHOTO).hex(" ") == "aa aa aa 96 69 00 03 30 01 32"


def test_full_read_reply_decodes():
    frame = read_reply()
    assert len(frame) == 7 + 0x0508 and frame[5:7] == b"\x05\x08"
    reply = ga467.decode_reply(frame)
    assert (reply.sw1, reply.sw2, reply.sw3) == (0, 0, 0x90)
    person = ga467.decode_text(reply.data[4:260], reply.data[260:])
    assert person == DEMO_PERSON


@settings(max_examples=300)
@given(st.data())
def test_every_corrupted_byte_after_the_preamble_is_rejected(data):
    frame = read_reply()
    position = data.draw(st.integers(min_value=5, max_value=len(frame) - 1), label="position")
    flip = data.draw(st.integers(min_value=1, max_value=255), label="xor")
    corrupted = bytearray(frame)
    corrupted[position] ^= flip
    with pytest.raises(FrameError):  # FrameChecksumError, or FrameError when the length byte was hit
        ga467.decode_reply(bytes(corrupted))


def test_each_body_byte_corrupted_in_turn_is_a_checksum_error():
    frame = read_reply()
    for position in range(7, len(frame)):
        corrupted = bytearray(frame)
        corrupted[position] ^= 0x01
        with pytest.raises(FrameChecksumError):
            ga467.decode_reply(bytes(corrupted))


@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_pass_as_a_frame_by_accident(junk):
    try:
        body = ga467.decode_frame(junk)
    except FrameError:
        return
    assert ga467.encode_frame(body) == junk  # only a genuine frame is accepted


@given(st.binary(min_size=3, max_size=40))
def test_any_body_survives_framing(body):
    assert ga467.decode_frame(ga467.encode_frame(body)) == body


# --- the text ---------------------------------------------------------------------------------

@pytest.mark.parametrize("first17, digit", [
    ("11010519491231002", "X"), ("44030419851012567", "2"), ("37130219900307123", "X")])
def test_gb11643_check_digit(first17, digit):
    assert ga467.id_check_digit(first17) == digit
    assert ga467.id_number_valid(first17 + digit)


@given(st.from_regex(r"[0-9]{17}", fullmatch=True), st.sampled_from("0123456789X"))
def test_exactly_one_check_digit_is_valid(first17, digit):
    assert ga467.id_number_valid(first17 + digit) == (digit == ga467.id_check_digit(first17))


def test_long_term_validity_decodes_to_none():
    person = dataclasses.replace(DEMO_PERSON, valid_to=None)
    decoded = ga467.decode_text(ga467.encode_text(person))
    assert decoded.valid_to is None and not decoded.expired(datetime.date(2099, 1, 1))


@pytest.mark.parametrize("change, message", [
    ({"id_number": "371302199003071231"}, "check digit"),
    ({"id_number": "37130219900308123X"[:17] + ga467.id_check_digit("37130219900308123")}, "disagree"),
    ({"sex": "5"}, "sex"),
    ({"ethnicity": 77}, "ethnicity"),
    ({"name": ""}, "name"),
])
def test_inconsistent_text_is_refused_naming_the_field_not_the_value(change, message):
    text = ga467.encode_text(dataclasses.replace(DEMO_PERSON, **change))
    with pytest.raises(IdCardDataInvalid, match=message) as caught:
        ga467.decode_text(text)
    assert DEMO_PERSON.id_number[6:14] not in str(caught.value)


@pytest.mark.parametrize("person", [DEMO_PERSON, DEMO_HMT_RESIDENT, DEMO_FOREIGNER], ids=lambda p: p.document)
def test_each_document_round_trips_through_its_layout(person):
    text = ga467.encode_text(person)
    assert ga467.document_type(text) == person.document
    assert ga467.decode_text(text, person.photo_wlt) == person


def with_type(person: IdDocument, kind: str) -> bytes:
    text = bytearray(ga467.encode_text(person))
    text[ga467.TYPE_OFFSET:ga467.TYPE_OFFSET + 2] = kind.encode("utf-16-le")
    return bytes(text)


def test_a_2023_foreign_permanent_residence_card_is_refused_by_name():
    with pytest.raises(ga467.UnsupportedDocument, match="2023") as caught:
        ga467.decode_text(with_type(DEMO_FOREIGNER, "Y"))
    assert "暂不能识别此证件" in citizen_message(caught.value)


def test_an_unknown_document_type_is_invalid_data():
    with pytest.raises(IdCardDataInvalid, match="document type 'Z'"):
        ga467.decode_text(with_type(DEMO_PERSON, "Z"))


@pytest.mark.parametrize("person, change, message", [
    (DEMO_HMT_RESIDENT, {"id_number": DEMO_PERSON.id_number, "birth_date": DEMO_PERSON.birth_date}, "81, 82 or 83"),
    (DEMO_HMT_RESIDENT, {"pass_number": "H6012"}, "pass number"),
    (DEMO_HMT_RESIDENT, {"name": ""}, "name"),
    (DEMO_FOREIGNER, {"id_number": "US3100850612011"}, "permanent residence number"),
    (DEMO_FOREIGNER, {"nationality": "usa"}, "nationality"),
    (DEMO_FOREIGNER, {"english_name": ""}, "English name"),
    (DEMO_FOREIGNER, {"issuing_authority": "15A0"}, "authority code"),
])
def test_an_inconsistent_permit_or_foreigner_card_is_refused_naming_the_field(person, change, message):
    with pytest.raises(IdCardDataInvalid, match=message) as caught:
        ga467.decode_text(ga467.encode_text(dataclasses.replace(person, **change)))
    assert person.id_number not in str(caught.value)


@given(st.binary(min_size=256, max_size=256))
def test_garbage_text_is_invalid_data_never_a_crash(text):
    try:
        ga467.decode_text(text)
    except IdCardDataInvalid:
        pass


def test_repr_masks_the_id_number_and_hides_the_rest():
    shown = repr(DEMO_PERSON)
    assert "3713**********123X" in shown
    for secret in (DEMO_PERSON.id_number, DEMO_PERSON.name, DEMO_PERSON.address[:6]):
        assert secret not in shown


# --- through the wire -------------------------------------------------------------------------

def test_reads_the_card(idreader):
    person = idreader.read(TODAY)
    assert person == DEMO_PERSON
    assert (person.sex_name, person.ethnicity_name) == ("男", "汉")


@pytest.mark.parametrize("person", [DEMO_HMT_RESIDENT, DEMO_FOREIGNER], ids=lambda p: p.document)
def test_reads_a_residence_permit_and_a_permanent_residence_card(idreader_sim, idreader, person):
    idreader_sim.update(person=person)
    read = idreader.read(TODAY)
    assert read == person and read.ethnicity is None and read.ethnicity_name == ""
    assert person.id_number not in repr(read) and str(person.document) in repr(read)


def test_status_and_sam_id(idreader):
    idreader.reset()
    idreader.check_status()
    assert idreader.sam_id() == "0501000020101010000000011234ABCD"


def test_no_card(idreader_sim, idreader):
    idreader_sim.update(person=None)
    with pytest.raises(IdCardNotFound) as caught:
        idreader.read(TODAY)
    assert "身份证" in citizen_message(caught.value)


def test_expired_card(idreader_sim, idreader):
    idreader_sim.update(person=dataclasses.replace(DEMO_PERSON, valid_to=datetime.date(2026, 11, 25)))
    with pytest.raises(IdCardExpired, match="2026-11-25"):
        idreader.read(TODAY)


def test_card_valid_through_its_last_day(idreader_sim, idreader):
    idreader_sim.update(person=dataclasses.replace(DEMO_PERSON, valid_to=TODAY))
    assert idreader.read(TODAY).valid_to == TODAY


@pytest.mark.parametrize("failure", [{"select_fails": True}, {"read_fails": True}])
def test_select_or_read_failure(idreader_sim, idreader, failure):
    idreader_sim.update(**failure)
    with pytest.raises(IdCardReadFailed):
        idreader.read(TODAY)


def test_a_corrupted_reply_is_retried(idreader_sim, idreader):
    idreader_sim.update(corrupt_replies=2)
    assert idreader.read(TODAY) == DEMO_PERSON


def test_a_line_that_keeps_corrupting_fails_with_a_checksum_error(idreader_sim, idreader):
    idreader_sim.update(corrupt_replies=3)  # one more than the retries
    with pytest.raises(FrameChecksumError):
        idreader.read(TODAY)


def test_a_truncated_reply_is_retried_within_the_timeout(idreader_sim, idreader):
    idreader_sim.update(truncate_replies=1)
    started = time.monotonic()
    assert idreader.read(TODAY) == DEMO_PERSON
    assert time.monotonic() - started < 2 * READ_TIMEOUT + 1.0


def test_slow_reader_within_the_timeout_still_reads(idreader_sim, idreader):
    idreader_sim.update(reply_delay_s=READ_TIMEOUT / 3)
    assert idreader.read(TODAY) == DEMO_PERSON


def test_silent_reader_fails_within_the_read_timeout(idreader_sim, idreader):
    idreader_sim.taking_data.clear()
    started = time.monotonic()
    with pytest.raises(IdReaderNotResponding):
        idreader.read(TODAY)
    assert time.monotonic() - started < READ_TIMEOUT + 0.5


def test_garbage_on_the_line_before_a_reply_is_skipped(idreader_sim, idreader):
    real_send = idreader_sim.send
    idreader_sim.send = lambda reply: real_send(b"\x00\xaa\x13" + reply)
    assert idreader.read(TODAY) == DEMO_PERSON


def test_reader_that_rejects_our_frames_is_a_frame_error(idreader_sim, idreader):
    real_send = idreader_sim.send
    idreader_sim.send = lambda reply: real_send(ga467.encode_reply(0x10))
    with pytest.raises(FrameError, match="checksum error"):
        idreader.read(TODAY)


def test_simulator_answers_a_broken_command_frame_with_sw3_10(idreader_sim):
    import serial
    with serial.Serial(idreader_sim.path, 115200, timeout=1, write_timeout=1) as port:
        frame = bytearray(ga467.encode_command(ga467.CMD_FIND_CARD))
        frame[-1] ^= 0xFF
        port.write(frame)
        assert ga467.decode_reply(port.read(11)).sw3 == 0x10
        port.write(ga467.encode_command((0x77, 0x77)))
        assert ga467.decode_reply(port.read(11)).sw3 == 0x21


# --- settings and profiles ------------------------------------------------------------------

@pytest.mark.parametrize("setting, message", [
    ({"baudrate": 1200}, "baud rate"), ({"retries": -1}, "retries"), ({"read_timeout": 0}, "read timeout")])
def test_bad_settings_are_refused(idreader_sim, setting, message):
    with pytest.raises(IdReaderConfigError, match=message):
        IdCardReader(idreader_sim.path, **setting)


def test_missing_port(tmp_path):
    with pytest.raises(IdReaderUnavailable, match="cannot be opened"):
        IdCardReader(str(tmp_path / "ttyS9"))


def test_profile_from_toml(tmp_path):
    path = tmp_path / "person.toml"
    path.write_text("""
[person]
name = "王芳"
sex = "2"
ethnicity = 3
birth_date = "19491231"
address = "北京市西城区"
id_number = "11010519491231002X"
issuing_authority = "北京市公安局西城分局"
valid_from = "20100101"
valid_to = "长期"
[behaviour]
corrupt_replies = 1
""", encoding="utf-8")
    profile = IdReaderProfile.load(str(path))
    assert profile.person.valid_to is None and profile.person.ethnicity == 3 and profile.corrupt_replies == 1


def test_a_permanent_residence_card_profile_from_toml(tmp_path):
    path = tmp_path / "foreigner.toml"
    path.write_text("""
[person]
document = "foreign_permanent_resident"
name = "史密斯"
english_name = "SMITH, JOHN"
sex = "1"
nationality = "USA"
birth_date = "19850612"
id_number = "USA310085061201"
issuing_authority = "1500"
card_version = "01"
valid_from = "20210301"
valid_to = "20310301"
""", encoding="utf-8")
    assert IdReaderProfile.load(str(path)).person == DEMO_FOREIGNER


@pytest.mark.parametrize("toml, message", [
    ("[person]\ndocument = \"passport\"\nname = \"王芳\"\n", "passport"),
    ("[behaviour]\nsleepy = true\n", "unknown key"),
    ("[behaviour]\nreply_delay_s = -1.0\n", "non-negative"),
    ("[person]\nname = \"王芳\"\n", "missing"),
    ("not toml [", "bad.toml"),
])
def test_bad_profiles_are_refused(tmp_path, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ProfileError, match=message):
        IdReaderProfile.load(str(path))

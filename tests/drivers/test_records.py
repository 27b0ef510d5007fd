"""The record parser: every malformed record is a MalformedRecord, never a crash."""
import datetime

import pytest
from hypothesis import given, strategies as st

from drivers.sim.ssse_card import CardProfile
from drivers.ssse_records import (MalformedRecord, atr_historical_bytes, decode_card_holder,
                                  decode_card_info, encode_simple_tlv, parse_simple_tlv)

V3 = CardProfile.load("card_v3.toml")
V1 = CardProfile.load("card_v1.toml")


def test_records_decode_in_any_order():
    assert decode_card_holder(list(reversed(V3.ef06))).name == "张三"
    assert decode_card_info(V3.ef05[::-1]).expiry_date == datetime.date(2034, 3, 15)


def test_simple_tlv_long_length_and_padding():
    value = bytes(300)
    assert parse_simple_tlv(encode_simple_tlv(0x42, value)) == (0x42, value)
    assert parse_simple_tlv(bytes.fromhex("07024142000000")) == (0x07, b"AB")


@pytest.mark.parametrize("record, message", [
    (b"\x09", "too short"),
    (bytes.fromhex("0005414243"), "invalid SIMPLE-TLV tag 00"),
    (bytes.fromhex("FF0141"), "invalid SIMPLE-TLV tag FF"),
    (bytes.fromhex("090A4142"), "length says 10"),
    (bytes.fromhex("0902414243"), "unexpected bytes"),
    (bytes.fromhex("09FF00"), "cut short"),
])
def test_broken_tlv(record, message):
    with pytest.raises(MalformedRecord, match=message):
        parse_simple_tlv(record)


def holder_with(index, record):
    records = list(V3.ef06)
    records[index] = record
    return records


@pytest.mark.parametrize("records, message", [
    (holder_with(1, encode_simple_tlv(0x09, b"\xff\xfe\x81\x20")), "not GBK"),
    (holder_with(1, encode_simple_tlv(0x09, bytes(30))), "name .* is empty"),
    (holder_with(6, encode_simple_tlv(0x0D, bytes.fromhex("19801A01"))), "not BCD"),
    (holder_with(6, encode_simple_tlv(0x0D, bytes.fromhex("19801301"))), "not a calendar date"),
    (holder_with(6, encode_simple_tlv(0x0D, bytes.fromhex("198001"))), "3 bytes, expected 4"),
    (holder_with(0, encode_simple_tlv(0x08, b"3713021980")), "not 18"),
    (holder_with(3, encode_simple_tlv(0x0A, b"7")), "sex code"),
    (holder_with(4, encode_simple_tlv(0x0B, b"\x63")), "ethnicity code 99"),
    (holder_with(5, encode_simple_tlv(0x0C, bytes.fromhex("37AB02"))), "birthplace is not BCD"),
    (holder_with(2, encode_simple_tlv(0x55, b"x")), "unexpected tag 55"),
    (holder_with(2, V3.ef06[1]), "tag 09 twice"),
    (V3.ef06[:-1], "no birth date"),
])
def test_malformed_holder_records(records, message):
    with pytest.raises(MalformedRecord, match=message):
        decode_card_holder(records)


def test_malformed_card_records():
    records = list(V3.ef05)
    records[0] = encode_simple_tlv(0x01, bytes(15))
    with pytest.raises(MalformedRecord, match="card identifier .* 15 bytes"):
        decode_card_info(records)
    records = list(V3.ef05)
    records[2] = encode_simple_tlv(0x03, b"9.00")
    with pytest.raises(MalformedRecord, match="spec version"):
        decode_card_info(records)


def test_1_0_holder_has_no_name_extension():
    assert decode_card_holder(V1.ef06).name == "李四"


@given(st.lists(st.binary(max_size=40), max_size=9))
def test_any_bytes_decode_or_raise_malformed_record(records):
    for decode in (decode_card_holder, decode_card_info):
        try:
            decode(records)
        except MalformedRecord:
            pass


@given(st.integers(0, 6), st.binary(max_size=34))
def test_any_single_corrupted_holder_record_is_handled(index, junk):
    try:
        holder = decode_card_holder(holder_with(index, junk))
    except MalformedRecord:
        return
    assert holder.social_security_number  # it decoded because the junk was itself a valid record


@given(st.binary(max_size=40))
def test_atr_parser_never_crashes(atr):
    try:
        atr_historical_bytes(atr)
    except MalformedRecord:
        pass


def test_atr_historical_bytes():
    # 3B 6D 00 00: TA1 absent... T0=6D: TB1, TC1 present, 13 historical bytes
    atr = bytes.fromhex("3B6D000080318065B0872701BC83089000")
    assert atr_historical_bytes(atr).hex().upper() == "80318065B0872701BC83089000"
    assert atr_historical_bytes(bytes.fromhex("3B8F8001804F0CA000000306030001000000006A"))[:2] == b"\x80\x4f"

"""Decoding the social security card's records (EF05 card data, EF06 holder data).

Pure functions over bytes, so every way a record can be malformed is tested without a card.
Each record is one SIMPLE-TLV: tag (1 byte), length (1 byte, or FF + 2 bytes), value.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from drivers.apdu import CardError

SSSE_DF_NAME = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")  # "sx1.sh.社会保障" in GBK
RID = bytes.fromhex("D156000005")


class MalformedRecord(CardError):
    """A record that does not decode: wrong length, bad tag, non-GBK text, bad BCD."""



class CardNotPersonalised(MalformedRecord):
    """A blank, or a card whose personalisation never completed: it must not be used."""



# Tags of EF05 (card data) and EF06 (holder data), DOMAIN.md section 2.
TAG_CARD_IDENTIFIER = 0x01
TAG_CARD_TYPE = 0x02
TAG_SPEC_VERSION = 0x03
TAG_INITIALISING_ORG = 0x04
TAG_ISSUE_DATE = 0x05
TAG_EXPIRY_DATE = 0x06
TAG_CARD_NUMBER = 0x07
TAG_SOCIAL_SECURITY_NUMBER = 0x08
TAG_NAME = 0x09
TAG_NAME_EXTENSION = 0x4E
TAG_SEX = 0x0A
TAG_ETHNICITY = 0x0B
TAG_BIRTHPLACE = 0x0C
TAG_BIRTH_DATE = 0x0D

EF05_TAGS = (TAG_CARD_IDENTIFIER, TAG_CARD_TYPE, TAG_SPEC_VERSION, TAG_INITIALISING_ORG,
             TAG_ISSUE_DATE, TAG_EXPIRY_DATE, TAG_CARD_NUMBER)
EF06_TAGS = (TAG_SOCIAL_SECURITY_NUMBER, TAG_NAME, TAG_NAME_EXTENSION, TAG_SEX, TAG_ETHNICITY,
             TAG_BIRTHPLACE, TAG_BIRTH_DATE)
OPTIONAL_TAGS = {TAG_NAME_EXTENSION}  # 1.0 cards have no 4E record

# Value sizes of the fixed-length records (DOMAIN.md section 2); UPDATE RECORD writes whole records.
VALUE_SIZES = {
    TAG_CARD_IDENTIFIER: 16, TAG_CARD_TYPE: 1, TAG_SPEC_VERSION: 4, TAG_INITIALISING_ORG: 12,
    TAG_ISSUE_DATE: 4, TAG_EXPIRY_DATE: 4, TAG_CARD_NUMBER: 9,
    TAG_SOCIAL_SECURITY_NUMBER: 18, TAG_NAME: 30, TAG_NAME_EXTENSION: 20, TAG_SEX: 1,
    TAG_ETHNICITY: 1, TAG_BIRTHPLACE: 3, TAG_BIRTH_DATE: 4,
}


def ef06_tags(generation: int) -> tuple[int, ...]:
    """EF06's records in order: 1.0 cards have no name extension, so the rest shift by one."""
    return EF06_TAGS if generation >= 2 else tuple(t for t in EF06_TAGS if t != TAG_NAME_EXTENSION)


def blank_record(tag: int) -> bytes:
    """An unwritten record as a blank card holds it: all FF, the record's full size."""
    return b"\xff" * (2 + VALUE_SIZES[tag])

TAG_NAMES = {
    TAG_CARD_IDENTIFIER: "card identifier", TAG_CARD_TYPE: "card type",
    TAG_SPEC_VERSION: "spec version", TAG_INITIALISING_ORG: "initialising organisation",
    TAG_ISSUE_DATE: "issue date", TAG_EXPIRY_DATE: "expiry date", TAG_CARD_NUMBER: "card number",
    TAG_SOCIAL_SECURITY_NUMBER: "social security number", TAG_NAME: "name",
    TAG_NAME_EXTENSION: "name extension", TAG_SEX: "sex", TAG_ETHNICITY: "ethnicity",
    TAG_BIRTHPLACE: "birthplace", TAG_BIRTH_DATE: "birth date",
}

# GB 3304: 01..56 are the nationalities; 97 other, 98 naturalised foreign-born.
_ETHNICITY_CODES = set(range(1, 57)) | {97, 98}
# GB/T 2261.1: 0 unknown, 1 male, 2 female, 9 not stated.
_SEX_CODES = {"0", "1", "2", "9"}


def parse_simple_tlv(record: bytes) -> tuple[int, bytes]:
    """The (tag, value) of a record holding one SIMPLE-TLV; trailing 00/FF padding is allowed."""
    if len(record) < 2:
        raise MalformedRecord(f"record of {len(record)} bytes is too short for a TLV")
    tag = record[0]
    if tag in (0x00, 0xFF):
        raise MalformedRecord(f"invalid SIMPLE-TLV tag {tag:02X}")
    if record[1] == 0xFF:
        if len(record) < 4:
            raise MalformedRecord(f"tag {tag:02X}: three-byte length is cut short")
        length, start = int.from_bytes(record[2:4], "big"), 4
    else:
        length, start = record[1], 2
    value = record[start:start + length]
    if len(value) != length:
        raise MalformedRecord(f"tag {tag:02X}: length says {length} bytes, record holds {len(value)}")
    padding = record[start + length:]
    if padding.strip(b"\x00") and padding.strip(b"\xff"):
        raise MalformedRecord(f"tag {tag:02X}: {len(padding)} unexpected bytes after the value")
    return tag, bytes(value)


def _expect_length(tag: int, value: bytes, *lengths: int) -> None:
    if len(value) not in lengths:
        want = " or ".join(str(n) for n in lengths)
        raise MalformedRecord(f"{TAG_NAMES[tag]} (tag {tag:02X}) is {len(value)} bytes, expected {want}")


def decode_bcd_digits(value: bytes, what: str, allow_f_padding: bool = False) -> str:
    digits = value.hex().upper()
    if allow_f_padding:
        digits = digits.rstrip("F")
    if not digits.isdigit():
        raise MalformedRecord(f"{what} is not BCD: {value.hex().upper()}")
    return digits


def decode_bcd_date(tag: int, value: bytes) -> datetime.date:
    _expect_length(tag, value, 4)
    digits = decode_bcd_digits(value, TAG_NAMES[tag])
    try:
        return datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise MalformedRecord(f"{TAG_NAMES[tag]} {digits} is not a calendar date") from None


def decode_ascii(tag: int, value: bytes) -> str:
    text = value.rstrip(b"\x00 ")
    if not text or not all(0x20 < b < 0x7F for b in text):
        raise MalformedRecord(f"{TAG_NAMES[tag]} (tag {tag:02X}) is not printable ASCII")
    return text.decode("ascii")


def decode_gbk(tag: int, value: bytes, required: bool = True) -> str:
    text = value.rstrip(b"\x00").rstrip(b"\xff")
    try:
        decoded = text.decode("gbk").strip()
    except UnicodeDecodeError:
        raise MalformedRecord(f"{TAG_NAMES[tag]} (tag {tag:02X}) is not GBK text") from None
    if required and not decoded:
        raise MalformedRecord(f"{TAG_NAMES[tag]} (tag {tag:02X}) is empty")
    if any(not ch.isprintable() for ch in decoded):
        raise MalformedRecord(f"{TAG_NAMES[tag]} (tag {tag:02X}) holds control characters")
    return decoded


@dataclass(frozen=True)
class CardIdentifier:
    """卡识别码: 16 bytes = region code (3 bytes BCD) + RID D156000005 + 8-byte serial."""

    raw: bytes

    @classmethod
    def decode(cls, value: bytes) -> "CardIdentifier":
        _expect_length(TAG_CARD_IDENTIFIER, value, 16)
        decode_bcd_digits(value[:3], "card identifier region code")
        return cls(bytes(value))

    @property
    def region_code(self) -> str:
        return self.raw[:3].hex()

    @property
    def hex(self) -> str:
        return self.raw.hex().upper()

    def __str__(self) -> str:
        return self.hex


@dataclass(frozen=True)
class CardInfo:
    """EF05: what the card is. Nothing here is personal data."""

    identifier: CardIdentifier
    card_type: str
    spec_version: str
    initialising_org: str
    issue_date: datetime.date
    expiry_date: datetime.date
    card_number: str

    @property
    def generation(self) -> int:
        """1, 2 or 3, from the spec version ("1.00", "2.00", "3.00")."""
        return generation_of(self.spec_version)


@dataclass(frozen=True)
class CardHolder:
    """EF06: who the card belongs to. Personal data: kept out of repr so it never reaches a log."""

    social_security_number: str = field(repr=False)
    name: str = field(repr=False)
    sex: str = field(repr=False)
    ethnicity: int = field(repr=False)
    birthplace: str = field(repr=False)
    birth_date: datetime.date = field(repr=False)

    @property
    def masked_social_security_number(self) -> str:
        return mask_id_number(self.social_security_number)


def mask_id_number(number: str) -> str:
    """`3713**********1234`: the first four and last four characters only."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def _records_by_tag(records: list[bytes], wanted: tuple[int, ...], file: str) -> dict[int, bytes]:
    values: dict[int, bytes] = {}
    for number, record in enumerate(records, 1):
        if record and record == b"\xff" * len(record):
            raise CardNotPersonalised(f"{file} record {number} is blank")
        tag, value = parse_simple_tlv(record)
        if tag not in wanted:
            raise MalformedRecord(f"{file} holds an unexpected tag {tag:02X}")
        if tag in values:
            raise MalformedRecord(f"{file} holds tag {tag:02X} twice")
        values[tag] = value
    for tag in wanted:
        if tag not in values and tag not in OPTIONAL_TAGS:
            raise MalformedRecord(f"{file} has no {TAG_NAMES[tag]} (tag {tag:02X})")
    return values


def decode_spec_version(value: bytes) -> str:
    """EF05's spec version ("1.00", "2.00", "3.00"): the card's generation, and so its layout and
    the cipher of its keys."""
    version = decode_ascii(TAG_SPEC_VERSION, value)
    if version[:1] not in ("1", "2", "3") or version[1:2] != ".":
        raise MalformedRecord(f"spec version {version!r} is not 1.x, 2.x or 3.x")
    return version


def generation_of(spec_version: str) -> int:
    return int(spec_version.split(".")[0])


def decode_card_info(records: list[bytes]) -> CardInfo:
    """EF05 from its records, in whatever order the card keeps them."""
    v = _records_by_tag(records, EF05_TAGS, "EF05")
    version = decode_spec_version(v[TAG_SPEC_VERSION])
    _expect_length(TAG_CARD_TYPE, v[TAG_CARD_TYPE], 1)
    card_type = v[TAG_CARD_TYPE]
    return CardInfo(
        identifier=CardIdentifier.decode(v[TAG_CARD_IDENTIFIER]),
        card_type=chr(card_type[0]) if 0x20 < card_type[0] < 0x7F else card_type.hex().upper(),
        spec_version=version,
        initialising_org=v[TAG_INITIALISING_ORG].hex().upper(),
        issue_date=decode_bcd_date(TAG_ISSUE_DATE, v[TAG_ISSUE_DATE]),
        expiry_date=decode_bcd_date(TAG_EXPIRY_DATE, v[TAG_EXPIRY_DATE]),
        card_number=decode_ascii(TAG_CARD_NUMBER, v[TAG_CARD_NUMBER]),
    )


def decode_card_holder(records: list[bytes]) -> CardHolder:
    """EF06 from its records; a 1.0 card has no 4E (name extension) record."""
    v = _records_by_tag(records, EF06_TAGS, "EF06")
    ssn = decode_ascii(TAG_SOCIAL_SECURITY_NUMBER, v[TAG_SOCIAL_SECURITY_NUMBER])
    if len(ssn) != 18 or not ssn.isalnum():
        raise MalformedRecord("social security number is not 18 letters and digits")
    name = decode_gbk(TAG_NAME, v[TAG_NAME])
    if TAG_NAME_EXTENSION in v:
        # The extension holds the rest of a name too long for the 30-byte record.
        name += decode_gbk(TAG_NAME_EXTENSION, v[TAG_NAME_EXTENSION], required=False)
    _expect_length(TAG_SEX, v[TAG_SEX], 1)
    sex = chr(v[TAG_SEX][0])
    if sex not in _SEX_CODES:
        raise MalformedRecord(f"sex code {v[TAG_SEX].hex().upper()} is not one of GB/T 2261.1")
    _expect_length(TAG_ETHNICITY, v[TAG_ETHNICITY], 1)
    ethnicity = v[TAG_ETHNICITY][0]
    if ethnicity not in _ETHNICITY_CODES:
        raise MalformedRecord(f"ethnicity code {ethnicity} is not one of GB 3304")
    _expect_length(TAG_BIRTHPLACE, v[TAG_BIRTHPLACE], 3)
    return CardHolder(
        social_security_number=ssn,
        name=name,
        sex=sex,
        ethnicity=ethnicity,
        birthplace=decode_bcd_digits(v[TAG_BIRTHPLACE], "birthplace", allow_f_padding=True),
        birth_date=decode_bcd_date(TAG_BIRTH_DATE, v[TAG_BIRTH_DATE]),
    )


def atr_historical_bytes(atr: bytes) -> bytes:
    """The historical bytes of an ISO 7816-3 ATR (T0's low nibble gives their count)."""
    if len(atr) < 2:
        raise MalformedRecord(f"ATR of {len(atr)} bytes is too short")
    count = atr[1] & 0x0F
    position, indicator = 1, atr[1]
    while True:
        # Each interface-byte group is announced by the high nibble of the previous TD byte.
        present = [indicator & bit for bit in (0x10, 0x20, 0x40, 0x80)]
        position += sum(1 for p in present if p)
        if not present[3]:
            break
        if position >= len(atr):
            raise MalformedRecord("ATR interface bytes are cut short")
        indicator = atr[position]
    historical = atr[position + 1:position + 1 + count]
    if len(historical) != count:
        raise MalformedRecord("ATR historical bytes are cut short")
    return historical


def _fixed(tag: int, value: bytes) -> bytes:
    size = VALUE_SIZES[tag]
    if len(value) > size:
        raise ValueError(f"{TAG_NAMES[tag]} needs {len(value)} bytes, the record holds {size}")
    return encode_simple_tlv(tag, value.ljust(size, b"\0"))


def _bcd(digits: str, size: int) -> bytes:
    if not digits.isdigit() or len(digits) > size * 2:
        raise ValueError(f"{digits!r} is not at most {size * 2} digits")
    return bytes.fromhex(digits.ljust(size * 2, "F"))


def _split_gbk_name(name: str, first_size: int) -> tuple[bytes, bytes]:
    """The name's GBK bytes cut at a character boundary: what fits the name record, the rest."""
    head = b""
    for i, ch in enumerate(name):
        encoded = ch.encode("gbk")
        if len(head) + len(encoded) > first_size:
            return head, name[i:].encode("gbk")
        head += encoded
    return head, b""


def encode_card_info(info: CardInfo) -> list[bytes]:
    """EF05's records for personalisation: the inverse of decode_card_info."""
    card_type = (info.card_type.encode("ascii") if len(info.card_type) == 1
                 else bytes.fromhex(info.card_type))
    return [
        _fixed(TAG_CARD_IDENTIFIER, info.identifier.raw),
        _fixed(TAG_CARD_TYPE, card_type),
        _fixed(TAG_SPEC_VERSION, info.spec_version.encode("ascii")),
        _fixed(TAG_INITIALISING_ORG, bytes.fromhex(info.initialising_org)),
        _fixed(TAG_ISSUE_DATE, bytes.fromhex(info.issue_date.strftime("%Y%m%d"))),
        _fixed(TAG_EXPIRY_DATE, bytes.fromhex(info.expiry_date.strftime("%Y%m%d"))),
        _fixed(TAG_CARD_NUMBER, info.card_number.encode("ascii")),
    ]


def encode_card_holder(holder: CardHolder, generation: int) -> list[bytes]:
    """EF06's records for a card of `generation`: the inverse of decode_card_holder."""
    name, extension = _split_gbk_name(holder.name, VALUE_SIZES[TAG_NAME])
    if extension and generation < 2:
        raise ValueError("the name is longer than a 1.0 card's name record")
    records = [
        _fixed(TAG_SOCIAL_SECURITY_NUMBER, holder.social_security_number.encode("ascii")),
        _fixed(TAG_NAME, name),
    ]
    if generation >= 2:
        records.append(_fixed(TAG_NAME_EXTENSION, extension))
    return records + [
        _fixed(TAG_SEX, holder.sex.encode("ascii")),
        _fixed(TAG_ETHNICITY, bytes((holder.ethnicity,))),
        _fixed(TAG_BIRTHPLACE, _bcd(holder.birthplace, VALUE_SIZES[TAG_BIRTHPLACE])),
        _fixed(TAG_BIRTH_DATE, bytes.fromhex(holder.birth_date.strftime("%Y%m%d"))),
    ]


def encode_simple_tlv(tag: int, value: bytes) -> bytes:
    """The inverse of parse_simple_tlv, for the simulator and for personalisation."""
    if len(value) < 0xFF:
        return bytes((tag, len(value))) + value
    return bytes((tag, 0xFF)) + len(value).to_bytes(2, "big") + value

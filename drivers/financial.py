"""The card's financial application (金融社保卡: a PBOC/UnionPay debit application on the same
chip as the social security application), read on the existing APDU channel (#15).

    SELECT the debit AID (or, on a card without it, the directory 1PAY.SYS.DDF01 and the first
    PBOC application it lists) -> GET PROCESSING OPTIONS with the data its PDOL asks for ->
    READ RECORD of every record the AFL lists -> the account (PAN, tag 5A or the track 2
    equivalent 57), its expiry (5F24) and the holder's name (5F20)

Records are BER-TLV. A PAN must pass its Luhn check. The account number is personal data: it
stays out of repr, and `BankAccount.masked` keeps the first six and last four digits only.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field

from drivers.apdu import ApduChannel, CardError, CommandApdu, FileNotFound, MalformedResponse, RecordNotFound

PBOC_AIDS = (bytes.fromhex("A000000333010101"),   # debit (借记), the one a social security card carries
             bytes.fromhex("A000000333010102"),   # credit
             bytes.fromhex("A000000333010103"))   # quasi-credit
PSE = b"1PAY.SYS.DDF01"
MAX_RECORDS = 16   # an AFL naming more is broken or hostile: a debit application has a handful

TAG_SFI, TAG_PDOL = 0x88, 0x9F38
TAG_DIRECTORY_ENTRY, TAG_AID = 0x61, 0x4F
TAG_GPO_FORMAT_1, TAG_GPO_FORMAT_2, TAG_AFL = 0x80, 0x77, 0x94
TAG_RECORD, TAG_PAN, TAG_TRACK_2, TAG_EXPIRY, TAG_HOLDER_NAME = 0x70, 0x5A, 0x57, 0x5F24, 0x5F20


class NoFinancialApplication(CardError):
    """The card has no PBOC application: a social security card without a bank account."""


class MalformedFinancialData(MalformedResponse):
    """A TLV, AFL or account the card returned that does not parse; says what, never the digits."""


# --- BER-TLV ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes = field(repr=False)

    @property
    def constructed(self) -> bool:
        first = self.tag.to_bytes((self.tag.bit_length() + 7) // 8 or 1, "big")[0]
        return bool(first & 0x20)


def parse_tlv(data: bytes) -> list[Tlv]:
    """The TLV objects of `data`, in order (padding 00/FF between them skipped)."""
    objects, i = [], 0
    while i < len(data):
        if data[i] in (0x00, 0xFF):
            i += 1
            continue
        tag, i = data[i], i + 1
        if tag & 0x1F == 0x1F:                       # the tag goes on while bit 8 is set
            while True:
                if i >= len(data):
                    raise MalformedFinancialData("a TLV tag runs past the end of the data")
                tag, i = (tag << 8) | data[i], i + 1
                if not data[i - 1] & 0x80:
                    break
                if tag > 0xFFFFFF:
                    raise MalformedFinancialData("a TLV tag is longer than three bytes")
        if i >= len(data):
            raise MalformedFinancialData(f"TLV {tag:X} has no length")
        length, i = data[i], i + 1
        if length & 0x80:
            count = length & 0x7F
            if not 1 <= count <= 2 or i + count > len(data):
                raise MalformedFinancialData(f"TLV {tag:X} has a length of {count} bytes")
            length, i = int.from_bytes(data[i:i + count], "big"), i + count
        if i + length > len(data):
            raise MalformedFinancialData(f"TLV {tag:X} says {length} bytes, {len(data) - i} follow")
        objects.append(Tlv(tag, data[i:i + length]))
        i += length
    return objects


def find_tag(data: bytes, tag: int) -> bytes | None:
    """The value of the first `tag` in `data`, looking inside constructed objects."""
    for obj in parse_tlv(data):
        if obj.tag == tag:
            return obj.value
        if obj.constructed:
            found = find_tag(obj.value, tag)
            if found is not None:
                return found
    return None


def parse_dol(dol: bytes) -> list[tuple[int, int]]:
    """A data object list: (tag, length) pairs, no values."""
    entries, i = [], 0
    while i < len(dol):
        tag, i = dol[i], i + 1
        if tag & 0x1F == 0x1F:
            if i >= len(dol):
                raise MalformedFinancialData("a DOL tag runs past its end")
            tag, i = (tag << 8) | dol[i], i + 1
        if i >= len(dol):
            raise MalformedFinancialData(f"DOL entry {tag:X} has no length")
        entries.append((tag, dol[i]))
        i += 1
    return entries


# --- the account ----------------------------------------------------------------------------

def luhn_valid(digits: str) -> bool:
    if not (digits.isascii() and digits.isdigit()) or len(digits) < 12:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def mask_account(pan: str) -> str:
    """`6234561234567890123` -> `623456*********0123`: the bank (BIN) and the last four."""
    if len(pan) <= 10:
        return "*" * len(pan)
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


@dataclass(frozen=True)
class BankAccount:
    pan: str = field(repr=False)
    expiry: str                                   # YYMM, as the card's track 2 has it
    holder_name: str = field(repr=False, default="")
    aid: bytes = PBOC_AIDS[0]

    @property
    def masked(self) -> str:
        return mask_account(self.pan)

    @property
    def bin(self) -> str:
        """The first six digits: which bank issued the account."""
        return self.pan[:6]

    def __repr__(self) -> str:
        return f"BankAccount({self.masked}, expiry={self.expiry}, aid={self.aid.hex().upper()})"


def _bcd_digits(value: bytes) -> str:
    return value.hex().upper().rstrip("F")


def account_of(records: list[bytes], aid: bytes) -> BankAccount:
    """The account in the application's records (5A, or the track 2 equivalent 57)."""
    values: dict[int, bytes] = {}
    for record in records:
        template = parse_tlv(record)
        if not template or template[0].tag != TAG_RECORD:
            raise MalformedFinancialData("a record is not a 70 template")
        for obj in parse_tlv(template[0].value):
            values.setdefault(obj.tag, obj.value)
    track_2 = _bcd_digits(values[TAG_TRACK_2]) if TAG_TRACK_2 in values else ""
    pan = _bcd_digits(values[TAG_PAN]) if TAG_PAN in values else track_2.partition("D")[0]
    if not luhn_valid(pan):
        raise MalformedFinancialData("the account number is missing or fails its Luhn check")
    if TAG_EXPIRY in values:
        expiry = values[TAG_EXPIRY].hex()[:4]
    elif "D" in track_2:
        expiry = track_2.partition("D")[2][:4]
    else:
        raise MalformedFinancialData("the account has no expiry date")
    if not (expiry.isdigit() and 1 <= int(expiry[2:]) <= 12):
        raise MalformedFinancialData("the account's expiry is not YYMM")
    try:
        name = values.get(TAG_HOLDER_NAME, b"").decode("ascii").strip()
    except UnicodeDecodeError:
        raise MalformedFinancialData("the holder name is not ASCII") from None
    return BankAccount(pan, expiry, name, aid)


# --- the application ------------------------------------------------------------------------

def _terminal_data(tag: int, length: int, today: datetime.date) -> bytes:
    """What a kiosk answers a PDOL with: it does no payment, so amounts are zero."""
    known = {0x9F1A: bytes.fromhex("0156"), 0x5F2A: bytes.fromhex("0156"),   # China, CNY
             0x9A: bytes.fromhex(today.strftime("%y%m%d")), 0x9C: b"\x00",
             0x9F37: os.urandom(4), 0x9F66: bytes.fromhex("46000000")}
    value = known.get(tag, b"")
    return value[:length].rjust(length, b"\x00") if len(value) != length else value


class FinancialApplication:
    def __init__(self, channel: ApduChannel, today: datetime.date | None = None):
        self.channel = channel
        self.today = today or datetime.date.today()

    def _select(self, name: bytes) -> bytes:
        return self.channel.send(CommandApdu(0x00, 0xA4, 0x04, 0x00, name, le=0, name=f"SELECT {name.hex().upper()}"))

    def _select_application(self) -> tuple[bytes, bytes]:
        """(AID, FCI): the debit AID straight away, else the first PBOC entry of the directory."""
        try:
            return PBOC_AIDS[0], self._select(PBOC_AIDS[0])
        except FileNotFound:
            pass
        try:
            sfi = find_tag(self._select(PSE), TAG_SFI)
        except FileNotFound:
            raise NoFinancialApplication("the card has no PBOC debit application and no 1PAY.SYS.DDF01") from None
        if sfi is None or len(sfi) != 1:
            raise MalformedFinancialData("the directory's FCI names no SFI")
        for number in range(1, MAX_RECORDS + 1):
            try:
                record = self._read_record(sfi[0], number)
            except RecordNotFound:
                break
            template = parse_tlv(record)
            if not template or template[0].tag != TAG_RECORD:
                raise MalformedFinancialData("a directory record is not a 70 template")
            for entry in parse_tlv(template[0].value):
                aid = find_tag(entry.value, TAG_AID) if entry.tag == TAG_DIRECTORY_ENTRY else None
                if aid in PBOC_AIDS:
                    return aid, self._select(aid)
        raise NoFinancialApplication("the card's directory lists no PBOC application")

    def _read_record(self, sfi: int, number: int) -> bytes:
        return self.channel.send(CommandApdu(0x00, 0xB2, number, (sfi << 3) | 0x04, le=0,
                                             name=f"READ RECORD {sfi}.{number}"))

    def read(self) -> BankAccount:
        aid, fci = self._select_application()
        pdol = find_tag(fci, TAG_PDOL) or b""
        data = b"".join(_terminal_data(tag, length, self.today) for tag, length in parse_dol(pdol))
        answer = self.channel.send(CommandApdu(0x80, 0xA8, 0x00, 0x00, bytes((0x83, len(data))) + data, le=0,
                                               name="GET PROCESSING OPTIONS"))
        records = [self._read_record(sfi, number) for sfi, number in self._afl(answer)]
        return account_of(records, aid)

    @staticmethod
    def _afl(answer: bytes) -> list[tuple[int, int]]:
        """(SFI, record) for every record the Application File Locator lists."""
        objects = parse_tlv(answer)
        if not objects or objects[0].tag not in (TAG_GPO_FORMAT_1, TAG_GPO_FORMAT_2):
            raise MalformedFinancialData("GET PROCESSING OPTIONS answered neither format 1 nor 2")
        afl = objects[0].value[2:] if objects[0].tag == TAG_GPO_FORMAT_1 else find_tag(answer, TAG_AFL) or b""
        if not afl or len(afl) % 4:
            raise MalformedFinancialData(f"the AFL is {len(afl)} bytes, not a multiple of 4")
        wanted = []
        for i in range(0, len(afl), 4):
            sfi, first, last = afl[i] >> 3, afl[i + 1], afl[i + 2]
            if not 1 <= sfi <= 30 or not 1 <= first <= last:
                raise MalformedFinancialData(f"AFL entry {afl[i:i + 4].hex().upper()} is not SFI, first, last")
            wanted += [(sfi, number) for number in range(first, last + 1)]
        if len(wanted) > MAX_RECORDS:
            raise MalformedFinancialData(f"the AFL lists {len(wanted)} records")
        return wanted

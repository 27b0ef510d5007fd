"""The resident ID card (二代身份证) reader on RS-232, GA 467 frames.

Frame: preamble `AA AA AA 96 69`, a 2-byte big-endian length counting everything after it,
then (command) CMD PARA data, or (reply) SW1 SW2 SW3 data, then a checksum: the XOR of every
byte after the preamble. A visit reads the card with find (`20 01`), select (`20 02`) and
read text + photo (`30 01`); the text is 256 bytes of UCS-2LE in fixed fields, decoded here
into an `IdDocument`.

The same readers read three documents, told apart by the type character at text offset 248
(#14): the resident ID card (a space there), the Hong Kong/Macao/Taiwan residents' residence
permit (`J`, the resident layout with a pass number and an issue count at the end, and an
18-character number with a GB 11643 check digit) and the foreigner's permanent residence ID
card of 2017 (`I`, its own layout). The 2023 version of the latter (`Y`) is refused with
`UnsupportedDocument`: its chip layout is not published, and a guessed one would misread it.

Broken frames (checksum, length, truncation, the reader's own frame-error status) are retried
a few times; a reader that stays silent fails within its read timeout. Nothing personal is
logged, and `IdDocument`'s repr shows the ID number masked.
"""
from __future__ import annotations

import datetime
import enum
import logging
import re
import time
from dataclasses import dataclass, field
from functools import reduce
from zoneinfo import ZoneInfo

import serial

from drivers.serial_port import SerialSettingError, open_port
from drivers.ssse_records import mask_id_number

log = logging.getLogger(__name__)

PREAMBLE = bytes.fromhex("AAAAAA9669")

CMD_RESET = (0x10, 0xFF)
CMD_STATUS = (0x11, 0xFF)
CMD_SAM_ID = (0x12, 0xFF)
CMD_FIND_CARD = (0x20, 0x01)
CMD_SELECT_CARD = (0x20, 0x02)
CMD_READ_TEXT_PHOTO = (0x30, 0x01)

SW3_OK, SW3_FOUND = 0x90, 0x9F
SW3_NO_CARD, SW3_SELECT_FAILED, SW3_READ_FAILED = 0x80, 0x81, 0x41
# The reader did not understand our frame: checksum, length, unknown command.
SW3_FRAME_ERRORS = {0x10: "checksum error", 0x11: "length error", 0x21: "unknown command"}

TEXT_BYTES, PHOTO_BYTES = 256, 1024
TYPE_OFFSET = 248   # the document type, one UCS-2LE character
MAX_FRAME_LENGTH = 0x0508 + 16  # the text+photo reply, with room for readers that add a little
_MAX_GARBAGE_BEFORE_PREAMBLE = 64



class Document(enum.StrEnum):
    RESIDENT_ID = "resident_id"                                  # 居民身份证
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit"                # 港澳台居民居住证
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident"    # 外国人永久居留身份证 (2017)


DOCUMENT_TYPES = {" ": Document.RESIDENT_ID, "\x00": Document.RESIDENT_ID, "J": Document.HMT_RESIDENCE_PERMIT,
                  "I": Document.FOREIGN_PERMANENT_RESIDENT}
UNSUPPORTED_TYPES = {"Y": "a 2023 foreign permanent residence ID card (type Y), whose chip layout is not published"}

# (field, bytes) in the 256-byte text of each document, UCS-2LE, space padded.
TEXT_LAYOUTS = {
    Document.RESIDENT_ID: (
        ("name", 30), ("sex", 2), ("ethnicity", 4), ("birth_date", 16), ("address", 70), ("id_number", 36),
        ("issuing_authority", 30), ("valid_from", 16), ("valid_to", 16), ("reserved", 28), ("type", 2),
        ("reserved_end", 6)),
    Document.HMT_RESIDENCE_PERMIT: (
        ("name", 30), ("sex", 2), ("reserved", 4), ("birth_date", 16), ("address", 70), ("id_number", 36),
        ("issuing_authority", 30), ("valid_from", 16), ("valid_to", 16), ("pass_number", 18),
        ("issue_count", 4), ("reserved_more", 6), ("type", 2), ("reserved_end", 6)),
    Document.FOREIGN_PERMANENT_RESIDENT: (
        ("english_name", 120), ("sex", 2), ("id_number", 30), ("nationality", 6), ("name", 30),
        ("valid_from", 16), ("valid_to", 16), ("birth_date", 16), ("card_version", 4), ("authority_code", 8),
        ("type", 2), ("reserved_end", 6)),
}
TYPE_CHARACTERS = {Document.RESIDENT_ID: " ", Document.HMT_RESIDENCE_PERMIT: "J",
                   Document.FOREIGN_PERMANENT_RESIDENT: "I"}
HMT_PREFIXES = {"81": "香港", "82": "澳门", "83": "台湾"}   # the permit number's first two digits
PERMANENT_RESIDENCE_NUMBER = re.compile(r"[A-Z]{3}[0-9]{12}")   # 2017: nationality, then 12 digits
PASS_NUMBER = re.compile(r"[A-Z]?[0-9]{8,10}")                  # 港澳/台湾 通行证 number
NATIONALITY = re.compile(r"[A-Z]{3}")                           # ISO 3166-1 alpha-3
LONG_TERM = "长期"
# Validity dates on the card are Beijing dates, whatever time zone the kiosk's clock is set to.
CARD_TIME_ZONE = ZoneInfo("Asia/Shanghai")

SEXES = {"0": "未知", "1": "男", "2": "女", "9": "未说明"}  # GB/T 2261.1
ETHNICITIES = dict(enumerate((  # GB 3304, codes 01..56, plus 97 and 98
    "汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白",
    "土家", "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西",
    "景颇", "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌",
    "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔",
    "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺"), start=1))
ETHNICITIES.update({97: "其他", 98: "外国血统中国籍人士"})


class IdCardError(Exception):
    """Anything that stopped reading the ID card; str() is for staff."""



class IdReaderConfigError(IdCardError, ValueError):
    """A reader setting (baud rate, timeout, retries) that cannot be used."""


class IdReaderUnavailable(IdCardError):
    pass


class IdReaderNotResponding(IdReaderUnavailable):
    """Nothing came back within the read timeout."""


class FrameError(IdCardError):
    """A reply that is not a well-formed frame: no preamble, bad length, truncated."""


class FrameChecksumError(FrameError):
    """A reply whose XOR checksum does not match: a byte was corrupted on the line."""


class IdReaderStatusError(IdCardError):
    """The reader answered with a status this command does not expect."""

    def __init__(self, sw3: int, command: str):
        self.sw3 = sw3
        super().__init__(f"ID card reader answered SW3={sw3:02X} to {command}")


class IdCardNotFound(IdCardError):
    pass


class IdCardReadFailed(IdCardError):
    pass


class IdCardDataInvalid(IdCardError):
    """The card's text does not decode into a valid identity (bad field, check digit...)."""


class UnsupportedDocument(IdCardDataInvalid):
    """A document the reader read but this kiosk cannot decode; str() names the document."""



class IdCardExpired(IdCardError):

    def __init__(self, valid_to: datetime.date):
        self.valid_to = valid_to
        super().__init__(f"resident ID card expired on {valid_to.isoformat()}")


# --- frames ---------------------------------------------------------------------------------

def checksum(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def encode_frame(body: bytes) -> bytes:
    """Preamble, length, body, checksum. `body` is CMD PARA data or SW1 SW2 SW3 data."""
    head = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + head + body + bytes([checksum(head + body)])


def decode_frame(frame: bytes) -> bytes:
    """The body of one complete frame; FrameError / FrameChecksumError if it is not one."""
    if frame[:5] != PREAMBLE:
        raise FrameError(f"frame does not start with the preamble: {frame[:5].hex(' ')}")
    if len(frame) < 8:
        raise FrameError(f"frame of {len(frame)} bytes is too short")
    length = int.from_bytes(frame[5:7], "big")
    if length != len(frame) - 7:
        raise FrameError(f"frame says {length} bytes follow the length, {len(frame) - 7} do")
    if checksum(frame[5:-1]) != frame[-1]:
        raise FrameChecksumError(f"frame checksum {frame[-1]:02X}, computed {checksum(frame[5:-1]):02X}")
    return frame[7:-1]


def encode_command(command: tuple[int, int], data: bytes = b"") -> bytes:
    return encode_frame(bytes(command) + data)


def encode_reply(sw3: int, data: bytes = b"") -> bytes:
    return encode_frame(bytes([0x00, 0x00, sw3]) + data)


@dataclass(frozen=True)
class Reply:
    sw1: int
    sw2: int
    sw3: int
    data: bytes


def decode_reply(frame: bytes) -> Reply:
    body = decode_frame(frame)
    if len(body) < 3:
        raise FrameError(f"reply of {len(body)} bytes has no status")
    return Reply(body[0], body[1], body[2], body[3:])


# --- the identity ---------------------------------------------------------------------------

def id_check_digit(first17: str) -> str:
    """GB 11643-1999: weights 2^(17-i) mod 11, sum mod 11 mapped through 1 0 X 9 8 7 6 5 4 3 2."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights))
    return "10X98765432"[total % 11]


def id_number_valid(number: str) -> bool:
    return (len(number) == 18 and number[:17].isdigit() and number[:17].isascii()
            and number[17] == id_check_digit(number[:17]))


@dataclass(frozen=True)
class IdDocument:
    """What the identity document says. Personal data: kept out of repr, never logged.
    `sex` and `ethnicity` are codes (GB/T 2261.1, GB 3304) like the social security card's;
    `id_number` is the document's number (for a foreigner, the permanent residence number)."""

    name: str = field(repr=False)            # the Chinese name (a foreigner's card may have none)
    sex: str = field(repr=False)
    ethnicity: int | None = field(repr=False)    # None: the document records none (J, I)
    birth_date: datetime.date = field(repr=False)
    address: str = field(repr=False)
    id_number: str = field(repr=False)
    issuing_authority: str = field(repr=False)   # for a foreigner's card, the authority's code
    valid_from: datetime.date
    valid_to: datetime.date | None  # None: 长期 (valid for life)
    photo_wlt: bytes = field(repr=False, default=b"")  # compressed; decoding needs the vendor library
    document: Document = Document.RESIDENT_ID
    english_name: str = field(repr=False, default="")     # I
    nationality: str = field(repr=False, default="")      # I: ISO 3166-1 alpha-3
    pass_number: str = field(repr=False, default="")      # J: the 通行证 number
    issue_count: int | None = field(repr=False, default=None)   # J: how many permits were issued
    card_version: str = field(repr=False, default="")     # I

    def __repr__(self) -> str:
        return (f"IdDocument(document={self.document!s}, id_number={mask_id_number(self.id_number)!r}, "
                f"valid_from={self.valid_from}, valid_to={self.valid_to or LONG_TERM})")

    @property
    def sex_name(self) -> str:
        return SEXES[self.sex]

    @property
    def ethnicity_name(self) -> str:
        return ETHNICITIES[self.ethnicity] if self.ethnicity is not None else ""

    def expired(self, today: datetime.date) -> bool:
        return self.valid_to is not None and today > self.valid_to


def _date(value: str, what: str) -> datetime.date:
    try:
        if len(value) != 8 or not value.isdigit():
            raise ValueError
        return datetime.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise IdCardDataInvalid(f"{what} is not a YYYYMMDD date") from None


def document_type(text: bytes) -> Document:
    """Which document the 256-byte text is, from its type character; UnsupportedDocument or
    IdCardDataInvalid for one this kiosk cannot read."""
    if len(text) != TEXT_BYTES:
        raise IdCardDataInvalid(f"text is {len(text)} bytes, expected {TEXT_BYTES}")
    try:
        kind = text[TYPE_OFFSET:TYPE_OFFSET + 2].decode("utf-16-le")
    except UnicodeDecodeError:
        raise IdCardDataInvalid("the document type is not UCS-2LE text") from None
    if kind in UNSUPPORTED_TYPES:
        raise UnsupportedDocument(f"the reader holds {UNSUPPORTED_TYPES[kind]}")
    if kind not in DOCUMENT_TYPES:
        raise IdCardDataInvalid(f"document type {kind.encode('unicode_escape').decode('ascii')!r} is not one "
                                "the kiosk knows")
    return DOCUMENT_TYPES[kind]


def _fields(text: bytes, document: Document) -> dict[str, str]:
    fields, offset = {}, 0
    for name, size in TEXT_LAYOUTS[document]:
        try:
            fields[name] = text[offset:offset + size].decode("utf-16-le").strip(" \x00")
        except UnicodeDecodeError:
            raise IdCardDataInvalid(f"field {name} is not UCS-2LE text") from None
        offset += size
    return fields


def decode_text(text: bytes, photo: bytes = b"") -> IdDocument:
    """The 256-byte UCS-2LE text as an IdDocument; IdCardDataInvalid for anything inconsistent.
    Messages name the field, never its value."""
    document = document_type(text)
    fields = _fields(text, document)
    if fields["sex"] not in SEXES:
        raise IdCardDataInvalid("sex is not a GB/T 2261.1 code")
    birth_date = _date(fields["birth_date"], "birth date")
    valid_to = None if fields["valid_to"] == LONG_TERM else _date(fields["valid_to"], "valid-to date")
    common = dict(sex=fields["sex"], birth_date=birth_date, id_number=fields["id_number"],
                  valid_from=_date(fields["valid_from"], "valid-from date"), valid_to=valid_to, photo_wlt=photo,
                  document=document)
    if document == Document.FOREIGN_PERMANENT_RESIDENT:
        return _foreigner(fields, common)
    if not fields["name"]:
        raise IdCardDataInvalid("name is empty")
    id_number = fields["id_number"]
    if not id_number_valid(id_number):
        raise IdCardDataInvalid("ID number is not 18 characters with a valid GB 11643 check digit")
    if id_number[6:14] != fields["birth_date"]:
        raise IdCardDataInvalid("ID number and birth date disagree")
    if document == Document.HMT_RESIDENCE_PERMIT:
        if id_number[:2] not in HMT_PREFIXES:
            raise IdCardDataInvalid("a residence permit's number does not begin with 81, 82 or 83")
        if not PASS_NUMBER.fullmatch(fields["pass_number"]):
            raise IdCardDataInvalid("pass number is not a 通行证 number")
        if not (fields["issue_count"].isascii() and fields["issue_count"].isdigit()):
            raise IdCardDataInvalid("issue count is not a number")
        return IdDocument(name=fields["name"], ethnicity=None, address=fields["address"],
                          issuing_authority=fields["issuing_authority"], pass_number=fields["pass_number"],
                          issue_count=int(fields["issue_count"]), **common)
    if not (fields["ethnicity"].isdigit() and fields["ethnicity"].isascii()
            and int(fields["ethnicity"]) in ETHNICITIES):
        raise IdCardDataInvalid("ethnicity is not a GB 3304 code")
    return IdDocument(name=fields["name"], ethnicity=int(fields["ethnicity"]), address=fields["address"],
                      issuing_authority=fields["issuing_authority"], **common)


def _foreigner(fields: dict[str, str], common: dict) -> IdDocument:
    if not fields["english_name"].isascii() or not fields["english_name"]:
        raise IdCardDataInvalid("English name is empty or not ASCII")
    if not PERMANENT_RESIDENCE_NUMBER.fullmatch(fields["id_number"]):
        raise IdCardDataInvalid("permanent residence number is not three letters and twelve digits")
    if not NATIONALITY.fullmatch(fields["nationality"]):
        raise IdCardDataInvalid("nationality is not an ISO 3166-1 alpha-3 code")
    if not (fields["authority_code"].isascii() and fields["authority_code"].isdigit()):
        raise IdCardDataInvalid("authority code is not digits")
    return IdDocument(name=fields["name"], ethnicity=None, address="", issuing_authority=fields["authority_code"],
                      english_name=fields["english_name"], nationality=fields["nationality"],
                      card_version=fields["card_version"], **common)


def encode_text(person: IdDocument) -> bytes:
    """The card's 256-byte text for `person` (the simulator's side of `decode_text`)."""
    values = {
        "name": person.name, "sex": person.sex,
        "ethnicity": f"{person.ethnicity:02d}" if person.ethnicity is not None else "",
        "birth_date": person.birth_date.strftime("%Y%m%d"), "address": person.address,
        "id_number": person.id_number, "issuing_authority": person.issuing_authority,
        "authority_code": person.issuing_authority,
        "valid_from": person.valid_from.strftime("%Y%m%d"),
        "valid_to": person.valid_to.strftime("%Y%m%d") if person.valid_to else LONG_TERM,
        "type": TYPE_CHARACTERS[person.document], "english_name": person.english_name,
        "nationality": person.nationality, "pass_number": person.pass_number,
        "issue_count": f"{person.issue_count:02d}" if person.issue_count is not None else "",
        "card_version": person.card_version,
    }
    out = bytearray()
    for name, size in TEXT_LAYOUTS[person.document]:
        encoded = values.get(name, "").encode("utf-16-le")
        if len(encoded) > size:
            raise ValueError(f"{name} does not fit in {size} bytes")
        out += encoded + " ".encode("utf-16-le") * ((size - len(encoded)) // 2)
    return bytes(out)


# --- the reader -----------------------------------------------------------------------------

class IdCardReader:
    """A GA 467 reader on a serial port (default 115200 8N1).

    `read_timeout` bounds each reply (a real read of text + photo takes about a second);
    `retries` is how many times a command is sent again after a broken frame.
    """

    def __init__(self, device: str, *, baudrate: int = 115200, read_timeout: float = 2.0,
                 write_timeout: float = 1.0, retries: int = 2):
        if not isinstance(retries, int) or not 0 <= retries <= 10:
            raise IdReaderConfigError(f"ID card reader: retries {retries!r} is not 0..10")
        try:
            self._port = open_port(device, baudrate, read_timeout=read_timeout, write_timeout=write_timeout)
        except SerialSettingError as exc:
            raise IdReaderConfigError(f"ID card reader: {exc}") from None
        except serial.SerialException as exc:
            raise IdReaderUnavailable(f"ID card reader port {device} cannot be opened: {exc}") from None
        self.device = device
        self.retries = retries

    def close(self) -> None:
        self._port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- commands --

    def reset(self) -> None:
        self._expect(CMD_RESET, "reset", SW3_OK)

    def check_status(self) -> None:
        """The reader and its SAM are working (raises otherwise)."""
        self._expect(CMD_STATUS, "status", SW3_OK)

    def sam_id(self) -> str:
        """The security module's id, as uppercase hex (readers print it in vendor formats)."""
        return self._expect(CMD_SAM_ID, "SAM id", SW3_OK).data.hex().upper()

    def find_card(self) -> None:
        reply = self._transact(CMD_FIND_CARD, "find card")
        if reply.sw3 == SW3_NO_CARD:
            raise IdCardNotFound("no ID card on the reader")
        if reply.sw3 != SW3_FOUND:
            raise IdReaderStatusError(reply.sw3, "find card")

    def select_card(self) -> None:
        reply = self._transact(CMD_SELECT_CARD, "select card")
        if reply.sw3 == SW3_SELECT_FAILED:
            raise IdCardReadFailed("ID card select failed (card moved or not a resident ID card)")
        if reply.sw3 != SW3_OK:
            raise IdReaderStatusError(reply.sw3, "select card")

    def read_text_and_photo(self) -> tuple[bytes, bytes]:
        reply = self._transact(CMD_READ_TEXT_PHOTO, "read text and photo")
        if reply.sw3 == SW3_READ_FAILED:
            raise IdCardReadFailed("ID card read failed (card moved during the read)")
        if reply.sw3 != SW3_OK:
            raise IdReaderStatusError(reply.sw3, "read text and photo")
        data = reply.data
        if len(data) < 4:
            raise IdCardDataInvalid(f"read reply has {len(data)} data bytes, no length fields")
        text_len, photo_len = int.from_bytes(data[0:2], "big"), int.from_bytes(data[2:4], "big")
        if text_len != TEXT_BYTES or 4 + text_len + photo_len != len(data):
            raise IdCardDataInvalid(f"read reply lengths text={text_len} photo={photo_len} "
                                    f"do not match its {len(data)} data bytes")
        return data[4:4 + text_len], data[4 + text_len:]

    def read(self, today: datetime.date | None = None) -> IdDocument:
        """Find, select and read the card on the reader. Raises IdCardNotFound, IdCardExpired,
        IdCardDataInvalid, IdCardReadFailed, FrameError, IdReaderNotResponding..."""
        self.find_card()
        self.select_card()
        text, photo = self.read_text_and_photo()
        person = decode_text(text, photo)
        today = today or datetime.datetime.now(CARD_TIME_ZONE).date()
        if person.expired(today):
            raise IdCardExpired(person.valid_to)
        log.info("resident ID card read on %s", self.device)
        return person

    # -- frames on the wire --

    def _expect(self, command: tuple[int, int], what: str, sw3: int) -> Reply:
        reply = self._transact(command, what)
        if reply.sw3 != sw3:
            raise IdReaderStatusError(reply.sw3, what)
        return reply

    def _transact(self, command: tuple[int, int], what: str) -> Reply:
        """Send one command and read its reply, sending it again after a broken frame."""
        frame = encode_command(command)
        last_error: IdCardError | None = None
        for attempt in range(1 + self.retries):
            if attempt:
                log.warning("ID card reader: %s, sending %s again (%d/%d)", last_error, what,
                            attempt, self.retries)
                self._discard_rest_of_frame()
            try:
                self._port.reset_input_buffer()
                self._port.write(frame)
                reply = decode_reply(self._read_frame(what))
            except FrameError as exc:
                last_error = exc
                continue
            except serial.SerialTimeoutException:
                raise IdReaderNotResponding(f"ID card reader on {self.device} does not take data") from None
            except serial.SerialException as exc:
                raise IdReaderUnavailable(f"ID card reader port {self.device} failed: {exc}") from None
            if reply.sw3 in SW3_FRAME_ERRORS:
                last_error = FrameError(f"reader reports {SW3_FRAME_ERRORS[reply.sw3]} for {what}")
                continue
            return reply
        raise last_error

    def _read_frame(self, what: str) -> bytes:
        window = b""
        skipped = 0
        while window != PREAMBLE:
            byte = self._port.read(1)
            if not byte:
                if skipped == 0:
                    raise IdReaderNotResponding(f"ID card reader on {self.device} did not answer {what} "
                                                f"within {self._port.timeout} s")
                raise FrameError(f"reply to {what} stopped before its preamble")
            window = (window + byte)[-5:]
            skipped += 1
            if skipped > _MAX_GARBAGE_BEFORE_PREAMBLE + 5:
                raise FrameError(f"no preamble in the first {skipped} bytes of the reply to {what}")
        head = self._port.read(2)
        if len(head) < 2:
            raise FrameError(f"reply to {what} truncated in its length")
        length = int.from_bytes(head, "big")
        if not 4 <= length <= MAX_FRAME_LENGTH:
            raise FrameError(f"reply to {what} claims {length} bytes")
        rest = self._port.read(length)
        if len(rest) < length:
            raise FrameError(f"reply to {what} truncated: {len(rest)} of {length} bytes")
        return PREAMBLE + head + rest

    def _discard_rest_of_frame(self) -> None:
        """Read until the line is quiet, so the rest of a broken reply is not taken for the next."""
        timeout, self._port.timeout = self._port.timeout, 0.05
        try:
            deadline = time.monotonic() + 1.0
            while self._port.read(4096) and time.monotonic() < deadline:
                pass
        finally:
            self._port.timeout = timeout

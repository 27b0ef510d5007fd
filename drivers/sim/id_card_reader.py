"""A simulated GA 467 resident ID card reader on a pty.

It answers every command from a profile: the person on the card (or no card), and how the
reader misbehaves: replies with a corrupted byte, replies cut short, a slow reader, select or
read failures. Frames the kiosk gets wrong are answered with the reader's frame-error
statuses (10 checksum, 11 length, 21 unknown command), as a real reader does.

Profiles are TOML (`kiosk sim idreader --profile FILE`):

    [person]                  # leave out for "no card on the reader"
    name = "李华"
    sex = "1"                 # GB/T 2261.1: 1 male, 2 female
    ethnicity = 1             # GB 3304
    birth_date = "19900307"
    address = "山东省临沂市兰山区沂蒙路100号"
    id_number = "37130219900307123X"
    issuing_authority = "临沂市公安局兰山分局"
    valid_from = "20200101"
    valid_to = "20400101"     # or "长期"
    # Another document (#14): document = "hmt_residence_permit" (港澳台居民居住证) with
    # pass_number and issue_count and no ethnicity, or "foreign_permanent_resident"
    # (外国人永久居留身份证) with english_name, nationality, card_version, issuing_authority
    # as the authority's code, and neither ethnicity nor address.

    [behaviour]
    corrupt_replies = 0       # this many replies get one byte flipped
    truncate_replies = 0      # this many replies stop half way
    reply_delay_s = 0.0       # a slow reader
    select_fails = false
    read_fails = false

The fictitious people here are for simulation only; their ID numbers carry valid check digits.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import logging
import sys
import threading
import time
import tomllib
from dataclasses import dataclass

from drivers import id_card_reader as ga467
from drivers.id_card_reader import IdDocument
from drivers.sim.pty_link import PtyDevice, serve_until_signalled

log = logging.getLogger(__name__)


class ProfileError(ValueError):
    """A simulator profile that cannot be used; the message names the key."""


DEMO_PERSON = IdDocument(
    name="李华", sex="1", ethnicity=1, birth_date=datetime.date(1990, 3, 7),
    address="山东省临沂市兰山区沂蒙路100号", id_number="37130219900307123X",
    issuing_authority="临沂市公安局兰山分局", valid_from=datetime.date(2020, 1, 1),
    valid_to=datetime.date(2040, 1, 1),
    # A real card holds a 1024-byte compressed (WLT) photo; this stands in for one.
    photo_wlt=bytes(range(256)) * 4)
# A Hong Kong resident's residence permit, and a foreigner's permanent residence ID card (2017).
DEMO_HMT_RESIDENT = IdDocument(
    name="陈嘉欣", sex="2", ethnicity=None, birth_date=datetime.date(1990, 5, 6),
    address="广东省深圳市福田区福华路1号", id_number="810000199005061235",
    issuing_authority="深圳市公安局福田分局", valid_from=datetime.date(2022, 1, 1),
    valid_to=datetime.date(2027, 1, 1), photo_wlt=DEMO_PERSON.photo_wlt,
    document=ga467.Document.HMT_RESIDENCE_PERMIT, pass_number="H60123456", issue_count=1)
DEMO_FOREIGNER = IdDocument(
    name="史密斯", sex="1", ethnicity=None, birth_date=datetime.date(1985, 6, 12), address="",
    id_number="USA310085061201", issuing_authority="1500", valid_from=datetime.date(2021, 3, 1),
    valid_to=datetime.date(2031, 3, 1), photo_wlt=DEMO_PERSON.photo_wlt,
    document=ga467.Document.FOREIGN_PERMANENT_RESIDENT, english_name="SMITH, JOHN", nationality="USA",
    card_version="01")


@dataclass
class IdReaderProfile:
    person: IdDocument | None = DEMO_PERSON
    sam_id: bytes = bytes.fromhex("0501000020101010000000011234ABCD")
    corrupt_replies: int = 0
    truncate_replies: int = 0
    reply_delay_s: float = 0.0
    select_fails: bool = False
    read_fails: bool = False

    @classmethod
    def load(cls, path: str) -> "IdReaderProfile":
        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ProfileError(f"{path}: {exc}") from None
        profile = cls(person=_person(doc["person"]) if "person" in doc else None)
        behaviour = doc.get("behaviour", {})
        for key, value in behaviour.items():
            if key not in ("corrupt_replies", "truncate_replies", "reply_delay_s", "select_fails", "read_fails"):
                raise ProfileError(f"{path}: unknown key behaviour.{key}")
            wanted = type(getattr(profile, key))
            if not isinstance(value, wanted) or (wanted is not bool and value < 0):
                raise ProfileError(f"{path}: behaviour.{key} must be a non-negative {wanted.__name__}")
            setattr(profile, key, value)
        return profile


def _person(table: dict) -> IdDocument:
    def date(key: str) -> datetime.date | None:
        value = str(table.get(key, ""))
        if key == "valid_to" and value == ga467.LONG_TERM:
            return None
        try:
            return datetime.datetime.strptime(value, "%Y%m%d").date()
        except ValueError:
            raise ProfileError(f"person.{key} must be YYYYMMDD") from None

    try:
        document = ga467.Document(table.get("document", ga467.Document.RESIDENT_ID))
        resident = document == ga467.Document.RESIDENT_ID
        person = IdDocument(
            name=table["name"], sex=str(table["sex"]), ethnicity=int(table["ethnicity"]) if resident else None,
            birth_date=date("birth_date"), address=table.get("address", ""), id_number=table["id_number"],
            issuing_authority=table["issuing_authority"], valid_from=date("valid_from"),
            valid_to=date("valid_to"), photo_wlt=DEMO_PERSON.photo_wlt, document=document,
            english_name=table.get("english_name", ""), nationality=table.get("nationality", ""),
            pass_number=table.get("pass_number", ""),
            issue_count=int(table["issue_count"]) if "issue_count" in table else None,
            card_version=table.get("card_version", ""))
        ga467.encode_text(person)
    except KeyError as exc:
        raise ProfileError(f"person.{exc.args[0]} is missing") from None
    except ValueError as exc:  # too long for its field
        raise ProfileError(f"person: {exc}") from None
    return person


class SimulatedIdCardReader(PtyDevice):
    name = "ID card reader"

    def __init__(self, profile: IdReaderProfile | None = None, *, baudrate: int = 115200):
        super().__init__(baudrate)
        self.profile = profile or IdReaderProfile()
        self.commands_seen: list[tuple[int, int]] = []
        self._buffer = bytearray()
        self._lock = threading.Lock()

    def update(self, **changes) -> None:
        """Change the profile while running (put a card down, make the next reply corrupt...)."""
        with self._lock:
            self.profile = dataclasses.replace(self.profile, **changes)

    def received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            start = self._buffer.find(ga467.PREAMBLE)
            if start < 0:
                del self._buffer[:-4]  # keep what could be the start of a preamble
                return
            del self._buffer[:start]
            if len(self._buffer) < 7:
                return
            length = int.from_bytes(self._buffer[5:7], "big")
            if not 3 <= length <= 64:  # commands are short; anything else is a broken frame
                del self._buffer[:5]
                self._reply(ga467.encode_reply(0x11))
                continue
            if len(self._buffer) < 7 + length:
                return
            frame = bytes(self._buffer[:7 + length])
            del self._buffer[:7 + length]
            self._answer(frame)

    def _answer(self, frame: bytes) -> None:
        try:
            body = ga467.decode_frame(frame)
        except ga467.FrameChecksumError:
            self._reply(ga467.encode_reply(0x10))
            return
        command = (body[0], body[1]) if len(body) >= 2 else (0, 0)
        self.commands_seen.append(command)
        with self._lock:
            profile = self.profile
        person = profile.person
        if command in (ga467.CMD_RESET, ga467.CMD_STATUS):
            reply = ga467.encode_reply(ga467.SW3_OK)
        elif command == ga467.CMD_SAM_ID:
            reply = ga467.encode_reply(ga467.SW3_OK, profile.sam_id)
        elif command == ga467.CMD_FIND_CARD:
            reply = (ga467.encode_reply(ga467.SW3_FOUND, bytes(4)) if person
                     else ga467.encode_reply(ga467.SW3_NO_CARD))
        elif command == ga467.CMD_SELECT_CARD:
            ok = person and not profile.select_fails
            reply = ga467.encode_reply(ga467.SW3_OK, bytes(8)) if ok else ga467.encode_reply(ga467.SW3_SELECT_FAILED)
        elif command == ga467.CMD_READ_TEXT_PHOTO:
            if person and not profile.read_fails:
                text, photo = ga467.encode_text(person), person.photo_wlt
                reply = ga467.encode_reply(ga467.SW3_OK, len(text).to_bytes(2, "big")
                                           + len(photo).to_bytes(2, "big") + text + photo)
            else:
                reply = ga467.encode_reply(ga467.SW3_READ_FAILED)
        else:
            reply = ga467.encode_reply(0x21)
        self._reply(reply)

    def _reply(self, reply: bytes) -> None:
        with self._lock:
            profile = self.profile
            if profile.corrupt_replies:
                profile.corrupt_replies -= 1
                # Flip a byte of the body: only the checksum can tell.
                position = 7 + (len(reply) - 8) // 2
                reply = reply[:position] + bytes([reply[position] ^ 0x5A]) + reply[position + 1:]
            elif profile.truncate_replies:
                profile.truncate_replies -= 1
                reply = reply[:len(reply) // 2]
        if profile.reply_delay_s:
            time.sleep(profile.reply_delay_s)
        self.send(reply)


# --- `kiosk sim idreader` -------------------------------------------------------------------

def register_sim(sim_subparsers) -> None:
    """Add `idreader` to the `kiosk sim` command."""
    parser = sim_subparsers.add_parser(
        "idreader", help="a GA 467 resident ID card reader on a pty (prints the pty path first)")
    parser.add_argument("--profile", help="TOML profile (default: the demo person on the reader)")
    parser.add_argument("--no-card", action="store_true", help="no ID card on the reader")
    parser.add_argument("--baud", type=int, default=115200, help="line rate the simulator paces at")
    parser.set_defaults(func=_run_sim)


def _run_sim(args) -> int:
    try:
        profile = IdReaderProfile.load(args.profile) if args.profile else IdReaderProfile()
    except ProfileError as exc:
        print(f"kiosk: bad ID reader profile: {exc}", file=sys.stderr)
        return 2
    if args.no_card:
        profile.person = None
    return serve_until_signalled(SimulatedIdCardReader(profile, baudrate=args.baud))


def main(argv=None) -> int:
    """`python -m drivers.sim.id_card_reader`: the same as `kiosk sim idreader`."""
    parser = argparse.ArgumentParser(prog="id-card-reader-sim")
    register_sim(parser.add_subparsers(dest="device", required=True))
    args = parser.parse_args(["idreader", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

"""A simulated social security card, driven by a profile file (TOML).

It keeps a small file system (MF, the SSSE application, EF05 and EF06 as SIMPLE-TLV records),
a PIN with its try counter, GET CHALLENGE / EXTERNAL AUTHENTICATE with the key scheme of
drivers/keyscheme.py, and the quirks real cards have (T=0 `61xx`, `6Cxx` for a wrong Le,
records only by tag). A card with a bank account (`[bank]`) also holds a PBOC debit
application: SELECT by AID, GET PROCESSING OPTIONS, and two records of BER-TLV that it refuses
to read before GPO (6985), as real cards may. Profile keys: drivers/sim/profiles/README.md.
"""
from __future__ import annotations

import datetime
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from drivers import keyscheme
from drivers.financial import PBOC_AIDS, luhn_valid
from drivers.sim.iso7816 import (SW_AUTH_FAILED, SW_CONDITIONS_NOT_SATISFIED, SW_FILE_NOT_FOUND,
                                 SW_OK, SW_PIN_BLOCKED, SW_RECORD_NOT_FOUND,
                                 SW_SECURITY_NOT_SATISFIED, SW_SM_WRONG, SW_WRONG_DATA, SW_WRONG_LENGTH,
                                 SW_WRONG_P1P2, Command, SimulatedCard)
from drivers.sim.vpcd import CardPulledOut
from drivers.ssse_records import (EF05_TAGS, SSSE_DF_NAME, TAG_CARD_IDENTIFIER, VALUE_SIZES, CardHolder,
                                  CardIdentifier, CardInfo, blank_record, ef06_tags, encode_card_holder,
                                  encode_card_info, encode_simple_tlv)

PROFILE_DIR = Path(__file__).parent / "profiles"
DEFAULT_ATR = bytes.fromhex("3B6D000080318065B0872701BC83089000")


class ProfileError(ValueError):
    """A card profile that cannot describe a card; says which key and why."""


def _date(text: str, what: str) -> datetime.date:
    try:
        return datetime.datetime.strptime(text, "%Y%m%d").date()
    except (TypeError, ValueError):
        raise ProfileError(f"{what}: {text!r} is not a YYYYMMDD date") from None


def _optional_count(value, what: str) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ProfileError(f"{what}: must be a whole number of APDUs, got {value!r}")


@dataclass
class CardProfile:
    """Everything the simulated card is and does; see profiles/README.md."""

    ef05: list[bytes]
    ef06: list[bytes]
    identifier: bytes
    generation: int
    pin: str
    pin_tries_left: int
    pin_max_tries: int = 6
    atr: bytes = DEFAULT_ATR
    t0_get_response: bool = False
    strict_le: bool = False
    records_by_number: bool = True
    requires_mf_first: bool = False
    pull_out_after_apdus: int | None = None
    pull_out_after_processing: bool = False
    master_keys: dict[int, bytes] = field(default_factory=lambda: dict(keyscheme.TEST_MASTER_KEYS))
    bank: "BankApplication | None" = None

    @classmethod
    def blank(cls, identifier: bytes, generation: int = 3) -> "CardProfile":
        """A card as it leaves the factory: EF05 holds only its identifier, every other record
        is blank (FF) until personalisation writes it; the initial PIN is 123456."""
        if len(identifier) != VALUE_SIZES[TAG_CARD_IDENTIFIER]:
            raise ProfileError("a card identifier is 16 bytes")
        ef05 = [encode_simple_tlv(TAG_CARD_IDENTIFIER, identifier)] + [blank_record(t) for t in EF05_TAGS[1:]]
        ef06 = [blank_record(t) for t in ef06_tags(generation)]
        return cls(ef05=ef05, ef06=ef06, identifier=identifier, generation=generation,
                   pin="123456", pin_tries_left=6, bank=BankApplication.for_blank(identifier))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CardProfile":
        path = Path(path)
        if not path.exists() and (PROFILE_DIR / path).exists():
            path = PROFILE_DIR / path  # a bare name like "card_v3.toml" means a shipped profile
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ProfileError(f"{path}: {exc}") from None
        try:
            return cls.from_dict(data)
        except ProfileError as exc:
            raise ProfileError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(cls, data: dict) -> "CardProfile":
        try:
            card, holder, behaviour = data["card"], data["holder"], data.get("behaviour", {})
            pin = data.get("pin", {})
            generation = int(card["generation"])
            identifier = bytes.fromhex(card["identifier"])
            if len(identifier) != 16:
                raise ProfileError("card.identifier: must be 16 bytes (32 hex digits)")
            if generation not in (1, 2, 3):
                raise ProfileError("card.generation: must be 1, 2 or 3")
            info = CardInfo(
                identifier=CardIdentifier(identifier),
                card_type=card.get("type", str(generation)),
                spec_version=f"{generation}.00",
                initialising_org=card["initialising_org"],
                issue_date=_date(card["issue_date"], "card.issue_date"),
                expiry_date=_date(card["expiry_date"], "card.expiry_date"),
                card_number=card["number"],
            )
            holder_data = CardHolder(
                social_security_number=holder["social_security_number"],
                name=holder["name"] + holder.get("name_extension", ""),
                sex=holder["sex"],
                ethnicity=int(holder["ethnicity"]),
                birthplace=holder["birthplace"],
                birth_date=_date(holder["birth_date"], "holder.birth_date"),
            )
            ef05 = encode_card_info(info)
            ef06 = encode_card_holder(holder_data, generation)
            # Raw overrides let a test put exactly the malformed bytes it wants on the card.
            for key, hex_record in data.get("raw_records", {}).items():
                file, _, number = key.partition(".")
                records = {"EF05": ef05, "EF06": ef06}.get(file)
                if records is None or not number.isdigit() or not 1 <= int(number) <= len(records):
                    raise ProfileError(f"raw_records.{key}: expected EF05.N or EF06.N of an existing record")
                records[int(number) - 1] = bytes.fromhex(hex_record)
            pin_value = str(pin.get("value", "123456"))
            if not (pin_value.isdigit() and len(pin_value) == 6):
                raise ProfileError("pin.value: must be 6 digits")
            master_keys = dict(keyscheme.TEST_MASTER_KEYS)
            if "external_auth_master_key" in data.get("keys", {}):
                master_keys[keyscheme.KEY_EXTERNAL_AUTH] = bytes.fromhex(data["keys"]["external_auth_master_key"])
            return cls(
                ef05=ef05, ef06=ef06, identifier=identifier, generation=generation,
                pin=pin_value,
                pin_tries_left=int(pin.get("tries_left", 6)),
                pin_max_tries=int(pin.get("max_tries", 6)),
                atr=bytes.fromhex(card.get("atr", DEFAULT_ATR.hex())),
                t0_get_response=bool(behaviour.get("t0_get_response", False)),
                strict_le=bool(behaviour.get("strict_le", False)),
                records_by_number=bool(behaviour.get("records_by_number", True)),
                requires_mf_first=bool(behaviour.get("requires_mf_first", False)),
                pull_out_after_apdus=_optional_count(behaviour.get("pull_out_after_apdus"),
                                                     "behaviour.pull_out_after_apdus"),
                pull_out_after_processing=bool(behaviour.get("pull_out_after_processing", False)),
                master_keys=master_keys,
                bank=BankApplication.from_dict(data["bank"]) if "bank" in data else None,
            )
        except KeyError as exc:
            raise ProfileError(f"missing key {exc.args[0]!r}") from None
        except (ValueError, UnicodeError, TypeError, AttributeError) as exc:
            # AttributeError: a value of the wrong TOML type (a number where text belongs)
            if isinstance(exc, ProfileError):
                raise
            raise ProfileError(str(exc)) from None


SIMULATED_BIN = "621999"   # the simulation's bank (its [bank] bins in simulation/config.py name it)


def _tlv(tag: bytes, value: bytes) -> bytes:
    return tag + bytes((len(value),)) + value


@dataclass
class BankApplication:
    """The PBOC debit application of a 金融社保卡: the account the bank opened for the card."""

    account: str
    expiry: str            # YYMM
    holder_name: str = ""

    @classmethod
    def from_dict(cls, table: dict) -> "BankApplication":
        bank = cls(str(table["account"]), str(table["expiry"]), str(table.get("name", "")))
        if not luhn_valid(bank.account) or not 16 <= len(bank.account) <= 19:
            raise ProfileError("bank.account: 16 to 19 digits with a valid Luhn check digit")
        if not (len(bank.expiry) == 4 and bank.expiry.isdigit() and 1 <= int(bank.expiry[2:]) <= 12):
            raise ProfileError("bank.expiry: YYMM")
        return bank

    @classmethod
    def for_blank(cls, identifier: bytes) -> "BankApplication":
        """The account a bank puts on a blank before it reaches the kiosk: one per card."""
        stem = SIMULATED_BIN + str(int.from_bytes(identifier[-6:], "big") % 10**12).zfill(12)
        return cls(stem + next(d for d in "0123456789" if luhn_valid(stem + d)), "3512")

    def records(self) -> list[bytes]:
        """SFI 1: the track 2 equivalent and the name; then the PAN and its dates."""
        digits = self.account + "D" + self.expiry + "220" + "0000000000"
        track_2 = bytes.fromhex(digits + "F" * (len(digits) % 2))
        pan = bytes.fromhex(self.account + "F" * (len(self.account) % 2))
        first = _tlv(b"\x57", track_2) + _tlv(b"\x5f\x20", self.holder_name.encode("ascii"))
        second = _tlv(b"\x5a", pan) + _tlv(b"\x5f\x24", bytes.fromhex(self.expiry + "31"))
        return [_tlv(b"\x70", first), _tlv(b"\x70", second)]


class SimulatedSocialSecurityCard(SimulatedCard):
    instructions = {0xA4: "select", 0xB2: "read_record", 0xDC: "update_record", 0x84: "get_challenge",
                    0x82: "external_authenticate", 0x88: "internal_authenticate", 0x20: "verify", 0x5E: "change_or_reload_pin",
                    0x2C: "unblock_pin", 0xA8: "get_processing_options"}

    def __init__(self, profile: CardProfile):
        super().__init__(t0_get_response=profile.t0_get_response)
        self.profile = profile
        self.atr = profile.atr
        self.pin_tries_left = profile.pin_tries_left
        self.apdus_seen = 0
        self.power_on()

    def power_on(self) -> None:
        super().power_on()
        # A card that "requires the MF first" powers up with no file selected.
        self.current = "" if self.profile.requires_mf_first else "MF"
        self.authenticated = False
        self.pin_verified = False
        self.challenge: bytes | None = None
        self.processing = False   # GET PROCESSING OPTIONS done in the financial application

    def process_apdu(self, apdu: bytes) -> bytes:
        self.apdus_seen += 1
        limit = self.profile.pull_out_after_apdus
        if limit is not None and self.apdus_seen > limit:
            if self.profile.pull_out_after_processing:
                super().process_apdu(apdu)  # done on the card, but the answer never arrives
            raise CardPulledOut()
        return super().process_apdu(apdu)

    def _with_le(self, data: bytes, le: int | None) -> bytes:
        """Answer `6Cxx` where the card wants the exact length, as strict cards do."""
        if le is not None and le != len(data) and (le != 0 or self.profile.strict_le):
            return bytes((0x6C, len(data) & 0xFF))
        return data + SW_OK

    def select(self, command: Command) -> bytes:
        if command.p1 == 0x00 and command.data in (b"", b"\x3f\x00"):
            self.current = "MF"
        elif command.p1 == 0x04 and command.data == SSSE_DF_NAME:
            if self.profile.requires_mf_first and self.current != "MF":
                return SW_FILE_NOT_FOUND
            self.current = "SSSE"
        elif command.p1 == 0x04 and command.data == PBOC_AIDS[0] and self.profile.bank is not None:
            self.current, self.authenticated, self.processing = "PBOC", False, False
            return self._with_le(self._fci(), command.le)
        else:
            return SW_FILE_NOT_FOUND
        self.authenticated = False
        return SW_OK

    @staticmethod
    def _fci() -> bytes:
        """6F: the AID, and in A5 the label and a PDOL asking for the terminal's country and a
        random number."""
        proprietary = _tlv(b"\x50", b"PBOC DEBIT") + _tlv(b"\x9f\x38", bytes.fromhex("9F1A029F3704"))
        return _tlv(b"\x6f", _tlv(b"\x84", PBOC_AIDS[0]) + _tlv(b"\xa5", proprietary))

    def get_processing_options(self, command: Command) -> bytes:
        if self.current != "PBOC" or command.cla != 0x80:
            return SW_CONDITIONS_NOT_SATISFIED
        if command.data[:1] != b"\x83" or len(command.data) != 2 + 6 or command.data[1] != 6:
            return SW_WRONG_LENGTH   # the PDOL asked for 2 + 4 bytes
        self.processing = True
        records = len(self.profile.bank.records())
        answer = _tlv(b"\x77", _tlv(b"\x82", b"\x7c\x00") + _tlv(b"\x94", bytes((1 << 3, 1, records, 0))))
        return self._with_le(answer, command.le)

    def _records(self, sfi: int) -> list[bytes] | None:
        if self.current != "SSSE":
            return None
        return {5: self.profile.ef05, 6: self.profile.ef06}.get(sfi)

    def read_record(self, command: Command) -> bytes:
        sfi, mode = command.p2 >> 3, command.p2 & 0x07
        if self.current == "PBOC":
            if not self.processing:
                return SW_CONDITIONS_NOT_SATISFIED
            bank = self.profile.bank.records()
            if sfi != 1 or mode != 0x04 or not 1 <= command.p1 <= len(bank):
                return SW_RECORD_NOT_FOUND
            return self._with_le(bank[command.p1 - 1], command.le)
        records = self._records(sfi)
        if records is None:
            return SW_FILE_NOT_FOUND
        if sfi == 6 and self.profile.generation >= 3 and not self.authenticated:
            return SW_SECURITY_NOT_SATISFIED
        if mode == 0x04 and self.profile.records_by_number:
            if not 1 <= command.p1 <= len(records):
                return SW_RECORD_NOT_FOUND
            return self._with_le(records[command.p1 - 1], command.le)
        if mode == 0x00:
            for record in records:
                if record and record[0] == command.p1:
                    return self._with_le(record, command.le)
            return SW_RECORD_NOT_FOUND
        return SW_WRONG_P1P2

    def get_challenge(self, command: Command) -> bytes:
        if command.le not in (4, 8):
            return SW_WRONG_LENGTH
        self.challenge = os.urandom(command.le)
        return self.challenge + SW_OK

    def external_authenticate(self, command: Command) -> bytes:
        if self.challenge is None:
            return SW_CONDITIONS_NOT_SATISFIED
        challenge, self.challenge = self.challenge, None  # a challenge is good for one try
        master = self.profile.master_keys.get(command.p2)
        if master is None or len(command.data) != 16:
            return SW_WRONG_DATA
        card_key = keyscheme.diversify(master, self.profile.identifier)
        if command.data != keyscheme.external_auth_cryptogram(card_key, challenge):
            return SW_AUTH_FAILED
        self.authenticated = True
        return SW_OK

    def internal_authenticate(self, command: Command) -> bytes:
        """The card proves it holds its key: the terminal's challenge enciphered in the cipher its
        generation declares (keyscheme.py)."""
        master = self.profile.master_keys.get(command.p2)
        if master is None or len(command.data) != 8:
            return SW_WRONG_DATA
        card_key = keyscheme.diversify(master, self.profile.identifier)
        cipher = keyscheme.declared_cipher(self.profile.generation)
        return self._with_le(keyscheme.internal_auth_response(card_key, command.data, cipher), command.le)

    def verify(self, command: Command) -> bytes:
        if self.current != "SSSE":
            return SW_CONDITIONS_NOT_SATISFIED
        if self.pin_tries_left <= 0:
            return SW_PIN_BLOCKED
        if len(command.data) != 3:
            return SW_WRONG_LENGTH
        if command.data.hex() == self.profile.pin:
            self.pin_tries_left = self.profile.pin_max_tries
            self.pin_verified = True
            return SW_OK
        return self._wrong_pin()

    def _wrong_pin(self) -> bytes:
        self.pin_tries_left -= 1
        if self.pin_tries_left <= 0:
            return SW_PIN_BLOCKED
        return bytes((0x63, 0xC0 | self.pin_tries_left))

    def update_record(self, command: Command) -> bytes:
        sfi, mode = command.p2 >> 3, command.p2 & 0x07
        records = self._records(sfi)
        if records is None:
            return SW_FILE_NOT_FOUND
        if not self.authenticated:
            return SW_SECURITY_NOT_SATISFIED  # writing always needs external authentication
        if mode != 0x04:
            return SW_WRONG_P1P2
        if not 1 <= command.p1 <= len(records):
            return SW_RECORD_NOT_FOUND
        if len(command.data) != len(records[command.p1 - 1]):
            return SW_WRONG_LENGTH  # linear fixed records are written whole
        records[command.p1 - 1] = bytes(command.data)
        return SW_OK

    def _set_pin(self, bcd: bytes) -> None:
        self.profile.pin = bcd.hex()
        self.pin_tries_left = self.profile.pin_max_tries

    def _pin_command_mac_ok(self, command: Command, data: bytes, mac: bytes) -> bool:
        challenge, self.challenge = self.challenge, None  # good for one command
        if challenge is None:
            return False
        card_key = keyscheme.diversify(self.profile.master_keys[keyscheme.KEY_PIN_RELOAD], self.profile.identifier)
        header = bytes((command.cla, command.ins, command.p1, command.p2))
        return mac == keyscheme.command_mac(card_key, challenge, header, data)

    def change_or_reload_pin(self, command: Command) -> bytes:
        if self.current != "SSSE":
            return SW_CONDITIONS_NOT_SATISFIED
        if command.p1 == 0x01:  # CHANGE: old || FF || new
            if len(command.data) != 7 or command.data[3] != 0xFF:
                return SW_WRONG_DATA
            if self.pin_tries_left <= 0:
                return SW_PIN_BLOCKED
            if command.data[:3].hex() != self.profile.pin:
                return self._wrong_pin()
            self._set_pin(command.data[4:])
            return SW_OK
        if command.p1 == 0x00:  # RELOAD: new || MAC4
            if len(command.data) != 7:
                return SW_WRONG_DATA
            if not self._pin_command_mac_ok(command, command.data[:3], command.data[3:]):
                return SW_SM_WRONG
            self._set_pin(command.data[:3])
            return SW_OK
        return SW_WRONG_P1P2

    def unblock_pin(self, command: Command) -> bytes:
        """RESET RETRY COUNTER (P1=03): the try counter back to full, the PIN unchanged."""
        if self.current != "SSSE":
            return SW_CONDITIONS_NOT_SATISFIED
        if command.p1 != 0x03 or len(command.data) != 4:
            return SW_WRONG_P1P2
        if not self._pin_command_mac_ok(command, b"", command.data):
            return SW_SM_WRONG
        self.pin_tries_left = self.profile.pin_max_tries
        return SW_OK


class ClonedCard(SimulatedSocialSecurityCard):
    """The files of a real card copied onto a card that does not hold its keys: it reads like
    the original, accepts any PIN and any cryptogram, and answers INTERNAL AUTHENTICATE with
    whatever it has."""

    def __init__(self, answer: bytes, profile: str = "card_v3.toml"):
        super().__init__(CardProfile.load(profile))
        self.answer = answer

    def external_authenticate(self, command: Command) -> bytes:
        self.authenticated = True
        return SW_OK

    def verify(self, command: Command) -> bytes:
        return SW_OK

    def internal_authenticate(self, command: Command) -> bytes:
        return self.answer + SW_OK


def another_regions_card() -> SimulatedSocialSecurityCard:
    """Zhang San's card (card_v3.toml) as Shenzhen's cards are: its identifier begins with
    keyscheme.OTHER_REGION (440300) and it holds that province's keys, which the local PSAM does
    not (the reference backend's HSM does)."""
    data = tomllib.loads((PROFILE_DIR / "card_v3.toml").read_text(encoding="utf-8"))
    data["card"]["identifier"] = keyscheme.OTHER_REGION + data["card"]["identifier"][6:]
    profile = CardProfile.from_dict(data)
    profile.master_keys = dict(keyscheme.OTHER_REGION_TEST_MASTER_KEYS)
    return SimulatedSocialSecurityCard(profile)

"""The social security card application (SSSE) on top of the APDU channel.

Reads EF05 and EF06 the way real cards allow: records by number (stopping at 6A83), or by
tag where a card refuses record numbers; external authentication through the security module
before EF06 on 3.0 cards (or on any card that answers 6982).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from drivers.apdu import (ApduChannel, AuthenticationFailed, CardError, CardRemoved, CommandApdu, FileNotFound,
                          MalformedResponse, RecordNotFound, SecurityStatusNotSatisfied, StatusWordError, VerificationFailed,
                          WrongParameters)
from drivers.keyscheme import ANSWER_LENGTHS, KEY_EXTERNAL_AUTH, KEY_INTERNAL_AUTH, KEY_PIN_RELOAD, declared_cipher
from drivers.pin import Pin
from drivers.security_module import SecurityModule, SecurityModuleRequired
from drivers.ssse_records import (EF05_TAGS, EF06_TAGS, OPTIONAL_TAGS, SSSE_DF_NAME, TAG_CARD_IDENTIFIER,
                                  TAG_CARD_TYPE, TAG_SPEC_VERSION, CardHolder, CardIdentifier, CardInfo,
                                  MalformedRecord, atr_historical_bytes, blank_record, decode_card_holder,
                                  decode_card_info, decode_spec_version, encode_card_holder, encode_card_info,
                                  generation_of, parse_simple_tlv)

EF05_SFI = 5
EF06_SFI = 6
EF05_RECORDS = len(EF05_TAGS)
EF06_RECORDS = len(EF06_TAGS)


class WrongPin(VerificationFailed):
    """VERIFY or CHANGE PIN refused the PIN (63Cx); `tries_left` before the card blocks it."""

    def __init__(self, sw: int, command: str = ""):
        super().__init__(sw, command)
        self.args = (f"wrong PIN, {self.tries_left} tries left",)


class NotSocialSecurityCard(CardError):
    pass


class PinOutcomeUnknown(CardRemoved):
    """The card lost contact while it held a PIN CHANGE or RELOAD: it may have carried it out
    before the answer was lost. Only the card can tell, once it is back."""



class PersonalisationFailed(CardError):
    """The written records did not read back as written; the card stays unusable."""



class NotABlankCard(CardError):
    pass


class CardNotGenuine(CardError):
    """The card did not prove it holds its own key (INTERNAL AUTHENTICATE): a copy, an emulator,
    or a card of another scheme. Nothing it says about itself is trusted."""


@dataclass(frozen=True)
class CardReading:
    """Everything one read of the card gives."""

    atr: bytes
    info: CardInfo
    holder: CardHolder = field(repr=False)

    def ireadcardbas(self, terminal_number: str = "", terminal_device_number: str = "") -> str:
        """The national reader interface's `iReadCardBas` line (LD/T 6001), trailing `|` kept."""
        fields = [
            self.info.identifier.region_code,
            self.holder.social_security_number,
            self.info.card_number,
            self.info.identifier.hex,
            self.holder.name,
            atr_historical_bytes(self.atr).hex().upper(),
            self.info.spec_version,
            self.info.issue_date.strftime("%Y%m%d"),
            self.info.expiry_date.strftime("%Y%m%d"),
            terminal_number,
            terminal_device_number,
        ]
        return "|".join(fields) + "|"


class SocialSecurityCard:
    """One inserted card. `security_module` may be None for kiosks that only read 1.0/2.0 cards."""

    def __init__(self, channel: ApduChannel, atr: bytes, security_module: SecurityModule | None):
        self.channel = channel
        self.atr = atr
        self.security_module = security_module
        self._by_tag = False  # switched on for cards that refuse record numbers

    def select(self) -> None:
        select_app = CommandApdu(0x00, 0xA4, 0x04, 0x00, SSSE_DF_NAME, name="SELECT SSSE")
        try:
            self.channel.send(select_app)
        except (FileNotFound, WrongParameters):
            # Some cards only find the application from the master file.
            try:
                self.channel.send(CommandApdu(0x00, 0xA4, 0x00, 0x00, b"\x3f\x00", name="SELECT MF"))
                self.channel.send(select_app)
            except StatusWordError as exc:
                raise NotSocialSecurityCard(f"no social security application: {exc}") from exc
        except StatusWordError as exc:
            raise NotSocialSecurityCard(f"no social security application: {exc}") from exc

    def _read_record_by_number(self, sfi: int, number: int) -> bytes:
        return self.channel.send(CommandApdu(0x00, 0xB2, number, (sfi << 3) | 0x04, le=0,
                                             name=f"READ RECORD {number} of SFI {sfi}"))

    def _read_record_by_tag(self, sfi: int, tag: int) -> bytes:
        return self.channel.send(CommandApdu(0x00, 0xB2, tag, sfi << 3, le=0,
                                             name=f"READ RECORD tag {tag:02X} of SFI {sfi}"))

    def _read_records(self, sfi: int, tags: tuple[int, ...]) -> list[bytes]:
        if not self._by_tag:
            records = []
            try:
                for number in range(1, len(tags) + 1):
                    records.append(self._read_record_by_number(sfi, number))
            except RecordNotFound:
                pass  # fewer records, e.g. a 1.0 card's EF06 without 4E
            except WrongParameters:
                if records:
                    raise
                self._by_tag = True
            if not self._by_tag:
                return records
        records = []
        for tag in tags:
            try:
                records.append(self._read_record_by_tag(sfi, tag))
            except RecordNotFound:
                if tag not in OPTIONAL_TAGS:
                    raise
        return records

    def read_identifier(self) -> CardIdentifier:
        tag, value = parse_simple_tlv(self._read_record_by_number(EF05_SFI, 1))
        if tag != TAG_CARD_IDENTIFIER:
            raise MalformedRecord(f"EF05 record 1 holds tag {tag:02X}, not the card identifier")
        return CardIdentifier.decode(value)

    def read_info(self) -> CardInfo:
        return decode_card_info(self._read_records(EF05_SFI, EF05_TAGS))

    def external_authenticate(self, identifier: bytes, key_id: int = KEY_EXTERNAL_AUTH) -> None:
        if self.security_module is None:
            raise SecurityModuleRequired("this card needs external authentication and the kiosk "
                                         "has no security module (PSAM or backend HSM)")
        challenge = self.channel.send(CommandApdu(0x00, 0x84, 0x00, 0x00, le=8, name="GET CHALLENGE"))
        cryptogram = self.security_module.external_auth_cryptogram(identifier, challenge, key_id)
        try:
            self.channel.send(CommandApdu(0x00, 0x82, 0x00, key_id, cryptogram,
                                          name="EXTERNAL AUTHENTICATE"))
        except (VerificationFailed, AuthenticationFailed) as exc:   # 63Cx, 6988: the cryptogram
            raise AuthenticationFailed(exc.sw, "EXTERNAL AUTHENTICATE") from exc
        except StatusWordError as exc:
            if exc.sw == 0x6300:
                raise AuthenticationFailed(exc.sw, "EXTERNAL AUTHENTICATE") from exc
            raise

    def read_generation(self) -> int:
        """The card's generation, from its spec version (EF05 record 3): what it declares of
        its layout and of its keys' cipher."""
        tag, value = parse_simple_tlv(self._read_record_by_number(EF05_SFI, 3))
        if tag != TAG_SPEC_VERSION:
            raise MalformedRecord(f"EF05 record 3 holds tag {tag:02X}, not the spec version")
        return generation_of(decode_spec_version(value))

    def prove_genuine(self, identifier: bytes, generation: int, key_id: int = KEY_INTERNAL_AUTH) -> None:
        """INTERNAL AUTHENTICATE with a fresh challenge of ours, in the cipher the card's
        `generation` declares (keyscheme.declared_cipher), the answer checked by the security
        module: raises CardNotGenuine unless the card holds the key of `identifier`."""
        if self.security_module is None:
            raise SecurityModuleRequired("checking a card needs the security module (PSAM or backend HSM)")
        cipher = declared_cipher(generation)
        challenge = os.urandom(8)
        try:
            response = self.channel.send(CommandApdu(0x00, 0x88, 0x00, key_id, challenge, le=ANSWER_LENGTHS[cipher],
                                                     name="INTERNAL AUTHENTICATE"))
        except (StatusWordError, MalformedResponse) as exc:
            raise CardNotGenuine(f"INTERNAL AUTHENTICATE refused or garbled: {exc}") from exc
        if len(response) != ANSWER_LENGTHS[cipher] or not self.security_module.internal_auth_genuine(
                identifier, challenge, response, key_id, cipher):
            raise CardNotGenuine(f"the answer to INTERNAL AUTHENTICATE ({cipher}) is not this card's")

    def read_holder(self, info: CardInfo) -> CardHolder:
        if info.generation >= 3:
            self.external_authenticate(info.identifier.raw)
            return decode_card_holder(self._read_records(EF06_SFI, EF06_TAGS))
        try:
            return decode_card_holder(self._read_records(EF06_SFI, EF06_TAGS))
        except SecurityStatusNotSatisfied:
            # A 2.0 card personalised with read protection: authenticate, then read again.
            self.external_authenticate(info.identifier.raw)
            return decode_card_holder(self._read_records(EF06_SFI, EF06_TAGS))

    def read(self) -> CardReading:
        self.select()
        info = self.read_info()
        return CardReading(self.atr, info, self.read_holder(info))

    # PIN operations (DOMAIN.md section 2). Each wipes the PIN bytes it built once sent.

    def _send_secret(self, cla: int, ins: int, p1: int, p2: int, secret: bytearray, name: str,
                     changes_pin: bool = False, checks_pin: bool = True) -> None:
        try:
            self.channel.send(CommandApdu(cla, ins, p1, p2, secret, name=name))
        except VerificationFailed as exc:
            if checks_pin:   # 63Cx to VERIFY or CHANGE PIN: the PIN given was wrong
                raise WrongPin(exc.sw, name) from exc
            raise
        except CardRemoved as exc:
            if changes_pin:
                raise PinOutcomeUnknown(f"card pulled during {name}: {exc}") from exc
            raise
        finally:
            secret[:] = bytes(len(secret))

    def verify_pin(self, pin: Pin) -> None:
        """Raises WrongPin(tries_left) or PinBlocked when the card refuses."""
        self._send_secret(0x00, 0x20, 0x00, 0x00, pin.bcd(), "VERIFY")

    def change_pin(self, old: Pin, new: Pin) -> None:
        old_bcd, new_bcd = old.bcd(), new.bcd()
        data = old_bcd + b"\xff" + new_bcd
        old_bcd[:], new_bcd[:] = bytes(3), bytes(3)
        self._send_secret(0x80, 0x5E, 0x01, 0x00, data, "CHANGE PIN", changes_pin=True)

    def _pin_command_mac(self, identifier: bytes, header: bytes, data: bytes) -> bytes:
        if self.security_module is None:
            raise SecurityModuleRequired("resetting a PIN needs the security module (PSAM or backend HSM)")
        challenge = self.channel.send(CommandApdu(0x00, 0x84, 0x00, 0x00, le=8, name="GET CHALLENGE"))
        return self.security_module.command_mac(identifier, challenge, header, data, KEY_PIN_RELOAD)

    def reload_pin(self, identifier: bytes, new: Pin) -> None:
        """Reset a forgotten or blocked PIN to `new`; the MAC proves the terminal may."""
        header = bytes((0x80, 0x5E, 0x00, 0x00))
        new_bcd = new.bcd()
        try:
            mac = self._pin_command_mac(identifier, header, bytes(new_bcd))
            data = new_bcd + mac
        finally:
            new_bcd[:] = bytes(3)
        self._send_secret(*header, data, "RELOAD PIN", changes_pin=True, checks_pin=False)

    # Personalisation of a blank (instant issuance, 1.10.1 / 1.10.7).

    def blank_identifier(self) -> CardIdentifier:
        """The identifier of a blank card, refusing a card that is already personalised."""
        identifier = self.read_identifier()
        if self._read_record_by_number(EF05_SFI, 2) != blank_record(TAG_CARD_TYPE):
            raise NotABlankCard(f"card {identifier.hex} is already personalised")
        return identifier

    def _write_record(self, sfi: int, number: int, record: bytes) -> None:
        self.channel.send(CommandApdu(0x00, 0xDC, number, (sfi << 3) | 0x04, record,
                                      name=f"UPDATE RECORD {number} of SFI {sfi}"))

    def personalise(self, info: CardInfo, holder: CardHolder) -> CardReading:
        """Write EF06 and EF05 of a blank, verify every record, and only then write the card
        type (EF05 record 2) as the commit: a card interrupted before it reads as
        CardNotPersonalised everywhere, so a half-written card can never pass for a good one."""
        self.select()
        identifier = self.blank_identifier()
        if identifier != info.identifier:
            raise PersonalisationFailed(f"personalisation data is for card {info.identifier.hex}, "
                                        f"the encoder holds {identifier.hex}")
        ef05 = encode_card_info(info)
        ef06 = encode_card_holder(holder, info.generation)
        self.external_authenticate(identifier.raw)
        writes = [(EF06_SFI, n, r) for n, r in enumerate(ef06, 1)]
        writes += [(EF05_SFI, n, r) for n, r in enumerate(ef05, 1) if n not in (1, 2)]
        for sfi, number, record in writes:
            self._write_record(sfi, number, record)
        for sfi, number, record in writes:
            if self._read_record_by_number(sfi, number) != record:
                raise PersonalisationFailed(f"record {number} of SFI {sfi} did not read back as written")
        self._write_record(EF05_SFI, 2, ef05[1])
        reading = self.read()
        if (encode_card_info(reading.info) != ef05
                or encode_card_holder(reading.holder, info.generation) != ef06):
            raise PersonalisationFailed("the personalised card does not read back as the data")
        return reading

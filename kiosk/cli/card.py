"""`kiosk card read | verify-pin | change-pin | reset-pin`: the citizen's card from a shell."""
from __future__ import annotations

import json
import sys

from drivers.apdu import AuthenticationFailed, CardError, CardRemoved, NoCardPresent, PinBlocked
from drivers.pcsc import ReaderServiceUnavailable, ReaderUnavailable
from drivers.pin import InvalidPinFormat
from drivers.security_module import SecurityModuleRequired
from drivers.ssse import NotSocialSecurityCard, WrongPin
from drivers.ssse_records import MalformedRecord
from kiosk.card_service import CardService
from kiosk.cli import exits
from kiosk.cli.pins import PinSource
from kiosk.pin_policy import WeakPin

_CARD_ERROR_EXITS = [
    ((ReaderServiceUnavailable, ReaderUnavailable), exits.NO_READER, "no reader"),
    ((NoCardPresent,), exits.NO_CARD, "no card"),
    ((CardRemoved,), exits.CARD_REMOVED, "card pulled out"),
    ((NotSocialSecurityCard, MalformedRecord), exits.NOT_SSCARD, "not a readable social security card"),
    ((AuthenticationFailed, SecurityModuleRequired), exits.AUTH_FAILED, "authentication failure"),
    ((WrongPin,), exits.WRONG_PIN, "wrong PIN"),
    ((PinBlocked,), exits.PIN_BLOCKED, "PIN blocked"),
    ((InvalidPinFormat,), exits.PIN_REFUSED, "PIN refused"),
]


def card_error_exit(exc: CardError) -> int:
    """Says on stderr what went wrong with the card and returns its exit code."""
    for types, code, what in _CARD_ERROR_EXITS:
        if isinstance(exc, types):
            print(f"kiosk: {what}: {exc}", file=sys.stderr)
            return code
    print(f"kiosk: card error: {exc}", file=sys.stderr)
    return exits.FAILED


def _reading_as_json(reading, ireadcardbas: str, account) -> str:
    info, holder = reading.info, reading.holder
    return json.dumps({
        "card": {
            "identifier": info.identifier.hex,
            "region_code": info.identifier.region_code,
            "card_type": info.card_type,
            "spec_version": info.spec_version,
            "initialising_org": info.initialising_org,
            "issue_date": info.issue_date.isoformat(),
            "expiry_date": info.expiry_date.isoformat(),
            "card_number": info.card_number,
            "atr": reading.atr.hex().upper(),
        },
        "holder": {
            "social_security_number": holder.social_security_number,
            "name": holder.name,
            "sex": holder.sex,
            "ethnicity": holder.ethnicity,
            "birthplace": holder.birthplace,
            "birth_date": holder.birth_date.isoformat(),
        },
        "ireadcardbas": ireadcardbas,
        # The financial application's account, masked: the full number never leaves the card (#15).
        "bank_account_masked": account.masked if account is not None else None,
    }, ensure_ascii=False, indent=2)


def _card_service(args) -> CardService:
    config = args.load_config()
    if args.reader:
        config = config.changed(readers={"card": args.reader})
    return CardService(config)


def cmd_read(args) -> int:
    service = _card_service(args)
    try:
        reading = service.read()
        account = service.bank_account() if args.format == "json" else None
    except CardError as exc:
        return card_error_exit(exc)
    line = service.ireadcardbas(reading)
    print(line if args.format == "ireadcardbas" else _reading_as_json(reading, line, account))
    return exits.OK


def _pin_command(args, action) -> int:
    """Runs a PIN action with the card service, mapping every refusal to its exit code."""
    service = _card_service(args)
    try:
        message = action(service, PinSource(args.pin_stdin))
    except WrongPin as exc:
        print(f"kiosk: wrong PIN: {exc.tries_left} tries left", file=sys.stderr)
        return exits.WRONG_PIN
    except WeakPin as exc:
        print(f"kiosk: PIN refused: {exc.reason}", file=sys.stderr)
        return exits.PIN_REFUSED
    except CardError as exc:
        return card_error_exit(exc)
    print(message)
    return exits.OK


def cmd_verify_pin(args) -> int:
    def verify(service, pins):
        with pins.ask("PIN: ") as pin:
            service.verify_pin(pin)
        return "PIN correct"
    return _pin_command(args, verify)


def cmd_change_pin(args) -> int:
    def change(service, pins):
        holder = service.read().holder  # the weak-PIN rules need the birth date and ID number
        with pins.ask("current PIN: ") as old, pins.ask("new PIN: ", confirm=True) as new:
            service.change_pin(holder, old, new)
        return "PIN changed"
    return _pin_command(args, change)


def cmd_reset_pin(args) -> int:
    def reset(service, pins):
        reading = service.read()
        with pins.ask("new PIN: ", confirm=True) as new:
            service.reset_pin(reading, new)
        return "PIN reset; the card is unblocked"
    return _pin_command(args, reset)


def register(commands) -> None:
    card = commands.add_parser("card", help="the citizen's social security card").add_subparsers(
        dest="card_command", required=True, metavar="ACTION")
    read = card.add_parser("read", help="read the card in the card reader")
    read.add_argument("--reader", help="reader name or prefix (default: [readers] card)")
    read.add_argument("--format", choices=("json", "ireadcardbas"), default="json")
    read.set_defaults(func=cmd_read)

    for name, func, help_text in (
            ("verify-pin", cmd_verify_pin, "check the card's PIN"),
            ("change-pin", cmd_change_pin, "1.10.5 change the PIN (needs the current one)"),
            ("reset-pin", cmd_reset_pin, "1.10.5 reset a forgotten or blocked PIN with the "
                                         "security module; check the holder's ID card first")):
        pin_parser = card.add_parser(name, help=help_text)
        pin_parser.add_argument("--reader", help="reader name or prefix (default: [readers] card)")
        pin_parser.add_argument("--pin-stdin", action="store_true",
                                help="read PINs one per line from stdin instead of the terminal")
        pin_parser.set_defaults(func=func)

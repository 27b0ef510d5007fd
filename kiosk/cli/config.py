"""`kiosk config check | defaults | hash-staff-pin | hash-staff-card`: validate the
configuration, print every setting, enrol staff."""
from __future__ import annotations

import getpass
import sys

from drivers.apdu import CardError
from kiosk.card_service import CardService
from drivers.pin import PIN_LENGTH
from kiosk.cli import exits
from kiosk.config import describe_defaults
from kiosk.staff_pin import hash_staff_pin, staff_card_digest


def cmd_check(args) -> int:
    config = args.load_config()
    print(f"{config.source}: OK")
    return exits.OK


def cmd_defaults(args) -> int:
    print(describe_defaults())
    return exits.OK


def cmd_hash_staff_card(args) -> int:
    """Prints the digest that enrols a staff card in [ui] staff_cards."""
    identifier = args.identifier
    if identifier is None:
        try:
            identifier = CardService(args.load_config()).read().info.identifier.hex
        except CardError as exc:
            print(f"kiosk: the card could not be read: {exc}", file=sys.stderr)
            return exits.FAILED
    if not (len(identifier) == 32 and all(c in "0123456789abcdefABCDEF" for c in identifier)):
        print("kiosk: a card identifier is 32 hex digits", file=sys.stderr)
        return exits.USAGE
    print(staff_card_digest(identifier))
    return exits.OK


def cmd_hash_staff_pin(args) -> int:
    """Prints the [ui] staff_pin_scrypt value for a staff PIN of PIN_LENGTH digits (what the
    staff screen's pad takes: a longer PIN could be enrolled and never typed)."""
    if args.pin_stdin:
        text = sys.stdin.readline().strip()
    else:
        text = getpass.getpass("staff PIN: ")
        if getpass.getpass("again: ") != text:
            print("kiosk: the two entries differ", file=sys.stderr)
            return exits.USAGE
    if not (text.isascii() and text.isdigit() and len(text) == PIN_LENGTH):
        print(f"kiosk: a staff PIN is {PIN_LENGTH} digits (what the staff screen's pad takes)", file=sys.stderr)
        return exits.USAGE
    print(hash_staff_pin([int(d) for d in text]))
    return exits.OK


def register(commands) -> None:
    config = commands.add_parser("config", help="check or show the configuration").add_subparsers(
        dest="config_command", required=True, metavar="ACTION")
    config.add_parser("check", help="validate --config and exit").set_defaults(func=cmd_check)
    config.add_parser("defaults", help="print the default configuration").set_defaults(func=cmd_defaults)
    staff_pin = config.add_parser("hash-staff-pin", help="print [ui] staff_pin_scrypt for a diagnostics PIN")
    staff_pin.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin")
    staff_pin.set_defaults(func=cmd_hash_staff_pin)
    staff_card = config.add_parser("hash-staff-card", help="print the [ui] staff_cards entry for the card in "
                                   "the reader (or for --identifier)")
    staff_card.add_argument("--identifier", help="the card identifier (卡识别码, 32 hex digits) instead of reading it")
    staff_card.set_defaults(func=cmd_hash_staff_card)

"""The `kiosk` command line: the same services as the screens, for staff, scripts and tests."""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from drivers.apdu import AuthenticationFailed, CardError, PinBlocked, WrongPin
from drivers.pcsc import CardRemoved, NoCardPresent, ReaderServiceUnavailable, ReaderUnavailable
from drivers.pin import InvalidPinFormat, Pin
from drivers.security_module import SecurityModuleRequired
from drivers.ssse import NotSocialSecurityCard
from drivers.ssse_records import MalformedRecord
from drivers.sim import card_printer as sim_card_printer
from drivers.sim import id_card_reader as sim_id_reader
from drivers.sim import receipt_printer as sim_receipt_printer
from kiosk import cardprinter_cli, diag_cli, queue_cli, records_cli, service_cli
from kiosk.backend import cli as backend_cli
from kiosk.config import ConfigError, describe_defaults, load_config
from kiosk.file_safety import UnsafeFileError
from kiosk.logging_setup import configure_logging

# Exit codes of `kiosk card read`, one per thing a script may want to tell apart.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_NO_READER, EXIT_NO_CARD, EXIT_CARD_REMOVED, EXIT_NOT_SSCARD, EXIT_AUTH_FAILED = 3, 4, 5, 6, 7
EXIT_WRONG_PIN, EXIT_PIN_BLOCKED, EXIT_PIN_REFUSED = 8, 9, 10

_CARD_ERROR_EXITS = [
    ((ReaderServiceUnavailable, ReaderUnavailable), EXIT_NO_READER, "no reader"),
    ((NoCardPresent,), EXIT_NO_CARD, "no card"),
    ((CardRemoved,), EXIT_CARD_REMOVED, "card pulled out"),
    ((NotSocialSecurityCard, MalformedRecord), EXIT_NOT_SSCARD, "not a readable social security card"),
    ((AuthenticationFailed, SecurityModuleRequired), EXIT_AUTH_FAILED, "authentication failure"),
    ((WrongPin,), EXIT_WRONG_PIN, "wrong PIN"),
    ((PinBlocked,), EXIT_PIN_BLOCKED, "PIN blocked"),
    ((InvalidPinFormat,), EXIT_PIN_REFUSED, "PIN refused"),
]


def _card_error_exit(exc: CardError) -> int:
    for types, code, what in _CARD_ERROR_EXITS:
        if isinstance(exc, types):
            print(f"kiosk: {what}: {exc}", file=sys.stderr)
            return code
    print(f"kiosk: card error: {exc}", file=sys.stderr)
    return EXIT_FAILED


def _reading_as_json(reading, ireadcardbas: str) -> str:
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
    }, ensure_ascii=False, indent=2)


def cmd_card_read(args) -> int:
    from kiosk.card_service import CardService
    config = args.load_config()
    if args.reader:
        config = _with_card_reader(config, args.reader)
    service = CardService(config)
    try:
        reading = service.read()
    except CardError as exc:
        return _card_error_exit(exc)
    line = service.ireadcardbas(reading)
    print(line if args.format == "ireadcardbas" else _reading_as_json(reading, line))
    return EXIT_OK


class _PinSource:
    """PINs from the terminal without echo, or one per line from stdin (--pin-stdin) for scripts."""

    def __init__(self, from_stdin: bool):
        self.from_stdin = from_stdin

    def ask(self, prompt: str, confirm: bool = False) -> Pin:
        if self.from_stdin:
            return Pin.from_text(sys.stdin.readline())
        import getpass
        first = getpass.getpass(prompt)
        if confirm and getpass.getpass("again: ") != first:
            raise InvalidPinFormat("the two entries differ")
        return Pin.from_text(first)


def _pin_command(args, action) -> int:
    """Runs a PIN action with the card service, mapping every refusal to its exit code."""
    from kiosk.card_service import CardService
    from kiosk.pin_policy import WeakPin
    config = args.load_config()
    if args.reader:
        config = _with_card_reader(config, args.reader)
    service = CardService(config)
    try:
        message = action(service, _PinSource(args.pin_stdin))
    except WrongPin as exc:
        print(f"kiosk: wrong PIN: {exc.tries_left} tries left", file=sys.stderr)
        return EXIT_WRONG_PIN
    except WeakPin as exc:
        print(f"kiosk: PIN refused: {exc.reason}", file=sys.stderr)
        return EXIT_PIN_REFUSED
    except CardError as exc:
        return _card_error_exit(exc)
    print(message)
    return EXIT_OK


def cmd_card_verify_pin(args) -> int:
    def verify(service, pins):
        with pins.ask("PIN: ") as pin:
            service.verify_pin(pin)
        return "PIN correct"
    return _pin_command(args, verify)


def cmd_card_change_pin(args) -> int:
    def change(service, pins):
        holder = service.read().holder  # the weak-PIN rules need the birth date and ID number
        with pins.ask("current PIN: ") as old, pins.ask("new PIN: ", confirm=True) as new:
            service.change_pin(holder, old, new)
        return "PIN changed"
    return _pin_command(args, change)


def cmd_card_reset_pin(args) -> int:
    def reset(service, pins):
        reading = service.read()
        with pins.ask("new PIN: ", confirm=True) as new:
            service.reset_pin(reading, new)
        return "PIN reset; the card is unblocked"
    return _pin_command(args, reset)


def _with_card_reader(config, reader: str):
    import dataclasses
    return dataclasses.replace(config, readers=dataclasses.replace(config.readers, card=reader))


def _run_until_signalled(start, stop) -> int:
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    start()
    done.wait()
    stop()
    return EXIT_OK


def cmd_sim_card(args) -> int:
    from drivers.sim.ssse_card import CardProfile, ProfileError, SimulatedSocialSecurityCard
    from drivers.sim.vpcd import VpcdLink
    try:
        profile = CardProfile.load(args.profile)
    except ProfileError as exc:
        print(f"kiosk: bad card profile: {exc}", file=sys.stderr)
        return EXIT_USAGE
    link = VpcdLink(SimulatedSocialSecurityCard(profile), args.host, args.port)
    print(f"simulated {profile.generation}.0 card on vpcd {args.host}:{args.port}", flush=True)
    return _run_until_signalled(link.insert, link.remove)


def cmd_sim_psam(args) -> int:
    from drivers.sim.psam import SimulatedPsam
    from drivers.sim.vpcd import VpcdLink
    link = VpcdLink(SimulatedPsam(), args.host, args.port)
    print(f"simulated PSAM on vpcd {args.host}:{args.port}", flush=True)
    return _run_until_signalled(link.insert, link.remove)


def cmd_config_check(args) -> int:
    config = args.load_config()
    print(f"{config.source}: OK")
    return EXIT_OK


def cmd_config_defaults(args) -> int:
    print(describe_defaults())
    return EXIT_OK


def cmd_config_hash_staff_card(args) -> int:
    """Prints the digest that enrols a staff card in [ui] staff_cards."""
    from kiosk.staff_pin import staff_card_digest
    identifier = args.identifier
    if identifier is None:
        from drivers.apdu import CardError
        from kiosk.card_service import CardService
        try:
            identifier = CardService(args.load_config()).read().info.identifier.hex
        except CardError as exc:
            print(f"kiosk: the card could not be read: {exc}", file=sys.stderr)
            return EXIT_FAILED
    if not (len(identifier) == 32 and all(c in "0123456789abcdefABCDEF" for c in identifier)):
        print("kiosk: a card identifier is 32 hex digits", file=sys.stderr)
        return EXIT_USAGE
    print(staff_card_digest(identifier))
    return EXIT_OK


def cmd_config_hash_staff_pin(args) -> int:
    """Prints the [ui] staff_pin_scrypt value for a staff PIN of 6 to 12 digits."""
    from kiosk.staff_pin import hash_staff_pin
    if args.pin_stdin:
        text = sys.stdin.readline().strip()
    else:
        import getpass
        text = getpass.getpass("staff PIN: ")
        if getpass.getpass("again: ") != text:
            print("kiosk: the two entries differ", file=sys.stderr)
            return EXIT_USAGE
    if not (text.isascii() and text.isdigit() and 6 <= len(text) <= 12):
        print("kiosk: a staff PIN is 6 to 12 digits", file=sys.stderr)
        return EXIT_USAGE
    print(hash_staff_pin([int(d) for d in text]))
    return EXIT_OK


def cmd_run(args) -> int:
    from screens.app import run_kiosk  # Kivy is imported only when the screen is wanted
    return run_kiosk(args.load_config())


def cmd_demo(args) -> int:
    if args.panel:
        from screens.sim_panel import run_with_panel
        return run_with_panel(args.load_config(), args.out)
    from screens.demo import run_demo
    return run_demo(args.load_config(), args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="社会保障卡自助服务终端 / social security card kiosk")
    parser.add_argument("--config", metavar="PATH", help="TOML configuration (default: built-in demo settings)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("run", help="start the touchscreen kiosk").set_defaults(func=cmd_run)
    demo = commands.add_parser("demo", help="play the scripted visit and write screenshots")
    demo.add_argument("--out", default="demo-out", help="folder for screenshots and receipts")
    demo.add_argument("--panel", action="store_true",
                      help="instead of the scripted visits, the kiosk beside a panel to play the citizen and faults")
    demo.set_defaults(func=cmd_demo)

    card = commands.add_parser("card", help="the citizen's social security card").add_subparsers(
        dest="card_command", required=True, metavar="ACTION")
    read = card.add_parser("read", help="read the card in the card reader")
    read.add_argument("--reader", help="reader name or prefix (default: [readers] card)")
    read.add_argument("--format", choices=("json", "ireadcardbas"), default="json")
    read.set_defaults(func=cmd_card_read)

    for name, func, help_text in (
            ("verify-pin", cmd_card_verify_pin, "check the card's PIN"),
            ("change-pin", cmd_card_change_pin, "1.10.5 change the PIN (needs the current one)"),
            ("reset-pin", cmd_card_reset_pin, "1.10.5 reset a forgotten or blocked PIN with the "
                                              "security module; check the holder's ID card first")):
        pin_parser = card.add_parser(name, help=help_text)
        pin_parser.add_argument("--reader", help="reader name or prefix (default: [readers] card)")
        pin_parser.add_argument("--pin-stdin", action="store_true",
                                help="read PINs one per line from stdin instead of the terminal")
        pin_parser.set_defaults(func=func)

    sim = commands.add_parser("sim", help="simulated devices for the demo and tests").add_subparsers(
        dest="sim_command", required=True, metavar="DEVICE")
    sim_card = sim.add_parser("card", help="a social security card in a vpcd slot")
    sim_card.add_argument("--profile", required=True, help="profile TOML (or a name in drivers/sim/profiles)")
    sim_card.add_argument("--host", default="127.0.0.1")
    sim_card.add_argument("--port", type=int, default=35963)
    sim_card.set_defaults(func=cmd_sim_card)
    sim_psam = sim.add_parser("psam", help="the PSAM in a vpcd slot")
    sim_psam.add_argument("--host", default="127.0.0.1")
    sim_psam.add_argument("--port", type=int, default=35964)
    sim_psam.set_defaults(func=cmd_sim_psam)

    for sim_module in (sim_receipt_printer, sim_id_reader, sim_card_printer):
        sim_module.register_sim(sim)
    cardprinter_cli.register(diag_cli.register(commands))
    queue_cli.register(commands)
    records_cli.register(commands)
    service_cli.register(commands)
    backend_cli.register(commands)

    config = commands.add_parser("config", help="check or show the configuration").add_subparsers(
        dest="config_command", required=True, metavar="ACTION")
    config.add_parser("check", help="validate --config and exit").set_defaults(func=cmd_config_check)
    config.add_parser("defaults", help="print the default configuration").set_defaults(func=cmd_config_defaults)
    staff_pin = config.add_parser("hash-staff-pin", help="print [ui] staff_pin_scrypt for a diagnostics PIN")
    staff_pin.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin")
    staff_pin.set_defaults(func=cmd_config_hash_staff_pin)
    staff_card = config.add_parser("hash-staff-card", help="print the [ui] staff_cards entry for the card in "
                                   "the reader (or for --identifier)")
    staff_card.add_argument("--identifier", help="the card identifier (卡识别码, 32 hex digits) instead of reading it")
    staff_card.set_defaults(func=cmd_config_hash_staff_card)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    # JSON lines when systemd's journal reads stderr; the running kiosk logs what it does, a
    # staff command only what went wrong. Either way through the personal-data redaction.
    level = logging.DEBUG if args.verbose else logging.INFO if args.command == "run" else logging.WARNING
    configure_logging(json_lines="JOURNAL_STREAM" in os.environ, level=level)
    args.load_config = lambda: load_config(args.config)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"kiosk: configuration refused: {exc.source}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    except UnsafeFileError as exc:
        print(f"kiosk: refusing to start: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

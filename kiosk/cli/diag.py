"""`kiosk diag ...`: maintenance staff check the kiosk's devices from a shell.

    kiosk diag printer [--port /dev/ttyS1] [--test-receipt]   state of the receipt printer
    kiosk diag idreader [--port /dev/ttyS2]                   read the ID card on the reader, masked
    kiosk diag cardprinter [--test-card]                      card printer state; a test card, retained

Each device is the configuration's (kiosk --config), built by kiosk/devices.py as the running
kiosk builds it; an option overrides its setting, so the commands also work on a device that is
not configured yet. Exit codes tell a script what happened (kiosk/cli/exits.py); messages for
staff go to stderr.
"""
from __future__ import annotations

import sys

from drivers import escpos
from drivers.apdu import CardError
from drivers.card_printer import CardPrinterError
from drivers.id_card_reader import (LONG_TERM, Document, FrameError, IdCardDataInvalid, IdCardError, IdCardExpired,
                                    IdCardNotFound, IdCardReadFailed, IdReaderConfigError, IdReaderUnavailable)
from drivers.receipt_printer import (PrinterConfigError, PrinterCoverOpen, PrinterError, PrinterFault,
                                     PrinterPaperOut)
from drivers.serial_port import BAUD_RATES
from kiosk import diagnostics
from kiosk.cli import exits
from kiosk.devices import Devices
from kiosk.masking import mask_address, mask_card_number, mask_id_number, mask_name
from kiosk.visit import DOCUMENT_NAMES


def _devices(args, section: str, **overrides) -> Devices:
    """The configuration's devices, with the options given on the command line for `section`."""
    given = {name: value for name, value in overrides.items() if value is not None}
    return Devices(args.load_config().changed(**{section: given}))


def register(subparsers) -> None:
    diag = subparsers.add_parser("diag", help="check the kiosk's devices (maintenance staff)")
    devices = diag.add_subparsers(dest="diag_command", required=True, metavar="DEVICE")
    _add_printer(devices)
    _add_idreader(devices)
    _add_cardprinter(devices)


def _add_printer(devices) -> None:
    printer = devices.add_parser("printer", help="receipt printer state; --test-receipt prints one")
    printer.add_argument("--port", help="serial device, e.g. /dev/ttyS1 (default: [receipt_printer] port)")
    printer.add_argument("--baud", type=int, choices=BAUD_RATES)
    printer.add_argument("--encoding", help=f"Chinese encoding: {', '.join(escpos.ENCODINGS)}")
    printer.add_argument("--paper", type=int, help="paper width in mm: 58 or 80")
    printer.add_argument("--timeout", type=float, help="seconds to wait for the printer")
    printer.add_argument("--terminal", help="terminal no. printed on the test receipt (default: [terminal])")
    printer.add_argument("--test-receipt", action="store_true", help="print a receipt with Chinese text and a QR code")
    printer.set_defaults(func=cmd_diag_printer)


def _add_idreader(devices) -> None:
    idreader = devices.add_parser("idreader", help="read the resident ID card on the reader (shown masked)")
    idreader.add_argument("--port", help="serial device, e.g. /dev/ttyS2 (default: [id_reader] port)")
    idreader.add_argument("--baud", type=int, choices=BAUD_RATES)
    idreader.add_argument("--timeout", type=float, help="seconds to wait for each reply")
    idreader.set_defaults(func=cmd_diag_idreader)


_PRINTER_EXITS = ((PrinterConfigError, exits.USAGE),
                  ((PrinterPaperOut, PrinterCoverOpen, PrinterFault), exits.NOT_READY),
                  (PrinterError, exits.NOT_RESPONDING))


def cmd_diag_printer(args) -> int:
    devices = _devices(args, "receipt_printer", port=args.port, baud=args.baud, encoding=args.encoding,
                       paper_mm=args.paper, read_timeout_s=args.timeout, write_timeout_s=args.timeout)
    settings = devices.config.receipt_printer
    if not devices.has_receipt_printer:
        print("kiosk: no receipt printer: give --port or set [receipt_printer] port", file=sys.stderr)
        return exits.USAGE
    try:
        status = diagnostics.receipt_printer_status(devices)
        print(f"receipt printer on {settings.port} ({settings.baud} baud, {settings.encoding}, "
              f"{settings.paper_mm} mm): {status.describe()}")
        if not args.test_receipt:
            status.raise_if_cannot_print()
            return exits.OK
        size, after = diagnostics.print_test_receipt(devices, args.terminal or devices.config.terminal.terminal_number)
        print(f"test receipt printed ({size} bytes); printer {after.describe()}")
        return exits.OK
    except PrinterError as exc:
        print(f"kiosk: receipt printer: {exc}", file=sys.stderr)
        return next(code for types, code in _PRINTER_EXITS if isinstance(exc, types))


_IDREADER_EXITS = ((IdReaderConfigError, exits.USAGE),
                   ((IdReaderUnavailable, FrameError), exits.NOT_RESPONDING),
                   (IdCardNotFound, exits.NOT_READY),
                   ((IdCardExpired, IdCardDataInvalid, IdCardReadFailed), exits.CARD_REFUSED),
                   (IdCardError, exits.FAILED))


def cmd_diag_idreader(args) -> int:
    devices = _devices(args, "id_reader", port=args.port, baud=args.baud, read_timeout_s=args.timeout)
    settings = devices.config.id_reader
    if not devices.has_id_reader:
        print("kiosk: no ID card reader: give --port or set [id_reader] port", file=sys.stderr)
        return exits.USAGE
    try:
        check = diagnostics.check_id_reader(devices, need_card=True)
    except IdCardError as exc:
        print(f"kiosk: ID card reader: {exc}", file=sys.stderr)
        return next(code for types, code in _IDREADER_EXITS if isinstance(exc, types))
    print(f"ID card reader on {settings.port} ({settings.baud} baud): SAM {check.sam_id}")
    person = check.person
    valid_to = person.valid_to.isoformat() if person.valid_to else LONG_TERM
    print(f"  证件: {DOCUMENT_NAMES[person.document]}")
    for label, value in _document_lines(person) + [("有效期限", f"{person.valid_from.isoformat()} - {valid_to}"),
                                                     ("照片", f"{len(person.photo_wlt)} bytes (compressed)")]:
        print(f"  {label}: {value}")
    return exits.OK


def _document_lines(person) -> list[tuple[str, str]]:
    """What each document says, every number and name masked."""
    if person.document == Document.FOREIGN_PERMANENT_RESIDENT:
        return [("英文姓名", mask_name(person.english_name)), ("中文姓名", mask_name(person.name) or "-"),
                ("性别", person.sex_name), ("国籍", person.nationality),
                ("永久居留身份证号码", mask_id_number(person.id_number)), ("签发机关代码", person.issuing_authority),
                ("证件版本", person.card_version)]
    lines = [("姓名", mask_name(person.name)), ("性别", person.sex_name)]
    if person.document == Document.HMT_RESIDENCE_PERMIT:
        lines += [("公民身份号码", mask_id_number(person.id_number)),
                  ("通行证号码", mask_card_number(person.pass_number)), ("签发次数", str(person.issue_count))]
    else:
        lines += [("民族", person.ethnicity_name), ("身份证号", mask_id_number(person.id_number))]
    return lines + [("住址", mask_address(person.address)), ("签发机关", person.issuing_authority)]


def _print_status(status) -> None:
    ribbon = ("no ribbon" if status.ribbon_remaining is None
              else f"{status.ribbon_remaining} of {status.ribbon_capacity} prints left")
    print(f"feeder:      {'cards loaded' if status.feeder_loaded else 'EMPTY'}"
          " (the printer reports no count)")
    print(f"ribbon:      {ribbon}")
    print(f"cover:       {'OPEN' if status.cover_open else 'closed'}")
    print(f"reject box:  {'FULL' if status.reject_box_full else 'not full'}")
    print(f"card inside: {status.card_position.name.lower()}")


def cmd_diag_cardprinter(args) -> int:
    devices = _devices(args, "card_printer", enabled=True, host=args.host, port=args.port,
                       encoder_reader=args.encoder_reader)
    try:
        status = diagnostics.card_printer_status(devices)
        _print_status(status)
        faults = status.faults()
        for fault in faults:
            print(f"kiosk: card printer fault: {fault}", file=sys.stderr)
        if faults:
            return exits.FAILED
        if args.test_card:
            diagnostics.print_test_card(devices)
    except (CardPrinterError, CardError) as exc:
        print(f"kiosk: card printer: {exc}", file=sys.stderr)
        return exits.FAILED
    finally:
        devices.close()
    return exits.OK


def _add_cardprinter(devices) -> None:
    parser = devices.add_parser("cardprinter", help="card printer state; --test-card prints and retains one")
    parser.add_argument("--test-card", action="store_true",
                        help="feed a blank, print a test face and retain it")
    parser.add_argument("--host", help="the printer's address (default: [card_printer] host)")
    parser.add_argument("--port", type=int, help="the printer's TCP port (default: [card_printer] port)")
    parser.add_argument("--encoder-reader", help="PC/SC reader of the printer's contact station "
                                                 "(default: [card_printer] encoder_reader)")
    parser.set_defaults(func=cmd_diag_cardprinter)

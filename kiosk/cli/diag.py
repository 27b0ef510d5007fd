"""`kiosk diag ...`: maintenance staff check the kiosk's devices from a shell.

    kiosk diag printer --port /dev/ttyS1 [--test-receipt]   state of the receipt printer
    kiosk diag idreader --port /dev/ttyS2                   read the ID card on the reader, masked
    kiosk diag cardprinter [--test-card]                    card printer state; a test card, retained

Every device setting is an option, so the commands work without a configuration file; the
composition root may fill the defaults from the configuration. Exit codes tell a script what
happened (kiosk/cli/exits.py); messages for staff go to stderr.
"""
from __future__ import annotations

import datetime
import sys

from drivers import escpos
from drivers.apdu import CardError
from drivers.card_printer import CardPrinter, CardPrinterError
from drivers.id_card_reader import (
    FrameError, IdCardDataInvalid, IdCardError, IdCardExpired, IdCardNotFound, IdCardReader, IdCardReadFailed,
    IdReaderConfigError, IdReaderUnavailable, LONG_TERM)
from drivers.receipt_printer import (
    PrinterConfigError, PrinterCoverOpen, PrinterError, PrinterFault, PrinterPaperOut, ReceiptPrinter)
from drivers.serial_port import BAUD_RATES
from kiosk.card_face import compose_test_face
from kiosk.cli import exits
from kiosk.masking import mask_address, mask_id_number, mask_name
from kiosk.receipt import printer_test_page


def register(subparsers) -> None:
    diag = subparsers.add_parser("diag", help="check the kiosk's devices (maintenance staff)")
    devices = diag.add_subparsers(dest="diag_command", required=True, metavar="DEVICE")
    _add_printer(devices)
    _add_idreader(devices)
    _add_cardprinter(devices)


def _add_printer(devices) -> None:
    printer = devices.add_parser("printer", help="receipt printer state; --test-receipt prints one")
    printer.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyS1")
    printer.add_argument("--baud", type=int, default=9600, choices=BAUD_RATES)
    printer.add_argument("--encoding", default="gb18030", help=f"Chinese encoding: {', '.join(escpos.ENCODINGS)}")
    printer.add_argument("--paper", type=int, default=80, help="paper width in mm: 58 or 80")
    printer.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the printer")
    printer.add_argument("--terminal", default="KIOSK-0001", help="terminal no. printed on the test receipt")
    printer.add_argument("--test-receipt", action="store_true", help="print a receipt with Chinese text and a QR code")
    printer.set_defaults(func=cmd_diag_printer)


def _add_idreader(devices) -> None:
    idreader = devices.add_parser("idreader", help="read the resident ID card on the reader (shown masked)")
    idreader.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyS2")
    idreader.add_argument("--baud", type=int, default=115200, choices=BAUD_RATES)
    idreader.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each reply")
    idreader.set_defaults(func=cmd_diag_idreader)


_PRINTER_EXITS = ((PrinterConfigError, exits.USAGE),
                  ((PrinterPaperOut, PrinterCoverOpen, PrinterFault), exits.NOT_READY),
                  (PrinterError, exits.NOT_RESPONDING))


def cmd_diag_printer(args) -> int:
    try:
        with ReceiptPrinter(args.port, baudrate=args.baud, encoding=args.encoding, paper_mm=args.paper,
                            read_timeout=args.timeout, write_timeout=args.timeout) as printer:
            status = printer.status()
            print(f"receipt printer on {args.port} ({args.baud} baud, {printer.encoding}, "
                  f"{args.paper} mm): {status.describe()}")
            if not args.test_receipt:
                status.raise_if_cannot_print()
                return exits.OK
            job = printer_test_page(args.terminal, args.paper, printer.encoding).as_escpos()
            after = printer.print_job(job)
            print(f"test receipt printed ({len(job)} bytes); printer {after.describe()}")
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
    try:
        with IdCardReader(args.port, baudrate=args.baud, read_timeout=args.timeout) as reader:
            reader.check_status()
            print(f"ID card reader on {args.port} ({args.baud} baud): SAM {reader.sam_id()}")
            person = reader.read()
    except IdCardError as exc:
        print(f"kiosk: ID card reader: {exc}", file=sys.stderr)
        return next(code for types, code in _IDREADER_EXITS if isinstance(exc, types))
    valid_to = person.valid_to.isoformat() if person.valid_to else LONG_TERM
    for label, value in (("姓名", mask_name(person.name)), ("性别", person.sex_name),
                         ("民族", person.ethnicity_name), ("身份证号", mask_id_number(person.id_number)),
                         ("住址", mask_address(person.address)), ("签发机关", person.issuing_authority),
                         ("有效期限", f"{person.valid_from.isoformat()} - {valid_to}"),
                         ("照片", f"{len(person.photo_wlt)} bytes (compressed)")):
        print(f"  {label}: {value}")
    return exits.OK


def _print_status(status) -> None:
    ribbon = ("no ribbon" if status.ribbon_remaining is None
              else f"{status.ribbon_remaining} of {status.ribbon_capacity} prints left")
    print(f"feeder:      {'cards loaded' if status.feeder_loaded else 'EMPTY'}"
          " (the printer reports no count)")
    print(f"ribbon:      {ribbon}")
    print(f"cover:       {'OPEN' if status.cover_open else 'closed'}")
    print(f"reject box:  {'FULL' if status.reject_box_full else 'not full'}")
    print(f"card inside: {status.card_position.name.lower()}")


def _test_card(printer: CardPrinter) -> None:
    atr = printer.feed_to_encoder()
    print(f"test card at the encoder, ATR {atr.hex().upper()}")
    try:
        printer.print_face(compose_test_face(datetime.date.today()))
        print("test face printed")
    finally:
        printer.retain()  # whatever happened above, the test card goes to the reject box
        print("test card retained")


def cmd_diag_cardprinter(args) -> int:
    printer = CardPrinter(args.host, args.port, encoder_reader=args.encoder_reader)
    try:
        with printer:
            status = printer.status()
            _print_status(status)
            faults = status.faults()
            for fault in faults:
                print(f"kiosk: card printer fault: {fault}", file=sys.stderr)
            if faults:
                return exits.FAILED
            if args.test_card:
                _test_card(printer)
    except (CardPrinterError, CardError) as exc:
        print(f"kiosk: card printer: {exc}", file=sys.stderr)
        return exits.FAILED
    return exits.OK


def _add_cardprinter(devices) -> None:
    parser = devices.add_parser("cardprinter", help="card printer state; --test-card prints and retains one")
    parser.add_argument("--test-card", action="store_true",
                        help="feed a blank, print a test face and retain it")
    parser.add_argument("--host", default="127.0.0.1", help="the printer's address")
    parser.add_argument("--port", type=int, default=9100, help="the printer's TCP port")
    parser.add_argument("--encoder-reader", default="Virtual PCD 00 00",
                        help="PC/SC reader of the printer's contact station")
    parser.set_defaults(func=cmd_diag_cardprinter)

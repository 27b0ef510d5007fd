"""`kiosk diag cardprinter [--test-card]`: the card printer's state for maintenance staff, and
a test card run through feed, encoder, print and reject box. A test card carries no personal
data and is always retained: it must never reach a citizen."""
from __future__ import annotations

import datetime
import sys

from drivers.apdu import CardError
from drivers.card_printer import CardPrinter, CardPrinterError
from kiosk.card_face import compose_test_face

EXIT_OK, EXIT_FAULT = 0, 1


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
                return EXIT_FAULT
            if args.test_card:
                _test_card(printer)
    except (CardPrinterError, CardError) as exc:
        print(f"kiosk: card printer: {exc}", file=sys.stderr)
        return EXIT_FAULT
    return EXIT_OK


def register(diag_subparsers) -> None:
    parser = diag_subparsers.add_parser("cardprinter", help="card printer state; --test-card prints and retains one")
    parser.add_argument("--test-card", action="store_true",
                        help="feed a blank, print a test face and retain it")
    parser.add_argument("--host", default="127.0.0.1", help="the printer's address")
    parser.add_argument("--port", type=int, default=9100, help="the printer's TCP port")
    parser.add_argument("--encoder-reader", default="Virtual PCD 00 00",
                        help="PC/SC reader of the printer's contact station")
    parser.set_defaults(func=cmd_diag_cardprinter)

"""`kiosk service ACTION`: a whole visit from the command line, for staff and tests.

The citizen identifies with the resident ID card in the ID reader ([id_reader] port or
--id-reader); the social security card is read from the card reader when it is there. PINs
come from the terminal without echo, or one per line from stdin (--pin-stdin). Each result is
printed as a line, then the visit's one receipt listing what was done or queued; the exit code
is 0 only when every item succeeded (done, or pending delivery).
"""
from __future__ import annotations

import sys

from drivers.apdu import CardError
from drivers.id_card_reader import IdCardError, IdCardReader
from drivers.pcsc import NoCardPresent
from kiosk.app import KioskCore
from kiosk.receipt import render_text
from kiosk.services.base import ServiceResult
from kiosk.services.bundles import BUNDLES
from kiosk.services.replace_card import REASONS
from kiosk.visit import CitizenIdentity, Visit

EXIT_OK, EXIT_NOT_DONE, EXIT_NO_IDENTITY = 0, 1, 11

# action -> (needs the ID card, needs the social security card)
ACTIONS = {
    "report-loss": (True, False), "cancel-loss": (True, True), "activate": (True, True),
    "change-pin": (False, True), "reset-pin": (True, True), "apply": (True, False),
    "replace": (True, False), "bundle": (True, False), "review": (False, False),
}


def _identify(core: KioskCore, visit: Visit, port: str) -> None:
    settings = core.config.id_reader
    with IdCardReader(port, baudrate=settings.baud, read_timeout=settings.read_timeout_s,
                      write_timeout=settings.write_timeout_s, retries=settings.retries) as reader:
        visit.identify(CitizenIdentity.from_resident_id(reader.read()))


def _read_card(core: KioskCore, visit: Visit, required: bool) -> None:
    try:
        visit.present_card(core.cards.read())
    except NoCardPresent:
        if required:
            raise


def _run_action(core: KioskCore, visit: Visit, args, pins) -> list[ServiceResult]:
    services = core.services
    action = args.action
    if action == "report-loss":
        return services.report_loss(visit, "formal" if args.formal else "temporary")
    if action == "cancel-loss":
        return services.cancel_loss(visit)
    if action == "activate":
        return services.activate(visit)
    if action == "change-pin":
        with pins.ask("current PIN: ") as old, pins.ask("new PIN: ", confirm=True) as new:
            return services.change_pin(visit, old, new)
    if action == "reset-pin":
        with pins.ask("new PIN: ", confirm=True) as new:
            return services.reset_pin(visit, new)
    if action == "review":
        return services.review(visit, args.item, args.level, args.comment)
    with pins.ask("PIN for the new card: ", confirm=True) as new:
        if action == "apply":
            return services.apply(visit, args.commitment, new)
        if action == "replace":
            return services.replace(visit, args.reason, args.commitment, new)
        return services.bundle(args.name, visit, args.commitment, new)


def cmd_service(args) -> int:
    from kiosk.cli import _PinSource  # the same PIN entry as `kiosk card`
    config = args.load_config()
    needs_identity, needs_card = ACTIONS[args.action]
    id_port = args.id_reader or config.id_reader.port
    core = KioskCore(config).start()
    visit = core.services.new_visit()
    try:
        try:
            if needs_identity:
                if not id_port:
                    print("kiosk: this action needs the resident ID card: set [id_reader] port or --id-reader",
                          file=sys.stderr)
                    return EXIT_NO_IDENTITY
                _identify(core, visit, id_port)
            if needs_card or args.action in ("replace", "bundle"):
                _read_card(core, visit, required=needs_card)
        except (IdCardError, CardError) as exc:
            print(f"kiosk: {type(exc).__name__}: {exc}", file=sys.stderr)
            print(exc.citizen_message)
            return EXIT_NOT_DONE
        results = _run_action(core, visit, args, _PinSource(args.pin_stdin))
        for result in results:
            print(f"{result.service_item} {result.action}: {result.outcome} - {result.citizen_message}")
            if result.staff_detail:
                print(f"  staff: {result.staff_detail}")
        receipt = core.services.receipt(visit)
        if receipt is not None:
            print(render_text(receipt, config.receipt_printer.paper_mm))
        return EXIT_OK if results and all(r.ok for r in results) else EXIT_NOT_DONE
    finally:
        core.services.end_visit(visit, "command finished")
        core.close(drain_s=config.outbox.delivery_wait_s)


def register(subparsers) -> None:
    service = subparsers.add_parser("service", help="run a visit's service items without the screen")
    service.add_argument("--id-reader", help="serial device of the ID card reader (default: [id_reader] port)")
    service.add_argument("--pin-stdin", action="store_true", help="read PINs one per line from stdin")
    actions = service.add_subparsers(dest="action", required=True, metavar="ACTION")
    loss = actions.add_parser("report-loss", help="1.10.6 report the card lost (temporary unless --formal)")
    loss.add_argument("--formal", action="store_true")
    actions.add_parser("cancel-loss", help="1.10.6 cancel a loss report (card and ID card)")
    actions.add_parser("activate", help="1.10.2 activate a sealed card")
    actions.add_parser("change-pin", help="1.10.5 change the PIN")
    actions.add_parser("reset-pin", help="1.10.5 reset a forgotten or blocked PIN")
    for name, help_text in (("apply", "1.10.1 apply for a card (on the spot when the card printer can)"),
                            ("replace", "1.10.7 replace a card"), ("bundle", "a bundle of items in one visit")):
        parser = actions.add_parser(name, help=help_text)
        parser.add_argument("--no-commitment", dest="commitment", action="store_false",
                            help="the citizen does not accept the written commitment (告知承诺制)")
        if name == "replace":
            parser.add_argument("--reason", required=True, choices=sorted(REASONS))
        if name == "bundle":
            parser.add_argument("name", choices=sorted(BUNDLES))
    review = actions.add_parser("review", help="好差评: rate a service item")
    review.add_argument("--item", required=True, choices=("1.10.1", "1.10.2", "1.10.5", "1.10.6", "1.10.7"))
    review.add_argument("--level", required=True, type=int, choices=range(1, 6))
    review.add_argument("--comment", default="")
    service.set_defaults(func=cmd_service)

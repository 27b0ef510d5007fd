"""`kiosk service ACTION`: a whole visit from the command line, for staff and tests.

The citizen identifies with the resident ID card in the ID reader ([id_reader] port or
--id-reader); the social security card is read from the card reader when it is there. PINs
come from the terminal without echo, or one per line from stdin (--pin-stdin). Each result is
printed as a line, then the visit's one receipt listing what was done or queued; the exit code
is 0 only when every item succeeded (done, or pending delivery).
"""
from __future__ import annotations

import sys

from drivers.apdu import CardError, NoCardPresent
from drivers.id_card_reader import IdCardError
from kiosk.cli import exits
from kiosk.cli.pins import PinSource
from kiosk.core import KioskCore
from kiosk.device_messages import citizen_message
from kiosk.face_check import PROMPTS
from kiosk.identity_assurance import FaceCheckUnavailable
from kiosk.receipt import render_text
from kiosk.services import catalog
from kiosk.services.catalog import Proof
from kiosk.services.bundles import BUNDLES
from kiosk.services.replace_card import REASONS
from kiosk.application import ApplicationDetails, Category, Guardian, GuardianRequired, Mailing, needs_guardian, \
    valid_phone
from kiosk.visit import Visit, VisitError


def _read_card(core: KioskCore, visit: Visit, required: bool) -> None:
    try:
        visit.present_card(core.cards.read())
    except NoCardPresent:
        if required:
            raise


def _report_loss(services, visit, args, pins):
    return services.report_loss(visit, "formal" if args.formal else "temporary")


def _change_pin(services, visit, args, pins):
    with pins.ask("current PIN: ") as old, pins.ask("new PIN: ", confirm=True) as new:
        return services.change_pin(visit, old, new)


def _reset_pin(services, visit, args, pins):
    with pins.ask("new PIN: ", confirm=True) as new:
        return services.reset_pin(visit, new)


def _application_details(core, visit, args) -> None:
    """What the application says besides the holder (kiosk/application.py), from the options;
    a minor's guardian puts their own ID card on the reader after the holder's."""
    guardian = None
    if needs_guardian(visit.identity):
        if not args.guardian:
            raise GuardianRequired("the holder is under 16: --guardian parent|other")
        print("place the guardian's own ID card on the reader", flush=True)
        guardian = Guardian.accept(visit.identity, core.identification.read_other_id_card(visit.identity.id_number),
                                   args.guardian)
    mailing = (Mailing("collect", office=args.collect_at) if args.collect_at else
               Mailing("mail", address=visit.identity.address) if args.mail_to_id_address else None)
    visit.application = ApplicationDetails(valid_phone(args.phone), Category(args.category), args.place or "",
                                           mailing, guardian)


def _apply(services, visit, args, pins):
    with pins.ask("PIN for the new card: ", confirm=True) as new:
        return services.apply(visit, args.commitment, new)


def _replace(services, visit, args, pins):
    with pins.ask("PIN for the new card: ", confirm=True) as new:
        return services.replace(visit, args.reason, args.commitment, new)


def _activate_bank(services, visit, args, pins):
    """The bank PIN is typed on the PIN pad ([pin_pad] port), never here."""
    words = {"bank_pin_issued": "enter the PIN from the bank's PIN mailer on the PIN pad, then Enter",
             "bank_pin": "enter the bank PIN on the PIN pad, then Enter",
             "bank_pin_again": "enter the same bank PIN again on the PIN pad, then Enter"}
    return services.activate_bank(visit, args.consent, prompt=lambda step: print(words[step], flush=True))


def _bundle(services, visit, args, pins):
    with pins.ask("PIN for the new card: ", confirm=True) as new:
        return services.bundle(args.name, visit, args.commitment, new)


# How each `kiosk service` command of the catalogue (catalog.commands()) collects what it needs
# and runs; `bundle` runs several of them. (services, visit, args, pins) -> list[ServiceResult]
RUNNERS = {
    "report-loss": _report_loss,
    "cancel-loss": lambda services, visit, args, pins: services.cancel_loss(visit),
    "activate": lambda services, visit, args, pins: services.activate(visit),
    "activate-bank": _activate_bank,
    "change-pin": _change_pin,
    "reset-pin": _reset_pin,
    "apply": _apply,
    "replace": _replace,
    "review": lambda services, visit, args, pins: services.review(visit, args.item, args.level, args.comment),
    "progress": lambda services, visit, args, pins: services.query_progress(visit),
    "bundle": _bundle,
}
# A replacement for any reason but loss needs the old card: read it when it is there.
READS_CARD_IF_PRESENT = {"replace", "bundle"}


def _proofs(command: str) -> tuple[bool, bool]:
    """(needs the ID card, needs the social security card) for a command."""
    if command == "bundle":
        return True, False
    actions = catalog.commands()[command]
    return (any(Proof.ID_CARD in a.requires for a in actions), any(a.needs_card for a in actions))


def _needs_face(core: KioskCore, args) -> bool:
    """Whether what this command will run needs the person vouched for (#13)."""
    if args.action == "bundle":
        names = ["report_loss_formal", "replace"] if args.name == "lost_card" else ["apply_instant", "apply_batch"]
    elif args.action == "report-loss":
        names = ["report_loss_formal" if args.formal else "report_loss_temporary"]
    else:
        names = [a.name for a in catalog.commands()[args.action]]
    return core.services.needs_face(names)


def _face_check(core: KioskCore, visit: Visit) -> int | None:
    """The face check on the configured camera, its challenges printed; an exit code when the
    person is not vouched for (the staff-assisted path is the touchscreen's)."""
    try:
        result = core.assurance.check_face(visit, prompt=lambda challenge: print(PROMPTS[challenge], flush=True),
                                           on_frame=lambda frame, analysis: None)
    except FaceCheckUnavailable as exc:
        print(f"kiosk: this action needs a face check, which cannot be made here: {exc}", file=sys.stderr)
        print(citizen_message(exc))
        return exits.NO_IDENTITY
    if not result.passed:
        print(f"kiosk: face check {result.decision}: {result.reason}", file=sys.stderr)
        return exits.NO_IDENTITY
    return None


def cmd_service(args) -> int:
    config = args.load_config()
    if args.id_reader:
        config = config.changed(id_reader={"port": args.id_reader})
    needs_identity, needs_card = _proofs(args.action)
    core = KioskCore(config).start()
    visit = core.services.new_visit()
    try:
        try:
            if needs_identity:
                if not core.devices.has_id_reader:
                    print("kiosk: this action needs the resident ID card: set [id_reader] port or --id-reader",
                          file=sys.stderr)
                    return exits.NO_IDENTITY
                visit.identify(core.identification.read_id_card())
            if needs_card or args.action in READS_CARD_IF_PRESENT:
                _read_card(core, visit, required=needs_card)
            if _needs_face(core, args):
                code = _face_check(core, visit)
                if code is not None:
                    return code
            if args.action == "apply" or (args.action == "bundle" and args.name == "first_card"):
                if not (args.phone and args.category):
                    print("kiosk: an application needs --phone and --category", file=sys.stderr)
                    return exits.USAGE
                _application_details(core, visit, args)
        except (IdCardError, CardError, VisitError) as exc:
            print(f"kiosk: {type(exc).__name__}: {exc}", file=sys.stderr)
            print(citizen_message(exc))
            return exits.FAILED
        results = RUNNERS[args.action](core.services, visit, args, PinSource(args.pin_stdin))
        for result in results:
            print(f"{result.service_item} {result.action}: {result.outcome} - {result.message()}")
            if result.staff_detail:
                print(f"  staff: {result.staff_detail}")
        receipt = core.services.receipt(visit)
        if receipt is not None:
            print(render_text(receipt, config.receipt_printer.paper_mm))
        return exits.OK if results and all(r.ok for r in results) else exits.FAILED
    finally:
        core.services.end_visit(visit, "command finished")
        core.close(drain_s=config.outbox.delivery_wait_s)


def register(subparsers) -> None:
    service = subparsers.add_parser("service", help="run a visit's service items without the screen")
    service.add_argument("--id-reader", help="serial device of the ID card reader (default: [id_reader] port)")
    service.add_argument("--pin-stdin", action="store_true", help="read PINs one per line from stdin")
    commands = service.add_subparsers(dest="action", required=True, metavar="ACTION")
    for command, actions in catalog.commands().items():
        names = ", ".join(dict.fromkeys(f"{a.title} ({a.command})" for a in actions))
        parser = commands.add_parser(command, help=f"{actions[0].item} {names}")
        if command == "report-loss":
            parser.add_argument("--formal", action="store_true")
        if command in ("apply", "replace"):
            _commitment_option(parser)
        if command == "replace":
            parser.add_argument("--reason", required=True, choices=sorted(REASONS))
        if command == "activate-bank":
            parser.add_argument("--consent", action="store_true", required=True,
                                help="the citizen has read and accepts the bank's account terms")
        if command == "review":
            parser.add_argument("--item", required=True, choices=catalog.rated_items())
            parser.add_argument("--level", required=True, type=int, choices=range(1, 6))
            parser.add_argument("--comment", default="")
        if command == "apply":
            _application_options(parser)
    bundle = commands.add_parser("bundle", help="a bundle of items in one visit (打包办)")
    bundle.add_argument("name", choices=sorted(BUNDLES))
    _commitment_option(bundle)
    _application_options(bundle, required=False)
    service.set_defaults(func=cmd_service)


def _application_options(parser, required: bool = True) -> None:
    """What an application says besides the holder (#14); `bundle first_card` needs them too."""
    parser.add_argument("--phone", required=required, help="the applicant's mobile number (11 digits)")
    parser.add_argument("--category", required=required, choices=[str(c) for c in Category])
    parser.add_argument("--place", help="the employer, school or community the category names, as the person's "
                        "social insurance record holds it")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--collect-at", metavar="OFFICE", help="a card not made on the spot is collected there")
    where.add_argument("--mail-to-id-address", action="store_true", help="or mailed to the ID card's address")
    parser.add_argument("--guardian", choices=("parent", "other"),
                        help="an applicant under 16: the guardian's relation; their ID card is read next")


def _commitment_option(parser) -> None:
    parser.add_argument("--no-commitment", dest="commitment", action="store_false",
                        help="the citizen does not accept the written commitment (告知承诺制)")

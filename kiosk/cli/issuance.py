"""`kiosk issuance list|resume|reject`: cards made on the spot that a crash or a fault left
unfinished, for maintenance staff (the issuance journal, kiosk/services/issuance_journal.py).

`list` reads the journal only. `resume` and `reject` act on the card printer and the backend
with the kiosk's own configuration; each is recorded in the audit trail of the visit the card
was made in.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from drivers.apdu import CardError
from drivers.card_printer import CardPrinterError
from kiosk.backend.errors import BackendError
from kiosk.cli import exits
from kiosk.core import KioskCore
from kiosk.services.issuance_journal import IssuanceJournal, JournalEntry, JournalError
from offline_queue import Outbox

WHAT_NEXT = {
    "running": "being made (or its kiosk died: the next start settles it)",
    "needs_staff": "waiting for staff",
    "handed_out": "handed out",
    "rejected": "rejected (retained, mark cancelled)",
}


def _print_entries(entries: list[JournalEntry]) -> None:
    print(f"{'application':<26} {'item':<7} {'step':<18} {'status':<12} {'card':<32} {'updated (UTC)':<23}  note")
    for e in entries:
        print(f"{e.application_id:<26} {e.service_item:<7} {e.step:<18} {e.status:<12} {e.card_id or '-':<32}"
              f" {e.updated_utc[:23]:<23}  {e.note or WHAT_NEXT[e.status]}")


def cmd_list(args) -> int:
    db = args.load_config().outbox.db
    if not Path(db).exists():
        print(f"kiosk: no kiosk database at {db}", file=sys.stderr)
        return exits.FAILED
    outbox = Outbox(db, keys=None)
    try:
        journal = IssuanceJournal(outbox)
        entries = journal.recent(args.limit) if args.all else journal.unfinished()
    finally:
        outbox.close()
    if args.json:
        print(json.dumps([e.as_dict() for e in entries], ensure_ascii=False))
    elif entries:
        _print_entries(entries)
    else:
        print("no unfinished issuance")
    return exits.OK


def _act(args, action: str) -> int:
    core = KioskCore(args.load_config())
    try:
        if core.issuance is None:
            print("kiosk: instant issuance is off on this kiosk ([card_printer] enabled = false)", file=sys.stderr)
            return exits.FAILED
        entry = getattr(core.issuance, action)(args.application_id)
    except JournalError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return exits.FAILED
    except (CardPrinterError, CardError, BackendError) as exc:
        print(f"kiosk: {action} stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exits.FAILED
    finally:
        core.close(drain_s=5.0)
    _print_entries([entry])
    return exits.OK if entry.status in ("handed_out", "rejected") else exits.FAILED


def cmd_resume(args) -> int:
    return _act(args, "resume")


def cmd_reject(args) -> int:
    return _act(args, "reject")


def register(subparsers) -> None:
    issuance = subparsers.add_parser("issuance", help="cards made on the spot that were left unfinished")
    actions = issuance.add_subparsers(dest="issuance_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="unfinished issuances (--all: the latest of every kind)")
    listing.add_argument("--all", action="store_true")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="a JSON array, for scripts")
    listing.set_defaults(func=cmd_list)
    resume = actions.add_parser("resume", help="finish a held card (print, report) and eject it to staff")
    resume.add_argument("application_id", metavar="APPLICATION")
    resume.set_defaults(func=cmd_resume)
    reject = actions.add_parser("reject", help="retain a held card and cancel its mark (not once it is reported)")
    reject.add_argument("application_id", metavar="APPLICATION")
    reject.set_defaults(func=cmd_reject)

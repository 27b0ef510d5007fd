"""`kiosk queue status|list|retry ID|dead|export`: the outbox for maintenance staff.

Nothing here opens a payload, so no key file is needed: staff see operations, states,
attempts, times and the backend's reasons, never a citizen's data.
"""
from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

from kiosk.cli import exits
from offline_queue import Outbox, OutboxError

STATE_CHOICES = {"pending": ("pending", "leased"), "dead": ("dead",), "done": ("done",),
                 "quarantined": ("quarantined",), "all": ("pending", "leased", "dead", "quarantined", "done")}


def _open(args) -> Outbox | None:
    if args.db is None:
        args.db = args.load_config().outbox.db  # the kiosk's own database unless told otherwise
    if not Path(args.db).exists():
        print(f"kiosk: no outbox at {args.db}", file=sys.stderr)
        return None
    return Outbox(args.db, keys=None)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).astimezone(
        datetime.timezone(datetime.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")


def age_text(seconds: float | None) -> str:
    """A duration for staff: 3d4h, 2h5m, 7m12s; "-" for none (a negative one, clock skew, is 0)."""
    if seconds is None:
        return "-"
    seconds = max(int(seconds), 0)
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h" if seconds >= 86400 else \
        f"{seconds // 3600}h{seconds % 3600 // 60}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60}s"


def _print_jobs(jobs) -> None:
    print(f"{'id':>6}  {'operation':<24} {'state':<8} {'urg':<3} {'tries':>5}  {'created (UTC+8)':<19}  reason")
    for job in jobs:
        print(f"{job.id:>6}  {job.operation:<24} {job.state:<8} {'yes' if job.urgent else '':<3} {job.attempts:>5}"
              f"  {_when(job.created_at):<19}  {job.last_error or ''}")


def cmd_status(args) -> int:
    outbox = _open(args)
    if outbox is None:
        return exits.FAILED
    stats = outbox.stats()
    outbox.close()
    if args.json:
        print(json.dumps(stats.as_dict()))
    else:
        print(f"pending jobs:  {stats.pending} (oldest waiting {age_text(stats.oldest_pending_age_s)})")
        print(f"dead letters:  {stats.dead}" + ("  <- see `kiosk queue dead`" if stats.dead else ""))
        print(f"delivered:     {stats.done}")
        if stats.quarantined:
            print(f"quarantined:   {stats.quarantined}  <- payloads that cannot be opened; "
                  "see `kiosk queue list --state quarantined`")
    return exits.OK


def cmd_list(args) -> int:
    outbox = _open(args)
    if outbox is None:
        return exits.FAILED
    jobs = outbox.jobs(STATE_CHOICES[args.state], limit=args.limit)
    outbox.close()
    _print_jobs(jobs)
    return exits.OK


def cmd_dead(args) -> int:
    outbox = _open(args)
    if outbox is None:
        return exits.FAILED
    jobs = outbox.jobs(("dead",), limit=args.limit)
    outbox.close()
    _print_jobs(jobs)
    return exits.OK


def cmd_retry(args) -> int:
    outbox = _open(args)
    if outbox is None:
        return exits.FAILED
    try:
        outbox.retry_dead(args.job_id)
    except OutboxError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return exits.FAILED
    finally:
        outbox.close()
    print(f"job {args.job_id} is pending again")
    return exits.OK


def cmd_export(args) -> int:
    """JSON lines, one per job, for a support ticket or an office's records (no payloads)."""
    outbox = _open(args)
    if outbox is None:
        return exits.FAILED
    jobs = outbox.jobs(STATE_CHOICES[args.state], limit=args.limit)
    outbox.close()
    lines = "".join(json.dumps(job.as_dict(), ensure_ascii=False) + "\n" for job in jobs)
    if args.out == "-":
        sys.stdout.write(lines)
    else:
        Path(args.out).write_text(lines, encoding="utf-8")
        print(f"{len(jobs)} jobs written to {args.out}")
    return exits.OK


def register(subparsers) -> None:
    queue = subparsers.add_parser("queue", help="the outbox of work waiting for the backend")
    actions = queue.add_subparsers(dest="queue_command", required=True, metavar="ACTION")

    def action(name, handler, help):
        parser = actions.add_parser(name, help=help)
        parser.add_argument("--db", help="the outbox database (default: [outbox] db)")
        parser.set_defaults(func=handler)
        return parser

    action("status", cmd_status, "depth, dead letters, age of the oldest job").add_argument(
        "--json", action="store_true", help="one JSON object, for scripts")
    listing = action("list", cmd_list, "list jobs")
    listing.add_argument("--state", choices=sorted(STATE_CHOICES), default="pending")
    listing.add_argument("--limit", type=int, default=200)
    action("dead", cmd_dead, "jobs the backend refused for good, with its reason").add_argument(
        "--limit", type=int, default=200)
    action("retry", cmd_retry, "send a dead letter again (same idempotency key)").add_argument(
        "job_id", type=int, metavar="ID")
    export = action("export", cmd_export, "write jobs as JSON lines (no payloads)")
    export.add_argument("--state", choices=sorted(STATE_CHOICES), default="all")
    export.add_argument("--limit", type=int, default=1_000_000)
    export.add_argument("--out", default="-", help="file to write (default: standard output)")


"""`kiosk audit verify` and `kiosk stats show|export`: the kiosk's records for staff and the office.

Both open the database read-only: checking the trail or making a report never changes it.
Without --db / --key-file / --audit-secret the paths come from the configuration's [outbox] section.

Exit codes: 0 fine; 1 the audit trail was tampered with; 3 the records cannot be read
(no database, not a database, no such tables, a wrong or unreadable key file, corrupted rows).
"""
from __future__ import annotations

import argparse
import datetime
import sqlite3
import sys
from pathlib import Path

from kiosk.audit import ALGORITHMS, AuditError, AuditTrail, audit_key_from
from kiosk.audit_secret import load_audit_secret
from kiosk.cli import exits
from kiosk.config import OutboxSection
from kiosk.stats import ServiceStats, StatsError
from offline_queue.sealing import KeyRing, SealingError


class RecordsUnreadable(Exception):
    """The database or the key file cannot be used."""


def _outbox_settings(args) -> OutboxSection:
    return args.load_config().outbox


def _open_read_only(args) -> sqlite3.Connection:
    path = Path(args.db or _outbox_settings(args).db)
    if not path.is_file():
        raise RecordsUnreadable(f"no database at {path}")
    try:
        connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise RecordsUnreadable(f"{path} cannot be read as a database: {exc}") from None
    return connection


def _run(handler, args) -> int:
    try:
        return handler(args)
    except (RecordsUnreadable, SealingError, AuditError, StatsError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return exits.UNREADABLE
    except sqlite3.DatabaseError as exc:
        print(f"kiosk: the database cannot be read: {exc}", file=sys.stderr)
        return exits.UNREADABLE


def cmd_audit_verify(args) -> int:
    config = args.load_config()
    if args.key_file:
        config = config.changed(outbox={"key_file": args.key_file})
    if args.audit_secret:
        config = config.changed(outbox={"audit_secret_file": args.audit_secret})
    connection = _open_read_only(args)
    try:
        keyring = KeyRing.load(config.outbox.key_file)
        trail = AuditTrail(audit_key_from(keyring, load_audit_secret(config, create=False)), args.algorithm)
        result = trail.verify(connection)
    finally:
        connection.close()
    if result.ok:
        print(f"audit trail intact: {result.entries} entries")
        return exits.OK
    for finding in result.findings:
        print(f"{finding.kind}: {finding.message}")
    print(f"audit trail TAMPERED: {len(result.findings)} findings in {result.entries} entries", file=sys.stderr)
    return exits.FAILED


def cmd_stats_show(args) -> int:
    connection = _open_read_only(args)
    try:
        summaries = ServiceStats().summary(connection, args.day)
    finally:
        connection.close()
    print(f"{'day':<10}  {'item':<7} {'done':>5} {'refused':>7} {'failed':>6} {'pending':>7}"
          f"  {'machine ms (median/p90)':>24}  {'total s (median/p90)':>21}  name")
    for s in summaries:
        machine = "-" if s.machine_ms_median is None else f"{s.machine_ms_median:.0f} / {s.machine_ms_p90:.0f}"
        total = "-" if s.total_ms_median is None else f"{s.total_ms_median / 1000:.1f} / {s.total_ms_p90 / 1000:.1f}"
        print(f"{s.day.isoformat():<10}  {s.service_item:<7} {s.done:>5} {s.refused:>7} {s.failed:>6} {s.pending:>7}"
              f"  {machine:>24}  {total:>21}  {s.item_name}")
    if not summaries:
        print("no service items recorded" + (f" on {args.day.isoformat()}" if args.day else ""))
    return exits.OK


def cmd_stats_export(args) -> int:
    stats = ServiceStats()
    connection = _open_read_only(args)
    try:
        if args.format == "prometheus":
            text = stats.prometheus_text(connection)
            if args.out == "-":
                sys.stdout.buffer.write(text)
                sys.stdout.flush()
            else:
                Path(args.out).write_bytes(text)
        elif args.out == "-":
            stats.export_csv(connection, sys.stdout)
        else:
            # With a byte-order mark: the office opens the file in Excel or WPS, which take
            # UTF-8 without one for the local ANSI code page and garble the item names.
            with open(args.out, "w", encoding="utf-8-sig", newline="") as out:
                rows = stats.export_csv(connection, out)
            print(f"{rows} rows written to {args.out}")
    finally:
        connection.close()
    return exits.OK


def _day(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from None


def register(subparsers) -> None:
    """Adds `audit` and `stats` to the `kiosk` command line's subparsers."""
    def command(parent, name, handler, help):
        parser = parent.add_parser(name, help=help)
        parser.add_argument("--db", help="the kiosk's database (default: [outbox] db)")
        parser.set_defaults(func=lambda args: _run(handler, args))
        return parser

    audit = subparsers.add_parser("audit", help="the tamper-evident audit trail (服务全程可追溯)").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION")
    verify = command(audit, "verify", cmd_audit_verify, "check every entry; list what was edited, removed or moved")
    verify.add_argument("--key-file", help="the kiosk's key file (default: [outbox] key_file)")
    verify.add_argument("--audit-secret", help="the audit secret (default: [outbox] audit_secret_file, or the "
                                               "systemd credential)")
    verify.add_argument("--algorithm", choices=sorted(ALGORITHMS), default="sm3",
                        help="the MAC algorithm the trail was written with (default sm3)")

    stats = subparsers.add_parser("stats", help="service statistics for progress reports").add_subparsers(
        dest="stats_command", required=True, metavar="ACTION")
    command(stats, "show", cmd_stats_show, "counts and durations per day and item").add_argument(
        "--day", type=_day, help="one day (YYYY-MM-DD, Asia/Shanghai); default every day")
    export = command(stats, "export", cmd_stats_export, "write statistics as CSV or Prometheus text")
    export.add_argument("--format", choices=("csv", "prometheus"), default="csv")
    export.add_argument("--out", default="-", help="file to write (default: standard output)")


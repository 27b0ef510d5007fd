"""Statistics for the office's progress reports (人社服务快办行动): per service item and local
day, how many were done, refused, failed and pending, and how long they took.

Each finished service item writes one row with `record`, in the same transaction as its local
record. Two durations: machine time (the kiosk's own work: devices, backend calls) and total
time (from the citizen's first tap for the item to its result, waiting for the citizen included).

Pending items (done locally, queued in the outbox while offline) are recorded with their outbox
job id, and their outcome is read from the outbox whenever statistics are asked for: delivered
(in `outbox_done`) counts as done, a dead letter as failed, anything else as pending. Nobody has
to remember to update the row, and a report made later shows what finally became of the item.

Durations (median, p90) are over the items the citizen finished at the kiosk, that is, done or
queued; refusals and failures end early and would make an item look faster than it is.
The median of an even count is the mean of the middle two; p90 is the nearest-rank value
(the ceil(0.9 n)-th smallest), always a time that was actually measured.

Times are stored in UTC; days are Asia/Shanghai days, fixed when the row is written.
"""
from __future__ import annotations

import csv
import datetime
import math
import sqlite3
import statistics
from dataclasses import dataclass
from typing import Iterable, Protocol, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.outcome import Outcome
from kiosk.services.catalog import ITEMS

try:
    LOCAL_TIME = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:
    # A kiosk image without tzdata: China has kept UTC+8 without daylight saving since 1991,
    # so the fixed offset gives the same local days.
    LOCAL_TIME = datetime.timezone(datetime.timedelta(hours=8), "CST")

_TIMED_OUTCOMES = (Outcome.DONE, Outcome.PENDING)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS service_stats (
    id             INTEGER PRIMARY KEY,
    service_item   TEXT NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('done', 'refused', 'failed', 'pending')),
    outbox_job_id  INTEGER,          -- pending only: the job whose delivery decides the outcome
    machine_ms     REAL NOT NULL,
    total_ms       REAL NOT NULL,
    at_utc         TEXT NOT NULL,    -- ISO 8601, UTC
    local_day      TEXT NOT NULL     -- YYYY-MM-DD in Asia/Shanghai
);
CREATE INDEX IF NOT EXISTS service_stats_by_day ON service_stats (local_day, service_item)
"""

CSV_COLUMNS = ("day", "service_item", "item_name", "done", "refused", "failed", "pending",
               "machine_ms_median", "machine_ms_p90", "total_ms_median", "total_ms_p90")


class StatsError(Exception):
    """A statistic cannot be recorded or read as asked."""


class Executor(Protocol):
    def execute(self, sql: str, parameters: tuple | dict = ...) -> sqlite3.Cursor: ...


@dataclass(frozen=True)
class ItemDay:
    """One service item on one local day."""
    day: datetime.date
    service_item: str
    done: int
    refused: int
    failed: int
    pending: int
    machine_ms_median: float | None   # None when nothing was finished that day
    machine_ms_p90: float | None
    total_ms_median: float | None
    total_ms_p90: float | None

    @property
    def item_name(self) -> str:
        return ITEMS[self.service_item]


@dataclass(frozen=True)
class _Row:
    day: str
    service_item: str
    outcome: str          # as it stands now (a pending item may have been delivered since)
    recorded: str         # as recorded
    machine_ms: float
    total_ms: float


def local_day(at_utc: datetime.datetime) -> datetime.date:
    if at_utc.tzinfo is None:
        raise StatsError("times must be timezone-aware (UTC)")
    return at_utc.astimezone(LOCAL_TIME).date()


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


class ServiceStats:
    def ensure_schema(self, executor: Executor) -> None:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                executor.execute(statement, ())

    def record(self, executor: Executor, *, service_item: str, outcome: str, machine_ms: float, total_ms: float,
               at_utc: datetime.datetime, outbox_job_id: int | None = None) -> int:
        """One finished service item; returns the row id. A pending item needs its outbox job."""
        if service_item not in ITEMS:
            raise StatsError(f"unknown service item {service_item!r} (known: {', '.join(ITEMS)})")
        if outcome not in tuple(Outcome):
            raise StatsError(f"unknown outcome {outcome!r} (known: {', '.join(tuple(Outcome))})")
        if (outcome == Outcome.PENDING) != (outbox_job_id is not None):
            raise StatsError("a pending item needs the id of its outbox job, and only a pending item has one")
        for name, value in (("machine_ms", machine_ms), ("total_ms", total_ms)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise StatsError(f"{name} must be a finite number of milliseconds, at least 0 (got {value!r})")
        if machine_ms > total_ms:
            raise StatsError(f"machine time ({machine_ms} ms) cannot exceed total time ({total_ms} ms)")
        day = local_day(at_utc)
        return executor.execute(
            "INSERT INTO service_stats (service_item, outcome, outbox_job_id, machine_ms, total_ms, at_utc, local_day)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (service_item, outcome, outbox_job_id, float(machine_ms), float(total_ms),
             at_utc.astimezone(datetime.timezone.utc).isoformat(timespec="microseconds"), day.isoformat())).lastrowid

    # --- reading ----------------------------------------------------------------------

    def _rows(self, connection: Executor, day: datetime.date | None = None) -> list[_Row]:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name IN ('service_stats', 'outbox_jobs', 'outbox_done')", ())}
        if "service_stats" not in tables:
            raise StatsError("there are no statistics in this database")
        # Outbox ids never repeat (see offline_queue.outbox), so a job id names one job for good.
        current = ("CASE WHEN s.outcome != 'pending' THEN s.outcome"
                   " WHEN EXISTS (SELECT 1 FROM outbox_done AS d WHERE d.id = s.outbox_job_id) THEN 'done'"
                   " WHEN EXISTS (SELECT 1 FROM outbox_jobs AS j WHERE j.id = s.outbox_job_id"
                   "              AND j.state = 'dead') THEN 'failed'"
                   " ELSE 'pending' END"
                   if {"outbox_jobs", "outbox_done"} <= tables else "s.outcome")
        sql = (f"SELECT s.local_day, s.service_item, {current}, s.outcome, s.machine_ms, s.total_ms"
               " FROM service_stats AS s")
        cursor = (connection.execute(sql + " ORDER BY s.local_day, s.service_item", ()) if day is None else
                  connection.execute(sql + " WHERE s.local_day = ? ORDER BY s.service_item", (day.isoformat(),)))
        rows = [_Row(*row) for row in cursor]
        for row in rows:
            if row.service_item not in ITEMS or row.recorded not in tuple(Outcome) or \
                    not all(isinstance(v, float) for v in (row.machine_ms, row.total_ms)) or not _is_day(row.day):
                raise StatsError(f"a statistics row is corrupted (day {row.day!r}, item {row.service_item!r}, "
                                 f"outcome {row.recorded!r})")
        return rows

    def summary(self, connection: Executor, day: datetime.date | None = None) -> list[ItemDay]:
        """Per local day and service item, every day or the one asked for, in order."""
        groups: dict[tuple[str, str], list[_Row]] = {}
        for row in self._rows(connection, day):
            groups.setdefault((row.day, row.service_item), []).append(row)
        return [_item_day(day_text, item, rows) for (day_text, item), rows in groups.items()]

    def export_csv(self, connection: Executor, file: TextIO) -> int:
        """One row per day and item, with a header; returns the number of rows written."""
        summaries = self.summary(connection)
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for s in summaries:
            writer.writerow([s.day.isoformat(), s.service_item, s.item_name, s.done, s.refused, s.failed, s.pending,
                             *(_ms(v) for v in (s.machine_ms_median, s.machine_ms_p90,
                                                s.total_ms_median, s.total_ms_p90))])
        return len(summaries)

    def prometheus_text(self, connection: Executor, *, now: datetime.datetime | None = None) -> bytes:
        """The statistics in the Prometheus text format, for fleet monitoring."""
        # Imported here: a kiosk that exports nothing never loads the library (some 2 MB).
        from prometheus_client import CollectorRegistry, generate_latest
        registry = CollectorRegistry()
        registry.register(self.collector(connection, local_day(now or datetime.datetime.now(datetime.timezone.utc))))
        return generate_latest(registry)

    def collector(self, connection: Executor, today: datetime.date) -> "_StatsCollector":
        """The statistics as a Prometheus collector (read now, from `connection`)."""
        return _StatsCollector(self._rows(connection), today)


def _item_day(day_text: str, item: str, rows: list[_Row]) -> ItemDay:
    counts = {outcome: 0 for outcome in tuple(Outcome)}
    for row in rows:
        counts[row.outcome] += 1
    timed = [row for row in rows if row.recorded in _TIMED_OUTCOMES]
    machine = [row.machine_ms for row in timed]
    total = [row.total_ms for row in timed]
    return ItemDay(datetime.date.fromisoformat(day_text), item, counts[Outcome.DONE], counts[Outcome.REFUSED],
                   counts[Outcome.FAILED], counts[Outcome.PENDING], median(machine), p90(machine), median(total),
                   p90(total))


def _is_day(text) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except (TypeError, ValueError):
        return False
    return True


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


class _StatsCollector:
    """Reads the table when scraped: counters since the kiosk began, quantiles for today.

    Prometheus wants counters that only grow. Done, refused and failed counts do, with one
    exception: a dead letter that staff send again turns a failed item back into pending."""

    def __init__(self, rows: list[_Row], today: datetime.date):
        self._rows = rows
        self._today = today.isoformat()

    def collect(self) -> Iterable:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
        finished = CounterMetricFamily(
            "kiosk_service_items", "Service items by outcome (a queued item counts once delivered or given up)",
            labels=["service_item", "outcome"])
        pending = GaugeMetricFamily("kiosk_service_items_pending", "Service items queued for the backend right now",
                                    labels=["service_item"])
        durations = {name: SummaryMetricFamily(f"kiosk_service_{name}_seconds",
                                               f"{what} of service items done or queued, since the kiosk began",
                                               labels=["service_item"])
                     for name, what in (("machine", "Machine time"), ("total", "Total time"))}
        today = {name: GaugeMetricFamily(f"kiosk_service_{name}_seconds_today",
                                         f"{what} of today's (Asia/Shanghai) service items done or queued, "
                                         "median and p90", labels=["service_item", "quantile"])
                 for name, what in (("machine", "Machine time"), ("total", "Total time"))}
        for item in ITEMS:
            rows = [row for row in self._rows if row.service_item == item]
            for outcome in (Outcome.DONE, Outcome.REFUSED, Outcome.FAILED):
                finished.add_metric([item, outcome], sum(1 for row in rows if row.outcome == outcome))
            pending.add_metric([item], sum(1 for row in rows if row.outcome == Outcome.PENDING))
            timed = [row for row in rows if row.recorded in _TIMED_OUTCOMES]
            timed_today = [row for row in timed if row.day == self._today]
            for name in ("machine", "total"):
                seconds = [getattr(row, f"{name}_ms") / 1000 for row in timed]
                durations[name].add_metric([item], count_value=len(seconds), sum_value=sum(seconds))
                seconds_today = [getattr(row, f"{name}_ms") / 1000 for row in timed_today]
                if seconds_today:
                    today[name].add_metric([item, "0.5"], median(seconds_today))
                    today[name].add_metric([item, "0.9"], p90(seconds_today))
        yield finished
        yield pending
        yield from durations.values()
        yield from today.values()

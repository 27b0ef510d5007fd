"""Service statistics on known data: counts, medians and p90 worked out by hand, Shanghai days,
pending items followed through the real outbox, CSV and Prometheus text read back."""
from __future__ import annotations

import csv
import datetime
import io
import math
import sqlite3

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kiosk.stats import CSV_COLUMNS, ItemDay, ServiceStats, StatsError, local_day
from offline_queue import Delivered, DeadLetter

UTC = datetime.timezone.utc
NOV26 = datetime.date(2026, 11, 26)
NOV27 = datetime.date(2026, 11, 27)
MORNING = datetime.datetime(2026, 11, 26, 2, 0, tzinfo=UTC)   # 10:00 in Shanghai
# 1.10.6 done: machine and total times (ms)
LOSS_MACHINE = [120, 80, 300, 200, 150, 90, 110, 500, 60, 100]
LOSS_TOTAL = [1200, 2000, 3000, 2500, 1500, 900, 1100, 5000, 600, 1000]


@pytest.fixture
def stats():
    return ServiceStats()


@pytest.fixture
def known(outbox, stats, connection):
    """Known data written the way a service writes it: in the outbox's transaction."""
    with outbox.transaction() as tx:
        stats.ensure_schema(tx)
        for machine, total in zip(LOSS_MACHINE, LOSS_TOTAL):
            stats.record(tx, service_item="1.10.6", outcome="done", machine_ms=machine, total_ms=total, at_utc=MORNING)
        stats.record(tx, service_item="1.10.6", outcome="refused", machine_ms=5, total_ms=40, at_utc=MORNING)
        stats.record(tx, service_item="1.10.6", outcome="failed", machine_ms=700, total_ms=800, at_utc=MORNING)
        for machine, total in ((400, 900), (100, 800), (250, 1000)):
            stats.record(tx, service_item="1.10.2", outcome="done", machine_ms=machine, total_ms=total, at_utc=MORNING)
    return connection


def test_summary_counts_and_durations_worked_out_by_hand(known, stats):
    # 1.10.6 machine, sorted: 60 80 90 100 110 | 120 150 200 300 500 -> median (110+120)/2, p90 the 9th
    # 1.10.6 total, sorted: 600 900 1000 1100 1200 | 1500 2000 2500 3000 5000 -> (1200+1500)/2, 3000
    # 1.10.2 machine 100 250 400 -> 250, p90 the ceil(2.7) = 3rd: 400; total 800 900 1000 -> 900, 1000
    # The refused and the failed 1.10.6 are counted but not timed.
    assert stats.summary(known) == [
        ItemDay(NOV26, "1.10.2", done=3, refused=0, failed=0, pending=0, machine_ms_median=250, machine_ms_p90=400,
                total_ms_median=900, total_ms_p90=1000),
        ItemDay(NOV26, "1.10.6", done=10, refused=1, failed=1, pending=0, machine_ms_median=115, machine_ms_p90=300,
                total_ms_median=1350, total_ms_p90=3000),
    ]
    assert stats.summary(known)[1].item_name == "社会保障卡挂失与解挂"


@pytest.mark.parametrize("at_utc, day", [
    (datetime.datetime(2026, 11, 26, 15, 59, 59, 999999, tzinfo=UTC), NOV26),   # 23:59:59 in Shanghai
    (datetime.datetime(2026, 11, 26, 16, 0, tzinfo=UTC), NOV27),                 # midnight in Shanghai
    (datetime.datetime(2026, 11, 26, 17, 0, tzinfo=UTC), NOV27),
    (datetime.datetime(2026, 11, 27, 0, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=9))), NOV26),  # Tokyo
])
def test_days_are_shanghai_days(at_utc, day):
    assert local_day(at_utc) == day


def test_summary_of_one_day_buckets_by_shanghai_day(outbox, stats, connection):
    with outbox.transaction() as tx:
        stats.ensure_schema(tx)
        for hour, machine in ((15, 100), (16, 200), (17, 300)):
            stats.record(tx, service_item="1.10.5", outcome="done", machine_ms=machine, total_ms=1000,
                         at_utc=datetime.datetime(2026, 11, 26, hour, 0, tzinfo=UTC))
    [day26] = stats.summary(connection, NOV26)
    [day27] = stats.summary(connection, NOV27)
    assert (day26.day, day26.done, day26.machine_ms_median) == (NOV26, 1, 100)
    assert (day27.day, day27.done, day27.machine_ms_median, day27.machine_ms_p90) == (NOV27, 2, 250, 300)
    assert stats.summary(connection, datetime.date(2026, 11, 28)) == []


def test_pending_items_take_the_outcome_of_their_outbox_job(outbox, stats, connection):
    with outbox.transaction() as tx:
        stats.ensure_schema(tx)
        for card, machine in (("card-1", 10), ("card-2", 20), ("card-3", 30)):
            job = tx.enqueue("loss_report", {"card": card}, subject=card, urgent=True)
            stats.record(tx, service_item="1.10.6", outcome="pending", machine_ms=machine, total_ms=1000,
                         at_utc=MORNING, outbox_job_id=job.id)
    [before] = stats.summary(connection)
    assert (before.done, before.failed, before.pending) == (0, 0, 3)
    claimed = {job.payload["card"]: job for job in outbox.claim(limit=10, lease_s=60)}
    outbox.settle([Delivered(claimed["card-1"]), DeadLetter(claimed["card-2"], "card unknown to the backend")])
    [after] = stats.summary(connection)
    assert (after.done, after.failed, after.pending) == (1, 1, 1)
    assert (after.machine_ms_median, after.machine_ms_p90) == (20, 30)  # all three were finished at the kiosk


@pytest.mark.parametrize("change, message", [
    ({"service_item": "1.10.9"}, "unknown service item"),
    ({"service_item": "lost_card"}, "unknown service item"),
    ({"outcome": "ok"}, "unknown outcome"),
    ({"outcome": "pending"}, "needs the id of its outbox job"),
    ({"outbox_job_id": 3}, "only a pending item"),
    ({"machine_ms": -1}, "machine_ms must be"),
    ({"total_ms": math.nan}, "total_ms must be"),
    ({"machine_ms": "12"}, "machine_ms must be"),
    ({"machine_ms": 2000}, "cannot exceed total time"),
    ({"at_utc": datetime.datetime(2026, 11, 26, 10, 0)}, "timezone-aware"),
])
def test_bad_records_are_refused_and_nothing_is_written(outbox, stats, connection, change, message):
    with outbox.transaction() as tx:
        stats.ensure_schema(tx)
    record = dict(service_item="1.10.6", outcome="done", machine_ms=100, total_ms=1000, at_utc=MORNING) | change
    with pytest.raises(StatsError, match=message):
        with outbox.transaction() as tx:
            stats.record(tx, **record)
    assert connection.execute("SELECT count(*) FROM service_stats").fetchone()[0] == 0


def test_a_corrupted_row_is_a_typed_error(known, stats):
    known.execute("UPDATE service_stats SET machine_ms = 'fast' WHERE id = 3")
    with pytest.raises(StatsError, match="corrupted"):
        stats.summary(known)
    known.execute("UPDATE service_stats SET machine_ms = 1, local_day = 'yesterday' WHERE id = 3")
    with pytest.raises(StatsError, match="corrupted"):
        stats.export_csv(known, io.StringIO())


def test_a_database_without_statistics_is_a_typed_error(stats, tmp_path):
    with pytest.raises(StatsError, match="no statistics"):
        stats.summary(sqlite3.connect(tmp_path / "empty.db"))


def test_csv_has_a_header_and_one_row_per_day_and_item(known, stats):
    out = io.StringIO()
    assert stats.export_csv(known, out) == 2
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [
        list(CSV_COLUMNS),
        ["2026-11-26", "1.10.2", "社会保障卡启用", "3", "0", "0", "0", "250.0", "400.0", "900.0", "1000.0"],
        ["2026-11-26", "1.10.6", "社会保障卡挂失与解挂", "10", "1", "1", "0", "115.0", "300.0", "1350.0", "3000.0"],
    ]


def test_a_day_with_only_refusals_has_no_durations(outbox, stats, connection):
    with outbox.transaction() as tx:
        stats.ensure_schema(tx)
        stats.record(tx, service_item="1.10.1", outcome="refused", machine_ms=3, total_ms=9, at_utc=MORNING)
    out = io.StringIO()
    stats.export_csv(connection, out)
    assert out.getvalue().splitlines()[1] == "2026-11-26,1.10.1,社会保障卡申领,0,1,0,0,,,,"


def metrics(text: bytes) -> dict:
    """{(sample name, frozen labels): value} from Prometheus text."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text.decode("utf-8")) for sample in family.samples}


def test_prometheus_text_reads_back(known, stats):
    text = stats.prometheus_text(known, now=datetime.datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    types = {family.name: family.type for family in text_string_to_metric_families(text.decode("utf-8"))}
    assert types == {"kiosk_service_items": "counter", "kiosk_service_items_pending": "gauge",
                     "kiosk_service_machine_seconds": "summary", "kiosk_service_total_seconds": "summary",
                     "kiosk_service_machine_seconds_today": "gauge", "kiosk_service_total_seconds_today": "gauge"}
    m = metrics(text)

    def value(name, **labels):
        return m[(name, frozenset(labels.items()))]

    assert value("kiosk_service_items_total", service_item="1.10.6", outcome="done") == 10
    assert value("kiosk_service_items_total", service_item="1.10.6", outcome="refused") == 1
    assert value("kiosk_service_items_total", service_item="1.10.6", outcome="failed") == 1
    assert value("kiosk_service_items_total", service_item="1.10.7", outcome="done") == 0
    assert value("kiosk_service_items_pending", service_item="1.10.6") == 0
    assert value("kiosk_service_machine_seconds_count", service_item="1.10.6") == 10
    assert value("kiosk_service_machine_seconds_sum", service_item="1.10.6") == pytest.approx(sum(LOSS_MACHINE) / 1000)
    assert value("kiosk_service_total_seconds_sum", service_item="1.10.2") == pytest.approx(2.7)
    assert value("kiosk_service_machine_seconds_today", service_item="1.10.6", quantile="0.5") == pytest.approx(0.115)
    assert value("kiosk_service_total_seconds_today", service_item="1.10.6", quantile="0.9") == pytest.approx(3.0)


def test_prometheus_quantiles_cover_today_only(known, stats):
    tomorrow = stats.prometheus_text(known, now=datetime.datetime(2026, 11, 26, 16, 30, tzinfo=UTC))
    names = {name for name, _ in metrics(tomorrow)}
    assert "kiosk_service_machine_seconds_today" not in names
    assert metrics(tomorrow)[("kiosk_service_machine_seconds_count", frozenset({("service_item", "1.10.6")}))] == 10

"""`kiosk audit verify` and `kiosk stats show|export` as staff run them: a subprocess on a real
database file, read-only, with exit codes a script can tell apart."""
from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import io
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kiosk.config import KioskConfig, OutboxSection
from kiosk.cli.exits import FAILED as EXIT_TAMPERED
from kiosk.cli.exits import OK as EXIT_OK
from kiosk.cli.exits import UNREADABLE as EXIT_UNREADABLE
from kiosk.cli.records import register
from kiosk.stats import CSV_COLUMNS, ServiceStats
from offline_queue import KeyRing
from records_helpers import run_records_cli

UTC = datetime.timezone.utc


@pytest.fixture
def kiosk_db(filled, outbox, db_path):
    """The filled audit trail plus statistics, in one file."""
    stats = ServiceStats()
    with outbox.transaction() as tx:
        stats.ensure_schema(tx)
        for hour, item in ((2, "1.10.6"), (3, "1.10.6"), (17, "1.10.2")):
            stats.record(tx, service_item=item, outcome="done", machine_ms=100 * hour, total_ms=2000,
                         at_utc=datetime.datetime(2026, 11, 26, hour, 0, tzinfo=UTC))
    return db_path


def fingerprint(db_path) -> dict:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in db_path.parent.glob(db_path.name + "*") if not path.name.endswith("-shm")}


def test_verify_an_intact_trail_and_change_nothing(kiosk_db, key_file):
    before = fingerprint(kiosk_db)
    done = run_records_cli("audit", "verify", "--db", str(kiosk_db), "--key-file", str(key_file))
    assert (done.returncode, done.stdout, done.stderr) == (EXIT_OK, "audit trail intact: 10 entries\n", "")
    assert fingerprint(kiosk_db) == before


def test_verify_lists_each_finding_of_a_tampered_trail(kiosk_db, key_file, connection):
    connection.execute("UPDATE audit_entries SET step = 'skipped' WHERE seq = 2")
    connection.execute("DELETE FROM audit_entries WHERE seq >= 9")
    done = run_records_cli("audit", "verify", "--db", str(kiosk_db), "--key-file", str(key_file))
    assert done.returncode == EXIT_TAMPERED
    assert done.stdout.splitlines() == ["edited: entry 2 was edited or forged: its MAC does not match its contents",
                                        "missing: entries 9-10 are missing (removed from the end)"]
    assert "TAMPERED: 2 findings in 8 entries" in done.stderr


def test_verify_with_another_kiosks_key_file_says_so(kiosk_db, tmp_path):
    other = tmp_path / "other.key"
    KeyRing.generate().save(other)
    done = run_records_cli("audit", "verify", "--db", str(kiosk_db), "--key-file", str(other))
    assert done.returncode == EXIT_UNREADABLE
    assert "the key does not match this audit trail" in done.stderr


def test_verify_without_the_audit_secret_refuses_and_with_another_says_so(kiosk_db, key_file, tmp_path):
    (tmp_path / "audit.secret").unlink()   # the key file and the database alone
    done = run_records_cli("audit", "verify", "--db", str(kiosk_db), "--key-file", str(key_file))
    assert done.returncode != EXIT_OK and "audit_secret_file" in done.stderr and "does not exist" in done.stderr
    other = tmp_path / "elsewhere" / "audit.secret"
    other.parent.mkdir()
    other.write_text("ab" * 32)
    done = run_records_cli("audit", "verify", "--db", str(kiosk_db), "--key-file", str(key_file),
                           "--audit-secret", str(other))
    assert done.returncode == EXIT_UNREADABLE and "the key does not match this audit trail" in done.stderr


def test_verify_with_the_wrong_algorithm_says_so(kiosk_db, key_file):
    done = run_records_cli("audit", "verify", "--db", str(kiosk_db), "--key-file", str(key_file),
                           "--algorithm", "sha256")
    assert done.returncode == EXIT_UNREADABLE and "written with 'sm3'" in done.stderr


@pytest.mark.parametrize("setup, message", [
    (lambda tmp: (tmp / "k.key").write_text("{not json"), "key file .* is malformed"),
    (lambda tmp: None, "key file .* does not exist"),
])
def test_verify_with_a_bad_key_file(kiosk_db, tmp_path, setup, message):
    setup(tmp_path)
    done = run_records_cli("audit", "verify", "--db", str(kiosk_db), "--key-file", str(tmp_path / "k.key"))
    assert done.returncode == EXIT_UNREADABLE
    assert re.search(message, done.stderr)


def test_verify_without_a_database_or_with_a_broken_one(key_file, tmp_path):
    done = run_records_cli("audit", "verify", "--db", str(tmp_path / "none.db"), "--key-file", str(key_file))
    assert (done.returncode, done.stderr) == (EXIT_UNREADABLE, f"kiosk: no database at {tmp_path / 'none.db'}\n")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not SQLite" * 100)
    done = run_records_cli("audit", "verify", "--db", str(garbage), "--key-file", str(key_file))
    assert done.returncode == EXIT_UNREADABLE and "cannot be read as a database" in done.stderr
    assert garbage.read_bytes() == b"this is not SQLite" * 100


def test_stats_export_csv_to_a_file_for_excel(kiosk_db, tmp_path):
    out = tmp_path / "report.csv"
    done = run_records_cli("stats", "export", "--db", str(kiosk_db), "--out", str(out))
    assert (done.returncode, done.stdout) == (EXIT_OK, f"2 rows written to {out}\n")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel and WPS need for UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == list(CSV_COLUMNS)
    assert [row[:4] for row in rows[1:]] == [["2026-11-26", "1.10.6", "社会保障卡挂失与解挂", "2"],
                                             ["2026-11-27", "1.10.2", "社会保障卡启用", "1"]]


def test_stats_export_prometheus_to_stdout(kiosk_db):
    done = run_records_cli("stats", "export", "--db", str(kiosk_db), "--format", "prometheus")
    assert done.returncode == EXIT_OK
    samples = {(s.name, s.labels.get("service_item"), s.labels.get("outcome")): s.value
               for family in text_string_to_metric_families(done.stdout) for s in family.samples}
    assert samples[("kiosk_service_items_total", "1.10.6", "done")] == 2
    assert samples[("kiosk_service_items_total", "1.10.2", "done")] == 1


def test_stats_show_one_day(kiosk_db):
    done = run_records_cli("stats", "show", "--db", str(kiosk_db), "--day", "2026-11-27")
    assert done.returncode == EXIT_OK
    lines = done.stdout.splitlines()
    assert lines[0].split()[:6] == ["day", "item", "done", "refused", "failed", "pending"]
    assert lines[1].split() == ["2026-11-27", "1.10.2", "1", "0", "0", "0", "1700", "/", "1700", "2.0", "/", "2.0",
                                "社会保障卡启用"]
    assert len(lines) == 2
    empty = run_records_cli("stats", "show", "--db", str(kiosk_db), "--day", "2026-12-01")
    assert empty.stdout.splitlines()[-1] == "no service items recorded on 2026-12-01"


@pytest.mark.parametrize("args, message", [
    (["stats", "export", "--format", "xml"], "invalid choice: 'xml'"),
    (["stats", "show", "--day", "yesterday"], "not a day"),
])
def test_bad_arguments_are_usage_errors(kiosk_db, args, message):
    done = run_records_cli(*args, "--db", str(kiosk_db))
    assert done.returncode == 2 and message in done.stderr


def test_stats_of_a_database_without_statistics(filled, db_path):
    done = run_records_cli("stats", "export", "--db", str(db_path))
    assert (done.returncode, done.stderr) == (EXIT_UNREADABLE, "kiosk: there are no statistics in this database\n")


def test_register_takes_the_paths_from_the_kiosk_configuration(kiosk_db, key_file, capsys):
    parser = argparse.ArgumentParser(prog="kiosk")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", "verify"])
    args.load_config = lambda: KioskConfig(outbox=OutboxSection(db=str(kiosk_db), key_file=str(key_file)))
    assert args.func(args) == EXIT_OK
    assert capsys.readouterr().out == "audit trail intact: 10 entries\n"
    args = parser.parse_args(["stats", "export", "--format", "csv"])
    args.load_config = lambda: KioskConfig(outbox=OutboxSection(db=str(kiosk_db)))
    assert args.func(args) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[0] == ",".join(CSV_COLUMNS)

"""`kiosk queue ...` and `kiosk backend ...`, through `register` on a parser of our own."""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from backend_helpers import client_for
from kiosk.cli import queue as queue_cli
from reference_backend import cli as backend_cli
from reference_backend.store import BackendStore
from offline_queue import DeadLetter, Delivered

ROOT = Path(__file__).resolve().parents[3]


def run(register, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kiosk")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def kiosk_queue(*argv) -> int:
    return run(queue_cli.register, ["queue", *argv])


def filled_outbox(outbox):
    """Five jobs: one delivered, one dead, three pending (one of them urgent)."""
    for n in range(4):
        outbox.enqueue("submit_review", {"service_item": "1.10.6", "level": 5, "comment": "张三 很好"},
                       subject=f"visit-{n}")
    outbox.enqueue("report_loss", {"card_id": "C", "kind": "temporary"}, subject="card-C", urgent=True)
    loss, first, second = outbox.claim(3, lease_s=30)
    outbox.settle([Delivered(first), DeadLetter(second, "422 card_not_found: no such card"),
                   Delivered(loss)])
    return loss, first, second


def test_status_json_for_scripts(outbox, capsys):
    filled_outbox(outbox)
    assert kiosk_queue("status", "--db", str(outbox.path), "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["pending"], status["dead"], status["done"]) == (2, 1, 2)
    assert status["oldest_pending_age_s"] >= 0


def test_status_list_and_dead_for_people(outbox, capsys):
    filled_outbox(outbox)
    assert kiosk_queue("status", "--db", str(outbox.path)) == 0
    assert "dead letters:  1" in capsys.readouterr().out
    assert kiosk_queue("list", "--db", str(outbox.path)) == 0
    listing = capsys.readouterr().out
    assert listing.count("submit_review") == 2 and "report_loss" not in listing  # delivered: not pending
    assert kiosk_queue("dead", "--db", str(outbox.path)) == 0
    assert "422 card_not_found: no such card" in capsys.readouterr().out


def test_retry_brings_a_dead_letter_back_and_refuses_anything_else(outbox, capsys):
    loss, first, dead = filled_outbox(outbox)
    assert kiosk_queue("retry", "--db", str(outbox.path), str(dead.id)) == 0
    assert [j.state for j in outbox.jobs(["pending"]) if j.id == dead.id] == ["pending"]
    assert kiosk_queue("retry", "--db", str(outbox.path), str(first.id)) == 1
    assert "not a dead letter" in capsys.readouterr().err


def test_export_writes_every_job_without_personal_data(outbox, tmp_path):
    filled_outbox(outbox)
    out = tmp_path / "export.jsonl"
    assert kiosk_queue("export", "--db", str(outbox.path), "--out", str(out)) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(job["state"] for job in lines) == ["dead", "done", "done", "pending", "pending"]
    assert "张三" not in out.read_text(encoding="utf-8")


def test_a_missing_outbox_is_reported_not_created(tmp_path, capsys):
    assert kiosk_queue("status", "--db", str(tmp_path / "none.db")) == 1
    assert "no outbox" in capsys.readouterr().err and not (tmp_path / "none.db").exists()


def test_certs_and_seed_prepare_the_demo_backend(tmp_path):
    assert run(backend_cli.register, ["backend", "certs", "--dir", str(tmp_path / "certs")]) == 0
    assert sorted(p.name for p in (tmp_path / "certs").iterdir()) == [
        "ca.pem", "kiosk.key", "kiosk.pem", "operations.key", "operations.pem", "server.key", "server.pem"]
    db = tmp_path / "backend.db"
    assert run(backend_cli.register, ["backend", "seed", "--db", str(db), "--profile", "card_v3.toml"]) == 0
    store = BackendStore(db)
    card = store.read(lambda conn: store.card_status(conn, "KIOSK-0001", "371300D15600000500BF7C7A48FB4966", {})).body
    store.close()
    assert (card["card_number"], card["status"]) == ("M12345678", "normal")


@pytest.mark.parametrize("profile, card_id, birthplace", [
    ("card_v1.toml", "639900D15600000500BF7C7A48FB4966", "630100"),
    ("card_v2.toml", "110100D1560000050000000000012345", "110100"),
    ("card_v3.toml", "371300D15600000500BF7C7A48FB4966", "371302")])
def test_every_shipped_profile_seeds_into_either_database(store_db, profile, card_id, birthplace):
    """Cards before 3.0 name the birthplace's prefecture in 4 digits: kept as its 6-digit code."""
    assert run(backend_cli.register, ["backend", "seed", "--db", str(store_db), "--profile", profile,
                                      "--status", "sealed"]) == 0
    store = BackendStore(store_db)
    card = store.read(lambda conn: store.card_status(conn, "KIOSK-0001", card_id, {})).body
    with store._transaction() as conn:
        person = conn.execute("SELECT birthplace FROM persons JOIN cards USING (id_number) WHERE card_id = ?",
                              (card_id,)).fetchone()
    store.close()
    assert card["status"] == "sealed" and person == (birthplace,)


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_over_tls_and_stops_on_sigterm(pki, tmp_path, workers):
    server = subprocess.Popen(
        [sys.executable, "-m", "reference_backend.cli", "backend", "serve", "--port", "0",
         "--db", str(tmp_path / "b.db"), "--certs", str(pki.directory), "--workers", str(workers)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        banner = server.stdout.readline()
        url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        client = client_for(url, pki)
        assert client.health()["status"] == "ok"
        client.close()
    finally:
        server.send_signal(signal.SIGTERM)
        # uvicorn stops gracefully, then ends by the signal it was sent, as a service should
        assert server.wait(10) in (0, -signal.SIGTERM)
        server.stdout.close()

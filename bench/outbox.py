"""Outbox benchmark: durable enqueue latency, enqueue throughput beside persist-queue's
SQLiteAckQueue at the same durability, and delivery throughput to the reference backend
over TLS with keep-alive.

Run from the repository root:  .venv/bin/python bench/outbox.py
The last line is JSON: enqueue_ms_median, enqueue_ms_p99, enqueue_ratio_vs_persistqueue,
delivery_jobs_per_s.
"""
from __future__ import annotations

import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from persistqueue import SQLiteAckQueue  # noqa: E402

from kiosk.backend.client import BackendClient  # noqa: E402
from kiosk.backend.delivery import health_probe, outbox_sender  # noqa: E402
from reference_backend.pki import make_test_pki  # noqa: E402
from offline_queue import DeliveryWorker, KeyRing, Outbox  # noqa: E402

ENQUEUES = 6000
BLOCK = 100
DELIVERIES = 3000

# A realistic job: an application with the holder's data (sealed by the outbox, pickled in
# clear by persist-queue).
PAYLOAD = {"holder": {"id_number": "371302198001011239", "name": "张三", "sex": "1", "ethnicity": 1,
                      "birth_date": "19800101", "birthplace": "371302"},
           "region_code": "371300", "channel": "instant", "commitment": True}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def open_persistqueue(folder: Path) -> tuple[SQLiteAckQueue, str]:
    queue = SQLiteAckQueue(str(folder), auto_commit=True, multithreading=False)
    # persist-queue sets journal_mode=WAL and leaves synchronous at SQLite's default; set it to
    # FULL as ours is, so both fsync the WAL at every commit.
    queue._putter.execute("PRAGMA synchronous=FULL")
    settings = (f"journal_mode={queue._putter.execute('PRAGMA journal_mode').fetchone()[0]}, "
                f"synchronous={queue._putter.execute('PRAGMA synchronous').fetchone()[0]}")
    return queue, settings


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def sealed_put(queue: SQLiteAckQueue, keys: KeyRing, n: int) -> None:
    """What an outbox built on persist-queue would have to do to keep DESIGN.md's rule
    (personal data encrypted at rest): seal the payload and tokenise the subject first."""
    idempotency_key = secrets.token_hex(16)
    sealed = keys.seal(json.dumps(PAYLOAD, ensure_ascii=False).encode(), idempotency_key.encode())
    queue.put({"operation": "apply_card", "idempotency_key": idempotency_key, "key_id": sealed.key_id,
               "payload": sealed.blob, "subject": keys.subject_token(f"person-{n}")})


def bench_enqueue() -> tuple[list[float], float]:
    """The queues live in the same folder and take turns in blocks of BLOCK jobs, so that none
    gets a quieter disk or a warmer cache than the others. Each job is one committed
    transaction with the WAL fsynced (synchronous=FULL) in all of them."""
    keys = KeyRing.generate()
    ours, plain, sealed = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        outbox = Outbox(Path(tmp) / "outbox.db", keys)
        plain_queue, settings = open_persistqueue(Path(tmp) / "plain")
        sealed_queue, _ = open_persistqueue(Path(tmp) / "sealed")
        for block in range(ENQUEUES // BLOCK):
            for n in range(block * BLOCK, (block + 1) * BLOCK):
                ours.append(timed(lambda: outbox.enqueue("apply_card", PAYLOAD, subject=f"person-{n}")))
            for n in range(block * BLOCK, (block + 1) * BLOCK):
                sealed.append(timed(lambda: sealed_put(sealed_queue, keys, n)))
            for _ in range(BLOCK):
                plain.append(timed(lambda: plain_queue.put(PAYLOAD)))
        outbox.close()
        plain_queue.close()
        sealed_queue.close()
    rate = {name: len(samples) / sum(samples) for name, samples in
            (("ours", ours), ("sealed", sealed), ("plain", plain))}
    print(f"  persist-queue: {settings} (2 = FULL); ours: journal_mode=wal, synchronous=2 (FULL);")
    print(f"  same payload, same folder, alternating blocks of {BLOCK}.")
    print(f"  outbox (sealed SM4-GCM, HMAC-SM3 subject)        {rate['ours']:7.0f} enqueues/s")
    print(f"  SQLiteAckQueue given the same sealing            {rate['sealed']:7.0f} puts/s"
          f"   ratio {rate['ours'] / rate['sealed']:.2f}  <- reported below")
    print(f"  SQLiteAckQueue pickling personal data in clear   {rate['plain']:7.0f} puts/s"
          f"   ratio {rate['ours'] / rate['plain']:.2f}  (not allowed by DESIGN.md)")
    return ours, rate["ours"] / rate["sealed"]


def bench_delivery(folder: Path) -> float:
    pki = make_test_pki(folder / "certs")
    server = subprocess.Popen(
        [sys.executable, "-m", "reference_backend.cli", "backend", "serve", "--host", "127.0.0.1", "--port", "0",
         "--db", str(folder / "backend.db"), "--certs", str(pki.directory)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        banner = server.stdout.readline()  # "reference backend on https://localhost:PORT (store ...)"
        url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        client = BackendClient(url, ca_file=pki.ca_cert, cert_file=pki.kiosk_cert, key_file=pki.kiosk_key)
        outbox = Outbox(folder / "deliver.db", KeyRing.generate())
        for n in range(DELIVERIES):
            outbox.enqueue("submit_review", {"service_item": "1.10.6", "level": 5, "comment": f"bench {n}"},
                           subject=f"visit-{n}")
        worker = DeliveryWorker(outbox, outbox_sender(client), health_probe(client), senders=4, batch_size=64)
        started = time.perf_counter()
        while worker.deliver_due():
            pass
        elapsed = time.perf_counter() - started
        stats = outbox.stats()
        worker.stop()
        client.close()
        outbox.close()
        if stats.done != DELIVERIES:
            raise SystemExit(f"delivery bench: only {stats.done} of {DELIVERIES} jobs delivered")
        print(f"  {DELIVERIES} jobs in {elapsed:.2f}s: 4 sender threads, keep-alive TLS 1.3 with client "
              f"certificate, server in its own process with synchronous=FULL")
        return DELIVERIES / elapsed
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    print(f"durable enqueue, {ENQUEUES} jobs each")
    samples, ratio = bench_enqueue()
    median_ms, p99_ms = statistics.median(samples) * 1000, percentile(samples, 0.99) * 1000
    print(f"  enqueue latency: median {median_ms:.3f} ms, p99 {p99_ms:.3f} ms; throughput ratio {ratio:.2f}")
    print(f"delivery to the reference backend over TLS, {DELIVERIES} jobs")
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        rate = bench_delivery(Path(tmp))
    print(f"  {rate:.0f} jobs/s")
    print(json.dumps({"enqueue_ms_median": round(median_ms, 3), "enqueue_ms_p99": round(p99_ms, 3),
                      "enqueue_ratio_vs_persistqueue": round(ratio, 2), "delivery_jobs_per_s": round(rate)}))


if __name__ == "__main__":
    main()

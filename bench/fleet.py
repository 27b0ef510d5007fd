"""A province-wide outage ending (#20): KIOSKS kiosks, each a real Outbox (its own SQLite
database) and DeliveryWorker, holding JOBS queued jobs between them, find the reference backend
again at the same moment and drain their queues into it. The backend is `kiosk backend serve
--workers BACKEND_WORKERS` on PostgreSQL (a temporary cluster this script starts), on loopback.

The kiosks run in PROCESSES processes, KIOSKS / PROCESSES each, with the product's own
reconnection settings ([outbox] defaults: a probe every 5 s while the link is down, the queue
starting at a random point of reconnect_spread_s, Retry-After honoured with jitter). Every kiosk
has a certificate of its own, as in the field. At the end the backend's rows are compared with
every job every kiosk queued: lost (a job the backend never recorded) and duplicated (a job it
recorded twice) must both be 0.

Run from the repo root: `.venv/bin/python bench/fleet.py [--kiosks N --jobs N]`. The last line
is JSON: kiosks, jobs, drain_s (from the backend listening to the last queue empty), jobs_per_s,
lost, duplicated, backend_p99_ms (a delivery's round trip as the kiosks saw it), and shed (503s
the backend answered instead of queueing).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from kiosk.backend.client import BackendClient  # noqa: E402
from kiosk.backend.delivery import health_probe, outbox_sender  # noqa: E402
from kiosk.config import OutboxSection  # noqa: E402
from offline_queue import Backoff, DeliveryWorker, KeyRing, Outbox, TransientFailure  # noqa: E402
from reference_backend.pki import PkiFiles, make_test_pki  # noqa: E402
from reference_backend.postgres import temporary_cluster  # noqa: E402

KIOSKS = 500
JOBS = 50_000
PROCESSES = 4
BACKEND_WORKERS = 2
SENDERS = 2           # deliveries in flight per kiosk
DRAIN_TIMEOUT_S = 900


def terminal(index: int) -> str:
    return f"KIOSK-{index + 1:04d}"


def kiosk_files(pki: PkiFiles, name: str) -> tuple[Path, Path]:
    return (pki.kiosk_cert, pki.kiosk_key) if name == terminal(0) else pki.other_kiosk(name)


def run_kiosks(names: list[str], jobs_each: int, folder: Path, pki_dir: Path, url: str, ready, results) -> None:
    """One process's kiosks: queue their jobs while the backend is away, start their workers
    (which find the link down and probe), then wait for every queue to empty."""
    pki = PkiFiles(pki_dir)
    section = OutboxSection()
    latencies: list[float] = []
    shed = 0

    def timed(sender):
        def deliver(job):
            nonlocal shed
            started = time.perf_counter()
            try:
                reply = sender(job)
            except TransientFailure as exc:
                shed += exc.reason.startswith("503")
                raise
            latencies.append((time.perf_counter() - started) * 1000)
            return reply
        return deliver

    kiosks, queued = [], {}
    for name in names:
        outbox = Outbox(folder / f"{name}.db", KeyRing.generate())
        with outbox.transaction() as tx:
            for number in range(jobs_each):
                tx.enqueue("submit_review", {"service_item": "1.10.6", "level": 1 + number % 5}, subject=name)
        queued[name] = [job.idempotency_key for job in tx.enqueued]
        cert, key = kiosk_files(pki, name)
        client = BackendClient(url, ca_file=str(pki.ca_cert), cert_file=str(cert), key_file=str(key))
        worker = DeliveryWorker(outbox, timed(outbox_sender(client)), health_probe(client), senders=SENDERS,
                                batch_size=section.batch_size, lease_s=section.lease_s, poll_s=section.poll_s,
                                probe_interval_s=section.probe_interval_s,
                                backoff=Backoff(section.backoff_base_s, section.backoff_cap_s),
                                reconnect_spread_s=section.reconnect_spread_s)
        worker.link_up = False   # they have been offline through the outage
        kiosks.append((outbox, client, worker))
    for _outbox, _client, worker in kiosks:
        worker.start()
    ready.put(len(names))
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline and any(outbox.stats().pending for outbox, _c, _w in kiosks):
        time.sleep(0.2)
    drained_at = time.time()
    dead = sum(outbox.stats().dead for outbox, _c, _w in kiosks)
    for outbox, client, worker in kiosks:
        worker.stop()
        client.close()
        outbox.close()
    results.put({"queued": queued, "drained_at": drained_at, "dead": dead, "latencies": latencies, "shed": shed})


def collect(queue, processes, backend=None):
    """The next message of the kiosk processes; a kiosk process or the backend that died says so
    at once."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S + 60
    while time.monotonic() < deadline:
        try:
            return queue.get(timeout=1)
        except Empty:
            failed = [process.exitcode for process in processes if process.exitcode not in (None, 0)]
            if failed:
                raise SystemExit(f"a kiosk process failed (exit codes {failed})")
            if backend is not None and backend.poll() is not None:
                raise SystemExit(f"the backend stopped (exit code {backend.returncode})")
    raise SystemExit("the kiosks did not finish in time")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    # A bench stopped from outside (a timeout's SIGTERM) still stops its cluster and backend.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", type=int, default=KIOSKS)
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--processes", type=int, default=PROCESSES)
    parser.add_argument("--backend-workers", type=int, default=BACKEND_WORKERS)
    args = parser.parse_args()
    jobs_each = args.jobs // args.kiosks
    names = [terminal(i) for i in range(args.kiosks)]
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp, temporary_cluster() as dsn:
        folder = Path(tmp)
        started = time.perf_counter()
        pki = make_test_pki(folder / "pki", kiosk_name=names[0], other_kiosks=tuple(names[1:]))
        print(f"{len(names)} kiosk certificates in {time.perf_counter() - started:.1f} s", flush=True)
        port = free_port()
        url = f"https://localhost:{port}"
        context = multiprocessing.get_context("spawn")
        ready, results = context.Queue(), context.Queue()
        processes = [context.Process(target=run_kiosks, args=(names[i::args.processes], jobs_each, folder,
                                                             pki.directory, url, ready, results), daemon=True)
                     for i in range(args.processes)]
        for process in processes:
            process.start()
        for _ in processes:
            collect(ready, processes)
        print(f"{len(names)} kiosks hold {jobs_each * len(names)} jobs and probe a backend that is away", flush=True)
        backend = subprocess.Popen(
            [sys.executable, "-m", "reference_backend.cli", "backend", "serve", "--port", str(port), "--db", dsn,
             "--certs", str(pki.directory), "--workers", str(args.backend_workers)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            if not backend.stdout.readline():   # listening from here: the outage is over
                raise SystemExit("the backend did not start")
            back_at = time.time()
            print("the backend is back", flush=True)
            reports = [collect(results, processes, backend) for _ in processes]
        finally:
            backend.terminate()
            backend.wait(30)
            backend.stdout.close()
        for process in processes:
            process.join(30)
        queued = {name: keys for report in reports for name, keys in report["queued"].items()}
        with psycopg.connect(dsn) as conn:
            recorded = conn.execute("SELECT terminal, idempotency_key, count(*) FROM reviews"
                                    " GROUP BY terminal, idempotency_key").fetchall()
    held = {(name, key) for name, keys in queued.items() for key in keys}
    seen = {(name, key): count for name, key, count in recorded}
    lost = len(held - set(seen))
    duplicated = sum(count - 1 for count in seen.values())
    drain_s = max(report["drained_at"] for report in reports) - back_at
    latencies = sorted(ms for report in reports for ms in report["latencies"])
    figures = {"kiosks": len(names), "jobs": len(held), "drain_s": round(drain_s, 1),
               "jobs_per_s": round(len(held) / drain_s, 1), "lost": lost, "duplicated": duplicated,
               "backend_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1) if latencies else None,
               "shed": sum(report["shed"] for report in reports)}
    print(f"drained {len(held)} jobs of {len(names)} kiosks in {drain_s:.1f} s ({figures['jobs_per_s']} jobs/s); "
          f"lost {lost}, duplicated {duplicated}, dead letters {sum(r['dead'] for r in reports)}; "
          f"median delivery {statistics.median(latencies) if latencies else 0:.1f} ms, "
          f"p99 {figures['backend_p99_ms']} ms; {figures['shed']} answered 503 (shed)")
    print(json.dumps(figures))
    return 0 if lost == 0 and duplicated == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

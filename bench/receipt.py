"""How long a receipt takes to reach the printer, at 9600 and 115200 baud.

Run from the repository root: `.venv/bin/python bench/receipt.py`. It starts the simulated
printer itself (a pty; nothing else needed).

What is measured: `ReceiptPrinter.print_job()` end to end, i.e. the status check before the
job, the job itself, and the status check after it, which the simulator answers only once it
has taken every byte of the job. A pty moves bytes instantly, so the simulator paces its reads
at the configured baud rate (10 bits a byte, 8N1) and paces its answers the same way: the
measurement includes the line time a real RS-232 cable would take, plus our overhead.
The ratio compares that with the line time of the receipt alone (bytes x 10 / baud); the two
status round trips are part of the overhead the ratio shows.
Last line: one JSON object.
"""
from __future__ import annotations

import datetime
import json
import statistics
import time

from drivers.receipt_printer import ReceiptPrinter
from drivers.sim.receipt_printer import SimulatedReceiptPrinter
from kiosk.outcome import Outcome
from kiosk.receipt import Receipt, ReceiptItem, render_escpos

RUNS = {9600: 3, 115200: 9}
PAPER_MM, ENCODING = 80, "gb18030"


def typical_receipt() -> Receipt:
    """A loss report queued while offline: the longest of the everyday receipts."""
    return Receipt(items=(ReceiptItem("1.10.6", Outcome.PENDING, "临时挂失", outbox_reference=123456),),
                   completed_at=datetime.datetime(2026, 11, 26, 6, 30, tzinfo=datetime.timezone.utc),
                   verification_reference="V-KIOSK-0001-20261126-000123", terminal_number="KIOSK-0001",
                   holder_name="李华", id_number="37130219900307123X", card_number="X00000019")


def time_receipt(job: bytes, baud: int, runs: int) -> list[float]:
    times = []
    with SimulatedReceiptPrinter(baudrate=baud, encoding=ENCODING, paper_mm=PAPER_MM) as sim, \
            ReceiptPrinter.open(sim.path, baudrate=baud, encoding=ENCODING, paper_mm=PAPER_MM,
                                read_timeout=2.0, write_timeout=2.0) as printer:
        for run in range(runs):
            started = time.perf_counter()
            printer.print_job(job)
            times.append(time.perf_counter() - started)
            if len(sim.wait_for_receipts(run + 1, timeout=1.0)) != run + 1:
                raise SystemExit("the simulator did not print the receipt")
    return times


def main() -> None:
    job = render_escpos(typical_receipt(), PAPER_MM, ENCODING)
    print(f"receipt: {len(job)} bytes of ESC/POS ({PAPER_MM} mm, {ENCODING})")
    print("measured: print_job() end to end (status, job, status) against the line-paced simulator")
    ratios = {}
    for baud, runs in RUNS.items():
        line_time = len(job) * 10 / baud
        times = time_receipt(job, baud, runs)
        median = statistics.median(times)
        ratios[baud] = round(median / line_time, 3)
        print(f"{baud:>6} baud: line time {line_time * 1000:8.1f} ms, measured median {median * 1000:8.1f} ms "
              f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, {runs} runs), "
              f"ratio {ratios[baud]:.3f} (target <= 1.3)")
    print(json.dumps({"receipt_bytes": len(job), "send_ratio_9600": ratios[9600],
                      "send_ratio_115200": ratios[115200]}))


if __name__ == "__main__":
    main()

"""The kiosk in a process whose files may not grow past a limit (RLIMIT_FSIZE, with SIGXFSZ
ignored so a write past it fails with EFBIG as on a full disk). Offline loss reports are queued
until the outbox cannot be written; then the limit is lifted and one more is queued.

Prints one JSON line: the outcomes of the queued reports in order, and the one after the disk
has room again. usage: disk_full_child.py FOLDER CA CERT KEY
"""
from __future__ import annotations

import dataclasses
import json
import resource
import signal
import sys
from pathlib import Path

from bench.soak import person
from kiosk.core import KioskCore
from kiosk.config import KioskConfig

MAX_REPORTS = 2000


def main(folder: str, ca: str, cert: str, key: str) -> None:
    folder = Path(folder)
    config = KioskConfig()
    config = dataclasses.replace(
        config,
        # Nothing listens on port 9: the link is down and every loss report is queued.
        backend=dataclasses.replace(config.backend, url="https://127.0.0.1:9", ca_file=ca, cert_file=cert,
                                    key_file=key, connect_timeout_s=0.5),
        outbox=dataclasses.replace(config.outbox, db=str(folder / "kiosk.db"), key_file=str(folder / "kiosk.key"),
                                   delivery_wait_s=0.0),
        card_printer=dataclasses.replace(config.card_printer, enabled=False))
    core = KioskCore(config).start()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    room = max(p.stat().st_size for p in folder.glob("kiosk.db*")) + 64 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (room, hard))
    outcomes = []
    for n in range(MAX_REPORTS):
        visit = core.services.new_visit()
        visit.identify(person(n))
        [result] = core.services.report_loss(visit, "temporary")
        outcomes.append({"outcome": result.outcome, "message": result.citizen_message,
                         "job": result.outbox_reference})
        if not result.ok:
            break
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    visit = core.services.new_visit()
    visit.identify(person(MAX_REPORTS))
    [after] = core.services.report_loss(visit, "temporary")
    core.close()
    print(json.dumps({"outcomes": outcomes, "after": {"outcome": after.outcome, "job": after.outbox_reference}},
                     ensure_ascii=False))


if __name__ == "__main__":
    main(*sys.argv[1:])

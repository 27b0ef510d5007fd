"""The kiosk in a process of its own, doing visits as fast as it can: a temporary loss report
for citizen n (by ID number) and a rating with the comment `visit-n`. After each item the kiosk
told the citizen was done or queued, n and the item go to the acknowledgement log (fsynced):
that is what the citizen was promised. The test kills this process with SIGKILL at random.

With FIRST = -1 it only starts the kiosk, lets the outbox drain, and exits.
usage: service_crash_child.py BACKEND_URL CERT_DIR FOLDER ACK_LOG FIRST LAST
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

from bench.soak import person
from kiosk.core import KioskCore
from reference_backend.pki import PkiFiles
from kiosk.config import KioskConfig


def main(url: str, cert_dir: str, folder: str, ack_log: str, first: str, last: str) -> None:
    pki, folder = PkiFiles(Path(cert_dir)), Path(folder)
    config = KioskConfig()
    config = dataclasses.replace(
        config,
        backend=dataclasses.replace(config.backend, url=url, ca_file=str(pki.ca_cert), cert_file=str(pki.kiosk_cert),
                                    key_file=str(pki.kiosk_key), connect_timeout_s=1.0),
        outbox=dataclasses.replace(config.outbox, db=str(folder / "kiosk.db"), key_file=str(folder / "kiosk.key"),
                                   delivery_wait_s=0.05, lease_s=5.0, poll_s=0.05),
        card_printer=dataclasses.replace(config.card_printer, enabled=False))
    core = KioskCore(config).start()
    if int(first) < 0:
        deadline = time.monotonic() + 30
        while core.outbox.stats().pending and time.monotonic() < deadline:
            time.sleep(0.05)
        core.close()
        return
    fd = os.open(ack_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    print("ready", flush=True)
    for n in range(int(first), int(last)):
        visit = core.services.new_visit()
        visit.identify(person(n))
        for item, results in (("loss", core.services.report_loss(visit, "temporary")),
                              ("review", core.services.review(visit, "1.10.6", 4, f"visit-{n}"))):
            if all(r.ok for r in results):
                os.write(fd, f"{item} {n}\n".encode())
                os.fsync(fd)
        core.services.end_visit(visit, "done")
    core.close()


if __name__ == "__main__":
    main(*sys.argv[1:])

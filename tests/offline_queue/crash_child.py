"""The kiosk in miniature for the crash test: enqueues reviews as fast as it can while its
worker delivers them, and notes each job it was told is safely written (the acknowledgement
to its caller) in a log. The test kills it with SIGKILL at random moments.

usage: crash_child.py BACKEND_URL CERT_DIR OUTBOX_DB KEY_FILE ACK_LOG FIRST_MARKER
"""
from __future__ import annotations

import itertools
import os
import sys
import time
from pathlib import Path

from kiosk.backend.client import BackendClient
from kiosk.backend.delivery import health_probe, outbox_sender
from reference_backend.pki import PkiFiles
from offline_queue import DeliveryWorker, KeyRing, Outbox

SUBJECTS = 7  # several jobs per subject, so order and head-of-line blocking are exercised too


def main(url: str, cert_dir: str, db: str, key_file: str, ack_log: str, first_marker: str) -> None:
    pki = PkiFiles(Path(cert_dir))
    client = BackendClient(url, ca_file=pki.ca_cert, cert_file=pki.kiosk_cert, key_file=pki.kiosk_key)
    outbox = Outbox(db, KeyRing.load(key_file))
    DeliveryWorker(outbox, outbox_sender(client), health_probe(client), senders=2, batch_size=8,
                   lease_s=0.5, poll_s=0.01).start()
    fd = os.open(ack_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    print("ready", flush=True)
    for marker in itertools.count(int(first_marker)):
        outbox.enqueue("submit_review", {"service_item": "1.10.6", "level": 4, "comment": f"crash-{marker}"},
                       subject=f"visit-{marker % SUBJECTS}")
        os.write(fd, f"{marker}\n".encode())  # only now has the caller been told
        os.fsync(fd)
        time.sleep(0.002)


if __name__ == "__main__":
    main(*sys.argv[1:])

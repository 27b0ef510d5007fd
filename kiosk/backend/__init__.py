"""The backend link: the contract (openapi.yaml), the HTTPS client, the reference backend
server, its test PKI, and the outbox sender.

Composition root, in short:
    client = BackendClient(url, ca_file=..., cert_file=..., key_file=...)
    outbox = offline_queue.Outbox(db_path, offline_queue.KeyRing.load_or_create(key_file))
    worker = offline_queue.DeliveryWorker(outbox, outbox_sender(client), health_probe(client)).start()
"""
from kiosk.backend.client import OPERATIONS, BackendClient
from kiosk.backend.delivery import health_probe, outbox_sender
from kiosk.backend.errors import BackendError, BackendRejected, BackendUnavailable, MalformedReply

__all__ = ["OPERATIONS", "BackendClient", "BackendError", "BackendRejected", "BackendUnavailable",
           "MalformedReply", "health_probe", "outbox_sender"]

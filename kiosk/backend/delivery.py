"""How the outbox's worker reaches the backend: the sender and the health probe that the
composition root hands to `offline_queue.DeliveryWorker`.

2xx (fresh or replayed) -> done; 409 in progress, 429, 5xx, timeouts, link down, a garbled
reply -> try again (Retry-After honoured); any other 4xx -> dead letter with the backend's
code and message. A replayed refusal is still a refusal: it becomes a dead letter too, so
staff see it instead of it passing for delivered.
"""
from __future__ import annotations

from typing import Callable

from kiosk.backend.client import OPERATIONS, BackendClient
from kiosk.backend.errors import BackendRejected, BackendUnavailable
from offline_queue import ClaimedJob, PermanentFailure, TransientFailure


def outbox_sender(client: BackendClient) -> Callable[[ClaimedJob], dict]:
    def deliver(job: ClaimedJob) -> dict:
        if job.operation not in OPERATIONS or not OPERATIONS[job.operation][2]:
            raise PermanentFailure(f"{job.operation!r} is not a state-changing backend operation")
        try:
            return client.call(job.operation, job.payload, idempotency_key=job.idempotency_key)
        except BackendRejected as exc:
            raise PermanentFailure(f"{exc.status} {exc.code}: {exc.message}") from None
        except BackendUnavailable as exc:
            raise TransientFailure(exc.reason, retry_after_s=exc.retry_after_s, link_down=exc.link_down) from None
        except ValueError as exc:  # the payload lacks a path parameter: it will never go through
            raise PermanentFailure(f"job cannot be sent: {exc}") from None
    return deliver


def health_probe(client: BackendClient) -> Callable[[], bool]:
    return client.is_up

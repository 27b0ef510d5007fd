"""How the outbox's worker reaches the backend: the sender and the health probe that the
composition root hands to `offline_queue.DeliveryWorker`.

2xx (fresh or replayed) -> done; 409 in progress, 429, 5xx, timeouts, link down, a garbled
reply -> try again (Retry-After honoured); any other 4xx -> dead letter with the backend's
code and message, staff see it and may send it again once its cause is fixed.

Dead letters are kept rare: a 401, 403, 404 or 408, or a refusal without the contract's error
body, is what a proxy, a gateway or a backend being redeployed says as often as the backend
itself, so such a refusal is tried again a few times (UNCLEAR_REFUSAL_ATTEMPTS) before the job
is given up.
"""
from __future__ import annotations

from typing import Callable

from kiosk.backend.client import OPERATIONS, BackendClient
from kiosk.backend.errors import BackendRejected, BackendUnavailable
from offline_queue import ClaimedJob, PermanentFailure, TransientFailure

UNCLEAR_STATUSES = {401, 403, 404, 408}
UNCLEAR_REFUSAL_ATTEMPTS = 3


def _unclear(refusal: BackendRejected) -> bool:
    """A refusal that may not be the backend's word on the request."""
    return refusal.status in UNCLEAR_STATUSES or refusal.code.startswith("http_")


def outbox_sender(client: BackendClient) -> Callable[[ClaimedJob], dict]:
    def deliver(job: ClaimedJob) -> dict:
        if job.operation not in OPERATIONS or not OPERATIONS[job.operation][2]:
            raise PermanentFailure(f"{job.operation!r} is not a state-changing backend operation")
        try:
            return client.call(job.operation, job.payload, idempotency_key=job.idempotency_key)
        except BackendRejected as exc:
            if _unclear(exc) and job.attempts < UNCLEAR_REFUSAL_ATTEMPTS:
                raise TransientFailure(f"{exc.status} {exc.code} (tried again: may not be the backend's)") from None
            raise PermanentFailure(f"{exc.status} {exc.code}: {exc.message}") from None
        except BackendUnavailable as exc:
            raise TransientFailure(exc.reason, retry_after_s=exc.retry_after_s, link_down=exc.link_down) from None
        except ValueError as exc:  # the payload lacks a path parameter: it will never go through
            raise PermanentFailure(f"job cannot be sent: {exc}") from None
    return deliver


def health_probe(client: BackendClient) -> Callable[[], bool]:
    return client.is_up

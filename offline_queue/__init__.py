"""The durable outbox on SQLite and the worker that delivers it (imports nothing from kiosk/)."""
from offline_queue.outbox import (ClaimedJob, DeadLetter, Delivered, JobState, JobSummary, Outbox, OutboxError,
                                  OutboxJob, OutboxStats, OutboxTransaction, RetryLater)
from offline_queue.sealing import KeyRing, Sealed, SealingError
from offline_queue.worker import Backoff, DeliveryWorker, PermanentFailure, TransientFailure, WorkerStatus

__all__ = [
    "Backoff", "ClaimedJob", "DeadLetter", "Delivered", "DeliveryWorker", "JobState", "JobSummary", "KeyRing", "Outbox",
    "OutboxError", "OutboxJob", "OutboxStats", "OutboxTransaction", "PermanentFailure", "RetryLater", "Sealed",
    "SealingError", "TransientFailure", "WorkerStatus",
]

"""How a service item ended: one vocabulary for the services, the receipts and the statistics."""
from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    DONE = "done"          # done now
    REFUSED = "refused"    # not done: the backend, the rules or the citizen's documents said no
    FAILED = "failed"      # not done: a device, the disk or the link failed
    PENDING = "pending"    # done here and queued: takes effect when the outbox delivers it

    @property
    def ok(self) -> bool:
        """The citizen was told it is done or will be (the receipt lists it)."""
        return self in (Outcome.DONE, Outcome.PENDING)

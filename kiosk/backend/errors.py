"""What can go wrong talking to the backend, typed so that each maps to one screen message and
the outbox knows whether to try again.

    BackendError
     ├─ BackendUnavailable        cannot get an answer now: try later (link, timeout, TLS, 5xx,
     │   │                        429, 409 "still in progress")
     │   └─ MalformedReply        an answer came but it is not one we can trust (bad JSON,
     │                            too big, wrong shape); nothing of it is used
     └─ BackendRejected           the backend understood and said no (a business rule or a bad
                                  request); trying again will not help
"""
from __future__ import annotations


class BackendError(Exception):
    citizen_message = "业务系统暂时无法办理，请稍后再试。"


class BackendUnavailable(BackendError):
    """No usable answer now. `status` is the HTTP status if one came, `retry_after_s` the wait
    the backend asked for (Retry-After), `link_down` is true when the backend was not reached,
    `sent` is false only when the request surely never left (no connection was made): otherwise
    it may have taken effect, and must be sent again under the same Idempotency-Key."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after_s: float | None = None,
                 link_down: bool = False, sent: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after_s = retry_after_s
        self.link_down = link_down
        self.sent = sent


class MalformedReply(BackendUnavailable):
    """The reply broke the contract; it is dropped whole."""

    def __init__(self, reason: str, *, status: int | None = None):
        super().__init__(f"malformed reply: {reason}", status=status)


class BackendRejected(BackendError):
    """The backend refused: `code` is the contract's machine-readable reason (e.g.
    "no_loss_report"), `message` a sentence for staff, `status` the HTTP status."""

    def __init__(self, code: str, message: str, *, status: int):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

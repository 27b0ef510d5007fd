"""The kiosk's HTTPS client for the backend contract (openapi.yaml).

One keep-alive `requests.Session` per thread (the outbox sends from several threads), the
kiosk's client certificate, the backend's CA pinned (the system's CAs are not trusted for
this link), connect and read timeouts, no redirects. Every reply is read with a size limit
and must be a JSON object of the shape the contract gives its operation (contract.py);
anything else is a typed error and nothing of it is used.

The read timeout bounds each read, so a reply trickling in a byte at a time would never time
out; a whole call therefore has a deadline too (`call_deadline_s`): when it passes, the
connection in use is shut down under the reading thread and the call fails as unavailable.
"""
from __future__ import annotations

import datetime
import email.utils
import json
import socket
import threading
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from kiosk.backend.contract import check_reply
from kiosk.backend.errors import BackendRejected, BackendUnavailable, MalformedReply

MAX_RETRY_AFTER_S = 3600.0  # a hostile or broken Retry-After must not park a job for a year
MAX_MESSAGE_CHARS = 300

# The contract, operation by operation: method, path, whether it changes state (and so needs
# an Idempotency-Key). Path parameters are taken from the payload; the rest is the JSON body.
OPERATIONS = {
    "health": ("GET", "/v1/health", False),
    "open_visit": ("POST", "/v1/visits", False),
    "query_person": ("POST", "/v1/person-queries", False),
    "resolve_essc_code": ("POST", "/v1/essc-resolutions", True),                               # 电子社保卡, single use
    "person_photo": ("POST", "/v1/person-photos", False),
    "card_status": ("GET", "/v1/cards/{card_id}", False),
    "application_progress": ("POST", "/v1/application-progress", False),                      # 1.10.1 制卡进度
    "application_options": ("POST", "/v1/application-options", False),                        # 1.10.1
    "apply_card": ("POST", "/v1/applications", True),                                          # 1.10.1
    "mark_instant_issuance": ("POST", "/v1/applications/{application_id}/instant-issuance", True),
    "cancel_instant_issuance": ("POST", "/v1/applications/{application_id}/instant-issuance/cancellation", True),
    "personalisation": ("GET", "/v1/applications/{application_id}/personalisation", False),
    "report_written_card": ("POST", "/v1/applications/{application_id}/written-card", True),   # 回盘
    "activate_card": ("POST", "/v1/cards/{card_id}/activation", True),                         # 1.10.2
    "bank_account_state": ("POST", "/v1/cards/{card_id}/bank-account-state", False),
    "activate_bank_account": ("POST", "/v1/cards/{card_id}/bank-activation", True),            # 1.10.2, bank
    "record_pin_event": ("POST", "/v1/cards/{card_id}/pin-events", True),                      # 1.10.5
    "create_fee_order": ("POST", "/v1/fee-orders", True),                                      # 工本费
    "fee_order_status": ("GET", "/v1/fee-orders/{order_id}", False),
    "cancel_fee_order": ("POST", "/v1/fee-orders/{order_id}/cancellation", True),
    "waive_fee_order": ("POST", "/v1/fee-orders/{order_id}/waiver", True),                     # staff, audited
    "request_fee_refund": ("POST", "/v1/fee-orders/{order_id}/refund-requests", True),
    "report_loss": ("POST", "/v1/cards/{card_id}/loss-reports", True),                         # 1.10.6
    "report_person_loss": ("POST", "/v1/person-loss-reports", True),                          # 1.10.6
    "cancel_loss_report": ("POST", "/v1/cards/{card_id}/loss-report-cancellation", True),      # 1.10.6
    "apply_replacement": ("POST", "/v1/cards/{card_id}/replacements", True),                   # 1.10.7
    "hsm_external_auth": ("POST", "/v1/hsm/external-authentication", False),
    "hsm_internal_auth": ("POST", "/v1/hsm/internal-authentication", False),
    "hsm_command_mac": ("POST", "/v1/hsm/command-mac", False),
    "submit_review": ("POST", "/v1/reviews", True),                                            # 好差评
    "fleet_status": ("GET", "/v1/fleet", False),                                               # operations
    "record_heartbeat": ("POST", "/v1/terminals/{terminal_number}/heartbeats", True),
    "call_staff": ("POST", "/v1/terminals/{terminal_number}/staff-calls", True),
    "record_audit_entries": ("POST", "/v1/terminals/{terminal_number}/audit-entries", True),    # 可追溯
}


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit() but not to float()
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    seconds = (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _printable(text: object) -> str:
    return "".join(ch for ch in str(text) if ch.isprintable())[:MAX_MESSAGE_CHARS]


class _Deadline:
    """The deadline of one whole call: when it passes, the connection the call is using is shut
    down under the thread reading from it, which then fails at once."""

    current = threading.local()   # the deadline of the call the thread is making

    RECHECK_S = 0.05   # the deadline passed before the connection had its socket: look again

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.passed = False
        self.connection = None     # set by the pool when the call takes a connection
        self._over = threading.Event()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        _Deadline.current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._over.set()
        self._timer.cancel()
        _Deadline.current.deadline = None

    def _expire(self) -> None:
        self.passed = True
        while not self._over.is_set():
            sock = getattr(self.connection, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass   # already closed: the call is over
                return
            self._over.wait(self.RECHECK_S)   # still connecting: the connect timeout bounds this


def _note_connection(conn) -> None:
    deadline = getattr(_Deadline.current, "deadline", None)
    if deadline is not None:
        deadline.connection = conn


class _HttpPool(HTTPConnectionPool):
    def _make_request(self, conn, *args, **kwargs):
        _note_connection(conn)
        return super()._make_request(conn, *args, **kwargs)


class _HttpsPool(HTTPSConnectionPool):
    def _make_request(self, conn, *args, **kwargs):
        _note_connection(conn)
        return super()._make_request(conn, *args, **kwargs)


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with pools that tell a call's deadline which connection it uses."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HttpPool, "https": _HttpsPool}


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _no_connection(exc: BaseException) -> bool:
    """The request failed before a connection was made, so it never reached the backend."""
    for _depth in range(8):   # requests wraps urllib3's error, which wraps the socket's
        if exc is None or isinstance(exc, NewConnectionError):
            return exc is not None
        exc = exc.__context__ or exc.__cause__ or next(
            (arg for arg in exc.args if isinstance(arg, BaseException)), None)
    return False


class BackendClient:
    def __init__(self, base_url: str, *, ca_file: str, cert_file: str, key_file: str,
                 connect_timeout_s: float = 3.0, read_timeout_s: float = 10.0, call_deadline_s: float = 20.0,
                 max_reply_bytes: int = 1 << 20):
        self.base_url = base_url.rstrip("/")
        self._verify = str(ca_file)
        self._cert = (str(cert_file), str(key_file))
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._deadline_s = call_deadline_s
        self._max_reply_bytes = max_reply_bytes
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.verify = self._verify
            session.cert = self._cert
            session.trust_env = False  # no proxy or netrc from the environment on this link
            session.mount("https://", _DeadlineAdapter())
            session.mount("http://", _DeadlineAdapter())
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    # --- the one way in -------------------------------------------------------------------

    def call(self, operation: str, payload: dict | None = None, *, idempotency_key: str | None = None) -> dict:
        """Sends one contract operation; returns the reply's JSON object or raises
        BackendUnavailable / MalformedReply / BackendRejected."""
        try:
            method, template, changes_state = OPERATIONS[operation]
        except KeyError:
            raise ValueError(f"no backend operation {operation!r}") from None
        if changes_state and not idempotency_key:
            raise ValueError(f"{operation} changes state and needs an idempotency key")
        body = dict(payload or {})
        path = template
        for name in [part.split("}")[0] for part in template.split("{")[1:]]:
            value = body.pop(name, None)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{operation} needs {name}")
            path = path.replace("{" + name + "}", quote(value, safe=""))
        headers = {"Accept": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data = None
        if method != "GET":
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self._exchange(operation, method, path, headers, data)

    def _exchange(self, operation: str, method: str, path: str, headers: dict, data: bytes | None) -> dict:
        with _Deadline(self._deadline_s) as deadline:
            try:
                status, reply_headers, raw = self._request(method, path, headers, data)
            except (BackendUnavailable, MalformedReply):   # what a connection shut mid-reply looks like
                if deadline.passed:
                    raise BackendUnavailable(f"no whole answer within {self._deadline_s:g}s") from None
                raise
        retry_after = parse_retry_after(reply_headers.get("Retry-After"))
        if 200 <= status < 300:
            return check_reply(operation, status, self._json_object(raw, status))
        if status == 409 or status == 429 or status >= 500:
            what = {409: "request still in progress", 429: "backend busy"}.get(status, "backend error")
            # 429 says the request was not taken on; after a 409 or a 5xx it may have been.
            raise BackendUnavailable(f"{status} {what}", status=status, retry_after_s=retry_after, sent=status != 429)
        if 400 <= status < 500:
            code, message = self._error(raw, status)
            raise BackendRejected(code, message, status=status)
        raise MalformedReply(f"unexpected HTTP status {status}", status=status)

    def _request(self, method: str, path: str, headers: dict, data: bytes | None) -> tuple[int, dict, bytes]:
        """One HTTP exchange: (status, headers, body read within the size limit)."""
        try:
            response = self._session().request(method, self.base_url + path, headers=headers, data=data,
                                               timeout=self._timeout, allow_redirects=False, stream=True)
        except requests.exceptions.ConnectTimeout:
            raise BackendUnavailable("could not connect in time", link_down=True, sent=False) from None
        except requests.exceptions.ReadTimeout:
            raise BackendUnavailable(f"no answer within {self._timeout[1]:g}s") from None
        except requests.exceptions.SSLError as exc:   # the handshake failed: no request left
            raise BackendUnavailable(f"TLS failure: {_printable(type(exc.__context__ or exc).__name__)}",
                                     link_down=True, sent=False) from None
        except requests.exceptions.RequestException as exc:
            raise BackendUnavailable(f"backend not reachable ({type(exc).__name__})", link_down=True,
                                     sent=not _no_connection(exc)) from None
        with response:
            raw = self._read_limited(response)
        return response.status_code, response.headers, raw

    def _read_limited(self, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_reply_bytes:
            raise MalformedReply(f"reply of {declared} bytes exceeds {self._max_reply_bytes}",
                                 status=response.status_code)
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > self._max_reply_bytes:
                    raise MalformedReply(f"reply exceeds {self._max_reply_bytes} bytes", status=response.status_code)
                chunks.append(chunk)
        except requests.exceptions.ConnectionError as exc:
            # urllib3 reports a read timeout in the middle of a body as a connection error
            raise BackendUnavailable(f"reply cut short ({type(exc).__name__})") from None
        except requests.exceptions.RequestException as exc:
            raise MalformedReply(f"reply unreadable ({type(exc).__name__})", status=response.status_code) from None
        return b"".join(chunks)

    @staticmethod
    def _json_object(raw: bytes, status: int) -> dict:
        try:
            document = json.loads(raw.decode("utf-8"), parse_constant=_not_json)
        except (ValueError, RecursionError):
            # ValueError covers bad UTF-8, bad JSON (NaN and Infinity included: Python's json
            # takes them, JSON has none) and numbers past Python's int-parsing limit.
            raise MalformedReply("not JSON", status=status) from None
        if not isinstance(document, dict):
            raise MalformedReply("not a JSON object", status=status)
        return document

    @staticmethod
    def _error(raw: bytes, status: int) -> tuple[str, str]:
        try:
            error = json.loads(raw.decode("utf-8"))["error"]
            return _printable(error["code"]) or f"http_{status}", _printable(error.get("message", ""))
        except (ValueError, RecursionError, KeyError, TypeError, AttributeError):
            return f"http_{status}", "the backend refused the request without a readable reason"

    # --- the calls the kiosk makes by name (the services use `call` with an operation) ---------

    def health(self) -> dict:
        return self.call("health")

    def is_up(self) -> bool:
        """The worker's cheap probe: a health check that never raises."""
        try:
            return self.health().get("status") == "ok"
        except BackendUnavailable:
            return False

    def hsm_external_auth(self, card_id: str, challenge: bytes, key_id: int) -> bytes:
        reply = self.call("hsm_external_auth", {"card_id": card_id, "challenge": challenge.hex().upper(),
                                                "key_id": key_id})
        try:
            cryptogram = bytes.fromhex(reply["cryptogram"])
        except (KeyError, TypeError, ValueError):
            raise MalformedReply("HSM reply without a hex cryptogram") from None
        if len(cryptogram) != 16:
            raise MalformedReply(f"HSM cryptogram of {len(cryptogram)} bytes, expected 16")
        return cryptogram

    def hsm_internal_auth(self, card_id: str, challenge: bytes, response: bytes, key_id: int, cipher: str) -> bool:
        """Whether the card's answer to INTERNAL AUTHENTICATE in `cipher` (the one the card
        declares, "SM4" or "3DES") is its own (the HSM checks it)."""
        reply = self.call("hsm_internal_auth", {"card_id": card_id, "challenge": challenge.hex().upper(),
                                                "response": response.hex().upper(), "key_id": key_id,
                                                "cipher": cipher})
        return reply["genuine"]

    def hsm_command_mac(self, card_id: str, challenge: bytes, header: bytes, pin_block: bytes, key_id: int) -> bytes:
        """The MAC of PIN RELOAD, whose new PIN goes as an SM4 PIN block under the terminal's key."""
        reply = self.call("hsm_command_mac", {"card_id": card_id, "challenge": challenge.hex().upper(),
                                              "header": header.hex().upper(), "pin_block": pin_block.hex().upper(),
                                              "key_id": key_id})
        try:
            mac = bytes.fromhex(reply["mac"])
        except (KeyError, TypeError, ValueError):
            raise MalformedReply("HSM reply without a hex MAC") from None
        if len(mac) != 4:
            raise MalformedReply(f"HSM MAC of {len(mac)} bytes, expected 4")
        return mac

    def record_heartbeat(self, terminal_number: str, queue_depth: int, oldest_pending_age_s: float | None,
                         software_version: str, *, dead_letters: int = 0,
                         audit_head: tuple[int, str] | None = None, staff_lockouts: int = 0,
                         health: dict | None = None, idempotency_key: str) -> dict:
        payload = {"terminal_number": terminal_number, "queue_depth": queue_depth, "dead_letters": dead_letters,
                   "software_version": software_version, "staff_lockouts": staff_lockouts}
        if health is not None:
            payload["health"] = health
        if audit_head is not None:
            payload["audit_head"] = {"seq": audit_head[0], "mac": audit_head[1]}
        if oldest_pending_age_s is not None:
            payload["oldest_pending_age_s"] = oldest_pending_age_s
        return self.call("record_heartbeat", payload, idempotency_key=idempotency_key)

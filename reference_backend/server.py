"""The reference backend: the contract of openapi.yaml served over HTTPS with client
certificates, as an ASGI application on uvicorn (h11 and asyncio; several worker processes
with `kiosk backend serve --workers N`).

The kiosk's terminal identity is the common name of its client certificate, which the
application takes from the ASGI TLS extension; Idempotency-Keys are scoped to it. What a
server owes a province's fleet is kept here, beside the contract: a request must arrive whole
within REQUEST_DEADLINE_S of its first byte (one byte a second is cut off), bodies are read to
the end or the connection is closed (no leftover bytes taken for the next request), a worker
holds at most MAX_CONNECTIONS connections, and when more requests wait for the store than it
can serve soon, the surplus is answered 503 with Retry-After at once instead of slowing
everyone. The access log names the route and status only, never the path or body: requests
carry ID numbers and names.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import math
import os
import random
import re
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import h11
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from uvicorn.protocols.http.h11_impl import H11Protocol

from reference_backend.database import LockWaitExpired
from reference_backend.pki import PkiFiles, RevokedCertificates
from reference_backend.store import BackendStore, Refusal, Reply, RequestInProgress

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"
MAX_REQUEST_BYTES = 96 * 1024   # an application with the kiosk's photo (60 KB as base64) and a signature
# An oversized body up to this size is read and thrown away before the 413 goes out: closing on a
# client still sending makes its TLS stack report a broken connection instead of our answer.
MAX_DISCARDED_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024
REQUEST_DEADLINE_S = 10.0
IDLE_CONNECTION_TIMEOUT_S = 30
MAX_CONNECTIONS = 1000          # per worker process
STORE_THREADS = 8               # per worker process: the store's calls run on these
# Requests waiting for a store thread beyond this are shed (503): at a few milliseconds a
# request, the ones let in are answered within a second or so.
MAX_WAITING = 64
SHED_RETRY_AFTER_S = (2, 6)     # a spread, so that shed kiosks do not all come back at once
# 128 bits in hex, hyphenated as a UUID or not: the kiosks' outboxes have always written 32 hex
# digits (secrets.token_hex(16)), and a job queued before an upgrade must keep its key.
OVERLOADED = Reply(503, {"error": {"code": "overloaded", "message": "the backend is busy; try again later"}})
_IDEMPOTENCY_KEY = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    name: str
    changes_state: bool
    # reads: call(store, conn, terminal, *path_params, body) -> dict
    # changes: call(store, conn, terminal, key, *path_params, body) -> Reply
    call: Callable


def _route(method: str, path: str, name: str, call: Callable, changes_state: bool = True) -> Route:
    pattern = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path))   # used with fullmatch
    return Route(method, pattern, name, changes_state, call)


ROUTES = [
    _route("GET", "/v1/health", "health",
           lambda store, conn, terminal, body: {"status": "ok", "api_version": API_VERSION}, changes_state=False),
    _route("POST", "/v1/visits", "open_visit", BackendStore.open_visit, changes_state=False),
    _route("POST", "/v1/person-queries", "query_person", BackendStore.query_person, changes_state=False),
    _route("POST", "/v1/essc-resolutions", "resolve_essc_code", BackendStore.resolve_essc_code),
    _route("POST", "/v1/person-photos", "person_photo", BackendStore.person_photo, changes_state=False),
    _route("GET", "/v1/cards/{card_id}", "card_status", BackendStore.card_status, changes_state=False),
    _route("POST", "/v1/application-progress", "application_progress", BackendStore.application_progress,
           changes_state=False),
    _route("POST", "/v1/application-options", "application_options", BackendStore.application_options,
           changes_state=False),
    _route("POST", "/v1/applications", "apply_card", BackendStore.apply_card),
    _route("POST", "/v1/applications/{application_id}/instant-issuance", "mark_instant_issuance",
           BackendStore.mark_instant_issuance),
    _route("POST", "/v1/applications/{application_id}/instant-issuance/cancellation", "cancel_instant_issuance",
           BackendStore.cancel_instant_issuance),
    _route("GET", "/v1/applications/{application_id}/personalisation", "personalisation",
           BackendStore.personalisation, changes_state=False),
    _route("POST", "/v1/applications/{application_id}/written-card", "report_written_card",
           BackendStore.report_written_card),
    _route("POST", "/v1/cards/{card_id}/activation", "activate_card", BackendStore.activate_card),
    _route("POST", "/v1/cards/{card_id}/bank-account-state", "bank_account_state", BackendStore.bank_account_state,
           changes_state=False),
    _route("POST", "/v1/cards/{card_id}/bank-activation", "activate_bank_account", BackendStore.activate_bank_account),
    _route("POST", "/v1/cards/{card_id}/loss-reports", "report_loss", BackendStore.report_loss),
    _route("POST", "/v1/person-loss-reports", "report_person_loss", BackendStore.report_person_loss),
    _route("POST", "/v1/cards/{card_id}/loss-report-cancellation", "cancel_loss_report",
           BackendStore.cancel_loss_report),
    _route("POST", "/v1/cards/{card_id}/replacements", "apply_replacement", BackendStore.apply_replacement),
    _route("POST", "/v1/cards/{card_id}/pin-events", "record_pin_event", BackendStore.record_pin_event),
    _route("POST", "/v1/fee-orders", "create_fee_order", BackendStore.create_fee_order),
    _route("GET", "/v1/fee-orders/{order_id}", "fee_order_status", BackendStore.fee_order_status,
           changes_state=False),
    _route("POST", "/v1/fee-orders/{order_id}/cancellation", "cancel_fee_order", BackendStore.cancel_fee_order),
    _route("POST", "/v1/fee-orders/{order_id}/waiver", "waive_fee_order", BackendStore.waive_fee_order),
    _route("POST", "/v1/fee-orders/{order_id}/refund-requests", "request_fee_refund",
           BackendStore.request_fee_refund),
    _route("POST", "/v1/hsm/external-authentication", "hsm_external_auth",
           BackendStore.external_auth_cryptogram, changes_state=False),
    _route("POST", "/v1/hsm/internal-authentication", "hsm_internal_auth",
           BackendStore.internal_auth_check, changes_state=False),
    _route("POST", "/v1/hsm/command-mac", "hsm_command_mac", BackendStore.command_mac, changes_state=False),
    _route("POST", "/v1/reviews", "submit_review", BackendStore.submit_review),
    _route("POST", "/v1/terminals/{terminal_number}/heartbeats", "record_heartbeat", BackendStore.record_heartbeat),
    _route("POST", "/v1/terminals/{terminal_number}/staff-calls", "call_staff", BackendStore.call_staff),
    _route("GET", "/v1/fleet", "fleet_status", BackendStore.fleet_status, changes_state=False),
    _route("POST", "/v1/terminals/{terminal_number}/audit-entries", "record_audit_entries",
           BackendStore.record_audit_entries),
]


def request_fingerprint(method: str, path: str, body: dict) -> str:
    """SM3 over the method, path and the body in canonical JSON: the same request written
    with other spacing or key order is the same request."""
    digest = hashes.Hash(hashes.SM3())
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest.update(f"{method} {path}\n{canonical}".encode("utf-8"))
    return digest.finalize().hex()


class MethodNotAllowed(Refusal):
    def __init__(self, allowed: list[str]):
        super().__init__(405, "method_not_allowed", "this path does not take this method")
        self.allowed = allowed


class ClientGone(Exception):
    """The connection closed before the request was read (cut off at its deadline, or left)."""


def match(method: str, path: str) -> tuple[Route, tuple]:
    allowed = []
    for route in ROUTES:
        found = route.pattern.fullmatch(path)
        if found and route.method == method:
            return route, tuple(found.groups())
        if found:
            allowed.append(route.method)
    if allowed:
        raise MethodNotAllowed(allowed)
    raise Refusal(404, "not_found", "no such resource in API v1")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):   # 1e400
        raise ValueError("a number too large for a double")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")   # NaN, Infinity


def parse_body(raw: bytes) -> dict:
    """A request body as the contract allows it: a JSON object in UTF-8, no NaN or infinite
    numbers, no integer beyond Python's digit limit, no lone surrogate, no nesting deeper than
    the parser's recursion allows; anything else is a 400, never a 500."""
    if not raw:
        return {}
    try:
        body = json.loads(raw.decode("utf-8"), parse_float=_finite_float, parse_constant=_no_constant)
        json.dumps(body, ensure_ascii=False).encode("utf-8")   # a lone surrogate cannot be
    except (UnicodeError, ValueError, RecursionError):
        raise Refusal(400, "malformed_json", "the request body is not JSON in UTF-8") from None
    if not isinstance(body, dict):
        raise Refusal(400, "malformed_json", "the request body must be a JSON object")
    return body


def idempotency_key(headers: dict[str, str]) -> str:
    """The key in one spelling (32 lower-case hex digits), so that the same key written with
    hyphens, in capitals or with spaces around it is the same key, never a second effect."""
    key = headers.get("idempotency-key", "").strip().lower()
    if not key:
        raise Refusal(400, "idempotency_key_missing", "this request needs an Idempotency-Key header")
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise Refusal(400, "idempotency_key_invalid", "the Idempotency-Key must be a UUID (128 bits in hex)")
    return key.replace("-", "")


@dataclass(frozen=True)
class ClientCertificate:
    terminal: str | None   # its common name
    fingerprint: str       # SHA-256 of the DER, as revoked.txt lists them

    @classmethod
    @functools.lru_cache(maxsize=4096)   # a kiosk sends many requests with one certificate
    def from_pem(cls, pem: str) -> "ClientCertificate":
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return cls(str(names[0].value) if names else None,
                   hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest())


def _shed(extra: dict) -> Reply:
    """503 with a Retry-After drawn from a spread, so that the kiosks told together do not all
    come back together."""
    extra["Retry-After"] = str(random.randint(*SHED_RETRY_AFTER_S))
    return OVERLOADED


class BackendApp:
    """The contract as an ASGI application. The store is synchronous (SQLite or PostgreSQL):
    its calls run on a pool of threads, never on the event loop."""

    def __init__(self, store: BackendStore, revoked: RevokedCertificates, *,
                 store_threads: int = STORE_THREADS, max_waiting: int = MAX_WAITING):
        self.store = store
        self.revoked = revoked
        self.max_waiting = max_waiting
        self._pool = ThreadPoolExecutor(store_threads, thread_name_prefix="backend-store")
        self._waiting = 0   # requests handed to the pool and not done; only the event loop counts

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.store.close()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return   # no lifespan or websocket here
        route_name, extra = "unknown", {}
        try:
            raw = await self._read_body(receive, extra)
            route, params = match(scope["method"], scope["path"])
            route_name = route.name
            body = {} if route.method == "GET" else parse_body(raw)
            terminal = self._terminal(scope)
            if route.changes_state:
                key = idempotency_key({name.decode("latin-1"): value.decode("latin-1")
                                       for name, value in scope["headers"]})
                fingerprint = request_fingerprint(route.method, scope["path"], body)
                work = lambda: self.store.change(terminal, key, fingerprint,   # noqa: E731
                                                 lambda conn, t, k: route.call(self.store, conn, t, k, *params, body))
            else:
                work = lambda: self.store.read(lambda conn: route.call(self.store, conn, terminal, *params, body))  # noqa: E731
            reply = await self._in_store(work, extra)
        except ClientGone:
            return
        except MethodNotAllowed as refusal:
            reply, extra["Allow"] = Reply(refusal.status, refusal.body()), ", ".join(refusal.allowed)
        except Refusal as refusal:
            reply = Reply(refusal.status, refusal.body())
        except RequestInProgress:
            reply, extra["Retry-After"] = Reply(409, {"error": {
                "code": "request_in_progress",
                "message": "a request with this Idempotency-Key is still being handled"}}), "1"
        except LockWaitExpired:
            reply = _shed(extra)
        except Exception:
            log.exception("route %s failed", route_name)
            reply = Reply(500, {"error": {"code": "internal_error", "message": "the backend failed; try again"}})
        await self._send(send, reply, route_name, extra)

    async def _read_body(self, receive, extra: dict) -> bytes:
        """The whole body, always (chunked or not): what is left unread must not stay on the
        connection. Over the limit, up to MAX_DISCARDED_BYTES more are read and dropped before the
        413, then the connection is closed."""
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk, more = message.get("body", b""), message.get("more_body", False)
            size += len(chunk)
            if size <= MAX_REQUEST_BYTES:
                chunks.append(chunk)
            elif size > MAX_REQUEST_BYTES + MAX_DISCARDED_BYTES:
                break
        if size > MAX_REQUEST_BYTES:
            extra["Connection"] = "close"
            raise Refusal(413, "request_too_large", f"requests are limited to {MAX_REQUEST_BYTES} bytes")
        return b"".join(chunks)

    def _terminal(self, scope) -> str:
        chain = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
        if not chain:
            raise Refusal(403, "no_terminal_identity", "a client certificate is required")
        certificate = ClientCertificate.from_pem(chain[0])
        if certificate.fingerprint in self.revoked.fingerprints():
            raise Refusal(403, "certificate_revoked", "this kiosk's certificate has been revoked")
        if not certificate.terminal:
            raise Refusal(403, "no_terminal_identity", "the client certificate names no terminal")
        return certificate.terminal

    async def _in_store(self, work: Callable[[], Reply], extra: dict) -> Reply:
        """Runs `work` on a store thread, or sheds it at once when too many wait already: a
        fleet coming back from an outage is told when to come again, not made to queue."""
        if self._waiting >= self.max_waiting:
            return _shed(extra)
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work)
        finally:
            self._waiting -= 1

    @staticmethod
    async def _send(send, reply: Reply, route_name: str, extra: dict) -> None:
        payload = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
        headers = [(b"content-type", b"application/json; charset=utf-8"),
                   (b"content-length", str(len(payload)).encode())]
        if reply.replayed:
            headers.append((b"idempotent-replayed", b"true"))
        headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        log.debug("%s -> %d%s", route_name, reply.status, " (replayed)" if reply.replayed else "")


class KioskConnection(H11Protocol):
    """uvicorn's HTTP/1.1 connection with what the backend needs of it: the client certificate
    in each request's scope (the ASGI TLS extension, which uvicorn does not fill), a deadline
    for receiving each request whole, and a cap on connections per worker."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        if len(self.connections) > MAX_CONNECTIONS:
            transport.abort()   # at once: a TLS close would wait for the client's answer
            return
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        tls = {"server_cert": None, "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
               "client_cert_name": None, "client_cert_error": None,
               "tls_version": None, "cipher_suite": None}
        app = self.app

        async def with_tls(scope, receive, send):
            scope.setdefault("extensions", {})["tls"] = tls
            await app(scope, receive, send)

        self.app = with_tls
        self._arm_deadline()   # a connection that never sends a request is not kept either

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._arm_deadline()   # the first bytes of a request
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
            self._disarm_deadline()   # the request is in (or the connection is ending)

    def connection_lost(self, exc) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    def _arm_deadline(self) -> None:
        self._deadline = self.loop.call_later(REQUEST_DEADLINE_S, self._cut_off)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _cut_off(self) -> None:
        self._deadline = None
        log.debug("a request did not arrive within %.0f s: connection closed", REQUEST_DEADLINE_S)
        self.transport.abort()


def server_config(app, pki: PkiFiles, *, workers: int = 1, factory: bool = False) -> uvicorn.Config:
    return uvicorn.Config(
        app, factory=factory, http=KioskConnection, lifespan="off", workers=workers, log_config=None, access_log=False,
        server_header=False, timeout_keep_alive=IDLE_CONNECTION_TIMEOUT_S, timeout_graceful_shutdown=2,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        ssl_certfile=str(pki.server_cert), ssl_keyfile=str(pki.server_key), ssl_ca_certs=str(pki.ca_cert),
        ssl_cert_reqs=ssl.CERT_REQUIRED)


def bound_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts: port 0 picks a free one, and a
    backend brought back after an outage takes its old port again."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP said outright: asyncio sets TCP_NODELAY only on sockets that say it, and without
    # it each answer (headers and body written apart) waits 40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)   # connections wait in the backlog until the server takes them
    sock.set_inheritable(True)   # for the worker processes of `serve --workers`
    return sock


def url_of(address: tuple) -> str:
    host, port = address[:2]
    shown = "localhost" if host in ("127.0.0.1", "::1", "localhost") else (f"[{host}]" if ":" in host else host)
    return f"https://{shown}:{port}"


class ReferenceBackend:
    """The backend in this process, on a thread of its own with one event loop: what the tests,
    the demo and the simulation run. `kiosk backend serve` runs the same application in worker
    processes.

    The thread runs uvicorn's startup and then the loop itself, rather than `Server.run`, so that
    `stop()` takes milliseconds: uvicorn notices `should_exit` on a 0.1 s tick and then sleeps
    0.1 s more, and the tests start and stop a backend hundreds of times."""

    def __init__(self, address: tuple[str, int], store: BackendStore, pki: PkiFiles):
        self.store = store
        self.app = BackendApp(store, RevokedCertificates(pki.revoked))
        self._socket = bound_socket(*address)
        self.server_address = self._socket.getsockname()
        self._server = uvicorn.Server(server_config(self.app, pki))
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        return url_of(self.server_address)

    def start(self) -> "ReferenceBackend":
        self._thread = threading.Thread(target=self._serve, name="reference-backend", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._failure is not None:
            raise RuntimeError(f"the reference backend did not start: {self._failure!r}")
        return self

    def _serve(self) -> None:
        loop, server = self._loop, self._server
        asyncio.set_event_loop(loop)
        try:
            server.config.load()
            server.lifespan = server.config.lifespan_class(server.config)
            loop.run_until_complete(server.startup(sockets=[self._socket]))
        except BaseException as exc:   # said by start(), in the caller's thread
            self._failure = exc
            loop.close()
            return
        finally:
            self._ready.set()
        loop.run_forever()
        unfinished = asyncio.all_tasks(loop)
        for task in unfinished:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*unfinished, return_exceptions=True))
        loop.close()

    def stop(self) -> None:
        """Stops like an outage: the listener and every connection end at once, idle or not."""
        def halt() -> None:
            for listener in self._server.servers:
                listener.close()
            for connection in list(self._server.server_state.connections):
                connection.transport.abort()
            self._loop.stop()

        if self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(halt)
            self._thread.join(10)
        if self._thread is None:
            self._loop.close()   # never started
        self._socket.close()
        self.app.close()


def open_backend(host: str, port: int, db: str | Path, certs: str | Path) -> ReferenceBackend:
    """The reference backend on (host, port) with its store in `db` (a SQLite file or a
    postgresql:// address) and the PKI in `certs` (port 0 picks a free one; see `.url`)."""
    pki = pki_files(certs)
    return ReferenceBackend((host, port), BackendStore(db), pki)


def pki_files(certs: str | Path) -> PkiFiles:
    pki = PkiFiles(Path(certs))
    if not pki.complete():
        raise FileNotFoundError(f"{certs} lacks ca.pem, server.pem/.key or kiosk.pem/.key; run `kiosk backend certs`")
    return pki


# `kiosk backend serve --workers N`: each worker process builds its application from these.
ENV_DB, ENV_CERTS = "REFERENCE_BACKEND_DB", "REFERENCE_BACKEND_CERTS"


def app_from_environment() -> BackendApp:
    pki = pki_files(os.environ[ENV_CERTS])
    return BackendApp(BackendStore(os.environ[ENV_DB]), RevokedCertificates(pki.revoked))


def serve_forever(sock: socket.socket, db: str, certs: str, workers: int) -> None:
    """The backend in `workers` processes on one listening socket, until SIGTERM or SIGINT."""
    from uvicorn.supervisors import Multiprocess
    os.environ[ENV_DB], os.environ[ENV_CERTS] = str(db), str(certs)
    config = server_config("reference_backend.server:app_from_environment", pki_files(certs), workers=workers,
                           factory=True)
    server = uvicorn.Server(config)
    if workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])

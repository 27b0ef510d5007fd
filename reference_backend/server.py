"""The reference backend: the contract of openapi.yaml served over HTTPS with client
certificates, on the standard library (ThreadingHTTPServer, HTTP/1.1 keep-alive, ssl).

The kiosk's terminal identity is the common name of its client certificate; Idempotency-Keys
are scoped to it. The access log names the route and status only, never the path or body:
requests carry ID numbers and names.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes

from reference_backend.pki import PkiFiles, RevokedCertificates
from reference_backend.store import BackendStore, Refusal, Reply, RequestInProgress

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"
MAX_REQUEST_BYTES = 64 * 1024
# An oversized body up to this size is read and thrown away before the 413 goes out: closing on a
# client still sending makes its TLS stack report a broken connection instead of our answer.
MAX_DISCARDED_BYTES = 1024 * 1024
MAX_IDEMPOTENCY_KEY_CHARS = 255
IDLE_CONNECTION_TIMEOUT_S = 30


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
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")
    return Route(method, pattern, name, changes_state, call)


ROUTES = [
    _route("GET", "/v1/health", "health",
           lambda store, conn, terminal, body: {"status": "ok", "api_version": API_VERSION}, changes_state=False),
    _route("POST", "/v1/visits", "open_visit", BackendStore.open_visit, changes_state=False),
    _route("POST", "/v1/person-queries", "query_person", BackendStore.query_person, changes_state=False),
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


class BackendHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sscard-reference-backend/" + API_VERSION
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out as two writes; no 40 ms Nagle stall
    timeout = IDLE_CONNECTION_TIMEOUT_S
    server: "ReferenceBackend"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        route_name = "unknown"
        try:
            path = urlsplit(self.path).path
            route, params = self._match(path)
            route_name = route.name
            body = self._read_body()
            store = self.server.store
            self._refuse_a_revoked_certificate()
            terminal = self._terminal()
            if route.changes_state:
                key = self.headers.get("Idempotency-Key")
                if not key:
                    raise Refusal(400, "idempotency_key_missing", "this request needs an Idempotency-Key header")
                if len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
                    raise Refusal(400, "idempotency_key_invalid", "the Idempotency-Key is too long")
                reply = store.change(terminal, key, request_fingerprint(self.command, path, body),
                                     lambda conn, t, k: route.call(store, conn, t, k, *params, body))
            else:
                reply = store.read(lambda conn: route.call(store, conn, terminal, *params, body))
        except Refusal as refusal:
            reply = Reply(refusal.status, refusal.body())
        except RequestInProgress:
            reply = Reply(409, {"error": {"code": "request_in_progress",
                                          "message": "a request with this Idempotency-Key is still being handled"}})
            self._send(reply, route_name, {"Retry-After": "1"})
            return
        except (ConnectionError, TimeoutError, ssl.SSLError):
            raise
        except Exception:
            log.exception("route %s failed", route_name)
            reply = Reply(500, {"error": {"code": "internal_error", "message": "the backend failed; try again"}})
        self._send(reply, route_name)

    def _match(self, path: str) -> tuple[Route, tuple]:
        allowed = False
        for route in ROUTES:
            found = route.pattern.match(path)
            if found:
                if route.method == self.command:
                    return route, tuple(found.groups())
                allowed = True
        if allowed:
            raise Refusal(405, "method_not_allowed", "this path does not take this method")
        raise Refusal(404, "not_found", "no such resource in API v1")

    def _read_body(self) -> dict:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise Refusal(400, "bad_content_length", "Content-Length is not a number") from None
        if length < 0 or length > MAX_REQUEST_BYTES:
            self.close_connection = True  # what is not read would be taken for the next request
            if length <= MAX_DISCARDED_BYTES:
                self._discard_body(length)
            raise Refusal(413, "request_too_large", f"requests are limited to {MAX_REQUEST_BYTES} bytes")
        raw = self.rfile.read(length) if length else b""
        if self.command == "GET":
            return {}
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise Refusal(400, "malformed_json", "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise Refusal(400, "malformed_json", "the request body must be a JSON object")
        return body

    def _discard_body(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(length, 16 * 1024))
            if not chunk:
                return
            length -= len(chunk)

    def _refuse_a_revoked_certificate(self) -> None:
        fingerprint = hashlib.sha256(self.connection.getpeercert(binary_form=True)).hexdigest()
        if fingerprint in self.server.revoked.fingerprints():
            raise Refusal(403, "certificate_revoked", "this kiosk's certificate has been revoked")

    def _terminal(self) -> str:
        subject = self.connection.getpeercert().get("subject", ())
        for attribute in subject:
            for name, value in attribute:
                if name == "commonName":
                    return value
        raise Refusal(403, "no_terminal_identity", "the client certificate names no terminal")

    def _send(self, reply: Reply, route_name: str, extra_headers: dict | None = None) -> None:
        payload = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if reply.replayed:
            self.send_header("Idempotent-Replayed", "true")
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        log.debug("%s -> %d%s", route_name, reply.status, " (replayed)" if reply.replayed else "")

    def log_request(self, code="-", size="-") -> None:
        """Replaced by the debug line in _send: the request line may hold a card identifier."""

    def log_error(self, format, *args) -> None:
        log.debug("HTTP error: " + format, *args)


class ReferenceBackend(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], store: BackendStore, pki: PkiFiles):
        super().__init__(address, BackendHandler)
        self.store = store
        self.revoked = RevokedCertificates(pki.revoked)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(pki.server_cert, pki.server_key)
        context.load_verify_locations(pki.ca_cert)
        context.verify_mode = ssl.CERT_REQUIRED
        # The handshake happens in the connection's own thread, so a slow or hostile client
        # cannot hold up accepting the others.
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self._thread: threading.Thread | None = None
        self._connections: set = set()
        self._connections_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"https://{'localhost' if host in ('127.0.0.1', '::1', 'localhost') else host}:{port}"

    def handle_error(self, request, client_address) -> None:
        # Refused client certificates and dropped connections are normal events here.
        log.debug("connection from %s ended with an error", client_address[0], exc_info=True)

    def start(self) -> "ReferenceBackend":
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="reference-backend", daemon=True)
        self._thread.start()
        return self

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        """Stops like an outage: keep-alive connections end too, not only the accept loop."""
        self.shutdown()
        self.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its client
        self.store.close()


class ReferenceBackendIPv6(ReferenceBackend):
    address_family = socket.AF_INET6


def open_backend(host: str, port: int, db: str | Path, certs: str | Path) -> ReferenceBackend:
    """The reference backend on (host, port) with its store in `db` and the PKI in `certs`
    (port 0 picks a free one; see `.url`)."""
    pki = PkiFiles(Path(certs))
    if not pki.complete():
        raise FileNotFoundError(f"{certs} lacks ca.pem, server.pem/.key or kiosk.pem/.key; run `kiosk backend certs`")
    server_class = ReferenceBackendIPv6 if ":" in host else ReferenceBackend
    return server_class((host, port), BackendStore(db), pki)

"""The reference backend's HTTP server (#20): what a request smuggled in a body, a trickling
client, a hostile JSON document, a key spelt differently, an undeclared method or a crowd of
connections did to the standard library's server, each tried again on the kept server stack."""
from __future__ import annotations

import json
import socket
import ssl
import time

import pytest

from backend_helpers import key
from kiosk.backend.errors import BackendUnavailable
from reference_backend import server as backend_server

REVIEW = json.dumps({"service_item": "1.10.6", "level": 5}).encode()


class RawConnection:
    """One TLS connection with the kiosk's certificate, written to and read byte for byte."""

    def __init__(self, backend, pki, timeout: float = 5.0):
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
        context.load_cert_chain(str(pki.kiosk_cert), str(pki.kiosk_key))
        raw = socket.create_connection(backend.server_address[:2], timeout=timeout)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.timeout = timeout
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _receive(self, timeout: float) -> bytes:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        finally:
            self.sock.settimeout(self.timeout)

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self._receive(self.timeout)
            if not chunk:
                raise ConnectionError("closed by the backend")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def response(self) -> tuple[int, dict, bytes]:
        status_line, *lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
        length = int(headers.get("content-length", 0))
        while len(self.buffer) < length:
            self.buffer += self._receive(self.timeout)
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, body

    def closed_within(self, seconds: float) -> bool:
        try:
            return self._receive(seconds) == b""
        except (TimeoutError, socket.timeout):
            return False
        except OSError:
            return True

    def nothing_more_within(self, seconds: float) -> bool:
        if self.buffer:
            return False
        try:
            self.buffer += self._receive(seconds)
        except (TimeoutError, socket.timeout):
            return True
        return not self.buffer

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def connect(backend, pki):
    opened = []

    def open_one(**kwargs) -> RawConnection:
        opened.append(RawConnection(backend, pki, **kwargs))
        return opened[-1]
    yield open_one
    for connection in opened:
        connection.close()


def request(method: str, path: str, body: bytes = b"", **headers) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", f"Content-Length: {len(body)}",
             *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def reviews(backend) -> int:
    return backend.store._conn.execute("SELECT count(*) FROM reviews").fetchone()[0]


@pytest.mark.parametrize("method, path, status", [("POST", "/v1/unknown", 404), ("GET", "/v1/reviews", 405)])
def test_a_request_hidden_in_a_refused_body_is_never_executed(connect, backend, method, path, status):
    hidden = request("POST", "/v1/reviews", REVIEW, Idempotency_Key=key(), Content_Type="application/json")
    connection = connect()
    connection.send(request(method, path, hidden))
    answered, _headers, body = connection.response()
    assert answered == status and "error" in json.loads(body)
    assert connection.nothing_more_within(0.5) and reviews(backend) == 0
    connection.send(request("GET", "/v1/health"))   # the connection is still in step
    assert connection.response()[0] == 200


def test_a_chunked_body_is_read_to_its_end(connect, backend):
    hidden = request("POST", "/v1/reviews", REVIEW, Idempotency_Key=key())
    chunked = f"{len(hidden):x}\r\n".encode() + hidden + b"\r\n0\r\n\r\n"
    connection = connect()
    connection.send(b"GET /v1/reviews HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    assert connection.response()[0] == 405
    assert connection.nothing_more_within(0.5) and reviews(backend) == 0
    connection.send(request("GET", "/v1/health"))
    assert connection.response()[0] == 200


def test_a_path_with_a_trailing_newline_is_no_route(connect):
    connection = connect()
    connection.send(request("GET", "/v1/health%0A"))
    assert connection.response()[0] == 404


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_an_undeclared_method_is_405_with_allow_and_the_error_body(connect, method):
    connection = connect()
    connection.send(request(method, "/v1/reviews"))
    status, headers, body = connection.response()
    assert (status, headers["allow"]) == (405, "POST")
    assert json.loads(body)["error"]["code"] == "method_not_allowed"
    assert headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("document", [
    b'{"service_item": "\\ud800", "level": 5}',                      # a lone surrogate
    b'{"a": ' + b"[" * 32000 + b"]" * 32000 + b"}",                 # nesting past any parser's depth
    b'{"service_item": "1.10.6", "level": ' + b"9" * 5000 + b"}",   # beyond Python's integer digits
    b'{"queue_depth": 1, "software_version": "1", "oldest_pending_age_s": 1e400}',
    b'{"queue_depth": 1, "software_version": "1", "oldest_pending_age_s": NaN}',
    b'{"queue_depth": 1, "software_version": "1", "oldest_pending_age_s": -Infinity}',
], ids=["surrogate", "nesting", "digits", "1e400", "NaN", "Infinity"])
def test_a_hostile_json_document_is_400_not_500(connect, backend, document):
    connection = connect()
    path = "/v1/reviews" if b"service_item" in document or b"[[[" in document else "/v1/terminals/KIOSK-0001/heartbeats"
    connection.send(request("POST", path, document, Idempotency_Key=key()))
    status, _headers, body = connection.response()
    assert (status, json.loads(body)["error"]["code"]) == (400, "malformed_json")
    connection.send(request("GET", "/v1/health"))
    assert connection.response()[0] == 200


def test_an_integral_float_is_an_integer_as_the_schema_says(client):
    assert client.call("submit_review", {"service_item": "1.10.6", "level": 5.0}, idempotency_key=key())["level_name"]


def test_one_key_spelt_four_ways_is_one_effect(connect, backend):
    spellings = [key := "3f1c2b9e-8d4a-4f6b-9c2e-7a1b3c5d7e9f", key.upper(), key.replace("-", ""), f"{key}  "]
    connection = connect()
    answers = []
    for spelling in spellings:
        connection.send(request("POST", "/v1/reviews", REVIEW, Idempotency_Key=spelling))
        answers.append(connection.response())
    assert [status for status, _, _ in answers] == [201] * 4
    assert [headers.get("idempotent-replayed") for _, headers, _ in answers] == [None, "true", "true", "true"]
    assert reviews(backend) == 1


@pytest.mark.parametrize("bad_key", ["", "not-a-uuid", "3f1c2b9e-8d4a-4f6b-9c2e-7a1b3c5d7e9f0"])
def test_an_idempotency_key_that_is_not_a_uuid_is_400(connect, backend, bad_key):
    connection = connect()
    connection.send(request("POST", "/v1/reviews", REVIEW, Idempotency_Key=bad_key))
    status, _headers, body = connection.response()
    assert status == 400 and json.loads(body)["error"]["code"].startswith("idempotency_key_")
    assert reviews(backend) == 0


def test_a_request_trickling_in_is_cut_off_at_its_deadline(connect, monkeypatch):
    monkeypatch.setattr(backend_server, "REQUEST_DEADLINE_S", 1.0)
    silent, trickling = connect(), connect()
    started = time.monotonic()
    for byte in b"GET /v1/health HTTP/1.1\r\nHost: local":
        try:
            trickling.send(bytes([byte]))
        except OSError:
            break
        time.sleep(0.1)
    assert trickling.closed_within(2.0) and time.monotonic() - started < 4.5
    assert silent.closed_within(0.5)   # connected and said nothing: the same deadline
    fresh = connect()
    fresh.send(request("GET", "/v1/health"))
    assert fresh.response()[0] == 200


def test_connections_beyond_the_cap_are_closed_and_the_others_served(connect, monkeypatch):
    monkeypatch.setattr(backend_server, "MAX_CONNECTIONS", 3)
    held = [connect() for _ in range(3)]
    for connection in held:
        connection.send(request("GET", "/v1/health"))
        assert connection.response()[0] == 200
    one_too_many = connect()
    assert one_too_many.closed_within(2.0)
    held[0].close()
    time.sleep(0.2)
    again = connect()
    again.send(request("GET", "/v1/health"))
    assert again.response()[0] == 200


def test_an_overloaded_backend_sheds_with_503_and_a_retry_after(backend, client, monkeypatch):
    monkeypatch.setattr(backend.app, "max_waiting", 0)
    with pytest.raises(BackendUnavailable) as shed:
        client.call("submit_review", {"service_item": "1.10.6", "level": 5}, idempotency_key=key())
    low, high = backend_server.SHED_RETRY_AFTER_S
    assert shed.value.status == 503 and low <= shed.value.retry_after_s <= high
    assert reviews(backend) == 0

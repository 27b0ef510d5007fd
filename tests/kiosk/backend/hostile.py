"""A backend that misbehaves on purpose, over the same real TLS, to see the client and the
outbox survive it: slow, 5xx, 429, 409, garbage, oversized and non-JSON answers."""
from __future__ import annotations

import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BEHAVIOURS = ("slow", "error_500", "busy_429", "busy_429_date", "in_progress_409", "not_json", "json_array",
              "oversized", "oversized_chunked", "refused_garbage", "redirect", "trickle_headers", "trickle_body")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._misbehave()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._misbehave()

    def _reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Transfer-Encoding" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _misbehave(self) -> None:
        self.server.requests += 1
        behaviour = self.server.behaviour
        if behaviour == "slow":
            time.sleep(self.server.slow_s)
            self._reply(200, b'{"status": "ok"}')
        elif behaviour == "error_500":
            self._reply(500, b"<html>Internal Server Error</html>")
        elif behaviour == "busy_429":
            self._reply(429, b'{"error": {"code": "busy", "message": "later"}}', {"Retry-After": "7"})
        elif behaviour == "busy_429_date":
            self._reply(429, b"", {"Retry-After": time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                                  time.gmtime(time.time() + 120))})
        elif behaviour == "in_progress_409":
            self._reply(409, b'{"error": {"code": "request_in_progress", "message": "wait"}}', {"Retry-After": "1"})
        elif behaviour == "not_json":
            self._reply(200, b"{'status': ok")
        elif behaviour == "json_array":
            self._reply(200, b"[1, 2, 3]")
        elif behaviour == "oversized":
            self._reply(200, b'{"pad": "' + b"x" * (3 << 20) + b'"}')
        elif behaviour == "oversized_chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65536
            for _ in range(48):  # 3 MiB, with no Content-Length to give it away
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        elif behaviour == "refused_garbage":
            self._reply(403, b"\x00\xff not json at all")
        elif behaviour == "redirect":
            self._reply(302, b"", {"Location": "https://example.invalid/"})
        elif behaviour in ("trickle_headers", "trickle_body"):
            # Each byte comes well within a read timeout; the whole answer would take minutes.
            body = b'{"status": "ok", "pad": "' + b"x" * 200 + b'"}'
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            trickled = head + body if behaviour == "trickle_headers" else body
            if behaviour == "trickle_body":
                self.wfile.write(head)
                self.wfile.flush()
            try:
                for byte in trickled:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(self.server.slow_s)
            except OSError:
                pass   # the client gave up: that is the point


class HostileBackend(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, pki, behaviour: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.server_cert, pki.server_key)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.behaviour = behaviour
        self.slow_s = 2.0
        self.requests = 0

    @property
    def url(self) -> str:
        return f"https://localhost:{self.server_address[1]}"

    def handle_error(self, request, client_address) -> None:
        pass  # the client hanging up on an oversized reply is the point of the test

    def __enter__(self) -> "HostileBackend":
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

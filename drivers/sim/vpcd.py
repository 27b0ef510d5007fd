"""The vpcd wire protocol, from the virtual card's side (vsmartcard's "vicc" role).

pcscd's vpcd driver listens on TCP (35963 for the first slot, 35964 for the second); a
virtual card connects to it, and a connected card is a card in the reader. Each message is a
2-byte big-endian length and a payload; a 1-byte payload is a control code (power off, power
on, reset, get ATR), anything longer is an APDU that needs an answer.
Closing the connection is pulling the card out.
"""
from __future__ import annotations

import logging
import socket
import struct
import threading
from typing import Protocol

log = logging.getLogger(__name__)

VPCD_POWER_OFF = 0x00
VPCD_POWER_ON = 0x01
VPCD_RESET = 0x02
VPCD_GET_ATR = 0x04


class VirtualCard(Protocol):
    atr: bytes

    def power_on(self) -> None:
        """Called on power-on and reset: the card forgets its security state."""

    def process_apdu(self, apdu: bytes) -> bytes:
        """The response to one command APDU (data and status word)."""


class CardPulledOut(Exception):
    """Raised by a virtual card to drop the link mid-command, as a citizen pulling the card would."""


class VpcdLink:
    """Keeps one virtual card connected to a vpcd slot, reconnecting when pcscd restarts.

    `insert()` starts the link (the card goes in), `remove()` closes it (the card comes out).
    """

    def __init__(self, card: VirtualCard, host: str = "127.0.0.1", port: int = 35963,
                 reconnect_delay: float = 0.1):
        self.card = card
        self.host = host
        self.port = port
        self.reconnect_delay = reconnect_delay
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()

    def insert(self) -> "VpcdLink":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"vpcd-{self.port}", daemon=True)
        self._thread.start()
        return self

    def remove(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._close()
        if self._thread is not None:
            self._thread.join(timeout)

    def _close(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        self.connected.clear()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError:
                self._stop.wait(self.reconnect_delay)  # pcscd not (yet) listening
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sock = sock
            self.connected.set()
            try:
                self._serve(sock)
            except CardPulledOut:
                log.info("virtual card on port %d pulled out by its profile", self.port)
                self._stop.set()
            except OSError:
                pass
            finally:
                self._close()
            self._stop.wait(self.reconnect_delay)

    def _recv_exact(self, sock: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            # Without QUICKACK the kernel delays the ACK and each APDU costs ~40 ms (Nagle +
            # delayed ACK); the flag resets itself, so it is set before every recv.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise OSError("vpcd closed the connection")
            data += chunk
        return data

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            (length,) = struct.unpack(">H", self._recv_exact(sock, 2))
            payload = self._recv_exact(sock, length)
            if length == 1:
                if payload[0] in (VPCD_POWER_ON, VPCD_RESET):
                    self.card.power_on()
                elif payload[0] == VPCD_GET_ATR:
                    sock.sendall(struct.pack(">H", len(self.card.atr)) + self.card.atr)
                continue
            response = self.card.process_apdu(payload)
            sock.sendall(struct.pack(">H", len(response)) + response)

"""A simulated serial device on a pty pair: the kiosk opens the slave path with pyserial
exactly as it opens /dev/ttyS0, and the simulator answers on the master side.

A pty moves bytes instantly whatever baud rate the kiosk sets, so the simulator models the
line itself: received bytes are handed to the device only once they would have finished
arriving at `baudrate` (10 bits a byte, 8N1), and answers wait for their own line time.
Anything measured end to end against a simulator (send a job, wait for the status answer
that follows it) therefore includes the line time a real RS-232 cable would take.
"""
from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
import time
import tty

log = logging.getLogger(__name__)

BITS_PER_BYTE = 10  # start bit, 8 data bits, stop bit


class PtyDevice:
    """Base of the simulated serial devices. Subclasses implement `received(data)` and call
    `send(data)` to answer. `start()` returns the slave path; `stop()` ends the thread."""

    name = "serial device"

    def __init__(self, baudrate: int):
        self.baudrate = baudrate
        self._master = self._slave = -1
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # Cleared, the device stops taking bytes: the kiosk's writes pile up in the pty and then
        # block, like a printer holding its flow control while its buffer is full.
        self.taking_data = threading.Event()
        self.taking_data.set()
        # RS-232 is full duplex: each direction has its own line, free again at these times.
        self._free_at = {"rx": 0.0, "tx": 0.0}
        self.path = ""

    def start(self) -> str:
        self._master, self._slave = os.openpty()
        # Raw: no echo, no CR/LF translation, no signals on 0x03 - binary frames pass untouched.
        tty.setraw(self._slave)
        tty.setraw(self._master)
        self.path = os.ttyname(self._slave)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"sim-{self.name}", daemon=True)
        self._thread.start()
        return self.path

    def stop(self) -> None:
        self._stop.set()
        self.taking_data.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def received(self, data: bytes) -> None:
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        """Answer the kiosk, taking the answer's line time."""
        self._wait_for_line("tx", len(data))
        try:
            os.write(self._master, data)
        except OSError as exc:  # stopped meanwhile
            log.debug("%s: answer dropped: %s", self.name, exc)

    def _wait_for_line(self, direction: str, nbytes: int) -> None:
        now = time.monotonic()
        free_at = max(self._free_at[direction], now) + nbytes * BITS_PER_BYTE / self.baudrate
        self._free_at[direction] = free_at
        delay = free_at - now
        if delay > 0:
            time.sleep(delay)

    def _run(self) -> None:
        # About 10 ms of line per read, so pacing stays smooth and a status request queued
        # behind a job is answered as soon as the line has carried the job.
        chunk = max(1, self.baudrate // (BITS_PER_BYTE * 100))
        while not self._stop.is_set():
            if not self.taking_data.is_set():
                self.taking_data.wait(0.05)
                continue
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, chunk)
            except OSError:
                return
            self._wait_for_line("rx", len(data))
            try:
                self.received(data)
            except Exception:  # a simulator bug must show, not silently kill the device
                log.exception("%s simulator failed on %d bytes", self.name, len(data))


def serve_until_signalled(device: PtyDevice) -> int:
    """Start `device`, print its pty path as the first line of stdout, stop on SIGTERM/SIGINT."""
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    path = device.start()
    print(path, flush=True)
    print(f"simulated {device.name} at {device.baudrate} baud", file=sys.stderr, flush=True)
    done.wait()
    device.stop()
    return 0

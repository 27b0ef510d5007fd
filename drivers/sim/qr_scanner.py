"""A simulated Honeywell 2D scanner in Manual/Serial trigger mode on a pty (drivers/qr_scanner.py's
command subset).

`present(text)` holds a phone with a code under the scanner: it is read on the next trigger
(SYN T CR), or at once if the trigger is on, and sent with the CR suffix; a read switches the
trigger off, as the real scanner does. The trigger also goes off on SYN U CR and after the
scanner's read time-out (TRGSTO, 30 s by default). `garble()` makes the next read a broken one
(by default a code cut short: its first half, no suffix). The menu query `TRGMOD?.` is answered
with the trigger mode; any other menu command with ENQ (a tag it does not know).
Faults: `unplugged` (silent: hears nothing, reads nothing), `taking_data` cleared (PtyDevice).
"""
from __future__ import annotations

import argparse
import re
import sys
import threading
import time

from drivers.qr_scanner import CR, MENU_PREFIX, SYN, TRIGGER_OFF, TRIGGER_ON
from drivers.sim.pty_link import PtyDevice, serve_until_signalled

# A menu command: its tag and value, then "." (stored) or "!" (for this power cycle only).
MENU_COMMAND = re.compile(rb"([A-Z0-9?*^]+)([.!])", re.IGNORECASE)
ACK, ENQ = b"\x06", b"\x05"
DEMO_CODE = "ESSC-DEMO-0001"


class SimulatedQrScanner(PtyDevice):
    name = "QR scanner"

    def __init__(self, *, baudrate: int = 9600, trigger_mode: str = "0", read_timeout_s: float = 30.0):
        super().__init__(baudrate)
        self.trigger_mode = trigger_mode   # TRGMOD: 0 Manual/Serial, 3 Presentation, ...
        self.read_timeout_s = read_timeout_s
        self.unplugged = False
        self.reads = 0   # codes (and broken reads) sent
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._triggered_until = 0.0   # monotonic time the trigger goes off by itself
        self._under_scanner: bytes | None = None   # what the next read sends, suffix included

    @property
    def port(self) -> str:
        """The pty path to open as the scanner's serial port."""
        return self.path

    @property
    def triggered(self) -> bool:
        return time.monotonic() < self._triggered_until

    # -- the phone under the scanner --

    def present(self, text: str) -> None:
        """A code under the scanner: read on the next trigger, or now if it is on."""
        self._put(text.encode("utf-8") + CR)

    def garble(self, raw: bytes | None = None) -> None:
        """The next read sends `raw` exactly (give the suffix yourself), by default the code
        presented (or a demo code) cut in half: a read interrupted."""
        if raw is None:
            code = self._under_scanner or DEMO_CODE.encode("ascii") + CR
            raw = code[:len(code) // 2]
        self._put(raw)

    def take_away(self) -> None:
        with self._lock:
            self._under_scanner = None

    def _put(self, raw: bytes) -> None:
        with self._lock:
            self._under_scanner = raw
        self._read_if_triggered()

    def _read_if_triggered(self) -> None:
        with self._lock:
            if self.unplugged or not self.triggered or self._under_scanner is None:
                return
            raw, self._under_scanner = self._under_scanner, None
            self._triggered_until = 0.0   # a read ends the scan
            self.reads += 1
        self.send(raw)

    # -- the serial line --

    def received(self, data: bytes) -> None:
        if self.unplugged:
            return
        self._buffer += data
        while self._buffer:
            if self._buffer.startswith(TRIGGER_ON):
                del self._buffer[:len(TRIGGER_ON)]
                with self._lock:
                    self._triggered_until = time.monotonic() + self.read_timeout_s
                self._read_if_triggered()
            elif self._buffer.startswith(TRIGGER_OFF):
                del self._buffer[:len(TRIGGER_OFF)]
                with self._lock:
                    self._triggered_until = 0.0
            elif self._buffer.startswith(MENU_PREFIX):
                command = MENU_COMMAND.match(self._buffer, len(MENU_PREFIX))
                if command is None:
                    return   # the rest of it has not arrived yet
                tag, terminator = bytes(command.group(1)).upper(), bytes(command.group(2))
                del self._buffer[:command.end()]   # after the groups: they are views of the buffer
                self.send(self._menu(tag, terminator))
            elif self._buffer[:1] == SYN and len(self._buffer) < len(TRIGGER_ON):
                return   # the start of a command, the rest to come
            else:
                del self._buffer[:1]   # not a command this scanner knows: skipped, as it does

    def _menu(self, command: bytes, terminator: bytes) -> bytes:
        if command == b"TRGMOD?":
            return b"TRGMOD" + self.trigger_mode.encode("ascii") + ACK + terminator
        return command + ENQ + terminator


# --- `kiosk sim qrscanner` ------------------------------------------------------------------

def register_sim(sim_subparsers) -> None:
    """Add `qrscanner` to the `kiosk sim` command."""
    parser = sim_subparsers.add_parser(
        "qrscanner", help="a Honeywell QR scanner in serial trigger mode on a pty (prints the pty path first)")
    parser.add_argument("--baud", type=int, default=9600, help="line rate the simulator paces at")
    parser.add_argument("--code", default=DEMO_CODE, help="the code under the scanner, read on the first trigger")
    parser.add_argument("--trigger-mode", default="0", help="what TRGMOD? answers (0: Manual/Serial)")
    parser.set_defaults(func=_run_sim)


def _run_sim(args) -> int:
    scanner = SimulatedQrScanner(baudrate=args.baud, trigger_mode=args.trigger_mode)
    scanner.present(args.code)
    return serve_until_signalled(scanner)


def main(argv=None) -> int:
    """`python -m drivers.sim.qr_scanner`: the same as `kiosk sim qrscanner`."""
    parser = argparse.ArgumentParser(prog="qr-scanner-sim")
    register_sim(parser.add_subparsers(dest="device", required=True))
    args = parser.parse_args(["qrscanner", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

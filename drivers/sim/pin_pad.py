"""A simulated encrypting PIN pad on a pty (drivers/pin_pad.py's command subset).

It keeps its PIN keys in a JSON file (as a pad keeps them in its secure memory across power
cycles), and a person at its keys: `press("123456\\r")` queues key presses, which the person
makes, one every `key_interval_s`, once the pad asks for input (a person waits for the
prompt). In PIN mode the pad keeps the digits, sends `*` for each, and on `7` answers the
ISO 9564 format 0 block under SM4 (drivers/pin_block.py); in plain-text mode it sends the
digits themselves. Faults: `unplugged` (silent), `garbage` (answers with broken frames).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

from drivers import pin_block
from drivers.keyscheme import check_value
from drivers.pin_pad import ETX, PIN_KEY_BASE, STX, checksum, encode_frame
from drivers.sim.pty_link import PtyDevice, serve_until_signalled

log = logging.getLogger(__name__)

MODEL, SERIAL = "ZT588S", "0042"


class SimulatedPinPad(PtyDevice):
    name = "PIN pad"

    def __init__(self, key_file: str | os.PathLike, *, baudrate: int = 9600, key_interval_s: float = 0.02):
        super().__init__(baudrate)
        self.key_file = Path(key_file)
        self.key_interval_s = key_interval_s
        self.unplugged = False
        self.garbage = False
        self.beeps = 0
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._mode = "off"            # off, plain, pin
        self._entry: dict = {}        # PIN mode: key, account digits, length, digits so far
        self._person: list[str] = []
        self._person_wakes = threading.Event()
        self._person_thread: threading.Thread | None = None

    # -- the pad's memory --

    def keys(self) -> dict[int, bytes]:
        try:
            stored = json.loads(self.key_file.read_text(encoding="ascii"))
        except FileNotFoundError:
            return {}
        return {int(index, 16): bytes.fromhex(key) for index, key in stored.items()}

    def _store_key(self, index: int, key: bytes) -> None:
        stored = {f"{i:02X}": k.hex().upper() for i, k in self.keys().items()}
        stored[f"{index:02X}"] = key.hex().upper()
        self.key_file.write_text(json.dumps(stored), encoding="ascii")

    # -- the person at the keys --

    def press(self, keys: str) -> None:
        """Digits, "\\b" (clear), "\\r" (Enter), "\\x1b" (Cancel), made once input is asked for."""
        with self._lock:
            self._person.extend(keys)
        self._person_wakes.set()

    def start(self) -> str:
        path = super().start()
        self._person_thread = threading.Thread(target=self._person_at_keys, name="sim-pin-pad-person", daemon=True)
        self._person_thread.start()
        return path

    def stop(self) -> None:
        super().stop()
        self._person_wakes.set()
        if self._person_thread is not None:
            self._person_thread.join(2.0)

    def _person_at_keys(self) -> None:
        while not self._stop.is_set():
            self._person_wakes.wait(0.05)
            with self._lock:
                if self._mode == "off" or not self._person:
                    self._person_wakes.clear()
                    continue
                key = self._person.pop(0)
                out = self._key_pressed(key)
            if out and not self.unplugged:
                self.send(out.encode("latin-1"))
            time.sleep(self.key_interval_s)

    def _key_pressed(self, key: str) -> str:
        """What the pad sends for a key press, in the mode it is in (under the lock)."""
        if self._mode == "pin":
            digits = self._entry["digits"]
            if key.isdigit():
                if len(digits) >= self._entry["length"]:
                    self.beeps += 1
                    return ""
                digits.append(key)
                return "*"
            if key == "\b" and digits:
                digits.pop()
            if key == "\x1b":
                self._mode, self._entry = "off", {}
            return key
        return key

    # -- commands --

    def received(self, data: bytes) -> None:
        if self.unplugged:
            return
        self._buffer += data
        while True:
            start = self._buffer.find(bytes((STX,)))
            if start < 0:
                self._buffer.clear()
                return
            del self._buffer[:start]
            if len(self._buffer) < 4:
                return
            try:
                length = int(self._buffer[1:4])
            except ValueError:
                del self._buffer[:1]
                continue
            if len(self._buffer) < 7 + length:
                return
            frame = bytes(self._buffer[:7 + length])
            del self._buffer[:7 + length]
            body, check = frame[1:5 + length], frame[5 + length:]
            if body[-1] != ETX or check != f"{checksum(body):02X}".encode("ascii"):
                self._answer(b"\xe8")
                continue
            self._answer(self._command(body[3:-1].decode("ascii", "replace")))

    def _answer(self, text: bytes) -> None:
        if self.garbage:
            self.send(b"\x02" + b"0" * 6 + b"\x03ZZ")
            return
        self.send(encode_frame(text))

    def _command(self, text: str) -> bytes:
        with self._lock:
            if text == "3":
                return self._user_information()
            if text.startswith("50") and len(text) == 4:
                return self._control(bytes.fromhex(text[2:]).decode("ascii"))
            if text.startswith("1") and len(text) == 1 + 2 + 1 + 1 + 32:
                index, key = int(text[1:3], 16), bytes.fromhex(text[5:])
                self._store_key(index, key)
                return b"0" + check_value(key).encode()
            if text.startswith("6") and len(text) == 1 + 2 + 1 + 1 + 2 + 12:
                return self._start_pin_entry(int(text[1:3], 16), text[3], int(text[5:7]), text[7:])
            if text == "7":
                return self._pin_block()
            return b"\xeb"

    def _control(self, value: str) -> bytes:
        if value == "=":
            self.beeps += 1
        elif value == "3":
            self._mode = "plain"
            self._person_wakes.set()
        elif value == "2":
            self._mode, self._entry = "off", {}
        else:
            return b"\xeb"
        return b"0"

    def _start_pin_entry(self, index: int, block_format: str, length: int, digits: str) -> bytes:
        key = self.keys().get(index)
        if key is None or index < PIN_KEY_BASE:
            return b"\xe4"
        if block_format != " " or not 4 <= length <= 12 or not digits.isdigit():
            return b"\xeb"
        self._mode = "pin"
        self._entry = {"key": key, "account": digits, "length": length, "digits": []}
        self._person_wakes.set()
        return b"0"

    def _pin_block(self) -> bytes:
        entry = self._entry
        if self._mode != "pin" or len(entry["digits"]) != entry["length"]:
            return b"\xe9"
        block = pin_block.encrypt(entry["key"], "".join(entry["digits"]), entry["account"])
        self._mode, self._entry = "off", {}
        return f"000{len(entry['digits']):02d}".encode() + block.hex().upper().encode()

    def _user_information(self) -> bytes:
        blank = not any(index >= PIN_KEY_BASE for index in self.keys())
        settings = bytes((0x01 if blank else 0x00, 0, 30, 0xFF, 4, 12, 0x33, 0x37, 10, 0))
        text = (b"0" + b" " * 50 + b"0" * 48 + settings.hex().upper().encode() + b"00000000"
                + MODEL.encode().ljust(6) + b"1.0" + b"2.1" + b"2511" + SERIAL.encode())
        return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk sim pinpad", description="a simulated encrypting PIN pad on a pty")
    parser.add_argument("--keys", required=True, help="the pad's key file (JSON; made on the first key load)")
    parser.add_argument("--baud", type=int, default=9600)
    args = parser.parse_args(argv)
    return serve_until_signalled(SimulatedPinPad(args.keys, baudrate=args.baud))


if __name__ == "__main__":
    sys.exit(main())

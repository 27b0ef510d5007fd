"""Where the command line's PINs come from: the terminal without echo, or one per line from
stdin (--pin-stdin) for scripts. Shared by `kiosk card` and `kiosk service`."""
from __future__ import annotations

import getpass
import sys

from drivers.pin import InvalidPinFormat, Pin


class PinSource:
    def __init__(self, from_stdin: bool):
        self.from_stdin = from_stdin

    def ask(self, prompt: str, confirm: bool = False) -> Pin:
        if self.from_stdin:
            return Pin.from_text(sys.stdin.readline())
        first = getpass.getpass(prompt)
        if confirm and getpass.getpass("again: ") != first:
            raise InvalidPinFormat("the two entries differ")
        return Pin.from_text(first)

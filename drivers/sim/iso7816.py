"""What every simulated card shares: parsing command APDUs, status words, and the T=0
behaviour of answering `61xx` and handing data out through GET RESPONSE."""
from __future__ import annotations

from dataclasses import dataclass

SW_OK = b"\x90\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_SECURITY_NOT_SATISFIED = b"\x69\x82"
SW_PIN_BLOCKED = b"\x69\x83"
SW_CONDITIONS_NOT_SATISFIED = b"\x69\x85"
SW_SM_WRONG = b"\x69\x88"  # incorrect secure messaging data: a bad MAC
SW_WRONG_DATA = b"\x6A\x80"
SW_FILE_NOT_FOUND = b"\x6A\x82"
SW_RECORD_NOT_FOUND = b"\x6A\x83"
SW_WRONG_P1P2 = b"\x6A\x86"
SW_INS_NOT_SUPPORTED = b"\x6D\x00"
SW_CLA_NOT_SUPPORTED = b"\x6E\x00"
SW_AUTH_FAILED = b"\x63\x00"


@dataclass(frozen=True)
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None

    @classmethod
    def parse(cls, raw: bytes) -> "Command | None":
        """Short APDUs of the four cases; None for bytes that are not a valid APDU."""
        if len(raw) < 4:
            return None
        header, body = raw[:4], raw[4:]
        if not body:
            return cls(*header, b"", None)
        if len(body) == 1:
            return cls(*header, b"", body[0])
        lc = body[0]
        if lc == 0 or len(body) not in (1 + lc, 2 + lc):
            return None
        le = body[1 + lc] if len(body) == 2 + lc else None
        return cls(*header, bytes(body[1:1 + lc]), le)


class SimulatedCard:
    """Dispatches commands to `handle_<INS>` methods; subclasses define the application."""

    atr: bytes = b""
    instructions: dict[int, str] = {}

    def __init__(self, t0_get_response: bool = False):
        self.t0_get_response = t0_get_response
        self._pending = b""

    def power_on(self) -> None:
        self._pending = b""

    def process_apdu(self, apdu: bytes) -> bytes:
        command = Command.parse(apdu)
        if command is None:
            return SW_WRONG_LENGTH
        if command.ins == 0xC0:
            return self._get_response(command)
        self._pending = b""
        handler = self.instructions.get(command.ins)
        if handler is None:
            return SW_INS_NOT_SUPPORTED
        response = getattr(self, handler)(command)
        data, sw = response[:-2], response[-2:]
        if data and sw == SW_OK and self.t0_get_response:
            self._pending = data
            return bytes((0x61, len(data) & 0xFF))
        return response

    def transmit(self, apdu: bytes) -> bytes:
        """Lets a simulated card stand in for a reader connection in tests of the layers above."""
        return self.process_apdu(apdu)

    def _get_response(self, command: Command) -> bytes:
        if not self._pending:
            return SW_CONDITIONS_NOT_SATISFIED
        size = command.le or 256
        chunk, self._pending = self._pending[:size], self._pending[size:]
        if self._pending:
            return chunk + bytes((0x61, len(self._pending) & 0xFF))
        return chunk + SW_OK

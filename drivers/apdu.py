"""ISO 7816-4 APDUs: encoding commands, reading status words, and the channel that hides
the ways cards differ (T=0 `61xx` GET RESPONSE, `6Cxx` wrong Le) from the card application.

The channel sits on any transport with `transmit(bytes) -> bytes`; pyscard is not imported
here, so the protocol layer can be tested against a simulated card object directly.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol


class CardError(Exception):
    """Anything that went wrong talking to a card; str() is for staff."""



class NoCardPresent(CardError):
    """No card in the reader, or none came (or left) in the time given."""


class CardRemoved(CardError):
    """The card left the reader, or lost its contacts, mid-command: whether it carried out the
    command is unknown."""


class OperationCancelled(CardError):
    pass


class MalformedResponse(CardError):
    """The card answered with fewer than two bytes: no status word at all."""


class StatusWordError(CardError):
    """The card refused a command; `sw` is the status word as an int (e.g. 0x6A82)."""

    def __init__(self, sw: int, command: str = ""):
        self.sw = sw
        self.command = command
        super().__init__(f"card answered {sw:04X}" + (f" to {command}" if command else ""))


class VerificationFailed(StatusWordError):
    """63Cx: the card refused a verification and has x tries left. What was verified (a PIN,
    an authentication cryptogram) is the card application's to say."""

    def __init__(self, sw: int, command: str = ""):
        super().__init__(sw, command)
        self.tries_left = sw & 0x0F


class PinBlocked(StatusWordError):
    pass


class SecurityStatusNotSatisfied(StatusWordError):
    pass


class AuthenticationFailed(StatusWordError):
    """The card refused a cryptogram or a MAC: 6988 (secure messaging data) here; the card
    application raises it too for a refused EXTERNAL AUTHENTICATE (63 00, 63 Cx)."""



class FileNotFound(StatusWordError):
    pass


class RecordNotFound(StatusWordError):
    pass


class WrongParameters(StatusWordError):
    """6A86 / 6B00: P1-P2 not supported by this card (e.g. a record addressing mode)."""


class InstructionNotSupported(StatusWordError):
    pass


class ConditionsNotSatisfied(StatusWordError):
    pass


_SW_ERRORS = {
    0x6983: PinBlocked,
    0x6982: SecurityStatusNotSatisfied,
    0x6985: ConditionsNotSatisfied,
    0x6988: AuthenticationFailed,  # incorrect secure messaging data: the MAC was refused
    0x6A82: FileNotFound,
    0x6A83: RecordNotFound,
    0x6A86: WrongParameters,
    0x6B00: WrongParameters,
    0x6D00: InstructionNotSupported,
}


def status_word_error(sw: int, command: str = "") -> StatusWordError:
    """The typed exception for a refusal status word."""
    if sw & 0xFFF0 == 0x63C0:
        return VerificationFailed(sw, command)
    return _SW_ERRORS.get(sw, StatusWordError)(sw, command)


@dataclass(frozen=True)
class CommandApdu:
    """A short APDU. `le=None` means no response data expected; `le=0` asks for up to 256.
    The data stays out of repr: it may hold a PIN."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes | bytearray = field(default=b"", repr=False)
    le: int | None = None
    name: str = ""

    def __post_init__(self):
        for name, value in (("cla", self.cla), ("ins", self.ins), ("p1", self.p1), ("p2", self.p2)):
            if not 0 <= value <= 0xFF:
                raise ValueError(f"{name} must be one byte, got {value}")
        if len(self.data) > 255:
            raise ValueError("short APDUs carry at most 255 data bytes")
        if self.le is not None and not 0 <= self.le <= 255:
            raise ValueError("Le must be 0..255 (0 means 256)")

    def encode(self) -> bytes:
        """Bytes for the four ISO 7816-3 cases."""
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        body = bytes((len(self.data),)) + bytes(self.data) if self.data else b""
        trailer = bytes((self.le,)) if self.le is not None else b""
        return header + body + trailer

    def with_le(self, le: int) -> "CommandApdu":
        return CommandApdu(self.cla, self.ins, self.p1, self.p2, self.data, le, self.name)

    def __str__(self) -> str:
        return self.name or f"{self.cla:02X} {self.ins:02X} {self.p1:02X} {self.p2:02X}"


@dataclass(frozen=True)
class ResponseApdu:
    data: bytes
    sw: int

    @classmethod
    def parse(cls, raw: bytes) -> "ResponseApdu":
        if len(raw) < 2:
            raise MalformedResponse(f"response of {len(raw)} bytes has no status word")
        return cls(bytes(raw[:-2]), (raw[-2] << 8) | raw[-1])

    @property
    def ok(self) -> bool:
        return self.sw == 0x9000


# A record or a certificate comes back in a few GET RESPONSEs; a card that keeps answering
# 61xx past this is broken or hostile, and looping on it would hang the kiosk's card thread.
MAX_GET_RESPONSES = 32


class Transport(Protocol):
    def transmit(self, apdu: bytes) -> bytes: ...


class ApduChannel:
    """Sends commands and returns data, raising a typed exception for every refusal.

    Counts every APDU on the wire (GET RESPONSE and retries included) so benchmarks and
    diagnostics can report the real cost of an operation.
    """

    def __init__(self, transport: Transport, cancel: threading.Event | None = None):
        self.transport = transport
        self.cancel = cancel
        self.apdu_count = 0

    def _send(self, apdu: CommandApdu) -> ResponseApdu:
        if self.cancel is not None and self.cancel.is_set():
            raise OperationCancelled(f"cancelled before {apdu}")
        self.apdu_count += 1
        return ResponseApdu.parse(self.transport.transmit(apdu.encode()))

    def exchange(self, apdu: CommandApdu) -> ResponseApdu:
        """Send one command, following 61xx and 6Cxx; return the final response, any SW."""
        response = self._send(apdu)
        if response.sw >> 8 == 0x6C:
            # Wrong Le: the card tells us the exact length; ask again with it.
            response = self._send(apdu.with_le(response.sw & 0xFF))
        data = response.data
        fetched = 0
        while response.sw >> 8 == 0x61:
            fetched += 1
            if fetched > MAX_GET_RESPONSES:
                raise MalformedResponse(f"card still announces more data after {MAX_GET_RESPONSES} "
                                        f"GET RESPONSEs to {apdu}")
            # T=0: the card holds the data until asked with GET RESPONSE.
            response = self._send(CommandApdu(0x00, 0xC0, 0x00, 0x00, le=response.sw & 0xFF,
                                              name="GET RESPONSE"))
            data += response.data
        return ResponseApdu(data, response.sw)

    def send(self, apdu: CommandApdu) -> bytes:
        """Send one command and return its data; any status but 9000 raises."""
        response = self.exchange(apdu)
        if not response.ok:
            raise status_word_error(response.sw, str(apdu))
        return response.data

"""The card printer / dispenser for instant issuance (立等可取): a desktop card printer with a
contact encoder, commanded over its network port.

The wire protocol is the subset of Evolis "escape commands" (KC200, Primacy, Zenius) that an
issuance needs. Sources: public kiosk code that drives these printers through libevolis'
`evolis_command()` (the command strings, their replies and what the replies mean), the public
Evolis C SDK header (the names of the printer's fault states), and dpavlin/Printer-EVOLIS (the
framing and the `Db` bitmap download). A command is ESC, the command name and its `;`-separated
parameters, then CR:

    Sis            take a blank from the feeder to the smart card (contact) station  -> OK
                   (`Sic` is the contactless station; the public code pairs them this way)
    Ss / Db / Se   start a print sequence, download one colour panel, end the sequence
                   (the printer prints; with Pneab;E set the card stays inside)    -> OK
    Seb / Ser      eject the card to the bezel (the citizen) / to the reject box   -> OK
    Pneab;E        do not eject automatically after printing                      -> OK
    Rlr;p          where the card is: OK (none), CARD (print position),
                   SMART CARD (contact station), CONTACTLESS CARD
    Rlr;h          reject box full: CARD, or NO CARD
    Rse;f / Rse;o  feeder / cover sensor, e.g. "5,00 Volts" (under 1 V: feeder empty, cover open)
    Rrt;qty / Rrt;count   ribbon capacity / panels left, or ERR RIB DETECTION (no ribbon)

A refused command is answered `ERR <state>`, the state named as in the Evolis SDK
(DEF_FEEDER_EMPTY, DEF_RIBBON_ENDED, DEF_COVER_OPEN, ERR_MECHANICAL, ...).

Where this model is our own (the public material does not say):
* every reply ends with CR (libevolis reads until the printer pauses; a terminator makes the
  end of a reply explicit, so a silent printer is a timeout and not a short reply);
* `Db;<panel>;256;<data>` carries one byte per dot, row-major, for the panels y, m and c, at
  the card face's own size (FACE_SIZE); real printers pack 5 or 6 bits per dot and have a
  slightly larger panel (1016 x 648) for bleed.
* The printer reports no count of blanks left, only whether the feeder has any.

The contact station is a PC/SC reader of its own (`encoder_reader`); once a blank is there, the
kiosk talks to the chip through drivers.pcsc like any card. Printing moves the card off the
contact station, so encode first, then print.
"""
from __future__ import annotations

import enum
import re
import socket
import threading
import time
from dataclasses import dataclass

from PIL import Image, ImageChops

from drivers.apdu import NoCardPresent
from drivers.pcsc import wait_for_card

ESC = b"\x1b"
CR = b"\r"
FACE_SIZE = (1011, 638)  # 85.6 x 54 mm at 300 dpi
MAX_REPLY = 256  # longer than any reply of the subset: a stream of garbage, not a reply
SENSOR_ON_VOLTS = 1.0  # the public code's threshold: ~5 V is "on", ~0.2 V is "off"


class CardPrinterError(Exception):
    """Anything that went wrong with the card printer; `str()` is for staff (the citizen's words
    are in kiosk/device_messages.py)."""



class CardPrinterOffline(CardPrinterError):
    """No connection, or no answer within the timeout."""



class MalformedReply(CardPrinterError):
    """The printer answered something that is not a reply of this protocol."""


class CardPrinterCancelled(CardPrinterError):
    pass


class CardPrinterFault(CardPrinterError):
    """The printer refused a command with `ERR <state>`; `state` is the printer's own name."""

    def __init__(self, message: str, state: str = ""):
        self.state = state
        super().__init__(message)


class HopperEmpty(CardPrinterFault):
    pass


class RibbonOut(CardPrinterFault):
    pass


class CoverOpen(CardPrinterFault):
    pass


class CardJam(CardPrinterFault):
    pass


class RejectBinFull(CardPrinterFault):
    pass


class NoCardInPrinter(CardPrinterFault):
    """Eject, retain or print with no card inside."""


class EncoderCardNotSeen(CardPrinterError):
    """The printer says the card is at the contact station, but the encoder's reader sees none."""



# The printer's state names (Evolis SDK) -> our error and a phrase for staff.
_FAULTS: dict[str, tuple[type[CardPrinterFault], str]] = {
    "DEF_FEEDER_EMPTY": (HopperEmpty, "feeder empty"),
    "ERR_FEEDER_EMPTY": (HopperEmpty, "feeder empty"),
    "DEF_NO_RIBBON": (RibbonOut, "no ribbon"),
    "DEF_RIBBON_ENDED": (RibbonOut, "ribbon ended"),
    "ERR_RIBBON_ENDED": (RibbonOut, "ribbon ended"),
    "DEF_COVER_OPEN": (CoverOpen, "cover open"),
    "ERR_COVER_OPEN": (CoverOpen, "cover open"),
    "ERR_MECHANICAL": (CardJam, "card jammed (mechanical error)"),
    "DEF_REJECT_BOX_FULL": (RejectBinFull, "reject box full"),
    "ERR_REJECT_BOX_FULL": (RejectBinFull, "reject box full"),
    "ERR_NO_CARD_INSERTED": (NoCardInPrinter, "no card in the printer"),
    "RIB DETECTION": (RibbonOut, "no ribbon detected"),  # the reply of Rrt;* without a ribbon
}


def parse_reply(command: str, raw: bytes) -> str:
    """The text of one reply (without its CR), or the typed error an `ERR` reply stands for."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedReply(f"reply to {command} is not ASCII: {raw[:40]!r}") from None
    if not text or not text.isprintable():
        raise MalformedReply(f"reply to {command} is empty or holds control bytes: {raw[:40]!r}")
    if text.startswith("ERR"):
        state = text[3:].strip()
        fault, phrase = _FAULTS.get(state, (CardPrinterFault, "unknown printer state"))
        raise fault(f"card printer refused {command}: {phrase} ({state or 'no state given'})", state)
    return text


_VOLTS = re.compile(r"([0-9]{1,2}),([0-9]{2}) Volts")


def parse_sensor(command: str, text: str) -> bool:
    """A sensor reading such as "5,00 Volts" (decimal comma): is the sensor on?"""
    match = _VOLTS.fullmatch(text)
    if match is None:
        raise MalformedReply(f"reply to {command} is not a sensor voltage: {text!r}")
    return float(f"{match[1]}.{match[2]}") >= SENSOR_ON_VOLTS


def parse_count(command: str, text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 6):  # "²".isdigit() is True
        raise MalformedReply(f"reply to {command} is not a count: {text!r}")
    return int(text)


class CardPosition(enum.Enum):
    """Where the printer holds a card, as `Rlr;p` says it."""

    NONE = "OK"
    PRINT = "CARD"
    CONTACT = "SMART CARD"
    CONTACTLESS = "CONTACTLESS CARD"


def parse_position(text: str) -> CardPosition:
    try:
        return CardPosition(text)
    except ValueError:
        raise MalformedReply(f"reply to Rlr;p is not a card position: {text!r}") from None


@dataclass(frozen=True)
class PrinterStatus:
    feeder_loaded: bool
    cover_open: bool
    ribbon_capacity: int | None  # None: no ribbon detected
    ribbon_remaining: int | None
    card_position: CardPosition
    reject_box_full: bool

    def faults(self) -> list[CardPrinterFault]:
        """What would stop the next issuance, one error each."""
        found: list[CardPrinterFault] = []
        if not self.feeder_loaded:
            found.append(HopperEmpty("card printer: feeder empty", "DEF_FEEDER_EMPTY"))
        if self.ribbon_remaining is None:
            found.append(RibbonOut("card printer: no ribbon detected", "DEF_NO_RIBBON"))
        elif self.ribbon_remaining == 0:
            found.append(RibbonOut("card printer: ribbon ended", "DEF_RIBBON_ENDED"))
        if self.cover_open:
            found.append(CoverOpen("card printer: cover open", "DEF_COVER_OPEN"))
        if self.reject_box_full:
            found.append(RejectBinFull("card printer: reject box full", "DEF_REJECT_BOX_FULL"))
        return found


def face_panels(image: Image.Image) -> dict[str, bytes]:
    """The y, m and c panels of a face: one byte of ink per dot (the complement of RGB)."""
    if image.size != FACE_SIZE:
        raise ValueError(f"a card face is {FACE_SIZE[0]}x{FACE_SIZE[1]} px, not {image.size[0]}x{image.size[1]}")
    cyan, magenta, yellow = ImageChops.invert(image.convert("RGB")).split()
    return {"y": yellow.tobytes(), "m": magenta.tobytes(), "c": cyan.tobytes()}


class CardPrinter:
    """One card printer on the network and the PC/SC reader of its contact station.

    `reply_timeout` bounds a query; `movement_timeout` a command that moves a card or prints
    (each call may pass its own `timeout`); `encoder_timeout` how long the reader may take to
    see a card that reached, or left, the contact station. Long calls take a `cancel` event.
    After a timeout, a cancel or a garbled reply the connection is dropped, so the next command
    never reads a stale reply; it reconnects by itself.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9100,
                 encoder_reader: str = "Virtual PCD 00 00", connect_timeout: float = 2.0,
                 reply_timeout: float = 3.0, movement_timeout: float = 30.0,
                 encoder_timeout: float = 5.0):
        self.host = host
        self.port = port
        self.encoder_reader = encoder_reader
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self.movement_timeout = movement_timeout
        self.encoder_timeout = encoder_timeout
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()  # one command on the wire at a time

    def __repr__(self) -> str:
        return f"CardPrinter({self.host}:{self.port})"

    # -- the issuance steps -------------------------------------------------------------------

    def status(self) -> PrinterStatus:
        capacity = self._ribbon_reading("Rrt;qty")
        remaining = self._ribbon_reading("Rrt;count")
        return PrinterStatus(
            feeder_loaded=parse_sensor("Rse;f", self.command("Rse;f")),
            cover_open=not parse_sensor("Rse;o", self.command("Rse;o")),
            ribbon_capacity=capacity,
            ribbon_remaining=None if capacity is None else remaining,
            card_position=self.card_position(),
            reject_box_full=self._reject_box_full(),
        )

    def card_position(self) -> CardPosition:
        """Where a card inside the printer is (NONE: there is none)."""
        return parse_position(self.command("Rlr;p"))

    def feed_to_encoder(self, cancel: threading.Event | None = None,
                        timeout: float | None = None) -> bytes:
        """Take a blank from the feeder to the contact station; return its ATR once the
        encoder's reader sees it."""
        position = self.card_position()
        if position is not CardPosition.NONE:
            # A second blank would collide with it: the caller must eject or retain first.
            raise CardPrinterError(f"{self}: a card is already inside ({position.name.lower()} position)")
        # The last card left through eject or retain; its reader may not have noticed yet (it
        # is polled), and a blank read as that card would be a disaster: wait until it has.
        try:
            wait_for_card(self.encoder_reader, self.encoder_timeout, cancel, present=False)
        except NoCardPresent:
            self._raise_if_cancelled(cancel, "waiting for the encoder to be empty")
            raise EncoderCardNotSeen(f"{self}: {self.encoder_reader!r} still sees a card before a feed "
                                     f"(waited {self.encoder_timeout:g} s)") from None
        self.command("Sis", cancel, timeout or self.movement_timeout)
        try:
            return wait_for_card(self.encoder_reader, self.encoder_timeout, cancel)
        except NoCardPresent:
            self._raise_if_cancelled(cancel, "waiting for the encoder to see the blank")
            raise EncoderCardNotSeen(f"{self}: card at the contact station but {self.encoder_reader!r} "
                                     f"sees none after {self.encoder_timeout:g} s") from None

    def print_face(self, image: Image.Image, cancel: threading.Event | None = None,
                   timeout: float | None = None) -> None:
        """Print the face (a FACE_SIZE image). The card leaves the contact station to print
        and stays in the printer afterwards."""
        panels = face_panels(image)
        self.command("Pneab;E", cancel)
        self.command("Ss", cancel)
        for panel, dots in panels.items():
            self.command(f"Db;{panel};256", cancel, data=dots)
        self.command("Se", cancel, timeout or self.movement_timeout)

    def eject(self, cancel: threading.Event | None = None, timeout: float | None = None) -> None:
        """Hand the card to the citizen through the bezel."""
        self._move_out("Seb", cancel, timeout)

    def retain(self, cancel: threading.Event | None = None, timeout: float | None = None) -> None:
        """Drop the card into the reject box (a failed or test card never reaches a citizen)."""
        self._move_out("Ser", cancel, timeout)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- commands on the wire ----------------------------------------------------------------

    def command(self, text: str, cancel: threading.Event | None = None, timeout: float | None = None,
                data: bytes = b"") -> str:
        """Send one escape command (with binary `data` for Db) and return its reply's text."""
        self._raise_if_cancelled(cancel, f"before {text}")
        timeout = self.reply_timeout if timeout is None else timeout
        name = text.split(";")[0]
        with self._lock:
            try:
                sock = self._connection()
                sock.settimeout(self.reply_timeout)
                sock.sendall(ESC + text.encode("ascii") + (b";" + data if data else b"") + CR)
                return parse_reply(name, self._read_reply(sock, name, cancel, timeout))
            except socket.timeout:
                self._drop()
                raise CardPrinterOffline(f"{self}: no answer to {name} within {timeout:g} s") from None
            except OSError as exc:
                self._drop()
                raise CardPrinterOffline(f"{self}: connection lost during {name}: {exc}") from None
            except (MalformedReply, CardPrinterCancelled):
                self._drop()
                raise

    def _connection(self) -> socket.socket:
        if self._sock is None:
            try:
                self._sock = socket.create_connection((self.host, self.port), self.connect_timeout)
            except OSError as exc:
                raise CardPrinterOffline(f"{self}: cannot connect: {exc}") from None
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._sock

    def _read_reply(self, sock: socket.socket, name: str, cancel: threading.Event | None,
                    timeout: float) -> bytes:
        # Read in short slices so a cancel is seen while the printer is still moving the card.
        deadline = time.monotonic() + timeout
        reply = b""
        while not reply.endswith(CR):
            self._raise_if_cancelled(cancel, f"waiting for the reply to {name}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout
            sock.settimeout(min(remaining, 0.1))
            try:
                chunk = sock.recv(MAX_REPLY)
            except socket.timeout:
                continue
            if not chunk:
                raise OSError("the printer closed the connection")
            reply += chunk
            if len(reply) > MAX_REPLY:
                raise MalformedReply(f"reply to {name} runs past {MAX_REPLY} bytes without a CR")
        if reply.count(CR) > 1:
            raise MalformedReply(f"more than one reply to {name}: {reply[:40]!r}")
        return reply[:-1]

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _raise_if_cancelled(self, cancel: threading.Event | None, doing: str) -> None:
        if cancel is not None and cancel.is_set():
            raise CardPrinterCancelled(f"{self}: cancelled {doing}")

    def _ribbon_reading(self, command: str) -> int | None:
        try:
            return parse_count(command, self.command(command))
        except RibbonOut as exc:
            if exc.state == "RIB DETECTION":
                return None
            raise

    def _reject_box_full(self) -> bool:
        text = self.command("Rlr;h")
        if text not in ("CARD", "NO CARD"):
            raise MalformedReply(f"reply to Rlr;h is neither CARD nor NO CARD: {text!r}")
        return text == "CARD"

    def _move_out(self, command: str, cancel: threading.Event | None, timeout: float | None) -> None:
        # Done when the printer says the card is out: the citizen is not kept waiting for the
        # encoder's reader to notice (the next feed waits for that).
        self.command(command, cancel, timeout or self.movement_timeout)

"""A simulated instant-issuance card printer, speaking the escape commands of
drivers/card_printer.py on a loopback TCP port.

It holds a stock of blank cards and a ribbon. A blank taken to the contact station (`Sis`) is
connected to a vpcd slot, so the encoder's PC/SC reader sees it; printing (`Se`) moves the card
off the station, and ejecting or retaining takes it out of the printer. Each card's final place
and each printed face (a PNG) are recorded. Tests set the faults through attributes:
`stock = 0`, `ribbon_remaining = 0`, `ribbon_installed`, `cover_open`, `reject_box_full`,
`jam_at` (one of JAM_STEPS), and `silent` (reads commands and never answers).
"""
from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PIL import Image, ImageChops

from drivers.card_printer import CR, ESC, FACE_SIZE, CardPosition
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from drivers.sim.vpcd import VirtualCard, VpcdLink

log = logging.getLogger(__name__)

JAM_STEPS = ("feed", "print", "eject", "retain")
CARD_RID = bytes.fromhex("D156000005")  # the RID in every card identifier (DOMAIN.md section 2)
PANEL_BYTES = FACE_SIZE[0] * FACE_SIZE[1]
MAX_COMMAND = 64  # a longer command line is garbage


def blank_social_security_card(identifier: bytes) -> VirtualCard:
    return SimulatedSocialSecurityCard(CardProfile.blank(identifier))


@dataclass
class IssuedCard:
    """One blank that left the feeder: where it is now and the faces printed on it."""

    identifier: bytes
    place: str = "encoder"  # encoder, printer (print position), ejected, retained, jammed
    faces: list[Path] = field(default_factory=list)


class _Refused(Exception):
    """A command the printer answers with `ERR <state>`."""


class _Connection:
    """A client's socket, read in exact sizes (a file object from makefile() breaks for good
    after its first timeout, and the timeouts are how the reader notices stop())."""

    def __init__(self, sock: socket.socket, stop: threading.Event):
        self.sock = sock
        self.stop = stop
        self.buffer = b""

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if self.stop.is_set():
                raise EOFError
            try:
                chunk = self.sock.recv(max(65536, size - len(self.buffer)))
            except socket.timeout:
                continue
            except OSError:
                raise EOFError from None
            if not chunk:
                raise EOFError
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            raise EOFError from None


class CardPrinterSimulator:
    def __init__(self, port: int = 0, host: str = "127.0.0.1", stock: int = 50, ribbon_capacity: int = 250,
                 out_dir: str | Path | None = None, encoder_port: int = 35963,
                 blank_card_factory: Callable[[bytes], VirtualCard] = blank_social_security_card,
                 region_code: str = "371300", delay: float = 0.0):
        self.host = host
        self.stock = stock
        self.ribbon_capacity = ribbon_capacity
        self.ribbon_remaining = ribbon_capacity
        self.ribbon_installed = True
        self.cover_open = False
        self.reject_box_full = False
        self.jam_at: str | None = None
        self.silent = False
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.encoder_port = encoder_port
        self.blank_card_factory = blank_card_factory
        self.region_code = region_code
        self.delay = delay  # seconds per mechanical movement; 0 for benches
        self.cards: list[IssuedCard] = []
        self.position = CardPosition.NONE
        self._eject_after_print = True  # the printer's default until Pneab;E
        self._sequence: dict[str, bytes] | None = None
        self._link: VpcdLink | None = None
        self._serial = 0
        self._stop = threading.Event()
        self._server = socket.create_server((host, port))
        self._server.settimeout(0.2)  # so the accept loop sees stop()
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name=f"cardprinter-{self.port}", daemon=True)

    def run_ribbon_down(self, remaining: int) -> None:
        """As if the ribbon had printed until `remaining` panels are left (the demo, the benches)."""
        self.ribbon_remaining = remaining

    @property
    def current(self) -> IssuedCard | None:
        return self.cards[-1] if self.cards and self.cards[-1].place in ("encoder", "printer") else None

    def start(self) -> "CardPrinterSimulator":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()
        self._unplug()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the network side ---------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(0.2)  # so a waiting read sees stop()
                try:
                    self._session(_Connection(conn, self._stop))
                except EOFError:
                    pass  # the client went away; wait for the next one
                except Exception:
                    log.exception("card printer simulator failed; dropping the connection")

    def _read_command(self, conn: "_Connection") -> tuple[str, bytes]:
        """One command: its text (without ESC and CR) and, for Db, its bitmap."""
        if conn.read(1) != ESC:
            raise _Refused("SYNTAX")
        line = b""
        while True:
            byte = conn.read(1)
            if byte == CR:
                return line.decode("ascii", "replace"), b""
            line += byte
            if line.startswith(b"Db;") and line.count(b";") == 3:
                # The bitmap's length follows from the panel size: it may hold any byte, CR too.
                data = conn.read(PANEL_BYTES)
                if conn.read(1) != CR:
                    raise _Refused("SYNTAX")
                return line[:-1].decode("ascii", "replace"), data
            if len(line) > MAX_COMMAND:
                raise _Refused("SYNTAX")

    def _session(self, conn: "_Connection") -> None:
        while not self._stop.is_set():
            try:
                text, data = self._read_command(conn)
                reply = None if self.silent else self._execute(text, data)
            except _Refused as refusal:
                reply = f"ERR {refusal}"
            if reply is not None:
                conn.send(reply.encode("ascii") + CR)

    # -- the mechanics ------------------------------------------------------------------------

    def _execute(self, text: str, data: bytes) -> str:
        name, *params = text.split(";")
        queries = {
            "Rlr;p": lambda: self.position.value,
            "Rlr;h": lambda: "CARD" if self.reject_box_full else "NO CARD",
            "Rse;f": lambda: "5,00 Volts" if self.stock > 0 else "0,00 Volts",
            "Rse;o": lambda: "0,00 Volts" if self.cover_open else "5,00 Volts",
            "Rrt;qty": lambda: self._ribbon(self.ribbon_capacity),
            "Rrt;count": lambda: self._ribbon(self.ribbon_remaining),
        }
        if text in queries:
            return queries[text]()
        if name == "Pneab" and params:
            self._eject_after_print = params[0] != "E"
            return "OK"
        actions = {"Sis": self._feed, "Ss": self._start_sequence, "Se": self._print,
                   "Seb": lambda: self._take_out("ejected", "eject"),
                   "Ser": lambda: self._take_out("retained", "retain")}
        if name == "Db":
            return self._download(params, data)
        if text not in actions:
            raise _Refused("UNKNOWN_COMMAND")
        actions[text]()
        return "OK"

    def _ribbon(self, count: int) -> str:
        if not self.ribbon_installed:
            raise _Refused("RIB DETECTION")
        return str(count)

    def _check_cover(self) -> None:
        if self.cover_open:
            raise _Refused("DEF_COVER_OPEN")

    def _move(self, step: str) -> None:
        """A card movement: it takes `delay`, and where a jam is set it sticks inside."""
        self._stop.wait(self.delay)
        if self.jam_at == step:
            self.current.place = "jammed"
            self.position = CardPosition.PRINT  # stuck inside until staff clear it
            self._unplug()
            raise _Refused("ERR_MECHANICAL")

    def _next_identifier(self) -> bytes:
        self._serial += 1
        return bytes.fromhex(self.region_code) + CARD_RID + self._serial.to_bytes(8, "big")

    def _feed(self) -> None:
        if self.position is not CardPosition.NONE:
            raise _Refused("ERR_MECHANICAL")  # a second blank would run into the first
        if self.stock <= 0:
            raise _Refused("DEF_FEEDER_EMPTY")
        self._check_cover()
        self.stock -= 1
        card = IssuedCard(self._next_identifier())
        self.cards.append(card)
        self._move("feed")
        self._link = VpcdLink(self.blank_card_factory(card.identifier), port=self.encoder_port).insert()
        self.position = CardPosition.CONTACT

    def _start_sequence(self) -> None:
        if self.current is None:
            raise _Refused("ERR_NO_CARD_INSERTED")
        self._check_cover()
        if not self.ribbon_installed:
            raise _Refused("DEF_NO_RIBBON")
        if self.ribbon_remaining <= 0:
            raise _Refused("DEF_RIBBON_ENDED")
        self._sequence = {}

    def _download(self, params: list[str], data: bytes) -> str:
        if self._sequence is None or len(params) != 2 or params[0] not in ("y", "m", "c") or params[1] != "256":
            raise _Refused("SYNTAX")
        self._sequence[params[0]] = data
        return "OK"

    def _print(self) -> None:
        sequence, self._sequence = self._sequence, None
        if sequence is None or set(sequence) != {"y", "m", "c"}:
            raise _Refused("SYNTAX")
        self._unplug()  # the card leaves the contact station for the print head
        self.position = CardPosition.PRINT
        self.current.place = "printer"
        self._move("print")
        self.ribbon_remaining -= 1
        self._record_face(sequence)
        if self._eject_after_print:
            self._take_out("ejected", "eject")

    def _record_face(self, panels: dict[str, bytes]) -> None:
        ink = [Image.frombytes("L", FACE_SIZE, panels[panel]) for panel in "cmy"]
        face = ImageChops.invert(Image.merge("RGB", ink))
        card = self.current
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            path = self.out_dir / f"face-{card.identifier.hex().upper()}-{len(card.faces) + 1}.png"
            face.save(path)
            card.faces.append(path)

    def _take_out(self, place: str, step: str) -> None:
        card = self.current
        if card is None:
            raise _Refused("ERR_NO_CARD_INSERTED")
        self._check_cover()
        if place == "retained" and self.reject_box_full:
            raise _Refused("DEF_REJECT_BOX_FULL")
        self._move(step)
        self._unplug()
        self._sequence = None
        card.place = place
        self.position = CardPosition.NONE

    def _unplug(self) -> None:
        if self._link is not None:
            self._link.remove()
            self._link = None


def cmd_sim_cardprinter(args) -> int:
    simulator = CardPrinterSimulator(port=args.port, host=args.host, stock=args.stock, out_dir=args.out,
                                     encoder_port=args.encoder_port, delay=args.delay)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    simulator.start()
    print(simulator.port, flush=True)
    done.wait()
    simulator.stop()
    retained = sum(card.place == "retained" for card in simulator.cards)
    print(f"{len(simulator.cards)} cards fed, {retained} retained", file=sys.stderr)
    return 0


def register_sim(sim_subparsers) -> None:
    """`kiosk sim cardprinter`: the simulated printer, until SIGTERM; first line out is its port."""
    parser = sim_subparsers.add_parser("cardprinter", help="an instant-issuance card printer on loopback TCP")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free one)")
    parser.add_argument("--stock", type=int, default=50, help="blank cards in the feeder")
    parser.add_argument("--out", default="cardprinter-out", help="folder for the printed faces (PNG)")
    parser.add_argument("--encoder-port", type=int, default=35963, help="vpcd slot of the contact station")
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per card movement")
    parser.set_defaults(func=cmd_sim_cardprinter)

"""A simulated ESC/POS receipt printer on a pty.

It decodes the byte stream as a printer would print it (text in the configured Chinese
encoding, bold, size, alignment, feeds, QR codes via `GS ( k` with their module size and error
correction level, cuts) into `escpos` blocks, keeps each cut-off receipt (and, with `png_dir`,
draws it as a PNG, the QR code a real symbol a phone can scan), and answers `DLE EOT 1..4` from a state the test sets:
paper out, cover open, near end, errors, `unplugged` (takes bytes, never answers) or
`taking_data` cleared (stops reading, so the kiosk's writes block).

While it cannot print (paper out, cover open, an error) it drops print data but still answers
status requests: a job sent again after "paper loaded" is then the one copy that comes out.
With `paper_lines` set, the paper runs out after that many printed lines, mid-job.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from drivers import escpos
from drivers.escpos import Align, Cut, Feed, QrCode, QrErrorLevel, TextLine
from drivers.receipt_printer import PrinterStatus, encode_status
from drivers.sim.pty_link import PtyDevice, serve_until_signalled

log = logging.getLogger(__name__)

FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
_QR_LINES = 8  # paper a printed QR code takes, in text lines, for the paper budget
_QR_MODULE_DEFAULT = 3           # dots per module until the job sets it (GS ( k fn 67)
_QR_LEVEL_DEFAULT = QrErrorLevel.M   # until the job sets it (fn 69)
QR_QUIET_ZONE = 4                # modules of white paper around a model 2 symbol


@dataclass
class PrinterState:
    """What the simulated printer reports and does; tests change it with `set_state`."""

    cover_open: bool = False
    paper_near_end: bool = False
    paper_out: bool = False
    mechanical_error: bool = False
    autocutter_error: bool = False
    unrecoverable_error: bool = False
    unplugged: bool = False
    paper_lines: int | None = None  # lines of paper left; None = a fresh roll that lasts

    def can_print(self) -> bool:
        return not (self.cover_open or self.paper_out or self.mechanical_error
                    or self.autocutter_error or self.unrecoverable_error or self.unplugged)

    def status(self) -> PrinterStatus:
        return PrinterStatus(
            online=self.can_print(), cover_open=self.cover_open,
            paper_near_end=self.paper_near_end or self.paper_out, paper_out=self.paper_out,
            mechanical_error=self.mechanical_error, autocutter_error=self.autocutter_error,
            unrecoverable_error=self.unrecoverable_error, auto_recoverable_error=False)


@dataclass
class PrintedReceipt:
    """One receipt as it came out of the printer. `complete` is False when printing stopped
    (paper out, cover opened) before the cut."""

    blocks: list = field(default_factory=list)
    complete: bool = False

    def as_text(self, columns: int) -> str:
        return escpos.blocks_as_text(self.blocks, columns)


class _Style:
    def __init__(self):
        self.align, self.bold, self.width, self.height, self.chinese = Align.LEFT, False, 1, 1, True


class SimulatedReceiptPrinter(PtyDevice):
    name = "receipt printer"

    def __init__(self, *, baudrate: int = 9600, encoding: str = "gb18030", paper_mm: int = 80,
                 state: PrinterState | None = None, png_dir: str | None = None):
        super().__init__(baudrate)
        self.encoding = escpos.check_encoding(encoding)
        self.paper_mm = paper_mm
        self.columns = escpos.columns_for(paper_mm)
        self.state = state or PrinterState()
        self.png_dir = Path(png_dir) if png_dir else None
        self.receipts: list[PrintedReceipt] = []
        self._torn_off = 0   # receipts out of the printer since it started, taken or not
        self.unknown_commands: list[bytes] = []
        self._changed = threading.Condition()
        self._buffer = bytearray()
        self._line = bytearray()
        self._style = _Style()
        self._current = PrintedReceipt()
        self._qr_payload: str | None = None
        self._qr_module = _QR_MODULE_DEFAULT
        self._qr_level = _QR_LEVEL_DEFAULT

    # --- what tests use -------------------------------------------------------------------

    def set_state(self, **changes) -> None:
        with self._changed:
            self.state = dataclasses.replace(self.state, **changes)

    def load_paper(self) -> None:
        self.set_state(paper_out=False, paper_near_end=False, paper_lines=None)

    def take_receipts(self) -> list[PrintedReceipt]:
        """The receipts printed so far, taken from the tray: a long run keeps no pile of them."""
        with self._changed:
            taken, self.receipts = self.receipts, []
            return taken

    def wait_for_receipts(self, count: int, timeout: float = 5.0) -> list[PrintedReceipt]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.receipts) >= count, timeout)
            return list(self.receipts)

    # --- the byte stream ------------------------------------------------------------------

    def received(self, data: bytes) -> None:
        with self._changed:
            if self.state.unplugged:
                return
            self._buffer += data
            self._decode()

    def _decode(self) -> None:
        buf = self._buffer
        while buf:
            used = self._command(buf)
            if used == 0:  # incomplete command: wait for more bytes
                return
            del buf[:used]

    def _command(self, buf: bytearray) -> int:
        """Act on the command at the start of `buf`; return the bytes it took (0 = incomplete)."""
        first = buf[0]
        if first >= 0x20:
            end = next((i for i, b in enumerate(buf) if b < 0x20), len(buf))
            self._line += buf[:end]
            return end
        if first == escpos.LF:
            self._print_line()
            return 1
        if first in (escpos.ESC, escpos.GS, escpos.FS, escpos.DLE) and len(buf) < 2:
            return 0
        if first == escpos.DLE and buf[1] == escpos.EOT:
            if len(buf) < 3:
                return 0
            self._answer_status(buf[2])
            return 3
        if first == escpos.ESC:
            return self._esc(buf)
        if first == escpos.GS:
            return self._gs(buf)
        if first == escpos.FS and buf[1] in (0x26, 0x2E):
            self._style.chinese = buf[1] == 0x26
            return 2
        self.unknown_commands.append(bytes(buf[:2]))
        return 1

    def _esc(self, buf: bytearray) -> int:
        cmd = buf[1]
        if cmd == 0x40:  # ESC @: the modes the printer had when switched on, the QR settings too
            self._line.clear()
            self._style = _Style()
            self._qr_module, self._qr_level = _QR_MODULE_DEFAULT, _QR_LEVEL_DEFAULT
            return 2
        if len(buf) < 3:
            return 0
        n = buf[2]
        if cmd == 0x45:
            self._style.bold = bool(n & 1)
        elif cmd == 0x61:
            self._style.align = Align(n % 48) if n % 48 <= 2 else Align.LEFT
        elif cmd == 0x64:
            if self._line:
                self._print_line()
            self._print(Feed(n), lines=n)
        elif cmd == 0x21:  # ESC ! n: bit 4 double height, bit 5 double width
            self._style.height, self._style.width = 1 + (n >> 4 & 1), 1 + (n >> 5 & 1)
        else:
            self.unknown_commands.append(bytes(buf[:3]))
        return 3

    def _gs(self, buf: bytearray) -> int:
        cmd = buf[1]
        if cmd == 0x21:
            if len(buf) < 3:
                return 0
            self._style.width, self._style.height = (buf[2] >> 4) + 1, (buf[2] & 0x0F) + 1
            return 3
        if cmd == 0x56:  # GS V m, or GS V m n for m = 65, 66
            if len(buf) < 3:
                return 0
            size = 4 if buf[2] in (65, 66) else 3
            if len(buf) < size:
                return 0
            if self._line:
                self._print_line()
            self._cut()
            return size
        if cmd == 0x28:  # GS ( k pL pH cn fn ...
            if len(buf) < 5:
                return 0
            size = 5 + buf[3] + 256 * buf[4]
            if len(buf) < size:
                return 0
            if buf[2] == 0x6B and size >= 7 and buf[5] == 49:
                self._qr(buf[6], bytes(buf[7:size]))
            else:
                self.unknown_commands.append(bytes(buf[:7]))
            return size
        self.unknown_commands.append(bytes(buf[:2]))
        return 2

    def _qr(self, fn: int, params: bytes) -> None:
        if fn == 67 and params:
            self._qr_module = params[0]
        elif fn == 69 and params:
            if params[0] in set(QrErrorLevel):
                self._qr_level = QrErrorLevel(params[0])
            else:
                self.unknown_commands.append(b"QR error level " + params[:1])
        elif fn == 80 and params[:1] == b"0":
            self._qr_payload = params[1:].decode("ascii", errors="replace")
        elif fn == 81:
            if self._qr_payload is None:
                self.unknown_commands.append(b"QR print before store")
                return
            self._print(QrCode(self._qr_payload, self._qr_module, self._qr_level), lines=_QR_LINES)

    def _answer_status(self, n: int) -> None:
        if 1 <= n <= 4:
            self.send(encode_status(self.state.status())[n - 1:n])
        else:
            self.unknown_commands.append(bytes([escpos.DLE, escpos.EOT, n]))

    # --- printing -------------------------------------------------------------------------

    def _print_line(self) -> None:
        raw, self._line = bytes(self._line), bytearray()
        if self._style.chinese:
            decoded = raw.decode(self.encoding, errors="replace")
        else:
            decoded = raw.decode("cp437")
        style = self._style
        # Text longer than the paper wraps onto the next line, as the printer does.
        for part in escpos.wrap(decoded, self.columns // style.width):
            self._print(TextLine(part, style.align, style.bold, style.width, style.height), lines=1)

    def _print(self, block, lines: int) -> None:
        state = self.state
        if not state.can_print():
            return
        if state.paper_lines is not None:
            if state.paper_lines < lines:
                self.state = dataclasses.replace(state, paper_lines=0, paper_out=True, paper_near_end=True)
                self._tear_off(complete=False)
                return
            self.state = dataclasses.replace(state, paper_lines=state.paper_lines - lines)
        self._current.blocks.append(block)

    def _cut(self) -> None:
        if not self.state.can_print():
            return
        self._current.blocks.append(Cut())
        self._tear_off(complete=True)

    def _tear_off(self, complete: bool) -> None:
        receipt, self._current = self._current, PrintedReceipt()
        receipt.complete = complete
        self.receipts.append(receipt)
        self._torn_off += 1
        if self.png_dir is not None:
            path = self.png_dir / f"receipt-{self._torn_off:03d}.png"
            render_png(receipt, self.paper_mm, path)
            log.info("receipt written to %s", path)
        self._changed.notify_all()


# --- a picture of a receipt, for people to look at -----------------------------------------

def render_png(receipt: PrintedReceipt, paper_mm: int, path: str | os.PathLike) -> None:
    """Draw the receipt at the printer's resolution (8 dots/mm, Font A 12×24): text in the
    CJK font, each QR code as the printer draws it (`qr_symbol`), centred."""
    from PIL import Image, ImageDraw, ImageFont

    dots, _ = escpos.PAPER_WIDTHS[paper_mm]
    font = ImageFont.truetype(FONT_PATH, 22)
    pieces: list[Image.Image] = []
    for block in receipt.blocks:
        if isinstance(block, TextLine):
            # Font A: 12 dots per column; draw at size 1, then magnify like the printer does.
            line = Image.new("L", (max(1, escpos.display_width(block.text) * 12), 24), 255)
            draw, x = ImageDraw.Draw(line), 0
            for ch in block.text:  # one character per cell, monospaced like the print head
                draw.text((x, 0), ch, font=font, fill=0, stroke_width=1 if block.bold else 0, stroke_fill=0)
                x += 12 * escpos.display_width(ch)
            line = line.resize((line.width * block.width, 24 * block.height))
            row = Image.new("L", (dots, line.height + 6), 255)
            room = max(dots - line.width, 0)
            row.paste(line, ({Align.LEFT: 0, Align.CENTER: room // 2, Align.RIGHT: room}[block.align], 3))
            pieces.append(row)
        elif isinstance(block, QrCode):
            symbol = qr_symbol(block, dots)
            row = Image.new("L", (dots, symbol.height), 255)
            row.paste(symbol, ((dots - symbol.width) // 2, 0))
            pieces.append(row)
        elif isinstance(block, Feed):
            pieces.append(Image.new("L", (dots, 30 * block.lines), 255))
        else:
            row = Image.new("L", (dots, 20), 255)
            ImageDraw.Draw(row).line((0, 10, dots, 10), fill=0, width=1)
            pieces.append(row)
    height = sum(p.height for p in pieces) + 20
    page = Image.new("L", (dots, max(height, 40)), 255)
    y = 10
    for piece in pieces:
        page.paste(piece, (0, y))
        y += piece.height
    page.save(path)


def qr_symbol(block: QrCode, max_dots: int):
    """The QR code as the printer prints it: model 2, the smallest version that holds the
    payload at the job's error correction level (not raised, as a printer does not), each
    module `module_size` dots square, inside a quiet zone of 4 modules. A symbol wider than
    the paper is drawn with the largest module that fits (a printer would print it cut off)."""
    import numpy as np
    import segno
    from PIL import Image

    level = {QrErrorLevel.L: "l", QrErrorLevel.M: "m", QrErrorLevel.Q: "q", QrErrorLevel.H: "h"}
    symbol = segno.make_qr(block.payload, error=level[QrErrorLevel(block.error_level)], boost_error=False)
    modules = symbol.symbol_size(scale=1, border=QR_QUIET_ZONE)[0]
    scale = max(1, min(block.module_size, max_dots // modules))
    dark = np.array(list(symbol.matrix_iter(scale=1, border=QR_QUIET_ZONE)), dtype=bool)
    pixels = np.where(dark, 0, 255).astype(np.uint8).repeat(scale, axis=0).repeat(scale, axis=1)
    return Image.fromarray(pixels)


# --- `kiosk sim printer` ----------------------------------------------------------------------

_STATES = ("ok", "paper-near-end", "paper-out", "cover-open", "cutter-error", "unplugged")


def _state_named(name: str) -> PrinterState:
    return {
        "ok": PrinterState(), "paper-near-end": PrinterState(paper_near_end=True),
        "paper-out": PrinterState(paper_out=True), "cover-open": PrinterState(cover_open=True),
        "cutter-error": PrinterState(autocutter_error=True), "unplugged": PrinterState(unplugged=True),
    }[name]


def register_sim(sim_subparsers) -> None:
    """Add `printer` to the `kiosk sim` command."""
    parser = sim_subparsers.add_parser(
        "printer", help="an ESC/POS receipt printer on a pty (prints the pty path first)")
    parser.add_argument("--baud", type=int, default=9600, help="line rate the simulator paces at")
    parser.add_argument("--encoding", default="gb18030", choices=escpos.ENCODINGS)
    parser.add_argument("--paper", type=int, default=80, choices=sorted(escpos.PAPER_WIDTHS), help="mm")
    parser.add_argument("--state", default="ok", choices=_STATES)
    parser.add_argument("--paper-lines", type=int, help="paper runs out after this many lines")
    parser.add_argument("--png-dir", help="write each cut receipt as a PNG into this folder")
    parser.set_defaults(func=_run_sim)


def _run_sim(args) -> int:
    state = dataclasses.replace(_state_named(args.state), paper_lines=args.paper_lines)
    if args.png_dir:
        os.makedirs(args.png_dir, exist_ok=True)
    printer = SimulatedReceiptPrinter(baudrate=args.baud, encoding=args.encoding, paper_mm=args.paper,
                                      state=state, png_dir=args.png_dir)
    return serve_until_signalled(printer)


def main(argv=None) -> int:
    """`python -m drivers.sim.receipt_printer`: the same as `kiosk sim printer`."""
    parser = argparse.ArgumentParser(prog="receipt-printer-sim")
    register_sim(parser.add_subparsers(dest="device", required=True))
    args = parser.parse_args(["printer", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

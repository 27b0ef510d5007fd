"""ESC/POS: the bytes a receipt printer understands, for what a receipt needs.

`Page` is a receipt as a list of printed blocks (lines of text with their style, QR codes,
blank feeds, the cut). It turns into ESC/POS bytes for the printer and into plain text for the
screen; the printer simulator decodes the bytes back into the same blocks, so "what was sent"
and "what the citizen was shown" can be compared exactly.

Chinese is sent in the printer's double-byte (Kanji) mode, in GB18030 or GBK: which one is a
property of the printer model, so it is a setting (see `check_encoding`). Layout assumes
Font A (12×24 dots): a column is half a Chinese character, 32 columns on 58 mm paper
(384 dots) and 48 on 80 mm (576 dots).
"""
from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass
from enum import IntEnum

ESC, GS, FS, DLE, EOT, LF = 0x1B, 0x1D, 0x1C, 0x10, 0x04, 0x0A

ENCODINGS = ("gb18030", "gbk")
# Paper width in mm -> (printable dots, Font A columns).
PAPER_WIDTHS = {58: (384, 32), 80: (576, 48)}
MAX_FEED_LINES = 255
QR_MAX_PAYLOAD = 7089 - 3  # GS ( k store: pL pH counts the payload plus 3 bytes


class EscPosConfigError(ValueError):
    """A printer setting that cannot be used (unknown encoding, paper width, size...)."""


class Align(IntEnum):
    LEFT = 0
    CENTER = 1
    RIGHT = 2


class QrErrorLevel(IntEnum):
    L = 48
    M = 49
    Q = 50
    H = 51


def check_encoding(name: str) -> str:
    """The normalised codec name for a printer encoding setting, or EscPosConfigError."""
    try:
        normalised = codecs.lookup(name).name
    except (LookupError, TypeError):
        normalised = None
    if normalised not in ENCODINGS:
        raise EscPosConfigError(f"printer encoding {name!r} is not one of {', '.join(ENCODINGS)}")
    return normalised


def columns_for(paper_mm: int) -> int:
    try:
        return PAPER_WIDTHS[paper_mm][1]
    except (KeyError, TypeError):
        raise EscPosConfigError(
            f"paper width {paper_mm!r} mm is not one of {', '.join(map(str, PAPER_WIDTHS))}") from None


# ---------------------------------------------------------------------------------------------
# Commands, one function each, byte-exact.

def initialize() -> bytes:
    """ESC @: back to power-on modes; clears whatever a half-sent earlier job left set."""
    return bytes([ESC, 0x40])


def chinese_mode(on: bool) -> bytes:
    """FS & / FS .: bytes >= 0x81 are double-byte Chinese characters (or single-byte code page)."""
    return bytes([FS, 0x26 if on else 0x2E])


def bold(on: bool) -> bytes:
    return bytes([ESC, 0x45, 1 if on else 0])


def align(how: Align) -> bytes:
    return bytes([ESC, 0x61, int(Align(how))])


def character_size(width: int, height: int) -> bytes:
    """GS ! n: magnification 1..8 in each direction (applies to Chinese characters too)."""
    for name, value in (("width", width), ("height", height)):
        if not 1 <= value <= 8:
            raise EscPosConfigError(f"character {name} {value} is not 1..8")
    return bytes([GS, 0x21, (width - 1) << 4 | (height - 1)])


def text(line: str, encoding: str) -> bytes:
    """Printable text without control characters. Characters the printer's encoding lacks
    (GBK has no CJK extension A, for example) print as '?' rather than failing the receipt."""
    if any(unicodedata.category(ch) == "Cc" for ch in line):
        raise ValueError("text for the printer must not contain control characters")
    return line.encode(check_encoding(encoding), errors="replace")


def line_feed() -> bytes:
    return bytes([LF])


def feed_lines(n: int) -> bytes:
    """ESC d n: print the buffer and feed n lines."""
    if not 0 <= n <= MAX_FEED_LINES:
        raise EscPosConfigError(f"feed of {n} lines is not 0..{MAX_FEED_LINES}")
    return bytes([ESC, 0x64, n])


def partial_cut(feed: int = 0) -> bytes:
    """GS V 66 n: feed n motion units up to the cutter, then cut leaving one point attached."""
    if not 0 <= feed <= 255:
        raise EscPosConfigError(f"cut feed {feed} is not 0..255")
    return bytes([GS, 0x56, 0x42, feed])


def _qr_function(fn: int, params: bytes) -> bytes:
    # GS ( k pL pH cn=49 fn params; pL pH count cn, fn and the parameters.
    size = len(params) + 2
    return bytes([GS, 0x28, 0x6B, size & 0xFF, size >> 8, 49, fn]) + params


def qr_code(payload: str, module_size: int = 6, error_level: QrErrorLevel = QrErrorLevel.M) -> bytes:
    """The printer's own QR code (GS ( k, model 2): select model, module size, error correction
    level, store the data, print it. The payload is ASCII (a verification URL or reference)."""
    data = payload.encode("ascii")
    if not 1 <= len(data) <= QR_MAX_PAYLOAD:
        raise EscPosConfigError(f"QR payload of {len(data)} bytes is not 1..{QR_MAX_PAYLOAD}")
    if not 1 <= module_size <= 16:
        raise EscPosConfigError(f"QR module size {module_size} is not 1..16")
    return (_qr_function(65, bytes([50, 0]))                       # fn 65: model 2
            + _qr_function(67, bytes([module_size]))               # fn 67: module size
            + _qr_function(69, bytes([int(QrErrorLevel(error_level))]))  # fn 69: error level
            + _qr_function(80, bytes([48]) + data)                 # fn 80: store
            + _qr_function(81, bytes([48])))                       # fn 81: print


def status_request(n: int) -> bytes:
    """DLE EOT n: real-time status (1 printer, 2 offline cause, 3 error cause, 4 paper sensor)."""
    if n not in (1, 2, 3, 4):
        raise ValueError(f"DLE EOT {n}: n must be 1..4")
    return bytes([DLE, EOT, n])


# ---------------------------------------------------------------------------------------------
# Layout: widths in columns, wrapping and alignment, shared by the receipt and the simulator.

def display_width(s: str) -> int:
    """Columns taken in Font A: Chinese (wide) characters take two, others one."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in s)


def wrap(s: str, columns: int) -> list[str]:
    """Split into lines of at most `columns` columns, never splitting a character."""
    lines, current, used = [], "", 0
    for ch in s:
        w = display_width(ch)
        if used + w > columns and current:
            lines.append(current)
            current, used = "", 0
        current += ch
        used += w
    lines.append(current)
    return lines


def aligned(s: str, how: Align, columns: int) -> str:
    """The line as plain text with the spaces the alignment puts before it."""
    room = max(columns - display_width(s), 0)
    pad = {Align.LEFT: 0, Align.CENTER: room // 2, Align.RIGHT: room}[Align(how)]
    return " " * pad + s


# ---------------------------------------------------------------------------------------------
# The printed page.

@dataclass(frozen=True)
class TextLine:
    text: str
    align: Align = Align.LEFT
    bold: bool = False
    width: int = 1
    height: int = 1


@dataclass(frozen=True)
class QrCode:
    payload: str
    module_size: int = 6   # dots per module (GS ( k fn 67)
    error_level: QrErrorLevel = QrErrorLevel.M   # GS ( k fn 69


@dataclass(frozen=True)
class Feed:
    lines: int


@dataclass(frozen=True)
class Cut:
    pass


Block = TextLine | QrCode | Feed | Cut


def qr_as_text(payload: str) -> str:
    return f"[二维码 QR] {payload}"


def blocks_as_text(blocks: list[Block], columns: int) -> str:
    """Plain text of a page: what the screen shows and what tests compare. Enlarged text is
    shown at normal size; a QR code as its payload; the cut as a dashed line."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, TextLine):
            out.append(aligned(block.text, block.align, columns))
        elif isinstance(block, QrCode):
            out.append(aligned(qr_as_text(block.payload), Align.CENTER, columns))
        elif isinstance(block, Feed):
            out.extend([""] * block.lines)
        else:
            out.append("-" * columns)
    return "\n".join(out) + "\n"


class Page:
    """A receipt being laid out for one paper width and one printer encoding."""

    def __init__(self, paper_mm: int, encoding: str):
        self.columns = columns_for(paper_mm)
        self.paper_mm = paper_mm
        self.encoding = check_encoding(encoding)
        self.blocks: list[Block] = []

    def line(self, s: str, *, align: Align = Align.LEFT, bold: bool = False,
             width: int = 1, height: int = 1) -> "Page":
        """Add text, wrapped to the paper: double-width text gets half the columns."""
        character_size(width, height)  # validates
        for part in wrap(s, self.columns // width):
            self.blocks.append(TextLine(part, Align(align), bold, width, height))
        return self

    def rule(self, ch: str = "-") -> "Page":
        return self.line(ch * (self.columns // display_width(ch)))

    def qr(self, payload: str, module_size: int = 6, error_level: QrErrorLevel = QrErrorLevel.M) -> "Page":
        qr_code(payload, module_size, error_level)  # validates before the page holds it
        self.blocks.append(QrCode(payload, module_size, QrErrorLevel(error_level)))
        return self

    def feed(self, lines: int) -> "Page":
        feed_lines(lines)
        self.blocks.append(Feed(lines))
        return self

    def cut(self) -> "Page":
        self.blocks.append(Cut())
        return self

    def as_text(self) -> str:
        return blocks_as_text(self.blocks, self.columns)

    def as_escpos(self) -> bytes:
        """The job: reset, Chinese mode, then each block with only the style changes it needs."""
        out = bytearray(initialize() + chinese_mode(True))
        style = (Align.LEFT, False, 1, 1)
        for block in self.blocks:
            if isinstance(block, TextLine):
                wanted = (block.align, block.bold, block.width, block.height)
                if wanted[0] != style[0]:
                    out += align(wanted[0])
                if wanted[1] != style[1]:
                    out += bold(wanted[1])
                if wanted[2:] != style[2:]:
                    out += character_size(block.width, block.height)
                style = wanted
                out += text(block.text, self.encoding) + line_feed()
            elif isinstance(block, QrCode):
                if style[0] != Align.CENTER:
                    out += align(Align.CENTER)
                    style = (Align.CENTER,) + style[1:]
                out += qr_code(block.payload, block.module_size, block.error_level)
            elif isinstance(block, Feed):
                out += feed_lines(block.lines)
            else:
                out += partial_cut()
        return bytes(out)

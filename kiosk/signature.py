"""The applicant's handwritten signature (#19), where the province requires one with an
application ([signature] required): the strokes drawn on the screen's signature pad, drawn
again as a black-on-white PNG in memory, sealed and sent with the application (its outbox job
is sealed like every payload), never written anywhere else and never kept after delivery.

A signature is checked before it goes: ink in more than a dot (a tap is not a signature), not
a scribble filling the whole pad, and within the contract's bound once drawn.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

from kiosk.i18n import N_

WIDTH, HEIGHT = 600, 200        # the drawn image, 3:1 as the pad on the screen
LINE_PX = 4
MAX_PNG_BYTES = 8_000           # the contract's bound (a signature is some 1-4 KB as a 1-bit PNG)
MIN_POINTS = 8
MIN_EXTENT = 0.12               # of the pad's width: the ink must reach across at least this much
MAX_INK = 0.3                   # of the pad's area: a name written large covers some 5-15 %

Stroke = list[tuple[float, float]]   # points from 0 to 1 across and up the pad


class SignatureError(ValueError):
    citizen_message = N_("请用手指在框内签写您的姓名。")


class SignatureEmpty(SignatureError):
    """No signature, or a dot: nothing that identifies a hand."""


class SignatureTooLarge(SignatureError):
    """Ink everywhere: the drawing is no longer a signature (and would not fit the bound)."""
    citizen_message = N_("签名过于潦草，请清除后重新签写。")


@dataclass(frozen=True)
class Signature:
    png: bytes

    def __repr__(self) -> str:   # a person's handwriting: never in a log
        return f"Signature({len(self.png)} bytes)"

    @classmethod
    def from_strokes(cls, strokes: list[Stroke]) -> "Signature":
        """The strokes (each a list of points on the pad, 0..1, y upwards as Kivy has it) drawn
        as a 1-bit PNG; SignatureEmpty or SignatureTooLarge when it is not a signature."""
        points = [point for stroke in strokes for point in stroke]
        if len(points) < MIN_POINTS or any(not (0 <= x <= 1 and 0 <= y <= 1) for x, y in points):
            raise SignatureEmpty(f"{len(points)} points")
        xs, ys = [x for x, _ in points], [y for _, y in points]
        if max(max(xs) - min(xs), max(ys) - min(ys)) < MIN_EXTENT:
            raise SignatureEmpty("the ink covers a dot")
        image = Image.new("1", (WIDTH, HEIGHT), 1)
        draw = ImageDraw.Draw(image)
        for stroke in strokes:
            pixels = [(x * (WIDTH - 1), (1 - y) * (HEIGHT - 1)) for x, y in stroke]
            if len(pixels) == 1:
                pixels = pixels * 2
            draw.line(pixels, fill=0, width=LINE_PX, joint="curve")
        ink = image.histogram()[0] / (WIDTH * HEIGHT)
        if ink > MAX_INK:
            raise SignatureTooLarge(f"ink on {ink:.0%} of the pad")
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        if out.tell() > MAX_PNG_BYTES:
            raise SignatureTooLarge(f"{out.tell()} bytes drawn")
        return cls(out.getvalue())

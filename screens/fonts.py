"""A CJK font as Kivy's default: Kivy's own Roboto draws every Chinese character as a box. And
the SDL2 text provider made to let go of what it drew a label's text on."""
from __future__ import annotations

import os

from kivy.core.text import DEFAULT_FONT, LabelBase

CJK_FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian's fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


class CjkFontMissing(RuntimeError):
    pass


def register_cjk_font() -> str:
    for path in CJK_FONT_PATHS:
        if os.path.exists(path):
            LabelBase.register(DEFAULT_FONT, fn_regular=path)
            return path
    raise CjkFontMissing("no CJK font found; install Debian's fonts-wqy-microhei "
                         f"(looked for {', '.join(CJK_FONT_PATHS)})")


def release_drawn_text_surfaces() -> None:
    """Kivy's SDL2 text provider (2.3) keeps the SDL surface a label's text was drawn on after its
    pixels went into the label's texture: a second copy of every label's pixels for as long as
    the label lives, 13 MB after the demo's visits (bench/ui.py, measured with heaptrack, #17).
    Its pygame provider lets the surface go once drawn; this makes the SDL2 one do the same."""
    from kivy.core.text.text_sdl2 import LabelSDL2

    def render_end(label):
        pixels = label._surface.get_data()
        label._surface = None
        return pixels
    LabelSDL2._render_end = render_end

"""A CJK font as Kivy's default: Kivy's own Roboto draws every Chinese character as a box."""
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

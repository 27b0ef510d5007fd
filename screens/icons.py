"""Icons from Material Design's icon font, installed from Debian (fonts-material-design-icons-
iconfont, by ./run like the CJK font); never fetched. Kivy draws no ligatures, so an icon is its
code point, named here as the font's own stylesheet names it (tests/screens/test_icons.py reads
that stylesheet and checks every name and code point below)."""
from __future__ import annotations

import os

from kivy.core.text import LabelBase

ICON_FONT = "KioskIcons"
ICON_FONT_PATH = "/usr/share/fonts/truetype/material-design-icons-iconfont/MaterialIcons-Regular.ttf"
ICON_STYLESHEET = "/usr/share/fonts-material-design-icons-iconfont/scss/_variables.scss"

ICONS = {
    "account_balance": 0xE84F, "arrow_back": 0xE5C4, "badge": 0xEA67, "check": 0xE5CA,
    "check_circle": 0xE86C, "cloud_off": 0xE2C1, "credit_card": 0xE870, "credit_card_off": 0xE4F4,
    "dialpad": 0xE0BC, "draw": 0xE746, "elderly": 0xF21A, "error": 0xE000, "face": 0xE87C,
    "home": 0xE88A, "hourglass_top": 0xEA5B, "inventory_2": 0xE1A1, "language": 0xE894,
    "local_shipping": 0xE558, "lock": 0xE897, "lock_reset": 0xEADE, "payments": 0xEF63,
    "person_add_alt_1": 0xEF65, "phone": 0xE0CD, "photo_camera": 0xE412, "place": 0xE55F,
    "print": 0xE8AD, "qr_code_scanner": 0xF206, "rate_review": 0xE560, "receipt_long": 0xEF6E,
    "report": 0xE160, "sd_storage": 0xE1C2, "search": 0xE8B6, "star": 0xE838,
    "support_agent": 0xF0E2, "sync": 0xE627, "timer": 0xE425, "videocam": 0xE04B, "warning": 0xE002,
}


class IconFontMissing(RuntimeError):
    pass


def icon(name: str) -> str:
    """The character that draws icon `name` in ICON_FONT ("" for no icon)."""
    return chr(ICONS[name]) if name else ""


def register_icon_font() -> None:
    if not os.path.exists(ICON_FONT_PATH):
        raise IconFontMissing(f"no icon font at {ICON_FONT_PATH}; install Debian's "
                              "fonts-material-design-icons-iconfont (./run does)")
    LabelBase.register(ICON_FONT, fn_regular=ICON_FONT_PATH)

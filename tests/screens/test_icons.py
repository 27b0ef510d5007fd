"""Every icon the screens name is the icon font's own: its name and code point as the font's
stylesheet (from the same Debian package) gives them, and the font draws a glyph for it."""
import re
from pathlib import Path

from PIL import ImageFont

from screens.icons import ICON_FONT_PATH, ICON_STYLESHEET, ICONS


def test_each_icon_is_named_and_numbered_as_the_font_does():
    table = dict(re.findall(r'"(\w+)": ([0-9a-f]{4,5})', Path(ICON_STYLESHEET).read_text()))
    wrong = {name: hex(point) for name, point in ICONS.items() if int(table.get(name, "0"), 16) != point}
    assert not wrong, f"not in the font's stylesheet as written: {wrong}"


def test_the_font_draws_every_icon():
    font = ImageFont.truetype(ICON_FONT_PATH, 48)

    def drawn(char):
        mask = font.getmask(char)
        return mask.size, bytes(mask)
    notdef = drawn("\U0010fffd")   # what the font draws for a code point it lacks

    def lacks(char):
        return drawn(char) == notdef or not any(drawn(char)[1])
    assert lacks("a") and lacks("\U0010fffd")   # an icon font has no letters: the check can tell
    assert not [name for name, point in ICONS.items() if lacks(chr(point))]

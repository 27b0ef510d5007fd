"""The design system in one place: colour tokens, a type scale and a spacing grid, in two modes.

Normal mode is large type for a lobby, read from a step away. Elder mode (one tap on the home
screen, for the rest of the visit) makes everything larger still and switches to high
contrast: white and yellow on black, as low-vision guidance recommends. Screens bind to the
running app's `theme` in their .kv rules, so a change of mode redraws every screen at once.

Every pair of colours a screen draws text in is listed in `TEXT_PAIRS`; tests/screens/
test_theme.py computes their WCAG 2.x contrast ratios from the tokens below: at least AA (4.5:1)
in normal mode, AAA (7:1) in elder mode.
"""
from kivy.event import EventDispatcher
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty


NORMAL = {
    # colours
    "background": (0.96, 0.97, 0.99, 1), "panel": (1, 1, 1, 1), "title": (0.05, 0.25, 0.55, 1),
    "text": (0.1, 0.1, 0.12, 1), "muted": (0.36, 0.38, 0.44, 1), "warning": (0.72, 0.18, 0.09, 1),
    "success": (0.08, 0.45, 0.18, 1), "button": (0.1, 0.38, 0.72, 1), "button_text": (1, 1, 1, 1),
    "banner": (0.98, 0.85, 0.55, 1),
    "header": (0.05, 0.25, 0.55, 1), "header_text": (1, 1, 1, 1),
    "step_todo": (0.85, 0.87, 0.91, 1), "step_done": (0.08, 0.45, 0.18, 1),
    "amber": (0.62, 0.38, 0.0, 1),
    # type scale (sp, in whole pixels): digits > title > prompt > button > body > small > caption,
    # and a fine size that only a caption whose word would break is set in (TEXT_SIZES)
    "digit_size": round(sp(44)), "title_size": round(sp(40)), "prompt_size": round(sp(36)), "button_size": round(sp(30)),
    "body_size": round(sp(26)), "small_size": round(sp(20)), "caption_size": round(sp(16)),
    "fine_size": round(sp(14)),
    "icon_size": round(sp(56)), "illustration_size": round(sp(150)),
    # spacing grid: multiples of 8 dp
    "gap": dp(16), "page_padding": dp(40), "button_height": dp(96), "header_height": dp(64),
    "steps_height": dp(60),
}
ELDER = {
    "background": (0, 0, 0, 1), "panel": (0.12, 0.12, 0.12, 1), "title": (1, 0.9, 0.2, 1),
    "text": (1, 1, 1, 1), "muted": (0.85, 0.85, 0.85, 1), "warning": (1, 0.6, 0.5, 1),
    "success": (0.5, 1, 0.5, 1), "button": (1, 0.9, 0.2, 1), "button_text": (0, 0, 0, 1),
    "banner": (0.45, 0.15, 0.05, 1),
    "header": (0.12, 0.12, 0.12, 1), "header_text": (1, 0.9, 0.2, 1),
    "step_todo": (0.3, 0.3, 0.3, 1), "step_done": (0.5, 1, 0.5, 1),
    "amber": (1, 0.75, 0.2, 1),
    "digit_size": round(sp(56)), "title_size": round(sp(50)), "prompt_size": round(sp(46)), "button_size": round(sp(40)),
    "body_size": round(sp(34)), "small_size": round(sp(28)), "caption_size": round(sp(22)),
    "fine_size": round(sp(18)),
    "icon_size": round(sp(72)), "illustration_size": round(sp(170)),
    "gap": dp(16), "page_padding": dp(32), "button_height": dp(120), "header_height": dp(76),
    "steps_height": dp(72),
}

# Every size text is drawn in, in both modes, and in one weight: a label too wide for its word is
# set in the next size down this scale (screens/widgets.py Typeset), never in one of its own, and
# emphasis is a larger size or a colour, never bold. Kivy's SDL2 text opens the font once per size
# and weight (and keeps up to 64), each holding its glyph cache (up to 1 MB for Chinese): with
# sizes picked freely the demo's visits opened 45 of the Chinese font, on this scale and in one
# weight 13 (bench/ui.py: about 11 MB less resident, #17).
TEXT_SIZE_TOKENS = ("fine_size", "caption_size", "small_size", "body_size", "button_size", "prompt_size", "title_size",
                    "digit_size")
TEXT_SIZES = tuple(sorted({mode[token] for mode in (NORMAL, ELDER) for token in TEXT_SIZE_TOKENS}))


def smaller_text_size(size: float) -> int | None:
    """The scale's next size below `size`, or None below the smallest."""
    return max((step for step in TEXT_SIZES if step < size), default=None)


# (text colour, the colour behind it): every pair a screen draws text with.
TEXT_PAIRS = (
    ("text", "background"), ("muted", "background"), ("title", "background"),
    ("warning", "background"), ("success", "background"), ("amber", "background"),
    ("text", "panel"), ("muted", "panel"), ("warning", "panel"), ("success", "panel"), ("amber", "panel"),
    ("button_text", "button"), ("background", "muted"),   # a button, a secondary button
    ("button_text", "success"),                            # the commitment once accepted
    ("text", "banner"),                                    # the offline banner
    ("header_text", "header"),                             # the header on every screen
    ("button_text", "step_done"), ("text", "step_todo"),   # the step indicator's numbers
    ("button_text", "title"),                              # the current step's number
)
AA, AAA = 4.5, 7.0

# Fixed colours of the card drawings (the card looks the same in both modes).
CARD_FACE = (0.12, 0.42, 0.78, 1)
CARD_CHIP = (0.93, 0.78, 0.35, 1)
SLOT = (0.45, 0.45, 0.5, 1)


def relative_luminance(rgba) -> float:
    """WCAG 2.x relative luminance of an sRGB colour given as 0..1 floats."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground, background) -> float:
    lighter, darker = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


class Theme(EventDispatcher):
    elder = BooleanProperty(False)
    background = ColorProperty(NORMAL["background"])
    panel = ColorProperty(NORMAL["panel"])
    title = ColorProperty(NORMAL["title"])
    text = ColorProperty(NORMAL["text"])
    muted = ColorProperty(NORMAL["muted"])
    warning = ColorProperty(NORMAL["warning"])
    success = ColorProperty(NORMAL["success"])
    button = ColorProperty(NORMAL["button"])
    button_text = ColorProperty(NORMAL["button_text"])
    banner = ColorProperty(NORMAL["banner"])
    header = ColorProperty(NORMAL["header"])
    header_text = ColorProperty(NORMAL["header_text"])
    step_todo = ColorProperty(NORMAL["step_todo"])
    step_done = ColorProperty(NORMAL["step_done"])
    amber = ColorProperty(NORMAL["amber"])
    digit_size = NumericProperty(NORMAL["digit_size"])
    title_size = NumericProperty(NORMAL["title_size"])
    prompt_size = NumericProperty(NORMAL["prompt_size"])
    button_size = NumericProperty(NORMAL["button_size"])
    body_size = NumericProperty(NORMAL["body_size"])
    small_size = NumericProperty(NORMAL["small_size"])
    caption_size = NumericProperty(NORMAL["caption_size"])
    fine_size = NumericProperty(NORMAL["fine_size"])
    icon_size = NumericProperty(NORMAL["icon_size"])
    illustration_size = NumericProperty(NORMAL["illustration_size"])
    gap = NumericProperty(NORMAL["gap"])
    page_padding = NumericProperty(NORMAL["page_padding"])
    button_height = NumericProperty(NORMAL["button_height"])
    header_height = NumericProperty(NORMAL["header_height"])
    steps_height = NumericProperty(NORMAL["steps_height"])

    def on_elder(self, _instance, elder: bool) -> None:
        for name, value in (ELDER if elder else NORMAL).items():
            setattr(self, name, value)

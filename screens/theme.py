"""Colours and type sizes shared by every screen, in two modes.

Normal mode is large type for a lobby, read from a step away. Elder mode (one tap on the home
screen, for the rest of the visit) makes everything larger still and switches to high
contrast: white and yellow on black, as low-vision guidance recommends. Screens bind to the
running app's `theme` in their .kv rules, so a change of mode redraws every screen at once.
"""
from kivy.event import EventDispatcher
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty

NORMAL = {
    "background": (0.96, 0.97, 0.99, 1), "panel": (1, 1, 1, 1), "title": (0.05, 0.25, 0.55, 1),
    "text": (0.1, 0.1, 0.12, 1), "muted": (0.4, 0.42, 0.48, 1), "warning": (0.75, 0.2, 0.1, 1),
    "success": (0.1, 0.5, 0.2, 1), "button": (0.12, 0.42, 0.78, 1), "button_text": (1, 1, 1, 1),
    "banner": (0.98, 0.85, 0.55, 1),
    "title_size": sp(44), "body_size": sp(26), "button_size": sp(30), "prompt_size": sp(38),
    "small_size": sp(20), "button_height": dp(96),
}
ELDER = {
    "background": (0, 0, 0, 1), "panel": (0.12, 0.12, 0.12, 1), "title": (1, 0.9, 0.2, 1),
    "text": (1, 1, 1, 1), "muted": (0.85, 0.85, 0.85, 1), "warning": (1, 0.55, 0.45, 1),
    "success": (0.5, 1, 0.5, 1), "button": (1, 0.9, 0.2, 1), "button_text": (0, 0, 0, 1),
    "banner": (0.55, 0.2, 0.1, 1),
    "title_size": sp(56), "body_size": sp(34), "button_size": sp(40), "prompt_size": sp(50),
    "small_size": sp(28), "button_height": dp(120),
}

# Fixed colours of the card drawings (the card looks the same in both modes).
CARD_FACE = (0.12, 0.42, 0.78, 1)
CARD_CHIP = (0.93, 0.78, 0.35, 1)
SLOT = (0.45, 0.45, 0.5, 1)


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
    title_size = NumericProperty(NORMAL["title_size"])
    body_size = NumericProperty(NORMAL["body_size"])
    button_size = NumericProperty(NORMAL["button_size"])
    prompt_size = NumericProperty(NORMAL["prompt_size"])
    small_size = NumericProperty(NORMAL["small_size"])
    button_height = NumericProperty(NORMAL["button_height"])

    def on_elder(self, _instance, elder: bool) -> None:
        for name, value in (ELDER if elder else NORMAL).items():
            setattr(self, name, value)

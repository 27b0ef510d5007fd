"""Widgets every screen uses: large buttons and labels in the theme (widgets.kv), a label that
wraps Chinese as it is typeset, and the animated prompt to insert a card."""
from __future__ import annotations

from pathlib import Path

from kivy.animation import Animation
from kivy.lang import Builder
from kivy.properties import NumericProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from screens.typesetting import keep_punctuation_off_line_starts


class KioskLabel(Label):
    """The screens' label. Kivy wraps Chinese (which has no spaces) after whatever character
    fills the line, so a line could begin with 。 or ）; here the character before such a mark
    goes down with it. `text` keeps what was written: only the drawn text gets the break."""

    def texture_update(self, *largs):
        self._label.text = self.text   # a new width wraps the text as written, not as last drawn
        super().texture_update(*largs)
        if self.markup or not self.text:
            return
        for _ in range(3):   # a character moved down can push a later break; each pass settles one
            rewrapped = keep_punctuation_off_line_starts(
                ["".join(word.text for word in line.words) for line in self._label._cached_lines])
            if rewrapped is None:
                return
            self._label.text = rewrapped
            super().texture_update(*largs)


class InsertCardPrompt(Widget):
    """A card that slides down into the slot, again and again, while the kiosk waits for it."""

    offset = NumericProperty(0)

    def start(self) -> None:
        """Runs only while its screen is shown: an animation redraws every frame, and an idle
        kiosk must not spend a core on a screen nobody sees."""
        self.stop()
        self._slide = Animation(offset=-48, duration=1.2, t="in_out_quad") + Animation(offset=0, duration=0.6)
        self._slide.repeat = True
        self._slide.start(self)

    def stop(self) -> None:
        Animation.cancel_all(self)
        self.offset = 0


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

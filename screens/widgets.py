"""Widgets every screen uses: large buttons and labels in the theme (widgets.kv) and the
animated prompt to insert a card."""
from pathlib import Path

from kivy.animation import Animation
from kivy.lang import Builder
from kivy.properties import NumericProperty
from kivy.uix.widget import Widget


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

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

    def on_kv_post(self, base_widget):
        slide = Animation(offset=-48, duration=1.2, t="in_out_quad") + Animation(offset=0, duration=0.6)
        slide.repeat = True
        slide.start(self)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

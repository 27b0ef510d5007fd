"""The idle countdown: when nobody has touched the screen for a while, a large countdown asks
whether the citizen is still there; a tap anywhere carries on, zero ends the visit."""
from pathlib import Path

from kivy.lang import Builder
from kivy.properties import NumericProperty
from kivy.uix.modalview import ModalView


class IdleCountdown(ModalView):
    seconds_left = NumericProperty(0)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

"""好差评: the citizen rates the service on the five official levels; then the visit ends."""
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

THANKS_S = 2.0  # the thanks stays this long before the kiosk is home again


class RatingScreen(Screen):
    title = StringProperty("")
    thanked = BooleanProperty(False)

    def show(self, offer) -> None:
        self.title = offer.heading()
        self.thanked = False

    def rate(self, level: int) -> None:
        if not self.thanked:
            App.get_running_app().flow.rate(level)

    def thank(self) -> None:
        self.thanked = True
        Clock.schedule_once(lambda _dt: App.get_running_app().flow.end("citizen finished"), THANKS_S)

    def clear(self) -> None:
        self.title = ""
        self.thanked = False


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

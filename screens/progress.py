"""Progress while a service runs: what is happening now, with a real bar for instant issuance
(the issuance reports each step: "正在制卡，请稍候" ...)."""
from pathlib import Path

from kivy.lang import Builder
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen
from kiosk.i18n import N_


class ProgressScreen(Screen):
    title = StringProperty("")
    step = StringProperty("")
    fraction = NumericProperty(0)

    def start(self, offer) -> None:
        self.title = offer.heading()
        self.step = N_("正在办理，请稍候……")
        self.fraction = 0

    def update(self, step: str, fraction: float) -> None:
        self.step = step
        self.fraction = fraction

    def clear(self) -> None:
        self.title = self.step = ""
        self.fraction = 0


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

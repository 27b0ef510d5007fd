"""Progress while a service runs: what is happening now, with a real bar for instant issuance
(the issuance reports each step: "正在制卡，请稍候" ...). A step the citizen must act on (a PIN
on the encrypting pad) is also spoken: its `voice_prompt` (screens/voice.py)."""
from pathlib import Path

from kivy.lang import Builder
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen
from kiosk.i18n import N_


class ProgressScreen(Screen):
    title = StringProperty("")
    step = StringProperty("")
    fraction = NumericProperty(0)
    voice_prompt = StringProperty("")

    def start(self, offer) -> None:
        self.title = offer.heading()
        self.step = N_("正在办理，请稍候……")
        self.fraction = 0
        self.voice_prompt = ""

    def update(self, step: str, fraction: float, voice: str = "") -> None:
        self.step = step
        self.fraction = fraction
        if voice:
            self.voice_prompt = voice

    def clear(self) -> None:
        self.title = self.step = self.voice_prompt = ""
        self.fraction = 0


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

"""Progress while a service runs: the real steps it has reported so far, ticked as they pass, the
current one with the bar (the issuance reports each step: "正在受理制卡申请", "正在写入芯片" ...).
A step the citizen must act on (a PIN on the encrypting pad) is also spoken: its `voice_prompt`
(screens/voice.py)."""
from pathlib import Path

from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen
from kiosk.i18n import N_, _

STARTED = N_("正在办理，请稍候……")
SHOWN_PASSED = 4   # the last steps done, ticked above the current one (an issuance has ten)


class ProgressScreen(Screen):
    title = StringProperty("")
    step = StringProperty("")
    passed = ListProperty([])            # the steps already done, in order (message ids)
    fraction = NumericProperty(0)
    voice_prompt = StringProperty("")
    makes_card = BooleanProperty(False)  # the card printer is at work: its illustration

    def start(self, offer) -> None:
        self.title = offer.heading()
        self.step = STARTED
        self.passed = []
        self.fraction = 0
        self.voice_prompt = ""
        self.makes_card = offer.uses_card_printer

    def on_passed(self, _instance, passed: list) -> None:
        rows = self.ids.passed
        rows.clear_widgets()
        for step in passed[-SHOWN_PASSED:]:   # (the language cannot change while a service runs)
            rows.add_widget(Factory.PassedStep(words=_(step)))

    def update(self, step: str, fraction: float, voice: str = "") -> None:
        if step != self.step and self.step != STARTED and self.step not in self.passed:
            self.passed = self.passed + [self.step]
        self.step = step
        self.fraction = fraction
        if voice:
            self.voice_prompt = voice

    def clear(self) -> None:
        self.title = self.step = self.voice_prompt = ""
        self.passed = []
        self.fraction = 0
        self.makes_card = False


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

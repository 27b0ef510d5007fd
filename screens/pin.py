"""A PIN entry on the PIN pad: the old PIN, a new one, the new one again (one screen, asked
as many times as the offer needs)."""
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen


class PinScreen(Screen):
    question = StringProperty("")
    problem = StringProperty("")
    voice_prompt = StringProperty("")   # what screens/voice.py says for this question

    def ask(self, question: str, problem: str = "", voice_prompt: str = "pin") -> None:
        self.question = question
        self.problem = problem
        self.voice_prompt = voice_prompt
        self.ids.pad.randomise = App.get_running_app().randomise_pin_pad
        self.ids.pad.new_entry()

    def complete(self) -> None:
        App.get_running_app().flow.pin_entered(self.ids.pad.take_pin())

    def clear(self) -> None:
        self.ids.pad.clear()
        self.question = self.problem = self.voice_prompt = ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

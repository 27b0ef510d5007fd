"""Home: the kiosk waits for the citizen's card, with an animated prompt to insert it."""
from pathlib import Path

from kivy.animation import Animation
from kivy.lang import Builder
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

PROMPT_INSERT = "请插入社会保障卡"


class InsertCardPrompt(Widget):
    """A card that slides down into the slot, again and again."""

    offset = NumericProperty(0)

    def on_kv_post(self, base_widget):
        slide = Animation(offset=-60, duration=1.2, t="in_out_quad") + Animation(offset=0, duration=0.6)
        slide.repeat = True
        slide.start(self)


class HomeScreen(Screen):
    prompt = StringProperty(PROMPT_INSERT)
    status = StringProperty("")

    def show_problem(self, citizen_message: str) -> None:
        self.status = citizen_message

    def clear_problem(self) -> None:
        self.status = ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

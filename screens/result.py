"""Result: each item's outcome in plain words with what to do next, and the receipt: printed,
or shown on screen when the printer cannot print it."""
from pathlib import Path

from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

OUTCOME_WORDS = {"done": "已办结", "pending": "已受理，联网后自动报送", "refused": "未能办理", "failed": "未能办理"}
NEXT_STEP = {True: "如需其他业务，请返回首页继续办理。",
             False: "如有疑问，请拨打12333或到人工窗口咨询。"}


class ResultScreen(Screen):
    title = StringProperty("")
    receipt_note = StringProperty("")
    receipt_text = StringProperty("")
    next_step = StringProperty("")

    def show(self, offer, results, receipt_note: str, receipt_text: str) -> None:
        from kiosk.stats import SERVICE_ITEMS
        self.title = offer.title.replace("\n", " · ")
        box = self.ids.results
        box.clear_widgets()
        for result in results:
            line = Factory.BodyLabel(
                text=f"【{OUTCOME_WORDS[result.outcome]}】{SERVICE_ITEMS.get(result.service_item, '')}："
                     f"{result.citizen_message}")
            line.color = self.theme_colour(result.ok)
            line.outcome = result.outcome
            box.add_widget(line)
        self.next_step = NEXT_STEP[all(result.ok for result in results)]
        self.receipt_note = receipt_note
        self.receipt_text = receipt_text

    @staticmethod
    def theme_colour(ok: bool):
        from kivy.app import App
        theme = App.get_running_app().theme
        return theme.success if ok else theme.warning

    def clear(self) -> None:
        self.ids.results.clear_widgets()
        self.title = self.receipt_note = self.receipt_text = self.next_step = ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

"""Result: each item's outcome in plain words with what to do next, and the receipt: printed,
or shown on screen when the printer cannot print it."""
from pathlib import Path

from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.i18n import N_, _

OUTCOME_WORDS = {"done": N_("已办结"), "pending": N_("已受理，联网后自动报送"), "refused": N_("未能办理"), "failed": N_("未能办理")}
NEXT_STEP = {True: N_("如需其他业务，请返回首页继续办理。"),
             False: N_("如有疑问，请拨打12333或到人工窗口咨询。")}


class ResultScreen(Screen):
    title = StringProperty("")
    receipt_note = StringProperty("")
    receipt_text = StringProperty("")
    next_step = StringProperty("")

    def show(self, offer, results, receipt_note: str, receipt_text: str) -> None:
        from kiosk.stats import SERVICE_ITEMS
        self.title = offer.heading()
        box = self.ids.results
        box.clear_widgets()
        for result in results:
            line = Factory.BodyLabel(text=_("【{outcome}】{item}：{message}").format(
                outcome=_(OUTCOME_WORDS[result.outcome]), item=_(SERVICE_ITEMS.get(result.service_item, "")),
                message=_(result.citizen_message)))
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

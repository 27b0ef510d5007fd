"""The service guide (办事指南) of the chosen offer: conditions, what to bring, time limit and
what happens without the network; then the citizen starts or goes back."""
from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.i18n import _


class GuideScreen(Screen):
    title = StringProperty("")
    items = StringProperty("")
    conditions = StringProperty("")
    materials = StringProperty("")
    time_limit = StringProperty("")
    offline = StringProperty("")

    def show(self, offer, online: bool) -> None:
        self.title = offer.heading()
        self.items = _("事项编码：{codes}").format(codes=offer.items)
        self.conditions = offer.guide.conditions
        self.materials = offer.guide.materials
        self.time_limit = offer.guide.time_limit
        # Shown in the visit's language, which does not change while the guide is up.
        notes = "\n".join(_(note) for note in offer.offline_notes())   # each a sentence of its own
        self.offline = notes if online else _("【当前网络中断】") + notes

    def clear(self) -> None:
        for prop in ("title", "items", "conditions", "materials", "time_limit", "offline"):
            setattr(self, prop, "")


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

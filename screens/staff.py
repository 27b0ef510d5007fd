"""Staff sign-in for diagnostics: the staff PIN, or a staff card inserted here and its card
PIN, both checked by kiosk/staff_pin.py's StaffGate (locked for a while after five wrong
tries). The app hands this screen the card events while it is shown."""
from __future__ import annotations

import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.card_service import CardPresented, CardReadFailed, CardWithdrawn
from kiosk.device_messages import citizen_message
from kiosk.i18n import N_

STAFF_PIN_PROMPT = N_("请输入工作人员密码，或插入工作人员卡")
STAFF_CARD_PROMPT = N_("已读取工作人员卡，请输入该卡的密码")


class StaffSignInScreen(Screen):
    prompt = StringProperty(STAFF_PIN_PROMPT)
    problem = StringProperty("")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.staff_card: str | None = None   # the identifier of the enrolled card in the reader

    def on_pre_enter(self, *args):
        self.problem = ""
        self.ids.pad.new_entry()

    def on_card_event(self, event) -> None:
        if isinstance(event, CardPresented):
            identifier = event.reading.info.identifier.hex
            enrolled = App.get_running_app().staff_gate.card_enrolled(identifier)
            self.staff_card = identifier if enrolled else None
            self.prompt = STAFF_CARD_PROMPT if enrolled else STAFF_PIN_PROMPT
            self.problem = "" if enrolled else N_("此卡不是登记的工作人员卡")
        elif isinstance(event, CardReadFailed):
            self.staff_card, self.prompt, self.problem = None, STAFF_PIN_PROMPT, citizen_message(event.error)
        elif isinstance(event, CardWithdrawn):
            self.staff_card, self.prompt, self.problem = None, STAFF_PIN_PROMPT, ""
        self.ids.pad.new_entry()

    def complete(self) -> None:
        app = App.get_running_app()
        pin = self.ids.pad.take_pin()
        staff_card = self.staff_card

        def check() -> None:
            with pin:
                ok, problem = app.staff_gate.sign_in(pin, staff_card, app.core.cards.verify_pin,
                                                     lambda: app.core.cards.prove_genuine().hex)
            Clock.schedule_once(lambda _dt: app.staff_signed_in() if ok else self._refused(problem))

        threading.Thread(target=check, name="staff-pin", daemon=True).start()

    def _refused(self, problem: str) -> None:
        app = App.get_running_app()
        if not problem:
            problem = N_("错误次数过多，已暂时锁定") if app.staff_gate.locked else N_("工作人员密码错误")
        self.problem = problem
        self.ids.pad.new_entry()

    def clear(self) -> None:
        self.ids.pad.clear()
        self.staff_card, self.prompt, self.problem = None, STAFF_PIN_PROMPT, ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

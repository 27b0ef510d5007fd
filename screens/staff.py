"""Staff sign-in for diagnostics: the staff PIN, checked by kiosk/staff_pin.py's StaffGate
(scrypt hash; locked for a while after five wrong tries)."""
from __future__ import annotations

import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen
from kiosk.i18n import N_

class StaffSignInScreen(Screen):
    problem = StringProperty("")

    def on_pre_enter(self, *args):
        self.problem = ""
        self.ids.pad.new_entry()

    def complete(self) -> None:
        app = App.get_running_app()
        pin = self.ids.pad.take_pin()

        def check() -> None:
            with pin:
                ok = app.staff_gate.try_pin(pin.digit_values())
            Clock.schedule_once(lambda _dt: app.staff_signed_in() if ok else self._refused())

        threading.Thread(target=check, name="staff-pin", daemon=True).start()

    def _refused(self) -> None:
        app = App.get_running_app()
        self.problem = N_("错误次数过多，已暂时锁定") if app.staff_gate.locked else N_("工作人员密码错误")
        self.ids.pad.new_entry()

    def clear(self) -> None:
        self.ids.pad.clear()
        self.problem = ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

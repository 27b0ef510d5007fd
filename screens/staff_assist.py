"""The staff-assisted path (#13, 国办发〔2020〕45号): for a citizen the face check could not
vouch for, or who asked for a person. The kiosk calls staff (on screen, aloud, and as an event
to the backend); a member of staff who has checked the person in front of them inserts their
staff card, which must prove itself genuine, and types its PIN. The authorisation is in the
audit trail with the staff card's digest; wrong PINs count toward the staff lockout.

The staff card goes into the citizen's card reader: a citizen's card there comes out first,
and goes back in afterwards where the service needs it (the flow asks for it again).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.device_messages import citizen_message
from kiosk.i18n import N_
from kiosk.identification import AFTER_ERROR_S

log = logging.getLogger(__name__)

CALLED = N_("已呼叫工作人员，请稍候。工作人员核对您的身份后，将插入工作人员卡。")
STAFF_PIN = N_("请工作人员输入工作人员卡密码")
NOT_STAFF = N_("此卡不是登记的工作人员卡")
TAKE_OUT = N_("核验完成，请工作人员取回工作人员卡")
WRONG = N_("工作人员卡密码错误")
LOCKED = N_("错误次数过多，已暂时锁定")


class StaffAssistScreen(Screen):
    prompt = StringProperty("")
    problem = StringProperty("")
    asking_pin = BooleanProperty(False)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._stop = threading.Event()
        self._staff_card: str | None = None

    def start(self, visit, reason: str) -> None:
        self.clear()
        self._stop = stop = threading.Event()
        self._visit = visit
        self.prompt = CALLED
        app = App.get_running_app()

        def call() -> None:
            try:
                app.core.assurance.call_staff(visit, reason)
            except Exception:   # the screen and the voice have called them already
                log.exception("the staff call did not reach the audit trail or the outbox")

        threading.Thread(target=call, name="staff-call", daemon=True).start()
        self._wait_for_staff_card(stop)

    def _wait_for_staff_card(self, stop: threading.Event) -> None:
        app = App.get_running_app()

        def poll() -> None:
            while not stop.is_set():
                reading = app.core.identification.wait_for_card(stop, lambda exc: self._later(
                    stop, setattr, self, "problem", citizen_message(exc)))
                if reading is None:
                    return
                identifier = reading.info.identifier.hex
                if app.core.staff_gate.card_enrolled(identifier):
                    self._later(stop, self._staff_card_in, identifier)
                    return
                self._later(stop, setattr, self, "problem", NOT_STAFF)
                self._wait_until_out(stop)

        threading.Thread(target=poll, name="staff-card", daemon=True).start()

    def _wait_until_out(self, stop: threading.Event) -> None:
        App.get_running_app().core.identification.wait_for_card_out(stop)

    def _later(self, stop: threading.Event, method, *args) -> None:
        Clock.schedule_once(lambda _dt: None if stop.is_set() else method(*args))

    def _staff_card_in(self, identifier: str) -> None:
        self._staff_card = identifier
        self.problem, self.prompt, self.asking_pin = "", STAFF_PIN, True
        self.ids.pad.new_entry()

    def complete(self) -> None:
        app = App.get_running_app()
        pin, staff_card, visit, stop = self.ids.pad.take_pin(), self._staff_card, self._visit, self._stop
        cards = app.core.cards

        def check() -> None:
            with pin:
                ok, problem = app.core.assurance.assure_by_staff(visit, staff_card, lambda: cards.verify_pin(pin),
                                                                 lambda: cards.prove_genuine().hex)
            self._later(stop, self._checked, ok, problem)

        threading.Thread(target=check, name="staff-assist", daemon=True).start()

    def _checked(self, ok: bool, problem: str) -> None:
        app = App.get_running_app()
        if not ok:
            self.problem = problem or (LOCKED if app.staff_gate.locked else WRONG)
            self.ids.pad.new_entry()
            return
        self.asking_pin, self.problem, self.prompt = False, "", TAKE_OUT
        stop = self._stop

        def wait() -> None:
            self._wait_until_out(stop)
            stop.wait(AFTER_ERROR_S / 3)
            self._later(stop, app.flow.staff_vouched)

        threading.Thread(target=wait, name="staff-card-out", daemon=True).start()

    def on_leave(self, *args):
        self._stop.set()

    def clear(self) -> None:
        self._stop.set()
        self._staff_card = None
        self.prompt = self.problem = ""
        self.asking_pin = False
        if "pad" in self.ids:
            self.ids.pad.clear()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

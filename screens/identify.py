"""Identification, once for the visit: the resident ID card on the ID reader or the electronic
social security card's QR code (#19), whichever comes first, then the social security card in
the card reader where the offer needs it, each with an animated prompt.

The devices are polled on worker threads (a card may be laid down, a phone held up, any time);
what they read goes to the visit on the UI thread, and a typed error becomes its Chinese
message on screen.
"""
from __future__ import annotations

import functools
import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.device_messages import citizen_message
from kiosk.i18n import N_, _
from kiosk.identification import AFTER_ERROR_S
from kiosk.visit import CitizenIdentity, VisitError
PROMPT_ID = N_("请将居民身份证平放在下方读卡区")
PROMPT_ID_OR_ESSC = N_("请将居民身份证平放在下方读卡区，或出示电子社保卡二维码")
PROMPT_CARD = N_("请将社会保障卡芯片朝上插入读卡口")


class IdentifyScreen(Screen):
    prompt = StringProperty("")
    problem = StringProperty("")
    done = StringProperty("")    # what is already confirmed, masked
    wants_card = BooleanProperty(False)   # the card into the reader (else the ID document on the reader)
    takes_essc = BooleanProperty(False)   # the e-SSC code under the scanner will do too

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._stop = threading.Event()
        self._id_stop = threading.Event()   # set once one document identified the citizen

    def start(self, offer, visit) -> None:
        self.clear()
        self._stop = threading.Event()
        self._offer, self._visit = offer, visit
        if offer.needs_id and not visit.has_identity:   # (back from staff assistance: the card only)
            self._wait_for_id()
        else:
            self._wait_for_card()

    def _wait_for_id(self) -> None:
        core = App.get_running_app().core
        stop = self._id_stop = threading.Event()
        waits = [("id-reader", core.identification.wait_for_id_card)]
        if core.devices.has_qr_reader:
            waits.append(("essc-code", functools.partial(core.identification.wait_for_essc_code, self._visit)))
        self.prompt = PROMPT_ID_OR_ESSC if len(waits) == 2 else PROMPT_ID
        self.wants_card, self.takes_essc = False, len(waits) == 2

        def poll(wait) -> None:
            identity = wait(stop, lambda error: self._later(self._problem, citizen_message(error), stop=stop))
            if identity is not None:
                self._later(self._id_read, identity, stop=stop)

        for name, wait in waits:
            threading.Thread(target=poll, args=(wait,), name=name, daemon=True).start()

    def _id_read(self, identity: CitizenIdentity) -> None:
        self._id_stop.set()   # the other way of identifying stops waiting (and lets go of the camera)
        try:
            self._visit.identify(identity)
        except VisitError as exc:
            self._problem(citizen_message(exc))
            return
        self.problem = ""
        self.done = _("身份已确认：{name}  {id_number}").format(name=identity.masked_name,
                                                            id_number=identity.masked_id_number)
        if self._offer.needs_card:
            self._wait_for_card()
        else:
            App.get_running_app().flow.identified()

    def _wait_for_card(self) -> None:
        self.prompt = PROMPT_CARD
        self.wants_card, self.takes_essc = True, False
        identification = App.get_running_app().core.identification
        stop = self._stop

        def poll() -> None:
            reading = identification.wait_for_card(stop, self._tell)
            if reading is not None:
                self._later(self._card_read, reading)

        threading.Thread(target=poll, name="card-reader", daemon=True).start()

    def _card_read(self, reading) -> None:
        try:
            self._visit.present_card(reading)
        except VisitError as exc:   # another person's card: wait for the right one
            self._problem(citizen_message(exc))
            Clock.schedule_once(lambda _dt: self._wait_for_card(), AFTER_ERROR_S)
            return
        App.get_running_app().flow.identified()

    def _later(self, method, *args, stop: threading.Event | None = None) -> None:
        """From a worker thread to the UI thread, unless the citizen has left this step (or,
        for `stop`, the wait it came from is over: a second document after the first)."""
        left = self._stop
        Clock.schedule_once(lambda _dt: None if left.is_set() or (stop is not None and stop.is_set())
                            else method(*args))

    def _tell(self, error: Exception) -> None:
        """From a worker thread: what went wrong, in the citizen's words."""
        self._later(self._problem, citizen_message(error))

    def _problem(self, message: str) -> None:
        self.problem = message

    def on_enter(self, *args):
        self.ids.card_prompt.start()

    def on_leave(self, *args):
        self._stop.set()
        self._id_stop.set()
        self.ids.card_prompt.stop()

    def clear(self) -> None:
        self._stop.set()
        self._id_stop.set()
        self.prompt = self.problem = self.done = ""
        self.wants_card = self.takes_essc = False


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

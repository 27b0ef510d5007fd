"""A PIN entry: the old PIN, a new one, the new one again (one screen, asked as many times as
the offer needs), on the touchscreen's own pad, or, with [pin_entry] device = "pad", on the
encrypting PIN pad beside the screen: the entry then runs on a worker thread and its key
presses show as dots here."""
import logging
import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.device_messages import citizen_message
from screens.menu import OLD, PIN_FORGOTTEN, PIN_RULE, PIN_WHICH

log = logging.getLogger(__name__)
RETRY_AFTER_S = 3.0   # time to read what went wrong before the pad asks again


class PinScreen(Screen):
    question = StringProperty("")
    problem = StringProperty("")
    voice_prompt = StringProperty("")   # what screens/voice.py says for this question
    on_device = BooleanProperty(False)  # the encrypting PIN pad takes this entry
    which = StringProperty("")          # beside the pad: which PIN ...
    rule = StringProperty("")           # ... what a good one is, or the tries the card allows ...
    forgotten = StringProperty("")      # ... and what to do when it is forgotten

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._cancel = threading.Event()

    def ask(self, question: str, problem: str = "", voice_prompt: str = "pin", kind: str = OLD) -> None:
        app = App.get_running_app()
        self.question = question
        self.which, self.rule, self.forgotten = PIN_WHICH[kind], PIN_RULE[kind], PIN_FORGOTTEN[kind]
        self.problem = problem
        self.voice_prompt = voice_prompt
        self.ids.pad.randomise = app.randomise_pin_pad
        self.ids.pad.new_entry()
        self.on_device = app.kiosk_config.pin_entry.device == "pad"
        self.ids.pad.disabled = self.on_device   # the touchscreen's keys take no touch meanwhile
        if self.on_device:
            self._on_the_pad()

    def _on_the_pad(self) -> None:
        app = App.get_running_app()
        self._cancel.set()
        self._cancel = cancel = threading.Event()
        pad = self.ids.pad

        def key(kind: str) -> None:   # on the worker thread: a dot more or less
            Clock.schedule_once(lambda _dt: pad.show_count(pad.entered + (1 if kind == "digit" else -1)))

        def work() -> None:
            try:
                pin = app.core.read_card_pin_on_pad(key, cancel)
            except Exception as exc:   # the pad's typed errors, and Cancel pressed on it
                log.info("PIN entry on the pad: %s: %s", type(exc).__name__, exc)
                Clock.schedule_once(lambda _dt, error=exc: None if cancel.is_set() else self._pad_failed(error))
                return
            Clock.schedule_once(lambda _dt: pin.wipe() if cancel.is_set() else app.flow.pin_entered(pin))

        threading.Thread(target=work, name="pin-pad-entry", daemon=True).start()

    def _pad_failed(self, error: Exception) -> None:
        self.problem = citizen_message(error)
        self.ids.pad.show_count(0)
        Clock.schedule_once(lambda _dt: self._on_the_pad() if self.manager and self.manager.current == self.name
                            and self.on_device else None, RETRY_AFTER_S)

    def complete(self) -> None:
        App.get_running_app().flow.pin_entered(self.ids.pad.take_pin())

    def on_leave(self, *args):
        self._cancel.set()

    def clear(self) -> None:
        self._cancel.set()
        self.ids.pad.clear()
        self.question = self.problem = self.voice_prompt = self.which = self.rule = self.forgotten = ""
        self.on_device = self.ids.pad.disabled = False


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

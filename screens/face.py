"""The face check (#13): the live camera picture with an oval to put one's face in, the spoken
challenge (two of a blink and head turns to the left and to the right, in random order), then
on to confirm, or, when it does not pass, another try or a member of staff
(screens/staff_assist.py). When the last try [identity] attempts allows fails, the kiosk calls
staff itself once the citizen has had a moment to read why, as their tap on the staff button
would.

The check runs on a worker thread (kiosk/identity_assurance.py); the newest frame is put on
screen by a Clock at 15 frames a second, older ones are dropped, so the UI thread never waits
for the camera or the models. Frames live in memory only and go when the screen is left.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.device_messages import citizen_message
from kiosk.face_check import PROMPTS, Decision
from kiosk.i18n import N_
from kiosk.identification import AFTER_ERROR_S
from kiosk.visit import VisitError
from screens.camera_preview import PreviewTicker, frame_texture

log = logging.getLogger(__name__)
LOOK = N_("请正对摄像头，将面部置于框内")
# What a frame lacks, in the citizen's words (kiosk/face_check.py's gates).
PROBLEMS = {"no_face": LOOK, "several_faces": N_("请确保画面中只有您一人"), "too_far": N_("请再靠近一些"),
            "not_frontal": N_("请正对摄像头"), "blurred": N_("请保持不动"), "too_dark": N_("光线不足，请调整位置"),
            "too_bright": N_("光线过强，请调整位置")}
DECISIONS = {Decision.NO_MATCH: N_("未能确认是您本人。"), Decision.NOT_LIVE: N_("未检测到按提示转头或眨眼的动作。"),
             Decision.NO_FACE: N_("未检测到清晰的正脸。")}


class FaceScreen(Screen):
    prompt = StringProperty("")
    problem = StringProperty("")
    can_retry = BooleanProperty(False)
    checking = BooleanProperty(False)
    preview = ObjectProperty(None, allownone=True)   # the camera picture's texture

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._cancel = threading.Event()
        self._latest = None
        self._latest_lock = threading.Lock()
        self._ticker = PreviewTicker(self._show_frame)
        self._attempts = 0
        self._staff_call = None   # the Clock event calling staff after the last try failed

    def start(self, visit) -> None:
        self.clear()
        self._attempts = 0
        self._visit = visit
        self._check()

    def retry(self) -> None:
        self._check()

    def _check(self) -> None:
        app = App.get_running_app()
        self._cancel = cancel = threading.Event()
        self.checking, self.can_retry, self.problem, self.prompt = True, False, "", LOOK
        visit = self._visit

        def spoken(challenge) -> None:          # on the worker thread
            Clock.schedule_once(lambda _dt: self._challenge(challenge))

        def seen(frame, analysis) -> None:      # on the worker thread: only the newest is kept
            with self._latest_lock:
                self._latest = (frame, analysis.problem)

        def work() -> None:
            try:
                result, problem = app.core.assurance.check_face(visit, prompt=spoken, on_frame=seen, cancel=cancel), ""
            except VisitError as exc:
                result, problem = None, citizen_message(exc)
            except Exception:   # a fault of ours: the staff path remains
                log.exception("face check failed")
                result, problem = None, N_("暂时无法进行人脸核验，请工作人员协助核验身份。")
            Clock.schedule_once(lambda _dt: None if cancel.is_set() else self._done(result, problem))

        threading.Thread(target=work, name="face-check", daemon=True).start()

    def _challenge(self, challenge) -> None:
        self.prompt = PROMPTS[challenge]
        App.get_running_app().voice.play(str(challenge))

    def _show_frame(self) -> None:
        with self._latest_lock:
            latest, self._latest = self._latest, None
        if latest is None:
            return
        frame, problem = latest
        self.preview = frame_texture(self.preview, frame, mirror=True)
        self.ids.camera.canvas.ask_update()
        if self.prompt in (LOOK, *PROBLEMS.values()):
            self.prompt = PROBLEMS.get(problem, LOOK) if problem else LOOK

    def _done(self, result, problem: str) -> None:
        self.checking = False
        app = App.get_running_app()
        if result is not None and result.passed:
            app.flow.face_passed()
            return
        self._attempts += 1
        self.prompt = ""
        self.problem = problem or DECISIONS.get(result.decision, DECISIONS[Decision.NO_MATCH])
        self.can_retry = result is not None and self._attempts < app.kiosk_config.identity.attempts
        if result is not None and not self.can_retry:   # a check that ran, the last one allowed
            self._staff_call = Clock.schedule_once(lambda _dt: app.flow.ask_staff(), AFTER_ERROR_S)

    def _no_staff_call(self) -> None:
        """The citizen chose first (asked for staff, cancelled), or the screen is cleared."""
        if self._staff_call is not None:
            self._staff_call.cancel()
            self._staff_call = None

    def on_enter(self, *args):
        self._ticker.start()

    def on_leave(self, *args):
        self._no_staff_call()
        self._cancel.set()
        self._ticker.stop()
        self._drop_frames()

    def _drop_frames(self) -> None:
        with self._latest_lock:
            self._latest = None
        self.preview = None

    def clear(self) -> None:
        self._no_staff_call()
        self._cancel.set()
        self._drop_frames()
        self.prompt = self.problem = ""
        self.can_retry = self.checking = False


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

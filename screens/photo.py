"""拍摄照片 (#14): the holder's photo for the card, taken at the kiosk when the registry has none.
The live camera picture with a head-and-shoulders frame; each frame goes through the photo's
quality gates (kiosk/photo_capture.py) on a worker thread and what it lacks is said on screen;
the first good one is shown cropped, its background cleaned, for the citizen to keep or retake.
Frames and the photo stay in memory; the photo goes with the application only once kept."""
from __future__ import annotations

import io
import logging
import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.i18n import N_
from kiosk.photo_capture import PROBLEMS, PhotoRefused, PhotoSpec, capture
from screens.camera_preview import PreviewTicker, frame_texture

log = logging.getLogger(__name__)
LOOK = N_("请正对摄像头，保持不动，正在为您拍照")
KEEP = N_("照片已拍好。满意请点击“使用此照片”，不满意可重拍。")
FAILED = N_("未能拍出合格的照片，请按提示调整后重拍，或到窗口办理。")


class PhotoScreen(Screen):
    prompt = StringProperty("")
    state = StringProperty("")        # taking, review, failed
    preview = ObjectProperty(None, allownone=True)   # the camera picture
    taken = ObjectProperty(None, allownone=True)     # the photo made of it

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._cancel = threading.Event()
        self._latest = None
        self._lock = threading.Lock()
        self._ticker = PreviewTicker(self._show_frame)
        self.jpeg: bytes | None = None

    def start(self) -> None:
        self.clear()
        app = App.get_running_app()
        self._cancel = cancel = threading.Event()
        self.state, self.prompt = "taking", LOOK
        spec = PhotoSpec.of(app.kiosk_config.photo)

        def seen(frame) -> None:           # on the worker thread: only the newest is kept
            with self._lock:
                self._latest = frame

        def lacking(problem: str) -> None:
            Clock.schedule_once(lambda _dt: self._lacking(problem))

        def work() -> None:
            try:
                jpeg = capture(app.core.devices.camera, spec, on_frame=seen, on_problem=lacking, cancel=cancel)
            except PhotoRefused:
                jpeg = None
            except Exception:   # a camera gone, a fault of ours: the counter can still take it
                log.exception("the photo could not be taken")
                jpeg = None
            Clock.schedule_once(lambda _dt: None if cancel.is_set() else self._done(jpeg))

        threading.Thread(target=work, name="photo", daemon=True).start()

    def _lacking(self, problem: str) -> None:
        if self.state == "taking":
            self.prompt = PROBLEMS.get(problem, LOOK)

    def _show_frame(self) -> None:
        with self._lock:
            frame, self._latest = self._latest, None
        if frame is not None and self.state == "taking":
            self.preview = frame_texture(self.preview, frame, mirror=True)
            self.ids.camera.canvas.ask_update()

    def _done(self, jpeg: bytes | None) -> None:
        if jpeg is None:
            self.state, self.prompt = "failed", FAILED
            return
        import numpy as np
        from PIL import Image
        with Image.open(io.BytesIO(jpeg)) as image:
            self.taken = frame_texture(None, np.asarray(image.convert("RGB")))
        self.jpeg, self.state, self.prompt = jpeg, "review", KEEP

    def keep(self) -> None:
        jpeg, self.jpeg = self.jpeg, None
        App.get_running_app().flow.photo_kept(jpeg)

    def on_enter(self, *args):
        self._ticker.start()

    def on_leave(self, *args):
        self._cancel.set()
        self._ticker.stop()
        self.preview = self.taken = None

    def clear(self) -> None:
        self._cancel.set()
        with self._lock:
            self._latest = None
        self.preview = self.taken = self.jpeg = None
        self.prompt = self.state = ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

"""The applicant's signature (#19), where [signature] required says so: a pad to write on with a
finger, cleared and written again at will, then kept with the application (kiosk/signature.py
draws it as a PNG in memory; nothing of it is written to disk).
"""
from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.graphics import Color, Line
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.i18n import N_
from kiosk.signature import Signature, SignatureError

PROMPT = N_("请用手指在下方框内签写您的姓名")
INK = (0.05, 0.05, 0.1, 1)


class SignaturePad(Widget):
    """A white pad that keeps what a finger writes on it, as strokes of points from 0 to 1."""
    inked = BooleanProperty(False)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.strokes: list[list[tuple[float, float]]] = []
        self.bind(size=self._redraw, pos=self._redraw)

    def _point(self, touch) -> tuple[float, float]:
        return (min(max((touch.x - self.x) / max(self.width, 1), 0.0), 1.0),
                min(max((touch.y - self.y) / max(self.height, 1), 0.0), 1.0))

    def on_touch_down(self, touch):
        if not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        touch.grab(self)
        self.strokes.append([self._point(touch)])
        self._redraw()
        return True

    def on_touch_move(self, touch):
        if touch.grab_current is not self:
            return super().on_touch_move(touch)
        self.strokes[-1].append(self._point(touch))
        self._redraw()
        return True

    def on_touch_up(self, touch):
        if touch.grab_current is not self:
            return super().on_touch_up(touch)
        touch.ungrab(self)
        return True

    def clear(self) -> None:
        self.strokes = []
        self._redraw()

    def _redraw(self, *_args) -> None:
        self.inked = bool(self.strokes)
        self.canvas.after.clear()
        with self.canvas.after:
            Color(*INK)
            for stroke in self.strokes:
                points = [coordinate for x, y in stroke
                          for coordinate in (self.x + x * self.width, self.y + y * self.height)]
                Line(points=points * (2 if len(stroke) == 1 else 1), width=2.2)


class SignatureScreen(Screen):
    prompt = StringProperty(PROMPT)
    problem = StringProperty("")

    def start(self) -> None:
        self.clear()

    def redo(self) -> None:
        self.ids.pad.clear()
        self.problem = ""

    def accept(self) -> None:
        try:
            signature = Signature.from_strokes(self.ids.pad.strokes)
        except SignatureError as exc:
            self.problem = exc.citizen_message
            return
        App.get_running_app().flow.signed(signature.png)

    def clear(self) -> None:
        self.ids.pad.clear()
        self.problem = ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

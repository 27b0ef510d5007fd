"""The live camera picture on a screen (the face check, the photo): the worker that reads the
camera keeps only the newest frame, and a Clock puts it on screen at PREVIEW_FPS, so the UI
thread never waits for the camera."""
from __future__ import annotations

from kivy.clock import Clock
from kivy.graphics.texture import Texture

PREVIEW_FPS = 15


def frame_texture(texture: Texture | None, rgb, mirror: bool = False) -> Texture:
    """`rgb` (a height x width x 3 array) on `texture`, made anew when there is none or the size
    changed. A mirror shows the citizen's left on the left."""
    height, width = rgb.shape[:2]
    if texture is None or texture.size != (width, height):
        texture = Texture.create(size=(width, height), colorfmt="rgb")
        texture.flip_vertical()
        if mirror:
            texture.flip_horizontal()
    texture.blit_buffer(rgb.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
    return texture


class PreviewTicker:
    """Calls `show()` at PREVIEW_FPS between start() and stop() (a screen's on_enter, on_leave)."""

    def __init__(self, show):
        self._show = show
        self._event = None

    def start(self) -> None:
        self.stop()
        self._event = Clock.schedule_interval(lambda _dt: self._show(), 1 / PREVIEW_FPS)

    def stop(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

"""The UVC camera (drivers/camera.py) over a stand-in for OpenCV's VideoCapture: the device
opened through V4L2 with the kiosk's frame size and rate, frames handed on as RGB, a camera that
cannot be opened or gives no frame is CameraUnavailable, and the device is let go on close."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from drivers.camera import CameraUnavailable, UvcCamera


class FakeCapture:
    """cv2.VideoCapture as a camera answers it: `frames` are what its reads give, in turn
    ((ok, frame) pairs); every capture the camera opens is kept in `opened`."""

    opened: list["FakeCapture"] = []
    works = True
    frames: list = []

    def __init__(self, source, backend):
        self.source, self.backend, self.settings, self.released = source, backend, {}, False
        FakeCapture.opened.append(self)

    def isOpened(self) -> bool:
        return FakeCapture.works

    def set(self, prop, value) -> bool:
        self.settings[prop] = value
        return True

    def read(self):
        return FakeCapture.frames.pop(0)

    def release(self) -> None:
        self.released = True


@pytest.fixture(autouse=True)
def capture(monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    monkeypatch.setattr(FakeCapture, "opened", [])
    monkeypatch.setattr(FakeCapture, "works", True)
    monkeypatch.setattr(FakeCapture, "frames", [])
    return FakeCapture


def bgr_frame(blue: int, green: int, red: int) -> np.ndarray:
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[...] = (blue, green, red)
    return frame


def test_a_camera_that_cannot_be_opened_is_unavailable(capture):
    capture.works = False
    with pytest.raises(CameraUnavailable, match="/dev/video2: cannot be opened"):
        UvcCamera("/dev/video2").read()
    assert capture.opened[0].source == "/dev/video2" and capture.opened[0].backend == cv2.CAP_V4L2


def test_the_device_opens_on_the_first_read_with_the_frame_size_rate_and_a_one_frame_buffer(capture):
    camera = UvcCamera("0", width=800, height=600, fps=20)
    assert capture.opened == []   # nothing opened before a frame is wanted
    capture.frames = [(True, bgr_frame(1, 2, 3)), (True, bgr_frame(1, 2, 3))]
    camera.read()
    camera.read()
    [opened] = capture.opened   # once, for both reads
    assert opened.source == 0   # an index, as OpenCV takes it
    assert opened.settings == {cv2.CAP_PROP_FRAME_WIDTH: 800, cv2.CAP_PROP_FRAME_HEIGHT: 600, cv2.CAP_PROP_FPS: 20,
                                cv2.CAP_PROP_BUFFERSIZE: 1}


def test_a_frame_is_handed_on_as_rgb(capture):
    capture.frames = [(True, bgr_frame(10, 20, 30))]
    frame = UvcCamera().read()
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    assert tuple(frame[0, 0]) == (30, 20, 10)


@pytest.mark.parametrize("answer", [(False, None), (True, None), (True, np.zeros((480, 640), np.uint8))],
                         ids=["read failed", "no frame", "not a colour frame"])
def test_no_frame_is_unavailable_and_the_next_read_opens_the_device_again(capture, answer):
    camera = UvcCamera()
    capture.frames = [answer, (True, bgr_frame(0, 0, 255))]
    with pytest.raises(CameraUnavailable, match="/dev/video0: no frame"):
        camera.read()
    assert capture.opened[0].released
    assert tuple(camera.read()[0, 0]) == (255, 0, 0)   # a camera plugged back in serves again
    assert len(capture.opened) == 2


def test_close_lets_the_device_go_and_may_come_before_any_read_or_twice(capture):
    camera = UvcCamera()
    camera.close()
    capture.frames = [(True, bgr_frame(1, 2, 3))]
    camera.read()
    camera.close()
    camera.close()
    assert [c.released for c in capture.opened] == [True]

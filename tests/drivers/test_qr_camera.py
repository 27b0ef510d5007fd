"""QR codes from camera frames (drivers/qr_camera.py) with the simulated camera holding up a
phone (drivers/sim/camera.py `show_qr`): a code shown is read whole in every scene, a frame
without one gives None, text that is not a clean code is a GarbledScan; the camera reader
waits for a code, stops when asked, and a camera that gives no frames is unavailable."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import segno

from drivers.camera import CameraUnavailable
from drivers.qr_camera import CameraQrReader, decode_qr
from drivers.qr_scanner import GarbledScan, QrScannerUnavailable
from drivers.sim.camera import Scene, SimulatedCamera, face_test_images

ESSC_CODE = "https://ssc.mohrss.gov.cn/qr?c=7f3a9c01e5b24d6a8f1e0c2b9d7a6e5f&t=1764115200"


@pytest.fixture(scope="module")
def camera():
    camera = SimulatedCamera(face_test_images() / "obama.jpg", face_test_images() / "biden.jpg", fps=60)
    camera.read()   # its scenes are made on the first read (about two seconds): once for the module
    return camera


@pytest.fixture(autouse=True)
def phone_put_away(camera):
    yield
    camera.show_qr(None)
    camera.scene = Scene.RIGHT_PERSON


def qr_image(payload: str | bytes) -> np.ndarray:
    """A frame that is nothing but a QR code (byte mode), as RGB."""
    pattern = np.array(list(segno.make_qr(payload, mode="byte").matrix_iter(border=4, scale=6)), dtype=bool)
    return np.repeat(np.where(pattern, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


@pytest.mark.parametrize("scene", list(Scene))
def test_a_code_shown_is_read_whatever_is_behind_the_phone(camera, scene):
    camera.scene = scene
    camera.show_qr(ESSC_CODE)
    assert decode_qr(camera.read()) == ESSC_CODE
    camera.show_qr(None)
    assert decode_qr(camera.read()) is None


@pytest.mark.parametrize("text", ["7", "电子社保卡·ABC-123", "Q" * 512])
def test_short_long_and_chinese_codes_are_read_whole(camera, text):
    camera.show_qr(text)
    assert decode_qr(camera.read()) == text


def test_the_phone_stays_through_a_change_of_scene(camera):
    camera.show_qr(ESSC_CODE)
    camera.scene = Scene.NOBODY
    assert decode_qr(camera.read()) == ESSC_CODE


@pytest.mark.parametrize("payload, fault", [
    (b"ABC\x00DEF", r"U\+0000"), ("ABC\x1b[2JDEF", r"U\+001B"), ("Z" * 600, "600 characters, more than 512"),
])
def test_a_code_that_is_not_clean_text_is_a_garbled_scan(payload, fault):
    with pytest.raises(GarbledScan, match=fault):
        decode_qr(qr_image(payload))


@pytest.mark.parametrize("frame", [np.zeros((480, 640), np.uint8), np.zeros((480, 640, 4), np.uint8),
                                   np.zeros((480, 640, 3), np.float32)])
def test_a_frame_that_is_not_rgb_is_a_programming_error(frame):
    with pytest.raises(ValueError, match="RGB array of uint8"):
        decode_qr(frame)


def test_the_camera_reader_waits_for_a_code_and_stops_when_asked(camera):
    reader = CameraQrReader(camera)
    threading.Timer(0.2, camera.show_qr, args=(ESSC_CODE,)).start()
    assert reader.wait_for_code(threading.Event()) == ESSC_CODE
    camera.show_qr(None)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    assert reader.wait_for_code(stop) is None
    assert time.monotonic() - started < 0.2 + 0.2


def test_a_camera_that_gives_no_frames_is_unavailable():
    class UnpluggedCamera:
        def read(self):
            raise CameraUnavailable("camera /dev/video0: no frame")

    with pytest.raises(QrScannerUnavailable, match="^no QR codes from the camera: camera /dev/video0: no frame"):
        CameraQrReader(UnpluggedCamera()).wait_for_code(threading.Event())


def test_a_garbled_code_names_the_camera_that_saw_it(camera):
    camera.show_qr("ABC\x07DEF")
    with pytest.raises(GarbledScan, match=r"^simulated camera read a code with .*U\+0007"):
        CameraQrReader(camera).wait_for_code(threading.Event())

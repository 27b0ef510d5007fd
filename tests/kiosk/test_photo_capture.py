"""The holder's photo taken at the kiosk (#14), on the simulated camera's faces: a good frame
becomes a 358x441 JPEG with a plain background; a frame that fails a gate is refused with the
reason in plain words (nobody, two people, off centre, too far, too near, turned, eyes shut,
dark, glaring, blurred, unevenly lit, a background that cannot be cleaned); a capture on the
camera returns the first good frame."""
from __future__ import annotations

import io
import threading

import cv2
import numpy as np
import pytest
from PIL import Image

from drivers.sim.camera import SimulatedCamera, _eyes_shut, _framed, _landmark_models, _landmarks_of, _load, \
    _TurnWarp, face_test_images
from kiosk.config import KioskConfig
from kiosk.photo_capture import PROBLEMS, PhotoRefused, PhotoSpec, capture, make_photo, release_models

IMAGES = face_test_images()


@pytest.fixture(scope="module")
def face():
    """A person half a metre from the camera, and the landmarks the simulation bends it by."""
    detector, predictor = _landmark_models()
    frame = _framed(_load(IMAGES / "obama.jpg"), detector)
    yield frame, _landmarks_of(frame, detector, predictor)
    release_models()


def test_a_good_frame_is_a_card_photo_on_a_plain_background(face):
    frame, _points = face
    jpeg = make_photo(frame)
    with Image.open(io.BytesIO(jpeg)) as photo:
        assert photo.format == "JPEG" and photo.size == (358, 441)
        rgb = np.asarray(photo.convert("RGB"), dtype=int)
    for corner in (rgb[:20, :20], rgb[:20, -20:]):   # the busy room behind him is gone
        assert np.abs(corner - np.array(PhotoSpec().background)).max() < 12
    assert rgb[150:250, 130:230].std() > 20            # and his face is there
    # Another specification from the configuration: its size and background.
    spec = PhotoSpec.of(KioskConfig().changed(photo={"width": 286, "height": 352, "background": "#FFFFFF"}).photo)
    with Image.open(io.BytesIO(make_photo(frame, spec))) as photo:
        assert photo.size == (286, 352) and photo.getpixel((2, 2)) == (255, 255, 255)


def two_people(frame):
    return np.ascontiguousarray(np.hstack([cv2.resize(frame, (320, 480)), cv2.resize(frame, (320, 480))]))


def farther(frame):
    small = np.full_like(frame, 200)
    small[120:360, 160:480] = cv2.resize(frame, (320, 240))
    return small


@pytest.mark.parametrize("problem, bend", [
    ("no_face", lambda frame, points: np.full_like(frame, 180)),
    ("several_faces", lambda frame, points: two_people(frame)),
    ("not_centred", lambda frame, points: cv2.warpAffine(frame, np.float32([[1, 0, 170], [0, 1, 0]]), (640, 480),
                                                          borderMode=cv2.BORDER_REPLICATE)),
    ("too_far", lambda frame, points: farther(frame)),
    ("too_close", lambda frame, points: cv2.resize(frame[60:420, 80:560], (640, 480))),
    ("not_frontal", lambda frame, points: _TurnWarp(frame, points).apply(frame, 0.45)),
    ("eyes_closed", lambda frame, points: _eyes_shut(frame, points)),
    ("too_dark", lambda frame, points: (frame * 0.25).astype(np.uint8)),
    ("too_bright", lambda frame, points: np.clip(frame.astype(int) + 150, 0, 255).astype(np.uint8)),
    ("blurred", lambda frame, points: cv2.GaussianBlur(frame, (0, 0), 5)),
    ("uneven_light", lambda frame, points: np.concatenate(
        [(frame[:, :320] * 0.45).astype(np.uint8), frame[:, 320:]], axis=1)),
])
def test_a_frame_failing_a_gate_is_refused_with_its_reason(face, problem, bend):
    frame, points = face
    with pytest.raises(PhotoRefused) as refused:
        make_photo(np.ascontiguousarray(bend(frame, points)))
    assert refused.value.problem == problem and refused.value.citizen_message == PROBLEMS[problem]


def segmentation_finding_nobody(image, mask, rect, background, foreground, iterations, mode):
    mask[:] = cv2.GC_BGD   # GrabCut lost the person: all of it background


@pytest.mark.parametrize("failure", ["segmentation", "too_many_bytes"])
def test_a_background_that_cannot_be_cleaned_is_refused_with_its_reason(face, failure, monkeypatch):
    """The background gate: GrabCut finding no plausible person, or a picture so busy that no
    JPEG quality brings it within the specification's bytes."""
    frame, _points = face
    spec = PhotoSpec()
    if failure == "segmentation":
        monkeypatch.setattr(cv2, "grabCut", segmentation_finding_nobody)
    else:
        spec = PhotoSpec(max_bytes=2_000)   # his photo is some 13 KB even at the lowest quality tried
    with pytest.raises(PhotoRefused) as refused:
        make_photo(frame, spec)
    assert refused.value.problem == "background"
    assert refused.value.citizen_message == "背景未能处理干净，请站在浅色墙面前重拍。"


def test_a_capture_keeps_the_first_good_frame_and_says_what_the_others_lacked():
    camera = SimulatedCamera(IMAGES / "obama.jpg", IMAGES / "biden.jpg", scene="nobody", fps=30)
    lacked = []

    def told(problem: str) -> None:   # told twice that nobody is there, he steps up
        lacked.append(problem)
        if len(lacked) == 2:
            camera.scene = "right_person"

    jpeg = capture(camera, on_problem=told, timeout_s=20)
    assert jpeg.startswith(b"\xff\xd8") and lacked == ["no_face", "no_face"]
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(PhotoRefused):
        capture(camera, cancel=cancel)

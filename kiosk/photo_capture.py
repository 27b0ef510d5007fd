"""The holder's photo taken at the kiosk (#14), for a person the registry has no photo of: one
camera frame framed and cropped to the province's photo specification (default 358x441 pixels,
JPEG, a plain light background), after quality gates, each refusal in plain words:

    exactly one face -> centred -> near enough (the crop fits the frame), not too near ->
    facing the camera -> eyes open -> neither dark nor glaring -> sharp -> even light ->
    the background cleaned to the plain colour (OpenCV's GrabCut, seeded by the face) -> JPEG

Eyes are judged by the eye aspect ratio of dlib's 68 landmarks, a model the face check does not
use (kiosk/face_check.py uses the 5-point one): a capture runs in a face worker process started
for it and stopped after it (kiosk/face_worker.py), so the model never enters the kiosk's. The photo is personal data: it stays in memory, travels with the
application (sealed in the outbox when queued) and is never logged or written to disk.
"""
from __future__ import annotations

import ctypes
import functools
import io
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from kiosk.i18n import N_


@dataclass(frozen=True)
class PhotoSpec:
    width: int = 358
    height: int = 441
    background: tuple[int, int, int] = (238, 242, 247)   # plain light grey-blue
    quality: int = 88
    max_bytes: int = 45_000        # the contract's bound on a photo taken at a kiosk

    @classmethod
    def of(cls, section) -> "PhotoSpec":
        """From the configuration's [photo] section."""
        colour = section.background.lstrip("#")
        return cls(section.width, section.height, tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4)),
                   section.quality)


# Why a frame is not a photo, in the citizen's words.
PROBLEMS = {
    "no_face": N_("未检测到人脸，请正对摄像头。"),
    "several_faces": N_("画面中有多人，请其他人离开拍照区域。"),
    "not_centred": N_("请把脸移到画面中央。"),
    "too_far": N_("请靠近摄像头一些。"),
    "too_close": N_("请离摄像头远一些。"),
    "not_frontal": N_("请正对摄像头，不要侧脸。"),
    "eyes_closed": N_("请睁开眼睛。"),
    "blurred": N_("画面模糊，请保持不动。"),
    "too_dark": N_("光线太暗，请站到光线充足处。"),
    "too_bright": N_("光线太强，请避开强光。"),
    "uneven_light": N_("脸部光线不均匀，请正对光源。"),
    "background": N_("背景未能处理干净，请站在浅色墙面前重拍。"),
}

FACE_WIDTH_IN_PHOTO = 0.6    # the face's share of the photo's width (a card's tight head and shoulders)
FACE_TOP_IN_PHOTO = 0.2      # where the face box's top (the brows) sits, as a share of the photo's height
CENTRE_TOLERANCE = 0.12      # the face centre's distance from the frame's centre, as a share of the frame
FRONTAL_TOLERANCE = 0.12     # the nose between the eyes' outer corners, off the middle
EYES_OPEN_EAR = 0.17         # eye aspect ratio: open eyes 0.2-0.4, shut ones under 0.15
MIN_SHARPNESS = 40.0
BRIGHTNESS = (60.0, 210.0)
LIGHT_BALANCE = 1.4          # the brighter half of the face against the darker one, at most


class PhotoRefused(ValueError):
    """A frame that is not a photo for a card; `problem` names which gate (PROBLEMS)."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem

    @property
    def citizen_message(self) -> str:
        return PROBLEMS[self.problem]


@functools.lru_cache(maxsize=1)
def _models():
    import dlib
    import face_recognition_models as models
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(models.pose_predictor_model_location())


def release_models() -> None:
    """The 68-point model back to the system once the capture is over."""
    _models.cache_clear()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _eye_aspect_ratio(eye: np.ndarray) -> float:
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    return float(vertical / (2 * max(np.linalg.norm(eye[0] - eye[3]), 1.0)))


def _crop_box(face, spec: PhotoSpec) -> tuple[int, int, int, int]:
    width = face.width() / FACE_WIDTH_IN_PHOTO
    height = width * spec.height / spec.width
    left = (face.left() + face.right()) / 2 - width / 2
    top = face.top() - FACE_TOP_IN_PHOTO * height
    return round(left), round(top), round(left + width), round(top + height)


def _clean_background(crop: np.ndarray, face_box: tuple[int, int, int, int], spec: PhotoSpec) -> np.ndarray:
    """GrabCut seeded with the face and the shoulders below it as the person, the photo's edges
    as background; what is background becomes the plain colour. Refuses when the person found is
    implausibly small or large (the segmentation failed)."""
    import cv2
    height, width = crop.shape[:2]
    mask = np.full((height, width), cv2.GC_PR_BGD, np.uint8)
    left, top, right, bottom = face_box
    face_width = right - left
    mask[max(top, 0):bottom, max(left, 0):right] = cv2.GC_FGD                                  # the face
    shoulders = height - (height - bottom) // 3
    mask[bottom:shoulders, left + face_width // 5:right - face_width // 5] = cv2.GC_PR_FGD     # the neck
    mask[shoulders:, max(left - face_width // 3, 0):right + face_width // 3] = cv2.GC_PR_FGD   # the shoulders
    mask[height - height // 12:, max(left - face_width // 4, 0):right + face_width // 4] = cv2.GC_FGD   # surely them
    mask[:, :3], mask[:, -3:], mask[:3, :] = cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), mask, None, background, foreground, 4, cv2.GC_INIT_WITH_MASK)
    person = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    share = float(person.mean())
    if not 0.2 <= share <= 0.9:
        raise PhotoRefused("background")
    person = cv2.GaussianBlur(person, (0, 0), 1.5)[..., None]   # a soft edge, not a cut-out
    plain = np.empty_like(crop)
    plain[:] = spec.background
    return (crop * person + plain * (1 - person)).astype(np.uint8)


def make_photo(frame: np.ndarray, spec: PhotoSpec = PhotoSpec()) -> bytes:
    """One RGB camera frame as the card's photo (JPEG bytes), or PhotoRefused."""
    import cv2
    detector, predictor = _models()
    faces = detector(frame, 0)
    if len(faces) != 1:
        raise PhotoRefused("no_face" if not faces else "several_faces")
    face = faces[0]
    frame_height, frame_width = frame.shape[:2]
    centre_x, centre_y = (face.left() + face.right()) / 2, (face.top() + face.bottom()) / 2
    if abs(centre_x / frame_width - 0.5) > CENTRE_TOLERANCE or abs(centre_y / frame_height - 0.5) > 0.2:
        raise PhotoRefused("not_centred")
    if face.width() < 0.2 * frame_width:
        raise PhotoRefused("too_far")
    left, top, right, bottom = _crop_box(face, spec)
    if left < 0 or top < 0 or right > frame_width or bottom > frame_height:
        raise PhotoRefused("too_close")
    shape = predictor(frame, face)
    points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float64)
    yaw = (points[30, 0] - points[36, 0]) / max(points[45, 0] - points[36, 0], 1.0)
    if abs(yaw - 0.5) > FRONTAL_TOLERANCE:
        raise PhotoRefused("not_frontal")
    if min(_eye_aspect_ratio(points[36:42]), _eye_aspect_ratio(points[42:48])) < EYES_OPEN_EAR:
        raise PhotoRefused("eyes_closed")
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    face_grey = grey[max(face.top(), 0):face.bottom(), max(face.left(), 0):face.right()]
    brightness = float(face_grey.mean())   # before sharpness: a dark face has little detail either
    if brightness < BRIGHTNESS[0]:
        raise PhotoRefused("too_dark")
    if brightness > BRIGHTNESS[1]:
        raise PhotoRefused("too_bright")
    if float(cv2.Laplacian(face_grey, cv2.CV_64F).var()) < MIN_SHARPNESS:
        raise PhotoRefused("blurred")
    halves = face_grey[:, :face_grey.shape[1] // 2].mean(), face_grey[:, face_grey.shape[1] // 2:].mean()
    if max(halves) > LIGHT_BALANCE * max(min(halves), 1.0):
        raise PhotoRefused("uneven_light")
    crop = np.ascontiguousarray(frame[top:bottom, left:right])
    face_in_crop = (face.left() - left, face.top() - top, face.right() - left, face.bottom() - top)
    cleaned = _clean_background(crop, face_in_crop, spec)
    scale = spec.width / cleaned.shape[1]
    photo = cv2.resize(cleaned, (spec.width, spec.height), interpolation=cv2.INTER_AREA if scale < 1
                       else cv2.INTER_CUBIC)
    from PIL import Image
    for quality in range(spec.quality, 49, -8):   # within the contract's bound, as fine as it allows
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, "JPEG", quality=quality)
        if buffer.tell() <= spec.max_bytes:
            return buffer.getvalue()
    raise PhotoRefused("background")   # so busy a picture has no plain background


def capture(camera, spec: PhotoSpec = PhotoSpec(), *, on_frame: Callable = lambda frame: None,
            on_problem: Callable[[str], None] = lambda problem: None, cancel: threading.Event | None = None,
            timeout_s: float = 30.0) -> bytes:
    """Frames from `camera` until one makes a photo (JPEG bytes); each refusal goes to
    `on_problem` (a PROBLEMS key) as the citizen adjusts. PhotoRefused with the last problem when
    none did within `timeout_s`, or at once when cancelled. Each frame is judged by a face worker
    (kiosk/face_worker.py) started for this capture and stopped after it: the 68-point model
    never enters this process; FaceWorkerFailed when the worker dies."""
    from kiosk.face_worker import FaceWorker
    worker = FaceWorker()
    worker.start()
    deadline, last = time.monotonic() + timeout_s, "no_face"
    try:
        while time.monotonic() < deadline and not (cancel is not None and cancel.is_set()):
            frame = camera.read()
            on_frame(frame)
            try:
                return worker.make_photo(frame, spec)
            except PhotoRefused as exc:
                last = exc.problem
                on_problem(last)
        raise PhotoRefused(last)
    finally:
        worker.stop()

"""The face check: is the live person in front of the camera the person whose photo the
backend holds? (#13)

    quality gates (exactly one face, big enough, frontal, sharp, evenly lit)
    -> an active liveness challenge: two of a blink and head turns to the left and to the
       right, in random order, each spoken. A turn is seen as the nose moving across the face
       between the outer corners of the eyes (a turn the other way, or a turn when a blink is
       asked, fails it: a recording of another check played back); a blink as both eyes no longer looking like themselves (their patches,
       aligned by the landmarks, no longer correlate with the open eyes of the first frames),
       then again like themselves
    -> the sharpest frontal frame after the challenge, matched against the registered photo:
       the distance between their 128-value embeddings, under `match_threshold`

The stack is dlib's (`dlib-bin`: HOG face detector, 5-point landmarks: the corners of both
eyes and the base of the nose) with the ResNet face embedding of `face-recognition-models`,
whose models ship inside the package: nothing is downloaded at run time, and the whole check
runs on the CPU. The 5-point model is the one the embedding is aligned with, and it takes 12 MB
where the 68-point one takes 95: the kiosk's memory target (bench/ui.py) has no room for that. Frames and embeddings stay in
memory and are dropped when the check ends; the result (decision, score, model, challenge)
goes into the audit trail, never an image.

The blink is judged on the eyes' appearance, not on an eye aspect ratio of lid landmarks:
the 5-point model has no lids, and the 68-point model's did not follow a shut eye far enough
on every face of the test set (the ratio fell to 0.49-0.91 of the open value), while the
patch correlation falls from 0.96 or more (open, with camera noise, a swaying replay) to 0.84
or less (shut).
"""
from __future__ import annotations

import enum
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from kiosk.i18n import N_

MODEL = "dlib_face_recognition_resnet_model_v1"
BASELINE_FRAMES = 3


class Challenge(enum.StrEnum):
    TURN_LEFT = "turn_left"     # the citizen's left: the nose moves to the image's right (unmirrored camera)
    TURN_RIGHT = "turn_right"
    BLINK = "blink"


PROMPTS = {Challenge.TURN_LEFT: N_("请缓慢向左转头"), Challenge.TURN_RIGHT: N_("请缓慢向右转头"),
           Challenge.BLINK: N_("请慢慢眨一下眼睛")}
# dlib's 5 points: the two corners of each eye, the base of the nose; and the size of the patch
# an eye is compared in
EYES = ((0, 1), (2, 3))
NOSE = 4
EYE_PATCH = (32, 18)


class Decision(enum.StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"          # a live face, not the person's
    NOT_LIVE = "not_live"          # the challenge was not performed (a photo, a replay)
    NO_FACE = "no_face"            # nobody, or never one usable face in time
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class FaceCheckSettings:
    match_threshold: float = 0.5      # embedding distance; the test set: same person 0.24-0.43, others 0.81-0.87
    min_face_ratio: float = 0.2       # face width / frame width: close enough to the camera
    frontal_tolerance: float = 0.15   # |nose position - middle| between the eyes' outer corners, as a fraction
    turn_shift: float = 0.045         # how far the nose must move for a turn to count (the test set's
                                      # turns: 0.07-0.14; a swaying replay, camera noise: 0.02 at most)
    eyes_shut_below: float = 0.90     # eye patch correlation with the open eyes: shut under it
    eyes_open_above: float = 0.94     # and open again over it (the test set: shut 0.69-0.84, open 0.96-0.99)
    min_sharpness: float = 40.0       # variance of the Laplacian over the face
    brightness: tuple[float, float] = (50.0, 215.0)   # mean grey of the face
    challenges: int = 2
    challenge_timeout_s: float = 6.0
    find_face_timeout_s: float = 15.0


class FaceModels:
    """dlib's detector, landmark predictor and embedding network, loaded once per process."""

    _lock = threading.Lock()
    _loaded: "FaceModels | None" = None

    def __init__(self):
        import dlib
        import face_recognition_models as models
        self.detector = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self.embedder = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    @classmethod
    def shared(cls) -> "FaceModels":
        with cls._lock:
            if cls._loaded is None:
                cls._loaded = cls()
            return cls._loaded


@dataclass(frozen=True)
class FrameAnalysis:
    faces: int
    problem: str | None           # why the frame is no good for the check, or None
    yaw: float = 0.5              # nose position between the eyes' outer corners: 0.5 is frontal
    sharpness: float = 0.0
    face_ratio: float = 0.0
    shape: tuple | None = None    # the one face's box (left, top, right, bottom) and its landmark
                                  # points, for the embedding: plain values, so that an analysis
                                  # crosses from the face worker (kiosk/face_worker.py) by pipe
    eyes: np.ndarray | None = None   # both eyes' patches, normalised (eye_patches)

    @property
    def usable(self) -> bool:
        return self.problem is None


def _landmarks(shape) -> np.ndarray:
    return np.array([(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)], dtype=np.float64)


def eye_patches(grey: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Both eyes as small grey patches, each centred on its eye and scaled by its width (so a
    face nearer or swaying looks the same), zero mean and unit norm (so light does not count):
    the correlation of two is the sum of their product."""
    import cv2
    width, height = EYE_PATCH
    patches = []
    for eye in EYES:
        corners = points[list(eye)]
        (cx, cy), eye_width = corners.mean(axis=0), max(np.ptp(corners[:, 0]), 1.0)
        scale_x, scale_y = width / (1.6 * eye_width), height / (0.9 * eye_width)
        to_patch = np.float32([[scale_x, 0, width / 2 - cx * scale_x], [0, scale_y, height / 2 - cy * scale_y]])
        patch = cv2.warpAffine(grey, to_patch, EYE_PATCH, flags=cv2.INTER_AREA).astype(np.float64)
        patch -= patch.mean()
        patches.append(patch / (np.linalg.norm(patch) or 1.0))
    return np.array(patches)


def eyes_like(eyes: np.ndarray, open_eyes: np.ndarray) -> float:
    """How much both eyes look like the open ones: the mean of their correlations, up to 1."""
    return float(np.mean(np.sum(eyes * open_eyes, axis=(1, 2))))


def analyse(frame: np.ndarray, settings: FaceCheckSettings, models: FaceModels | None = None,
            *, need_frontal: bool = True) -> FrameAnalysis:
    """One frame through the quality gates."""
    import cv2
    models = models or FaceModels.shared()
    found = models.detector(frame, 0)
    if len(found) != 1:
        return FrameAnalysis(len(found), "no_face" if not found else "several_faces")
    box = found[0]
    shape = models.landmarks(frame, box)
    points = _landmarks(shape)
    corners = points[[corner for eye in EYES for corner in eye], 0]
    yaw = float((points[NOSE, 0] - corners.min()) / max(np.ptp(corners), 1.0))
    ratio = box.width() / frame.shape[1]
    top, bottom = max(box.top(), 0), min(box.bottom(), frame.shape[0])
    left, right = max(box.left(), 0), min(box.right(), frame.shape[1])
    whole = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    grey = whole[top:bottom, left:right]
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var()) if grey.size else 0.0
    brightness = float(grey.mean()) if grey.size else 0.0
    problem = None
    if ratio < settings.min_face_ratio:
        problem = "too_far"
    elif need_frontal and abs(yaw - 0.5) > settings.frontal_tolerance:
        problem = "not_frontal"
    elif sharpness < settings.min_sharpness:
        problem = "blurred"
    elif brightness < settings.brightness[0]:
        problem = "too_dark"
    elif brightness > settings.brightness[1]:
        problem = "too_bright"
    return FrameAnalysis(1, problem, yaw, sharpness, ratio, ((box.left(), box.top(), box.right(), box.bottom()), points),
                         eye_patches(whole, points))


def embedding(frame: np.ndarray, analysis: FrameAnalysis, models: FaceModels | None = None) -> np.ndarray:
    import dlib
    models = models or FaceModels.shared()
    box, points = analysis.shape
    shape = dlib.full_object_detection(dlib.rectangle(*box), dlib.points([dlib.point(int(x), int(y)) for x, y in points]))
    return np.array(models.embedder.compute_face_descriptor(frame, shape))


def embedding_of_photo(image: np.ndarray, models: FaceModels | None = None) -> np.ndarray:
    """The registered photo's embedding (a still: one face, upsampled once to find small ones).
    Raises ValueError when the photo does not hold exactly one face."""
    models = models or FaceModels.shared()
    found = models.detector(image, 1)
    if len(found) != 1:
        raise ValueError(f"the registered photo holds {len(found)} faces, not one")
    return np.array(models.embedder.compute_face_descriptor(image, models.landmarks(image, found[0])))


class LocalFaceEngine:
    """The models in this process: what the face worker (kiosk/face_worker.py) runs, and the
    tests and bench/face.py. The kiosk's UI process uses the worker, which offers the same three
    calls, and never maps dlib or its models."""

    def __init__(self, models: FaceModels | None = None):
        self.models = models or FaceModels.shared()

    def analyse(self, frame: np.ndarray, settings: FaceCheckSettings, need_frontal: bool = True) -> FrameAnalysis:
        return analyse(frame, settings, self.models, need_frontal=need_frontal)

    def embedding(self, frame: np.ndarray, analysis: FrameAnalysis) -> np.ndarray:
        return embedding(frame, analysis, self.models)

    def embedding_of_photo(self, image: np.ndarray) -> np.ndarray:
        return embedding_of_photo(image, self.models)


@dataclass(frozen=True)
class FaceCheckResult:
    decision: Decision
    score: float | None                 # the embedding distance of the matched frame
    challenges: tuple[str, ...]
    reason: str = ""                    # for staff: which gate or challenge stopped it
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.decision == Decision.MATCH

    def audit_details(self, settings: FaceCheckSettings) -> dict:
        """What the audit trail keeps: no image, no embedding."""
        return {"decision": str(self.decision), "score": None if self.score is None else round(self.score, 3),
                "threshold": settings.match_threshold, "model": MODEL, "challenge": list(self.challenges),
                "reason": self.reason}


FrameSeen = Callable[[np.ndarray, FrameAnalysis], None]


def _no_prompt(challenge: Challenge) -> None:
    pass


def _no_frame(frame: np.ndarray, analysis: FrameAnalysis) -> None:
    pass


def run_face_check(camera, registered: np.ndarray, settings: FaceCheckSettings = FaceCheckSettings(), *,
                   prompt: Callable[[Challenge], None] = _no_prompt, on_frame: FrameSeen = _no_frame,
                   cancel: threading.Event | None = None, rng: random.Random | None = None,
                   clock: Callable[[], float] = time.monotonic, engine=None) -> FaceCheckResult:
    """The whole check against `registered` (the photo's embedding). `prompt` speaks each
    challenge; `on_frame` sees every frame with its analysis (the preview). `engine` runs the
    models: the face worker in the kiosk (kiosk/face_worker.py), by default this process."""
    engine = engine or LocalFaceEngine()
    rng = rng or random.SystemRandom()
    order = tuple(rng.sample(list(Challenge), k=min(settings.challenges, len(Challenge))))
    started = clock()
    names = tuple(str(c) for c in order)

    def result(decision: Decision, score: float | None = None, reason: str = "") -> FaceCheckResult:
        return FaceCheckResult(decision, score, names, reason, round(clock() - started, 2))

    def frames(timeout_s: float, need_frontal: bool):
        deadline = clock() + timeout_s
        while clock() < deadline:
            if cancel is not None and cancel.is_set():
                return
            frame = camera.read()
            analysis = engine.analyse(frame, settings, need_frontal)
            on_frame(frame, analysis)
            yield frame, analysis

    # 1. A usable frontal face: where the nose sits when the citizen looks straight ahead (the
    # median of a few frames, so that a head still moving does not set it), and the open eyes.
    yaws, eyes, baseline, last_problem = [], [], None, "no_face"
    for _frame, analysis in frames(settings.find_face_timeout_s, need_frontal=True):
        if analysis.usable:
            yaws.append(analysis.yaw)
            eyes.append(analysis.eyes)
            if len(yaws) == BASELINE_FRAMES:
                baseline = float(np.median(yaws))
                open_eyes = np.mean(eyes, axis=0)
                open_eyes /= np.linalg.norm(open_eyes, axis=(1, 2), keepdims=True)
                break
        else:
            last_problem = analysis.problem
    if cancel is not None and cancel.is_set():
        return result(Decision.CANCELLED)
    if baseline is None:
        return result(Decision.NO_FACE, reason=last_problem)
    # 2. The challenge, in random order: each turn must move the nose across the face, a blink
    # shut the eyes and open them again.
    for challenge in order:
        prompt(challenge)
        sign = 1 if challenge == Challenge.TURN_LEFT else -1
        done = False
        wrong_way = False
        shut = False
        for _frame, analysis in frames(settings.challenge_timeout_s, need_frontal=False):
            if analysis.faces != 1:
                continue
            if challenge == Challenge.BLINK:
                if abs(analysis.yaw - baseline) >= settings.turn_shift:   # a recording's turn
                    wrong_way = True
                    break
                likeness = eyes_like(analysis.eyes, open_eyes)
                shut = shut or likeness < settings.eyes_shut_below
                if shut and likeness > settings.eyes_open_above:
                    done = True
                    break
                continue
            moved = (analysis.yaw - baseline) * sign
            if moved >= settings.turn_shift:
                done = True
                break
            if moved <= -settings.turn_shift:   # a recording of another challenge, played back
                wrong_way = True
                break
        if cancel is not None and cancel.is_set():
            return result(Decision.CANCELLED)
        if not done:
            wrong = "a turn instead" if challenge == Challenge.BLINK else "the other way"
            return result(Decision.NOT_LIVE, reason=f"{challenge} {wrong if wrong_way else 'not performed'}")
    # 3. Back to the front: the sharpest of a few frontal frames is matched.
    best = None
    for frame, analysis in frames(settings.find_face_timeout_s, need_frontal=True):
        if analysis.usable and (best is None or analysis.sharpness > best[1].sharpness):
            best = (frame, analysis)
            if analysis.sharpness >= settings.min_sharpness * 2:
                break
    if cancel is not None and cancel.is_set():
        return result(Decision.CANCELLED)
    if best is None:
        return result(Decision.NO_FACE, reason="no frontal face after the challenge")
    distance = float(np.linalg.norm(engine.embedding(*best) - registered))
    best = None
    if distance <= settings.match_threshold:
        return result(Decision.MATCH, distance)
    return result(Decision.NO_MATCH, distance, reason=f"distance {distance:.3f} over {settings.match_threshold}")


"""The face check (#13) with the simulated camera on the test images ./run installs: the right
person passes; another person, a photo held up, a video replayed without the challenge's
motion, a recording of another check, and nobody are refused; nothing of the face reaches the audit details."""
from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from drivers.sim.camera import Scene, SimulatedCamera, _load, face_test_images
from kiosk.face_check import (Challenge, Decision, FaceCheckSettings, embedding_of_photo, run_face_check)

IMAGES = face_test_images()
SETTINGS = FaceCheckSettings(find_face_timeout_s=3, challenge_timeout_s=3)
SAME = ["obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg"]


@pytest.fixture(scope="module")
def camera():
    return SimulatedCamera(IMAGES / "obama.jpg", IMAGES / "biden.jpg")


@pytest.fixture(scope="module")
def registered():
    """The backend's photo of the person: another photo than the camera's."""
    return embedding_of_photo(_load(IMAGES / "obama2.jpg"))


def check(camera, registered, scene, **kwargs):
    camera.scene = scene
    kwargs.setdefault("prompt", camera.hear)
    return run_face_check(camera, registered, SETTINGS, rng=random.Random(7), **kwargs)


def test_the_right_person_passes_and_the_audit_details_hold_no_face(camera, registered):
    frames = []
    result = check(camera, registered, Scene.RIGHT_PERSON, on_frame=lambda frame, analysis: frames.append(analysis))
    assert result.decision == Decision.MATCH and result.score < SETTINGS.match_threshold, result
    assert sorted(result.challenges) == sorted(Challenge) and len(frames) >= 6
    details = result.audit_details(SETTINGS)
    assert details["model"] == "dlib_face_recognition_resnet_model_v1" and details["decision"] == "match"
    assert all(isinstance(value, (str, float, int, list, type(None))) for value in details.values())


@pytest.mark.parametrize("scene, decision", [(Scene.OTHER_PERSON, Decision.NO_MATCH),
                                             (Scene.PHOTO_HELD_UP, Decision.NOT_LIVE),
                                             (Scene.NOBODY, Decision.NO_FACE)])
def test_another_person_a_photo_and_nobody_are_refused(camera, registered, scene, decision):
    result = check(camera, registered, scene)
    assert result.decision == decision, result
    assert not result.passed


class Replay:
    """Frames recorded from the camera, played back in a loop: it hears nothing."""

    def __init__(self, frames):
        self.frames, self.index = frames, 0

    def read(self):
        frame = self.frames[self.index % len(self.frames)]
        self.index += 1
        return frame


def test_a_replay_without_the_challenge_s_motion_or_of_another_check_is_not_live(camera, registered):
    # A video of the person looking into a camera, played on a phone: a usable face that moves,
    # but never turns when asked.
    camera.scene = Scene.VIDEO_REPLAYED
    assert not np.array_equal(camera.read(), camera.read())
    video = check(camera, registered, Scene.VIDEO_REPLAYED)
    assert video.decision == Decision.NOT_LIVE and video.reason.endswith("not performed"), video
    # A recording of a whole successful check (left turn, then right) played against a check
    # that asks for the right turn first: the left turn comes first, so it fails.
    camera.scene = Scene.RIGHT_PERSON
    recorded = []
    first = run_face_check(camera, registered, SETTINGS, prompt=camera.hear, rng=random.Random(7),
                           on_frame=lambda frame, analysis: recorded.append(frame))
    assert first.passed
    order = first.challenges
    other_rng = next(random.Random(seed) for seed in range(100)
                     if tuple(random.Random(seed).sample(list(Challenge), 2)) != tuple(Challenge(c) for c in order))
    replayed = run_face_check(Replay(recorded), registered, SETTINGS, rng=other_rng)
    assert replayed.decision == Decision.NOT_LIVE, replayed


def test_a_cancelled_check_stops_at_once(camera, registered):
    cancel = threading.Event()
    cancel.set()
    assert check(camera, registered, Scene.RIGHT_PERSON, cancel=cancel).decision == Decision.CANCELLED


def test_the_threshold_separates_the_test_set():
    embeddings = {name: embedding_of_photo(_load(IMAGES / name)) for name in SAME + ["biden.jpg"]}
    same = [np.linalg.norm(embeddings[a] - embeddings[b]) for i, a in enumerate(SAME) for b in SAME[i + 1:]]
    other = [np.linalg.norm(embeddings[a] - embeddings["biden.jpg"]) for a in SAME]
    threshold = FaceCheckSettings().match_threshold
    assert max(same) <= threshold < min(other), (max(same), min(other))


def test_a_registered_photo_without_exactly_one_face_is_refused():
    with pytest.raises(ValueError, match="0 faces"):
        embedding_of_photo(np.full((200, 200, 3), 128, np.uint8))

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
    assert len(set(result.challenges)) == 2 and set(result.challenges) <= set(Challenge) and len(frames) >= 6
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
    # A recording of a whole successful check played in a loop against a check whose first
    # challenge the recording's first action contradicts: a turn the other way, or a turn where
    # a blink is asked.
    camera.scene = Scene.RIGHT_PERSON
    recorded = []
    first = run_face_check(camera, registered, SETTINGS, prompt=camera.hear, rng=random.Random(7),
                           on_frame=lambda frame, analysis: recorded.append(frame))
    assert first.passed
    first_turn = next(Challenge(c) for c in first.challenges if c != Challenge.BLINK)
    opposite = Challenge.TURN_RIGHT if first_turn == Challenge.TURN_LEFT else Challenge.TURN_LEFT
    contradicted = {opposite} | ({Challenge.BLINK} if first.challenges[0] != Challenge.BLINK else set())
    other_rng = next(random.Random(seed) for seed in range(100)
                     if random.Random(seed).sample(list(Challenge), 2)[0] in contradicted)
    replayed = run_face_check(Replay(recorded), registered, SETTINGS, rng=other_rng)
    assert replayed.decision == Decision.NOT_LIVE, replayed


@pytest.fixture(scope="module")
def camera_landmarks():
    """The simulated camera's own 68-point model: what it shuts the eyes along."""
    from drivers.sim.camera import _landmark_models
    return _landmark_models()


@pytest.mark.parametrize("image", ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"])
def test_the_simulated_blink_is_seen_and_a_still_face_is_not_a_blink(image, camera_landmarks):
    """Each face of the test set shuts its eyes when asked to blink (the simulated camera slides
    the lids down along the landmarks), and the check sees it; its open eyes, with camera noise
    or swaying in a replay, never pass for shut ones."""
    from drivers.sim.camera import _eyes_shut, _framed, _landmarks_of
    from kiosk.face_check import analyse, eyes_like
    detector, predictor = camera_landmarks
    face = _framed(_load(IMAGES / image), detector)
    open_eyes = analyse(face, SETTINGS).eyes
    shut = analyse(_eyes_shut(face, _landmarks_of(face, detector, predictor)), SETTINGS)
    assert shut.faces == 1 and eyes_like(shut.eyes, open_eyes) < SETTINGS.eyes_shut_below
    noisy = np.clip(face + np.random.default_rng(1).normal(0, 6, face.shape), 0, 255).astype(np.uint8)
    for still in (noisy, SimulatedCamera._replayed(face, 0.7), SimulatedCamera._replayed(face, 1.9)):
        assert eyes_like(analyse(still, SETTINGS).eyes, open_eyes) > SETTINGS.eyes_open_above


def test_a_blink_asked_is_performed_by_the_person_and_not_by_a_photo_or_a_video(camera, registered):
    blink_first = next(seed for seed in range(100) if random.Random(seed).sample(list(Challenge), 2)[0] == Challenge.BLINK)
    for scene, decision in ((Scene.RIGHT_PERSON, Decision.MATCH), (Scene.PHOTO_HELD_UP, Decision.NOT_LIVE),
                            (Scene.VIDEO_REPLAYED, Decision.NOT_LIVE)):
        camera.scene = scene
        result = run_face_check(camera, registered, SETTINGS, prompt=camera.hear, rng=random.Random(blink_first))
        assert result.challenges[0] == "blink" and result.decision == decision, (scene, result)
        if decision == Decision.NOT_LIVE:
            assert result.reason == "blink not performed", result


def test_the_closed_camera_keeps_no_frame_and_gives_the_same_scene_when_read_again(camera, registered):
    camera.scene = Scene.PHOTO_HELD_UP
    before = camera.read()
    faces = camera._faces
    camera.close()
    assert not camera._frames and not camera._warps and not camera._shut
    assert (camera.read() == before).all() and camera._faces is faces   # remade from the faces, not looked for again
    assert check(camera, registered, Scene.RIGHT_PERSON).decision == Decision.MATCH   # the turns and blink made again too


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

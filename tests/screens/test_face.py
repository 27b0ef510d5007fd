"""The face check through the screens (#13): another person, a photo held up, nobody, and a video
of the person replayed are refused, each in plain words, and nothing is done; after the last
try the settings allow, the kiosk calls staff itself; the right person is vouched for."""
from pathlib import Path

import pytest

from tests.ui_script import run_ui_script


@pytest.fixture(scope="module")
def seen(pcscd):
    # SDL's dummy audio driver plays the voice into nothing: what it played is still known.
    return run_ui_script(Path(__file__).with_name("ui_face.py"), timeout=180, env={"SDL_AUDIODRIVER": "dummy"})


def test_another_person_a_photo_nobody_and_a_video_are_refused_with_their_reasons(seen):
    assert seen["other_person"] == "未能确认是您本人。"
    assert seen["photo"] == "未检测到按提示转头或眨眼的动作。"
    assert seen["nobody"] == "未检测到清晰的正脸。"
    assert seen["video"] == "未检测到按提示转头或眨眼的动作。"
    assert seen["service_ran"] is False


def test_after_the_last_try_allowed_the_kiosk_calls_staff_itself(seen):
    assert seen["retry_before_last"] is True and seen["retry_after_last"] is False   # [identity] attempts
    # As the citizen's tap on 请工作人员协助 would: on screen, aloud, and to the backend.
    assert seen["called_prompt"].startswith("已呼叫工作人员")
    assert seen["called_aloud"] == ["staff_assist", "zh"]
    assert seen["staff_calls"] == ["reset_pin: identity check"]
    # In the visit's audit trail: each refused check, then the call (and its delivery, once made).
    assert seen["audit"][:4] == [["face_check", "refused"]] * 4
    assert seen["audit"][4][0] == "staff_called"
    assert {step for step, _ in seen["audit"][5:]} <= {"staff_called_delivery"}


def test_the_right_person_is_vouched_for_by_the_face(seen):
    assert seen["vouched"] == "face"

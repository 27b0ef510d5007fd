"""The face check on the real screens (run by test_face.py): Zhang San asks to reset a
forgotten PIN; in front of the camera in turn are another person, a photo of him held up,
nobody, and a video of him replayed on a phone: each is refused with its reason and the service
never runs. The video is the last try the settings allow: the kiosk calls staff itself (on
screen, aloud, and to the backend; in the visit's audit trail). He cancels, comes back, and the right person passes and the
visit goes on. Prints one JSON line."""
import contextlib
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.face_check import FaceCheckSettings
from offline_queue import Outbox
from screens.app import KioskApp, configure_window
from simulation import demo

ATTEMPTS = 4   # [identity] attempts: the fourth refusal, the video's, is the last


def add_steps(script, kiosk, sim, seen):
    app, step = kiosk.app, script.step
    face, assist = app.root.get_screen("face"), app.root.get_screen("staff_assist")

    def documents_in():
        sim.id_reader.update(person=demo.ZHANG_SAN)
        sim.card.insert()

    def documents_out():
        sim.card.remove()
        sim.id_reader.update(person=None)

    def scene(name):
        sim.camera.scene = name

    def refused() -> bool:
        return kiosk.on("face") and not face.checking and face.problem != ""

    def staff_calls() -> list:
        return [row[0] for row in sim.backend.store._conn.execute("SELECT reason FROM staff_calls")]

    def audit() -> list:
        """The visit's own audit trail as the screens made it: its steps and outcomes."""
        with contextlib.closing(Outbox.connect(app.core.config.outbox.db)) as db:
            return [[e.step, e.outcome] for e in app.core.audit.entries(db, app.flow.visit.visit_id)]

    step("home", None, lambda: kiosk.on("home") and app.link_up)
    step("忘记密码: the guide", lambda: (scene("other_person"), kiosk.tap("reset_pin")), lambda: kiosk.on("guide"))
    step("ID card and card: the face check of another person", lambda: (documents_in(), kiosk.tap("start")),
         refused)
    step("a photo held up: try again", lambda: (seen.update(other_person=face.problem), scene("photo_held_up"),
                                                kiosk.tap("retry")), refused)
    step("nobody: try again", lambda: (seen.update(photo=face.problem), scene("nobody"), kiosk.tap("retry")),
         refused)
    step("a video of him replayed on a phone: the last try",
         lambda: (seen.update(nobody=face.problem, retry_before_last=face.can_retry), scene("video_replayed"),
                  kiosk.tap("retry")), refused)
    step("the last try refused: the kiosk calls staff by itself",
         lambda: seen.update(video=face.problem, retry_after_last=face.can_retry),
         lambda: kiosk.on("staff_assist") and staff_calls())
    step("staff called: cancelled, documents away",
         lambda: (seen.update(called_prompt=assist.prompt, called_aloud=app.voice.playing, staff_calls=staff_calls(),
                              service_ran=bool(app.flow.visit.results), audit=audit()),
                  kiosk.tap("back"), documents_out()),
         lambda: kiosk.on("home"))
    step("忘记密码 again", lambda: (scene("right_person"), kiosk.tap("reset_pin")), lambda: kiosk.on("guide"))
    step("the right person: matched, on to confirm", lambda: (documents_in(), kiosk.tap("start")),
         lambda: kiosk.on("confirm"))
    step("cancel", lambda: (seen.update(vouched=app.flow.visit.assurance["by"]), kiosk.tap("back")),
         lambda: kiosk.on("home"))
    step("card and ID card away", documents_out, lambda: True)


def quick_checks(core, sim):
    # Short waits, so that a refusal is seen in seconds (a kiosk waits longer for a person).
    core.assurance.settings = FaceCheckSettings(find_face_timeout_s=2, challenge_timeout_s=2)
    return KioskApp(core)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        configure_window(KioskConfig())
        seen = {}
        script = demo.play(Path(tmp), lambda script, kiosk, sim: add_steps(script, kiosk, sim, seen),
                           config_for=lambda sim: dataclasses.replace(
                               sim.config, identity=dataclasses.replace(sim.config.identity, attempts=ATTEMPTS)),
                           app_for=quick_checks)
        seen["error"] = script.error
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

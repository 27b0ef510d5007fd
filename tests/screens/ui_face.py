"""The face check on the real screens (run by test_face.py): Zhang San asks to reset a
forgotten PIN; in front of the camera in turn are another person, a photo of him held up,
nobody, and a video of him replayed on a phone: each is refused with its reason and the service never runs; then the right person
passes and the visit goes on. Prints one JSON line."""
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.face_check import FaceCheckSettings
from screens.app import KioskApp, configure_window
from simulation import demo


def add_steps(script, kiosk, sim, seen):
    app, step = kiosk.app, script.step
    face = app.root.get_screen("face")

    def lay_id_card():
        sim.id_reader.update(person=demo.ZHANG_SAN)

    def scene(name):
        sim.camera.scene = name

    step("home", None, lambda: kiosk.on("home") and app.link_up)
    step("忘记密码: the guide", lambda: (scene("other_person"), kiosk.tap("reset_pin")), lambda: kiosk.on("guide"))
    step("ID card and card: the face check of another person", lambda: (lay_id_card(), sim.card.insert(),
                                                                        kiosk.tap("start")),
         lambda: kiosk.on("face") and face.problem != "")
    step("a photo held up: try again", lambda: (seen.update(other_person=face.problem), scene("photo_held_up"),
                                                kiosk.tap("retry")),
         lambda: kiosk.on("face") and not face.checking and face.problem != "")
    step("nobody: the last try the settings allow, then only staff or cancel",
         lambda: (seen.update(photo=face.problem, retry_after_two=face.can_retry), scene("nobody"),
                  face.retry()),
         lambda: kiosk.on("face") and not face.checking and face.problem != "")
    step("a video of him replayed on a phone",
         lambda: (seen.update(nobody=face.problem), scene("video_replayed"), face.retry()),
         lambda: kiosk.on("face") and not face.checking and face.problem != "")
    step("the right person: matched, on to confirm",
         lambda: (seen.update(video=face.problem, service_ran=bool(app.flow.visit.results)), scene("right_person"),
                  face.retry()),
         lambda: kiosk.on("confirm"))
    step("cancel", lambda: (seen.update(vouched=app.flow.visit.assurance["by"]), kiosk.tap("back")),
         lambda: kiosk.on("home"))
    step("card and ID card away", lambda: (sim.card.remove(), sim.id_reader.update(person=None)), lambda: True)


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
                               sim.config, identity=dataclasses.replace(sim.config.identity, attempts=2)),
                           app_for=quick_checks)
        seen["error"] = script.error
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

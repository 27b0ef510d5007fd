"""The application's details through the real screens (run by test_application_screens.py): a
schoolgirl of eleven applies for her first card at a kiosk whose card printer is out of blanks
(a card sent to an office). Her insurance record names her school; she types her mobile number, then
picks the office on the second page, and is told that a guardian must apply with her; her father lays his own ID card on
the reader and the kiosk takes him as her guardian; the registry has no photo of her, so the
kiosk takes one; she retakes it while nobody is in front of the camera and is told so, then steps up
again and keeps the new one; the province wants the applicant's signature (#19): a tap is
refused, she clears the pad and writes her name; then the confirmation.

Then, blanks loaded again but the camera unplugged, Li Si, whom the registry has no photo of (staff
vouch for him), applies: no card can be made here without his photo, so the kiosk says why and
offers the card made later and sent; he has it mailed. Prints one JSON line."""
import datetime
import json
import sys
import tempfile
from pathlib import Path

from drivers.id_card_reader import IdDocument
from drivers.sim.camera import Scene
from kiosk.config import KioskConfig
from kiosk.photo_capture import PROBLEMS
from screens.app import configure_window
from simulation import demo
from simulation.stack import LI_SI, STAFF_CARD_PIN, ZHANG_SAN

PUPIL = IdDocument(name="张小花", sex="2", ethnicity=1, birth_date=datetime.date(2015, 3, 7),
                   address="山东省聊城市东昌府区柳园路1号", id_number="371302201503070022",
                   issuing_authority="聊城市公安局东昌府分局", valid_from=datetime.date(2024, 1, 1),
                   valid_to=datetime.date(2029, 1, 1))
SCHOOL = "聊城市东昌府区实验小学"
PHONE = "13905356688"


def add_steps(script, kiosk, sim, seen):
    app, step = kiosk.app, script.step
    screen = app.root.get_screen("application")
    sim.backend.store.seed_insurance(PUPIL.id_number, "student", SCHOOL)
    sim.card_printer.stock = 0   # no blanks: her card is made later and sent to an office

    def type_phone():
        for digit in PHONE:
            kiosk.tap(f"digit_{digit}")

    step("home", None, lambda: kiosk.on("home") and app.link_up)
    step("首次申领: the guide", lambda: kiosk.tap("first_card"), lambda: kiosk.on("guide"))
    step("her ID card: the application's details, her school from her record",
         lambda: (sim.id_reader.update(person=PUPIL), kiosk.tap("start")),
         lambda: kiosk.on("application") and screen.category == "student" and bool(screen.offices))
    step("number typed, next: how the card reaches her, and her guardian",
         lambda: (seen.update(place=kiosk.text_of("application", "place"), guardian_asked=screen.guardian_text),
                  type_phone(), kiosk.tap("next")),
         lambda: screen.page == 2)
    step("an office chosen, next: a guardian must apply with her", lambda: (kiosk.tap("office_0"), kiosk.tap("next")),
         lambda: screen.problem != "")
    step("her father lays his own ID card on the reader",
         lambda: (seen.update(without_guardian=screen.problem), sim.id_reader.update(person=ZHANG_SAN)),
         lambda: screen.guardian is not None)
    photo = app.root.get_screen("photo")
    step("next: no photo of her in the registry, so the kiosk takes one",
         lambda: (seen.update(guardian=screen.guardian_text), kiosk.tap("next")),
         lambda: kiosk.on("photo") and photo.state == "review")
    signature = app.root.get_screen("signature")
    pad = signature.ids.pad

    def write(points):
        """A finger on the pad along `points` (fractions of its width and height)."""
        from kivy.tests.common import UnitTestTouch
        x, y = pad.to_window(pad.x + points[0][0] * pad.width, pad.y + points[0][1] * pad.height)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        for fx, fy in points[1:]:
            touch.touch_move(*pad.to_window(pad.x + fx * pad.width, pad.y + fy * pad.height))
        touch.touch_up()

    step("retaken, nobody in front of the camera: taking again, told what is lacking",
         lambda: (setattr(sim.camera, "scene", Scene.NOBODY), kiosk.tap("retake")),
         lambda: photo.state == "taking" and photo.prompt == PROBLEMS["no_face"])
    step("she steps up again: a new photo to review",
         lambda: (seen.update(retake={"state": photo.state, "prompt": photo.prompt}),
                  setattr(sim.camera, "scene", Scene.RIGHT_PERSON)),
         lambda: photo.state == "review")
    step("the photo kept: the province wants her signature", lambda: kiosk.tap("keep"),
         lambda: kiosk.on("signature"))
    step("a tap is no signature", lambda: (write([(0.5, 0.5)]), kiosk.tap("accept")),
         lambda: signature.problem != "")
    step("cleared, then her name written", lambda: (seen.update(signature_problem=signature.problem),
                                                    kiosk.tap("redo"), write([(0.1 + i / 50, 0.3 + 0.2 * (i % 5) / 4)
                                                                              for i in range(35)])),
         lambda: pad.inked and signature.problem == "")
    step("signed: the confirmation", lambda: kiosk.tap("accept"), lambda: kiosk.on("confirm"))
    def holds():
        application = app.flow.visit.application.payload(app.flow.visit.identity, instant=False)
        seen.update(application={**application, "photo": len(application.get("photo", "")),
                                 "signature": len(application.get("signature", ""))})

    step("what the visit holds", holds, lambda: True)
    step("cancelled: home", lambda: (kiosk.tap("back"), sim.id_reader.update(person=None)),
         lambda: kiosk.on("home"))

    # Li Si: no photo in the registry, and no camera to take one.
    face, assist, camera = app.root.get_screen("face"), app.root.get_screen("staff_assist"), app.core.devices.camera
    step("blanks loaded again: 首次申领", lambda: (setattr(sim.card_printer, "stock", 50), kiosk.tap("first_card")),
         lambda: kiosk.on("guide"))
    step("his ID card: the face check cannot vouch for him", lambda: (sim.id_reader.update(person=LI_SI),
                                                                     kiosk.tap("start")),
         lambda: kiosk.on("face") and face.problem != "")
    step("staff called, their card in", lambda: (kiosk.tap("staff_help"), sim.insert_staff_card()),
         lambda: kiosk.on("staff_assist") and assist.asking_pin)
    step("staff PIN: vouched", lambda: kiosk.type_pin(STAFF_CARD_PIN, "staff_assist"),
         lambda: not assist.asking_pin and assist.prompt.startswith("核验完成"))
    step("staff card out: his details, a card made here", sim.card.remove,
         lambda: kiosk.on("application") and screen.category == "employee" and screen.instant)
    step("the camera unplugged; his number, next: told why, offered the card made later",
         lambda: (setattr(app.core.devices, "camera", None), type_phone(), kiosk.tap("next")),
         lambda: screen.page == 2 and not screen.instant)
    step("mailed to his ID card's address: his signature",
         lambda: (seen.update(made_later={"offer": screen.problem}), kiosk.tap("mail"), kiosk.tap("next")),
         lambda: kiosk.on("signature"))
    step("signed: the confirmation", lambda: (write([(0.1 + i / 50, 0.3 + 0.2 * (i % 5) / 4) for i in range(35)]),
                                              kiosk.tap("accept")),
         lambda: kiosk.on("confirm"))

    def made_later():
        application = app.flow.visit.application
        seen["made_later"].update(made_here=application.made_here, mailing=application.mailing.payload(),
                                  steps=list(app.header.steps))

    step("what the visit holds", made_later, lambda: True)
    step("cancelled, the camera back: home",
         lambda: (setattr(app.core.devices, "camera", camera), kiosk.tap("back"), sim.id_reader.update(person=None)),
         lambda: kiosk.on("home"))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        configure_window(KioskConfig())
        seen = {}
        script = demo.play(Path(tmp), lambda script, kiosk, sim: add_steps(script, kiosk, sim, seen),
                           config_for=lambda sim: sim.config.changed(signature={"required": True}))
        seen["error"] = script.error
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

"""[pin_entry] device = "pad" through the real screens (run by test_pin_on_pad.py): the card's
PINs of a PIN change are typed on the simulated encrypting PIN pad, in its plain-text mode, the
touchscreen's pad greyed out and its dots following the keys. Cancel on the pad is told and the
pad asks again. Prints one JSON line."""
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from kiosk.config import KioskConfig
from screens.app import configure_window
from screens.menu import AGAIN, NEW, OLD
from simulation import demo


def add_steps(script, kiosk, sim, seen):
    app, step = kiosk.app, script.step
    pin = app.root.get_screen("pin")

    step("home", None, lambda: kiosk.on("home"))
    step("修改密码: the guide", lambda: kiosk.tap("change_pin"), lambda: kiosk.on("guide"))
    step("the card asked", lambda: kiosk.tap("start"), lambda: kiosk.on("identify"))
    step("card read: confirm", sim.card.insert, lambda: kiosk.on("confirm"))
    step("the current PIN, on the pad", lambda: kiosk.tap("confirm"),
         lambda: kiosk.asked_for_pin(OLD) and pin.on_device and pin.ids.pad.disabled)
    step("three digits typed: three dots", lambda: sim.pin_pad.press(demo.CARD_PIN[:3]),
         lambda: pin.ids.pad.entered == 3)
    step("Cancel on the pad: told, then asked again",
         lambda: (seen.update(dots=kiosk.text_of("pin", "on_the_pad")), sim.pin_pad.press("\x1b")),
         lambda: pin.problem != "")
    step("the current PIN typed", lambda: (seen.update(cancelled=pin.problem),
                                           sim.pin_pad.press(demo.CARD_PIN + "\r")),
         lambda: kiosk.asked_for_pin(NEW))
    step("the new PIN typed", lambda: sim.pin_pad.press(demo.NEW_PIN + "\r"), lambda: kiosk.asked_for_pin(AGAIN))
    step("again: the PIN is changed on the card", lambda: sim.pin_pad.press(demo.NEW_PIN + "\r"),
         lambda: kiosk.on("result"))
    step("card out: home", lambda: (seen.update(result=kiosk.result_lines(), card_pin=sim.card.card.profile.pin),
                                    sim.card.remove()),
         lambda: kiosk.on("home") and not app.flow.active)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        configure_window(KioskConfig())
        seen = {}
        script = demo.play(Path(tmp), lambda script, kiosk, sim: add_steps(script, kiosk, sim, seen),
                           config_for=lambda sim: dataclasses.replace(
                               sim.config, pin_entry=dataclasses.replace(sim.config.pin_entry, device="pad")))
        seen["error"] = script.error
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

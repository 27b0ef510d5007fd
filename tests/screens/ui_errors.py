"""Typed errors on the real screens, by touch (run as a subprocess by test_errors.py: Kivy
runs one App per process). Uses the demo's simulated kiosk and touch helpers; prints one JSON
line with what each screen showed."""
import json
import sys
import tempfile
from pathlib import Path

from kiosk.config import KioskConfig
from simulation import demo
from screens.app import configure_window
from screens.menu import AGAIN, NEW, OLD


def add_steps(script, kiosk, sim, seen):
    app, step = kiosk.app, script.step

    def pad_order():
        return [w.name for w in reversed(app.root.get_screen("pin").ids.pad.ids.key_grid.children)]

    step("home laid out", None, lambda: kiosk.on("home"))
    step("change PIN: guide", lambda: kiosk.tap("change_pin"), lambda: kiosk.on("guide"))
    step("card asked", lambda: kiosk.tap("start"), lambda: kiosk.on("identify"))
    step("card read", sim.card.insert, lambda: kiosk.on("confirm"))
    step("current PIN asked", lambda: kiosk.tap("confirm"), lambda: kiosk.asked_for_pin(OLD))
    step("a wrong current PIN", lambda: (seen.update(order_1=pad_order()), kiosk.type_pin("111111")),
         lambda: kiosk.asked_for_pin(NEW))
    step("new PIN", lambda: (seen.update(order_2=pad_order()), kiosk.type_pin(demo.NEW_PIN)),
         lambda: kiosk.asked_for_pin(AGAIN))
    step("a different second entry", lambda: kiosk.type_pin("582937"),
         lambda: kiosk.asked_for_pin(NEW) and app.root.get_screen("pin").problem)
    step("typed again", lambda: (seen.update(mismatch=app.root.get_screen("pin").problem),
                                 kiosk.type_pin(demo.NEW_PIN)), lambda: kiosk.asked_for_pin(AGAIN))
    step("the card refuses the wrong PIN", lambda: kiosk.type_pin(demo.NEW_PIN), lambda: kiosk.on("result"))
    step("finished", lambda: (seen.update(wrong_pin=kiosk.result_lines()), kiosk.tap("finish")),
         lambda: kiosk.on("home"))
    step("again, for a weak new PIN", lambda: kiosk.tap("change_pin"), lambda: kiosk.on("guide"))
    step("card still in: confirm", lambda: kiosk.tap("start"), lambda: kiosk.on("confirm"))
    step("current PIN", lambda: kiosk.tap("confirm"), lambda: kiosk.asked_for_pin(OLD))
    step("right current PIN", lambda: kiosk.type_pin(demo.CARD_PIN), lambda: kiosk.asked_for_pin(NEW))
    step("weak PIN", lambda: kiosk.type_pin("123456"), lambda: kiosk.asked_for_pin(AGAIN))
    step("weak PIN refused", lambda: kiosk.type_pin("123456"), lambda: kiosk.on("result"))
    step("card out ends the card-only visit", lambda: (seen.update(weak_pin=kiosk.result_lines()),
                                                        sim.card.remove()),
         lambda: kiosk.on("home") and not app.flow.active)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        configure_window(KioskConfig())
        seen = {}
        script = demo.play(out, lambda script, kiosk, sim: add_steps(script, kiosk, sim, seen))
        seen["error"] = script.error
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

"""Unexpected exceptions and a hung service on the real screens, by touch (run as a subprocess
by test_unexpected.py). Each case patches one step to fail, plays a visit and records what the
screens showed, whether the flow was still busy, and that the visit ended. Prints one JSON line."""
import dataclasses
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.services import bundles, loss
from kiosk.services.runner import KioskServices
from screens.app import configure_window
from screens.menu import AGAIN, NEW
from simulation import demo

DEADLINE_S = 2.0
released = threading.Event()   # lets the hung service go once the screens have given up on it


def failing(*args, **kwargs):
    raise RuntimeError("injected")


def hanging(*args, **kwargs):
    released.wait(30)
    raise RuntimeError("released after the deadline")


def add_steps(script, kiosk, sim, seen, patch):
    app, step = kiosk.app, script.step

    def lay_id_card():
        sim.id_reader.update(person=demo.ZHANG_SAN)

    def take_id_card():
        sim.id_reader.update(person=None)

    def result(name):
        screen = app.root.get_screen("result")
        seen[name] = {"lines": kiosk.result_lines(), "receipt_note": screen.receipt_note, "busy": app.flow.busy}

    def temporary_loss(name, patches, finish_when=lambda: kiosk.on("result")):
        step(f"{name}: patched", lambda: patch(patches), lambda: kiosk.on("home"))
        step(f"{name}: guide", lambda: kiosk.tap("report_loss"), lambda: kiosk.on("guide"))
        step(f"{name}: ID card", lambda: (lay_id_card(), kiosk.tap("start")), lambda: kiosk.on("confirm"))
        step(f"{name}: confirmed", lambda: kiosk.tap("confirm"), finish_when)
        step(f"{name}: finished, home, visit over", lambda: (result(name), kiosk.tap("finish"), take_id_card()),
             lambda: kiosk.on("home") and not app.flow.active)

    step("home", None, lambda: kiosk.on("home") and app.link_up)
    # 1. An action's own step fails.
    temporary_loss("in_the_action", [(loss, "report_loss", failing)])
    # 2. The receipt cannot be made; the loss report itself stands.
    temporary_loss("in_the_receipt", [(KioskServices, "receipt", failing)])
    # 3. The glue between a bundle's items fails (outside any single action).
    step("bundle: patched", lambda: patch([(bundles, "run_bundle", failing)]), lambda: kiosk.on("home"))
    step("bundle: guide", lambda: kiosk.tap("lost_card"), lambda: kiosk.on("guide"))
    step("bundle: ID card", lambda: (lay_id_card(), kiosk.tap("start")), lambda: kiosk.on("confirm"))
    step("bundle: commitment", lambda: (kiosk.tap("accept"), kiosk.tap("confirm")), lambda: kiosk.asked_for_pin(NEW))
    step("bundle: new PIN", lambda: kiosk.type_pin(demo.NEW_PIN), lambda: kiosk.asked_for_pin(AGAIN))
    step("bundle: again", lambda: kiosk.type_pin(demo.NEW_PIN), lambda: kiosk.on("result"))
    step("bundle: finished", lambda: (result("in_the_bundle"), kiosk.tap("finish"), take_id_card()),
         lambda: kiosk.on("home") and not app.flow.active)
    # 4. A service that never returns: given up at its deadline, the citizen told, the visit ends.
    temporary_loss("hung", [(loss, "report_loss", hanging)])
    let_go = {}
    step("the hung service lets go", lambda: (released.set(), let_go.update(at=time.monotonic())),
         lambda: time.monotonic() - let_go["at"] > 1.0)
    step("its late result changes nothing", lambda: seen.update(after_release=app.root.current),
         lambda: kiosk.on("home") and not app.flow.busy and not app.flow.active)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        configure_window(KioskConfig())
        seen, undo = {}, []

        def patch(patches):
            for owner, name, _ in undo:
                setattr(owner, name, _)
            undo.clear()
            for owner, name, replacement in patches:
                undo.append((owner, name, getattr(owner, name)))
                setattr(owner, name, replacement)

        def config_for(sim):
            return dataclasses.replace(sim.config, ui=dataclasses.replace(sim.config.ui, service_deadline_s=DEADLINE_S))

        script = demo.play(out, lambda script, kiosk, sim: add_steps(script, kiosk, sim, seen, patch),
                           config_for=config_for)
        patch([])
        seen["error"] = script.error
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

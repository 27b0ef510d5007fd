"""pcscd killed with SIGKILL and started again, on the real screens, by touch (run as a subprocess
by test_fault_pcscd_killed.py: Kivy runs one App per process).

Once while the kiosk is idle on the home screen, once in a PIN change after the citizen typed
the new PIN the second time (as the change runs). The pcscd is the one the test command started
(its run folder in KIOSK_RUN_DIR); it is started again in the same folder, so the test command
stops whichever pcscd is current when it ends.

Prints one JSON line: what the screens said at each point, the card's PIN, and the events the
backend holds for the card. usage: ui_pcscd_killed.py
"""
from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from pathlib import Path

from drivers.sim.pcscd import Pcscd
from kiosk.config import KioskConfig
from simulation import demo
from screens.app import configure_window
from screens.menu import AGAIN, NEW, OLD
from tests.faults.conftest import backend_events


def add_steps(script, kiosk, sim, pcscd: Pcscd, seen: dict) -> None:
    app, step = kiosk.app, script.step
    home, holder = app.root.get_screen("home"), app.root.get_screen("card_holder")

    def at_home_saying(status: str) -> bool:
        return kiosk.on("home") and not app.flow.active and home.status == status

    def note(key: str, value) -> bool:
        seen[key] = value
        return True

    # Idle: the home screen says the readers are down, and reads cards again once pcscd is back.
    step("home", None, lambda: at_home_saying(""))
    step("pcscd killed while idle", lambda: pcscd.stop(signal.SIGKILL),
         lambda: kiosk.on("home") and home.status and note("idle_down", home.status))
    step("pcscd started again: the notice goes", pcscd.start, lambda: at_home_saying(""))
    step("card in: its holder shown", sim.card.insert,
         lambda: kiosk.on("card_holder") and note("idle_after", holder.holder_name))
    step("card out", sim.card.remove, lambda: at_home_saying(""))

    # Mid-visit: the PIN change runs into a dead pcscd.
    step("change PIN: guide", lambda: kiosk.tap("change_pin"), lambda: kiosk.on("guide"))
    step("card asked", lambda: kiosk.tap("start"), lambda: kiosk.on("identify"))
    step("card read", sim.card.insert, lambda: kiosk.on("confirm"))
    step("current PIN asked", lambda: kiosk.tap("confirm"), lambda: kiosk.asked_for_pin(OLD))
    step("new PIN asked", lambda: kiosk.type_pin(demo.CARD_PIN), lambda: kiosk.asked_for_pin(NEW))
    step("new PIN asked again", lambda: kiosk.type_pin(demo.NEW_PIN), lambda: kiosk.asked_for_pin(AGAIN))
    step("pcscd killed, then the PIN typed again",
         lambda: (pcscd.stop(signal.SIGKILL), kiosk.type_pin(demo.NEW_PIN)),
         lambda: kiosk.on("result") and note("visit_result", kiosk.result_lines()))
    step("pcscd started again", pcscd.start, lambda: kiosk.on("result") or kiosk.on("home"))

    def finish():
        if kiosk.on("result"):
            kiosk.tap("finish")

    step("finished, card out", lambda: (finish(), sim.card.remove()),
         lambda: at_home_saying("") and note("pin_after_visit", sim.card.card.profile.pin))
    step("card in again: read", sim.card.insert,
         lambda: kiosk.on("card_holder") and note("visit_after", holder.holder_name))
    step("card out at the end", sim.card.remove, lambda: at_home_saying(""))


def main() -> int:
    pcscd = Pcscd(Path(os.environ["KIOSK_RUN_DIR"]))
    with tempfile.TemporaryDirectory() as tmp:
        configure_window(KioskConfig())
        seen: dict = {}
        script = demo.play(Path(tmp), lambda script, kiosk, sim: add_steps(script, kiosk, sim, pcscd, seen),
                           idle_timeout_s=120,
                           finish=lambda sim: seen.update(backend_events=backend_events(sim.backend)))
        if pcscd.pid() is None:   # a step failed with pcscd down: the rest of the suite needs it
            pcscd.start()
        seen["error"] = script.error
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

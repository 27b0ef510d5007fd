"""1.10.2's bank side through the real screens (run by test_bank_screens.py): Zhang San
activates his card's bank account. The face check vouches for him, he accepts the account
terms, the progress screen asks for the bank PIN on the encrypting PIN pad (the simulated pad
on a pty) and the voice says it, he types it twice, and the bank gateway activates the account. Before it, a visit
where he presses Cancel on the pad (after it, the kiosk would say the account is active). Prints one JSON line."""
import json
import sys
import tempfile
from pathlib import Path

from kiosk.config import KioskConfig
from screens.app import configure_window
from simulation import demo

BANK_PIN = "582936"


def add_steps(script, kiosk, sim, seen):
    app, step = kiosk.app, script.step
    progress = app.root.get_screen("progress")

    def spoken() -> str:
        return app.voice.playing[0] if app.voice.playing else ""

    def begin(what: str):
        step(f"{what}: 银行账户激活, the guide", lambda: kiosk.tap("activate_bank"), lambda: kiosk.on("guide"))
        step(f"{what}: ID card and card, the face check, then the terms",
             lambda: (sim.id_reader.update(person=demo.ZHANG_SAN), sim.card.insert(), kiosk.tap("start")),
             lambda: kiosk.on("confirm"))
        step(f"{what}: terms accepted, the pad asks", lambda: (kiosk.tap("accept"), kiosk.tap("confirm")),
             lambda: kiosk.on("progress") and "密码键盘" in progress.step)

    def finish(what: str):
        step(f"{what}: finished, documents away",
             lambda: (kiosk.tap("finish"), sim.card.remove(), sim.id_reader.update(person=None)),
             lambda: kiosk.on("home") and not app.flow.active)

    step("home", None, lambda: kiosk.on("home") and app.link_up)
    begin("cancelled")
    step("Cancel on the pad", lambda: sim.pin_pad.press("58\x1b"), lambda: kiosk.on("result"))
    step("result read", lambda: seen.update(cancelled=kiosk.result_lines()), lambda: True)
    finish("cancelled")
    begin("activation")
    step("the PIN typed on the pad: asked again",
         lambda: (seen.update(first_prompt=progress.step, first_spoken=spoken()), sim.pin_pad.press(BANK_PIN + "\r")),
         lambda: "再次" in progress.step)
    step("typed again: the account is active",
         lambda: (seen.update(second_prompt=progress.step, second_spoken=spoken()), sim.pin_pad.press(BANK_PIN + "\r")),
         lambda: kiosk.on("result"))
    step("result read", lambda: seen.update(activated=kiosk.result_lines()), lambda: True)
    finish("activation")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        configure_window(KioskConfig())
        seen = {}

        def count_accounts(sim):
            seen["active_accounts"] = sim.backend.store._conn.execute("SELECT count(*) FROM bank_accounts").fetchone()[0]

        script = demo.play(Path(tmp), lambda script, kiosk, sim: add_steps(script, kiosk, sim, seen),
                           finish=count_accounts)
        seen["error"] = script.error
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

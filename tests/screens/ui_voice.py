"""The spoken prompts on the real app, by touch (run as a subprocess by test_voice.py: Kivy runs
one App per process; SDL's audio driver comes from the environment: `dummy` plays into nothing,
an unknown one is a kiosk without audio output). Prints one JSON line: for each step, the screen
and what the voice played, and the warnings the voice logged."""
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from kiosk.config import KioskConfig
from simulation import demo
from screens.app import configure_window
from screens.menu import AGAIN, NEW, OLD


def add_steps(script, kiosk, sim, seen, missing_folder):
    app, step = kiosk.app, script.step
    voice = app.voice
    seen["steps"] = []
    earlier = []   # every sound played so far: each must be stopped when the next one starts

    def note(what):
        sound = voice.sound
        seen["steps"].append({
            "step": what, "screen": app.root.current, "lang": app.lang,
            "playing": list(voice.playing) if voice.playing else None,
            "file": str(Path(sound.source).relative_to(Path(sound.source).parents[1])) if sound else None,
            "state": sound.state if sound else None, "length": sound.length if sound else None,
            "earlier_stopped": all(s.state == "stop" for s in earlier if s is not sound)})
        if sound is not None and sound not in earlier:
            earlier.append(sound)
        seen["steps"][-1]["sounds"] = len(earlier)

    def then(what, action, ready):
        step(what, action, lambda: ready() and (note(what) or True))

    then("home at start", None, lambda: kiosk.on("home"))
    then("English chosen", lambda: kiosk.tap("language"), lambda: app.lang == "en")
    then("change PIN: guide", lambda: kiosk.tap("change_pin"), lambda: kiosk.on("guide"))

    def without_identify_prompt():
        voice.folder = missing_folder
        kiosk.tap("start")

    then("identify, its prompt file missing", without_identify_prompt, lambda: kiosk.on("identify"))
    then("card read: confirm", sim.card.insert, lambda: kiosk.on("confirm"))

    then("current PIN asked", lambda: kiosk.tap("confirm"), lambda: kiosk.asked_for_pin(OLD))
    then("new PIN asked", lambda: kiosk.type_pin("123456"), lambda: kiosk.asked_for_pin(NEW))
    then("new PIN asked again", lambda: kiosk.type_pin("111111"), lambda: kiosk.asked_for_pin(AGAIN))
    then("the two differ: new PIN asked anew", lambda: kiosk.type_pin("222222"),
         lambda: kiosk.asked_for_pin(NEW) and app.root.get_screen("pin").problem)
    then("cancelled: home, Chinese again", lambda: kiosk.tap("back"),
         lambda: kiosk.on("home") and not app.flow.active and app.lang == "zh")
    then("card out", sim.card.remove, lambda: kiosk.on("home") and not app.flow.active)
    then("report loss: guide", lambda: kiosk.tap("report_loss"), lambda: kiosk.on("guide"))
    then("nobody touches: the countdown", None, lambda: app._countdown is not None)

    def touch_the_title():
        from kivy.core.window import Window
        from kivy.tests.common import UnitTestTouch
        touch = UnitTestTouch(Window.width / 2, Window.height * 0.93)   # above the countdown, on no button
        touch.touch_down()
        touch.touch_up()

    then("touched: the countdown and its prompt stop", touch_the_title,
         lambda: app._countdown is None and kiosk.on("guide"))
    then("cancelled: home", lambda: kiosk.tap("back"), lambda: kiosk.on("home") and not app.flow.active)


def main() -> int:
    warnings = []

    class Keep(logging.Handler):
        def emit(self, record):
            warnings.append(record.getMessage())

    logging.getLogger("screens.voice").addHandler(Keep(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        missing_folder = out / "prompts"
        shutil.copytree(Path("screens/prompts"), missing_folder)
        (missing_folder / "en" / "identify.wav").unlink()
        configure_window(KioskConfig())
        seen = {}
        # A short idle time: the countdown (a third of it, at most 10 s) comes after 4 s.
        script = demo.play(out, lambda script, kiosk, sim: add_steps(script, kiosk, sim, seen, missing_folder),
                           idle_timeout_s=6)
        seen["error"] = script.error
        seen["warnings"] = warnings
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

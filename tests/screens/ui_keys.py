"""The keys and requests Kivy answers by default, on the real app (run by test_keys.py): F1
(Kivy's settings panel), Escape (Kivy quits), a window close request; and what importing Kivy
does to logging. Prints one JSON line."""
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

logging.getLogger().setLevel(logging.WARNING)   # as kiosk.logging_setup leaves it for a command
ROOT_HANDLERS = list(logging.getLogger().handlers)

from kiosk.config import KioskConfig  # noqa: E402
from screens.app import configure_window  # noqa: E402
from simulation import demo  # noqa: E402

F1, ESCAPE = 282, 27


def add_steps(script, kiosk, sim, seen):
    from kivy.core.window import Window
    from kivy.uix.settings import Settings
    app, step = kiosk.app, script.step

    def settings_shown() -> bool:
        return any(isinstance(widget, Settings) for child in Window.children for widget in child.walk())

    def press(key):
        Window.dispatch("on_key_down", key, 0, "", [])
        Window.dispatch("on_keyboard", key, 0, "", [])
        Window.dispatch("on_key_up", key, 0)

    step("home", None, lambda: kiosk.on("home"))
    step("F1 pressed", lambda: press(F1), lambda: True)
    step("no settings panel", lambda: seen.update(settings_after_f1=settings_shown()), lambda: kiosk.on("home"))
    step("Escape pressed", lambda: press(ESCAPE), lambda: True)
    step("a close request", lambda: seen.update(close_refused=bool(Window.dispatch("on_request_close"))),
         lambda: True)
    step("still running, on the guide of a service",
         lambda: (seen.update(running_after_keys=app.root is not None), kiosk.tap("change_pin")),
         lambda: kiosk.on("guide"))
    step("logging as the kiosk set it",
         lambda: seen.update(root_level=logging.getLogger().level,
                             root_handlers_added=[type(h).__name__ for h in logging.getLogger().handlers
                                                  if h not in ROOT_HANDLERS and type(h).__name__ != "RecentLogs"],
                             kivy_files=sorted(str(p.relative_to(os.environ["KIVY_HOME"]))
                                               for p in Path(os.environ["KIVY_HOME"]).rglob("*")
                                               if p.is_file())),
         lambda: True)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        configure_window(KioskConfig())
        seen = {}
        script = demo.play(Path(tmp), lambda script, kiosk, sim: add_steps(script, kiosk, sim, seen))
        seen["error"] = script.error
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

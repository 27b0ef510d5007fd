"""The kiosk's Kivy screens. Kivy reads its options from the environment when it is first
imported, and every screen module imports it, so the package sets them first:

- Kivy's argv parsing and its own logging are off: in PYTHON log mode Kivy neither resets the
  root logger's level nor adds handlers to it, its records go through the kiosk's handlers
  (and their redaction) only, and no log file of its own is written under KIVY_HOME. These are
  set, not defaulted: an environment variable must not reopen them.
- Kivy's clock ticks and reads input maxfps times a second even with nothing to draw, which is
  most of an idle kiosk's CPU (60: 2.3 % of a core, 30: 1.2 % in bench/ui.py); 30 frames still
  show a 0.2 s fade and follow a finger.
"""
import os

os.environ["KIVY_NO_ARGS"] = "1"
os.environ["KIVY_LOG_MODE"] = "PYTHON"
os.environ["KIVY_NO_FILELOG"] = "1"
os.environ["KIVY_NO_CONSOLELOG"] = "1"
os.environ.setdefault("KCFG_GRAPHICS_MAXFPS", "30")

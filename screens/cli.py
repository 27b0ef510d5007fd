"""`kiosk run`: the touchscreen kiosk. Registered with the `kiosk` command through the
`sscard_kiosk.commands` entry points, since the command line (kiosk/) sits below the screens."""
from __future__ import annotations


def cmd_run(args) -> int:
    from screens.app import run_kiosk  # Kivy is imported only when the screen is wanted
    return run_kiosk(args.load_config())


def register(commands) -> None:
    commands.add_parser("run", help="start the touchscreen kiosk").set_defaults(func=cmd_run)

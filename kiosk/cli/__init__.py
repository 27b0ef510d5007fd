"""The `kiosk` command line: the same services as the screens, for staff, scripts and tests.

One module per command group, each with `register(commands)`; exit codes in `exits`. The
packages above or beside the core add their groups through the `sscard_kiosk.commands` entry
points (setup.cfg): the touchscreen (`kiosk run`, screens/cli.py), the reference backend
(`kiosk backend`) and the simulation (`kiosk sim`, `kiosk demo`). Each is loaded only when it is
asked for (or for help), so that `kiosk run` never imports a simulator or the reference server.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from importlib.metadata import entry_points

from kiosk.cli import card, config, diag, exits, fleet, issuance, pinpad, queue, records, service, update
from kiosk.config import ConfigError, load_config
from kiosk.file_safety import UnsafeFileError
from kiosk.logging_setup import configure_logging

COMMAND_GROUPS = (card, service, queue, issuance, pinpad, records, diag, config, fleet, update)
PLUGIN_GROUP = "sscard_kiosk.commands"


def _command_word(argv: list[str]) -> str | None:
    """The command asked for (`run`, `card`, `backend` ...), skipping the global options."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="社会保障卡自助服务终端 / social security card kiosk")
    parser.add_argument("--config", metavar="PATH", help="TOML configuration (default: built-in demo settings)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    wanted = _command_word(argv)
    plugins = entry_points(group=PLUGIN_GROUP)
    # A plugin's group is loaded when it is asked for, and every one for help or an unknown
    # command (so that argparse lists them all); none for the kiosk's own commands.
    known = wanted in commands.choices or wanted in plugins.names
    for plugin in plugins:
        if wanted == plugin.name or not known:
            plugin.load()(commands)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    # JSON lines when systemd's journal reads stderr; the running kiosk logs what it does, a
    # staff command only what went wrong. Either way through the personal-data redaction.
    level = logging.DEBUG if args.verbose else logging.INFO if args.command == "run" else logging.WARNING
    configure_logging(json_lines="JOURNAL_STREAM" in os.environ, level=level)
    args.load_config = lambda: load_config(args.config)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"kiosk: configuration refused: {exc.source}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return exits.USAGE
    except UnsafeFileError as exc:
        print(f"kiosk: refusing to start: {exc}", file=sys.stderr)
        return exits.USAGE

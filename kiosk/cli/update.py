"""`kiosk update check|apply|rollback|status`: signed software updates (kiosk/update.py), from
the province's repository ([update] repository_url) or a USB stick (`--usb PATH`, default
[update] usb_path when no repository is configured)."""
from __future__ import annotations

import sys

from kiosk.cli import exits
from kiosk.update import UpdateError, UpdateManager, UpdateSource


def _source(args, settings) -> UpdateSource:
    if args.usb or not settings.repository_url:
        return UpdateSource.usb(args.usb or settings.usb_path)
    return UpdateSource.https(settings.repository_url)


def _say_state(state: dict) -> None:
    words = {"updated": "updated to", "rolled_back": "health check failed: back to", "failed": "not installed; still",
             "rolled_back_by_staff": "switched back to", "up_to_date": "up to date:", "refused": "refused; still",
             "skipped": "not installed again (rolled back here); still", "none": "no update applied yet; running"}
    line = f"{words.get(state.get('state'), state.get('state'))} {state.get('version', '')}".rstrip()
    if state.get("offered"):
        line += f" (offered {state['offered']})"
    print(line)
    if state.get("detail"):
        print(f"  {state['detail']}")


def cmd_check(args) -> int:
    settings = args.load_config().update
    manager = UpdateManager(settings)
    try:
        release = manager.check(_source(args, settings))
    except UpdateError as exc:
        print(f"kiosk: update: {exc}", file=sys.stderr)
        return exits.FAILED
    if release is None:
        print(f"up to date: {manager.installed_version()}")
    elif release.rolled_back:
        print(f"release {release.version} offered, but it was rolled back on this kiosk: apply skips it until a newer "
              f"release; installed {manager.installed_version()}")
    else:
        print(f"release {release.version} available ({release.length} bytes); installed {manager.installed_version()}")
    return exits.OK


def cmd_apply(args) -> int:
    settings = args.load_config().update
    try:
        state = UpdateManager(settings).apply(_source(args, settings))
    except UpdateError as exc:
        print(f"kiosk: update: {exc}", file=sys.stderr)
        return exits.FAILED
    _say_state(state)
    return exits.OK if state["state"] in ("updated", "up_to_date", "skipped") else exits.FAILED


def cmd_rollback(args) -> int:
    try:
        state = UpdateManager(args.load_config().update).rollback()
    except UpdateError as exc:
        print(f"kiosk: update: {exc}", file=sys.stderr)
        return exits.FAILED
    _say_state(state)
    return exits.FAILED if state.get("detail") else exits.OK   # switched, but the kiosk did not restart


def cmd_status(args) -> int:
    manager = UpdateManager(args.load_config().update)
    print(f"installed: {manager.installed_version()} (slot {manager.slots.current() or '-'})")
    _say_state(manager.state())
    return exits.OK


def register(commands) -> None:
    update = commands.add_parser("update", help="signed software updates (TUF), from the network or a USB stick")
    actions = update.add_subparsers(dest="update_command", required=True, metavar="ACTION")
    for name, func, words in (("check", cmd_check, "is a newer signed release offered?"),
                              ("apply", cmd_apply, "install it in the other slot, switch, health-check, "
                                                   "switch back if it fails"),
                              ("rollback", cmd_rollback, "switch back to the release in the other slot"),
                              ("status", cmd_status, "the installed version and what the last update did")):
        action = actions.add_parser(name, help=words)
        if name in ("check", "apply"):
            action.add_argument("--usb", metavar="PATH", help="a stick's copy of the repository (metadata/, targets/)")
        action.set_defaults(func=func)

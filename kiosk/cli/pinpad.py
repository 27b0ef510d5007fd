"""`kiosk pinpad status|load-key`: the encrypting PIN pad, for maintenance staff (#15).

`load-key` is the pad's half of the key ceremony: the bank's key custodian types the PIN key
(32 hex digits, SM4) on stdin; the pad keeps it in its secure memory. The audit trail records
who loaded which key set and the key's check value (SM4 of zeros, first 4 bytes), never the
key; the bank's HSM keeps its own copy for the gateway.
"""
from __future__ import annotations

import argparse
import sys

from drivers.keyscheme import check_value
from drivers.pin_pad import PinPadError
from kiosk.cli import exits
from kiosk.core import KioskCore
from kiosk.devices import Devices
from kiosk.outcome import Outcome


def cmd_status(args) -> int:
    devices = Devices(args.load_config())
    if not devices.has_pin_pad:
        print("kiosk: no PIN pad configured ([pin_pad] port)", file=sys.stderr)
        return exits.USAGE
    try:
        with devices.pin_pad() as pad:
            status = pad.status()
    except PinPadError as exc:
        print(f"kiosk: PIN pad: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exits.NOT_RESPONDING
    print(f"PIN pad {status.model} serial {status.serial_number}: "
          f"{'keys loaded' if status.keys_loaded else 'NO KEYS: load the PIN key (kiosk pinpad load-key)'}")
    return exits.OK


def cmd_load_key(args) -> int:
    text = sys.stdin.readline().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 16:
        print("kiosk: the PIN key is 32 hex digits (16 bytes, SM4) on stdin", file=sys.stderr)
        return exits.USAGE
    kcv = check_value(key)
    core = KioskCore(args.load_config())
    try:
        if not core.devices.has_pin_pad:
            print("kiosk: no PIN pad configured ([pin_pad] port)", file=sys.stderr)
            return exits.USAGE
        try:
            with core.devices.pin_pad() as pad:
                pad.load_pin_key(args.key_set, key)
        except PinPadError as exc:
            core.link.record("staff", "staff", "pin_pad_key_load", Outcome.FAILED,
                             {"key_set": args.key_set, "check_value": kcv, "error": type(exc).__name__})
            print(f"kiosk: PIN pad: {type(exc).__name__}: {exc}", file=sys.stderr)
            return exits.FAILED
        core.link.record("staff", "staff", "pin_pad_key_load", Outcome.DONE,
                         {"key_set": args.key_set, "check_value": kcv, "custodian": args.custodian})
    finally:
        core.close(drain_s=5.0)
    print(f"PIN key set {args.key_set} loaded, check value {kcv}")
    return exits.OK


def _staff_number(text: str) -> str:
    if not (text.isascii() and text.replace("-", "").isalnum() and 1 <= len(text) <= 32):
        raise argparse.ArgumentTypeError("a staff number: letters, digits and '-', at most 32")
    return text


def register(subparsers) -> None:
    pinpad = subparsers.add_parser("pinpad", help="the encrypting PIN pad: status, key loading")
    actions = pinpad.add_subparsers(dest="pinpad_command", required=True, metavar="ACTION")
    actions.add_parser("status", help="the pad's model, serial number and whether its keys are loaded"
                       ).set_defaults(func=cmd_status)
    load = actions.add_parser("load-key", help="load the PIN key (32 hex digits on stdin) into a key set")
    load.add_argument("--key-set", type=int, default=0, choices=range(8))
    load.add_argument("--custodian", required=True, type=_staff_number,
                      help="the staff number of the bank's key custodian loading it (for the audit trail)")
    load.set_defaults(func=cmd_load_key)

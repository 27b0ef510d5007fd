"""`kiosk` as it will look once kiosk/cli.py wires in the card printer's commands: a root parser
with `diag` and `sim` and only our registrations, so the tests run them as real processes."""
import argparse
import sys

from drivers.sim.card_printer import register_sim
from kiosk.cardprinter_cli import register


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk")
    commands = parser.add_subparsers(dest="command", required=True)
    register(commands.add_parser("diag").add_subparsers(dest="diag_command", required=True))
    register_sim(commands.add_parser("sim").add_subparsers(dest="sim_command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

"""`kiosk demo` and `kiosk sim ...`: the simulated kiosk and each simulated device from a shell.
Registered with the `kiosk` command through the `sscard_kiosk.commands` entry points."""
from __future__ import annotations

import signal
import sys
import threading

from drivers.sim import card_printer as sim_card_printer
from drivers.sim import id_card_reader as sim_id_reader
from drivers.sim import receipt_printer as sim_receipt_printer
from drivers.sim import qr_scanner as sim_qr_scanner
from kiosk.cli import exits


def _run_until_signalled(start, stop) -> int:
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    start()
    done.wait()
    stop()
    return exits.OK


def cmd_sim_card(args) -> int:
    from drivers.sim.ssse_card import CardProfile, ProfileError, SimulatedSocialSecurityCard
    from drivers.sim.vpcd import VpcdLink
    try:
        profile = CardProfile.load(args.profile)
    except ProfileError as exc:
        print(f"kiosk: bad card profile: {exc}", file=sys.stderr)
        return exits.USAGE
    link = VpcdLink(SimulatedSocialSecurityCard(profile), args.host, args.port)
    print(f"simulated {profile.generation}.0 card on vpcd {args.host}:{args.port}", flush=True)
    return _run_until_signalled(link.insert, link.remove)


def cmd_sim_psam(args) -> int:
    from drivers.sim.psam import SimulatedPsam
    from drivers.sim.vpcd import VpcdLink
    link = VpcdLink(SimulatedPsam(), args.host, args.port)
    print(f"simulated PSAM on vpcd {args.host}:{args.port}", flush=True)
    return _run_until_signalled(link.insert, link.remove)


def cmd_demo(args) -> int:
    if args.panel:
        from simulation.panel import run_with_panel
        return run_with_panel(args.load_config(), args.out)
    from simulation.demo import run_demo
    return run_demo(args.load_config(), args.out)


def register_sim(commands) -> None:
    sim = commands.add_parser("sim", help="simulated devices for the demo and tests").add_subparsers(
        dest="sim_command", required=True, metavar="DEVICE")
    sim_card = sim.add_parser("card", help="a social security card in a vpcd slot")
    sim_card.add_argument("--profile", required=True, help="profile TOML (or a name in drivers/sim/profiles)")
    sim_card.add_argument("--host", default="127.0.0.1")
    sim_card.add_argument("--port", type=int, default=35963)
    sim_card.set_defaults(func=cmd_sim_card)
    sim_psam = sim.add_parser("psam", help="the PSAM in a vpcd slot")
    sim_psam.add_argument("--host", default="127.0.0.1")
    sim_psam.add_argument("--port", type=int, default=35964)
    sim_psam.set_defaults(func=cmd_sim_psam)
    for sim_module in (sim_receipt_printer, sim_id_reader, sim_card_printer, sim_qr_scanner):
        sim_module.register_sim(sim)


def register_demo(commands) -> None:
    demo = commands.add_parser("demo", help="play the scripted visit and write screenshots")
    demo.add_argument("--out", default="demo-out", help="folder for screenshots and receipts")
    demo.add_argument("--panel", action="store_true",
                      help="instead of the scripted visits, the kiosk beside a panel to play the citizen and faults")
    demo.set_defaults(func=cmd_demo)

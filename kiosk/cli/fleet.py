"""`kiosk fleet status`: the province's kiosks as the backend last heard from them (#18), a
line a kiosk: when it was last heard (SILENT when it missed its heartbeats), its version, its
outbox, its disk, and every device that is not fine, with its supplies.

It speaks to the backend with an operations certificate (common name OPS-...; `kiosk backend
certs` makes one for the reference backend, operations.pem and operations.key), never a
kiosk's: a kiosk may not see the fleet.
"""
from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

from kiosk.backend.client import BackendClient
from kiosk.backend.errors import BackendError
from kiosk.cli import exits
from kiosk.cli.queue import age_text

# Staff words for what a device reports, shortest first.
DEVICE_WORDS = {"card_reader": "card reader", "psam": "PSAM", "id_reader": "ID reader", "receipt_printer": "receipt printer",
                "card_printer": "card printer", "camera": "camera", "pin_pad": "PIN pad", "qr_scanner": "QR scanner"}


def device_problems(health: dict | None) -> list[str]:
    """Each device that is not `ok` (nor merely not fitted), with what it said and its supplies."""
    if not health:
        return ["no health reported"]
    problems = []
    for name, device in health["devices"].items():
        if device["state"] in ("ok", "absent"):
            continue
        supplies = []
        if device.get("paper") in ("near_end", "out"):
            supplies.append(f"paper {device['paper'].replace('_', ' ')}")
        if device.get("ribbon_capacity"):
            supplies.append(f"ribbon {device.get('ribbon_remaining') or 0}/{device['ribbon_capacity']}")
        if device.get("blank_cards") is False:
            supplies.append("no blank cards")
        if device.get("reject_box_full"):
            supplies.append("reject box full")
        words = ", ".join(supplies) or device.get("detail") or ""
        problems.append(f"{DEVICE_WORDS.get(name, name)} {device['state'].upper()}" + (f" ({words})" if words else ""))
    return problems


def fleet_status(url: str, ca: str, cert: str, key: str) -> dict:
    """The backend's fleet status, read with the operations certificate `cert` and its `key`."""
    client = BackendClient(url, ca_file=ca, cert_file=cert, key_file=key)
    try:
        return client.call("fleet_status", {})
    finally:
        client.close()


def table(status: dict, now: float) -> list[str]:
    lines = [f"{'terminal':<12} {'last heard':<16} {'version':<10} {'outbox':<18} {'disk free':>9}  devices"]
    for kiosk in status["terminals"]:
        heard = f"{age_text(now - kiosk['last_seen_at'])} ago"
        if kiosk["silent"]:
            heard = f"SILENT {age_text(now - kiosk['last_seen_at'])}"
        oldest = kiosk.get("oldest_pending_age_s")
        outbox = f"{kiosk['queue_depth']} ({age_text(oldest)})" if oldest else str(kiosk["queue_depth"])
        if kiosk["dead_letters"]:
            outbox += f" {kiosk['dead_letters']} dead"
        health = kiosk.get("health")
        disk = f"{health['disk']['free_bytes'] / 2**30:.1f} GB" if health else "-"
        problems = "; ".join(device_problems(health)) or "all fine"
        lines.append(f"{kiosk['terminal']:<12} {heard:<16} {kiosk['software_version']:<10} {outbox:<18} {disk:>9}  {problems}")
    return lines


def cmd_status(args) -> int:
    backend = args.load_config().backend
    certs = Path(args.pki) if args.pki else None
    ca = args.ca or (str(certs / "ca.pem") if certs else backend.ca_file)
    cert = args.cert or (str(certs / "operations.pem") if certs else None)
    key = args.key or (str(certs / "operations.key") if certs else None)
    if not cert or not key:
        print("kiosk: the fleet status needs the operations certificate: --cert and --key, or --pki DIR",
              file=sys.stderr)
        return exits.USAGE
    try:
        status = fleet_status(args.url or backend.url, ca, cert, key)
    except BackendError as exc:
        print(f"kiosk: fleet status not available: {exc}", file=sys.stderr)
        return exits.FAILED
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
    else:
        now = datetime.datetime.now(datetime.timezone.utc).timestamp()
        print("\n".join(table(status, now)))
        print(f"(silent: no heartbeat for {status['silent_after_s']:.0f} s)")
    return exits.OK


def register(commands) -> None:
    fleet = commands.add_parser("fleet", help="the fleet of kiosks, for the operations team")
    actions = fleet.add_subparsers(dest="fleet_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="each kiosk's last heartbeat, devices and supplies, silent ones flagged")
    status.add_argument("--url", help="the backend (default: [backend] url)")
    status.add_argument("--pki", metavar="DIR", help="a folder with ca.pem, operations.pem and operations.key")
    status.add_argument("--ca", help="the CA the backend's certificate is checked with (default: [backend] ca_file)")
    status.add_argument("--cert", help="the operations certificate (PEM)")
    status.add_argument("--key", help="its private key (PEM)")
    status.add_argument("--json", action="store_true", help="the backend's answer as JSON")
    status.set_defaults(func=cmd_status)

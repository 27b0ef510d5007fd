"""The settings that point a kiosk at the simulated stack."""
from __future__ import annotations

from pathlib import Path

from drivers.sim.ssse_card import SIMULATED_BIN
from kiosk.config import KioskConfig


def config_for_simulation(backend_url: str, pki, folder: Path, card_printer_port: int | None = None,
                          **changes: dict) -> KioskConfig:
    """A kiosk wired to a simulated stack, for the demo, the tests and the benches: the
    reference backend at `backend_url` with the test PKI `pki` (ca_cert, kiosk_cert, kiosk_key),
    its database and key ring in `folder`, quick link probes, and the card printer simulator on
    `card_printer_port` (None: no card printer). `changes` maps sections to settings to change,
    e.g. receipt_printer={"port": "/dev/pts/3"}."""
    sections = {
        "backend": {"url": backend_url, "ca_file": str(pki.ca_cert), "cert_file": str(pki.kiosk_cert),
                    "key_file": str(pki.kiosk_key), "connect_timeout_s": 1.0, "read_timeout_s": 3.0},
        "outbox": {"db": str(Path(folder) / "kiosk.db"), "key_file": str(Path(folder) / "kiosk.key"),
                   "probe_interval_s": 0.5, "poll_s": 0.2, "backoff_base_s": 0.2, "delivery_wait_s": 2.0,
                   "reconnect_spread_s": 0.0},   # one kiosk, not a fleet: its queue goes as soon as it can
        "card_printer": {"port": card_printer_port} if card_printer_port else {"enabled": False},
        "bank": {"bins": f"{SIMULATED_BIN}=模拟银行"},   # the simulated cards' bank
    }
    for name, values in changes.items():
        sections.setdefault(name, {}).update(values)
    return KioskConfig().changed(**sections)

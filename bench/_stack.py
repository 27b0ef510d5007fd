"""The whole simulated kiosk for the service benches: pcscd + vpcd (card, PSAM), the card
printer simulator with no mechanical delay, the reference backend over TLS with a fresh PKI,
and a KioskCore wired to them. Everything lives in a temporary folder and stops at the end."""
from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import time
from pathlib import Path

from drivers.pcsc import wait_for_card
from drivers.sim.card_printer import CardPrinterSimulator
from drivers.sim.pcscd import PSAM_READER, VPCD_PSAM_PORT, pcscd_running
from drivers.sim.psam import SimulatedPsam
from drivers.sim.vpcd import VpcdLink
from kiosk.app import KioskCore
from kiosk.backend.pki import make_test_pki
from kiosk.backend.server import open_backend
from kiosk.config import config_for_simulation


@dataclasses.dataclass
class Stack:
    core: KioskCore
    backend: object
    card_printer: CardPrinterSimulator
    folder: Path


@contextlib.contextmanager
def kiosk_stack(delivery_wait_s: float = 3.0):
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp, pcscd_running(Path(tmp) / "run"):
        folder = Path(tmp)
        pki = make_test_pki(folder / "pki")
        backend = open_backend("127.0.0.1", 0, folder / "backend.db", pki.directory).start()
        psam = VpcdLink(SimulatedPsam(), port=VPCD_PSAM_PORT).insert()
        wait_for_card(PSAM_READER, timeout=10)
        with CardPrinterSimulator(delay=0.0) as printer:
            config = config_for_simulation(backend.url, pki, folder, printer.port,
                                           outbox={"delivery_wait_s": delivery_wait_s})
            core = KioskCore(config).start()
            try:
                yield Stack(core, backend, printer, folder)
            finally:
                core.close()
                psam.remove()
                backend.stop()


class ReaderWaits:
    """Time spent waiting for a polled reader to notice a card come or go (pcscd polls vpcd's
    slots every 400 ms): a latency of the simulated encoder, not machine time of the kiosk.
    Counted by wrapping the waits the card printer and the issuance make."""

    def __init__(self):
        self.seconds = 0.0

    def install(self) -> "ReaderWaits":
        import drivers.card_printer
        import kiosk.services.issuance
        for module in (drivers.card_printer, kiosk.services.issuance):
            module.wait_for_card = self._timed(module.wait_for_card)
        return self

    def _timed(self, wait):
        def timed_wait(*args, **kwargs):
            start = time.perf_counter()
            try:
                return wait(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
        return timed_wait

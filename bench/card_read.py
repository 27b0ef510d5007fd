"""How fast a full read of a 3.0 card is on the vpcd stack, external authentication included.

Run from the repo root with the project's venv: `.venv/bin/python bench/card_read.py`
(or `./run bench card_read`). Starts pcscd if none is listening, and inserts a simulated
3.0 card and PSAM. Counts APDUs on the wire (card and PSAM, GET RESPONSE included) and times
200 complete reads through CardService, each opening its own connection as the kiosk does.
Target: at most 20 APDUs, median under 30 ms. The last line is JSON.
"""
import json
import statistics
import tempfile
import time
from pathlib import Path

from drivers.pcsc import wait_for_card
from drivers.sim.pcscd import CARD_READER, PSAM_READER, VPCD_CARD_PORT, VPCD_PSAM_PORT, pcscd_running
from drivers.sim.psam import SimulatedPsam
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from drivers.sim.vpcd import VpcdLink
from kiosk.card_service import CardService
from kiosk.config import KioskConfig

READS = 200


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pcscd-") as run_dir, pcscd_running(Path(run_dir)):
        card = VpcdLink(SimulatedSocialSecurityCard(CardProfile.load("card_v3.toml")), port=VPCD_CARD_PORT).insert()
        psam = VpcdLink(SimulatedPsam(), port=VPCD_PSAM_PORT).insert()
        try:
            wait_for_card(CARD_READER, timeout=10)
            wait_for_card(PSAM_READER, timeout=10)
            service = CardService(KioskConfig())
            service.read()  # warm-up: first connection, imports
            timings, apdus = [], set()
            for _ in range(READS):
                start = time.perf_counter()
                reading = service.read()
                timings.append((time.perf_counter() - start) * 1000)
                apdus.add(service.last_stats.card_apdus + service.last_stats.psam_apdus)
            assert reading.info.generation == 3
        finally:
            card.remove()
            psam.remove()
    timings.sort()
    median = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"card: 3.0 with external authentication through the PSAM; {READS} reads")
    print(f"APDUs per read (card + PSAM): {sorted(apdus)}  (target <= 20)")
    print(f"ms per read: median {median:.2f}, p95 {p95:.2f}, max {timings[-1]:.2f}  (target median < 30)")
    print(json.dumps({"apdus_per_read": max(apdus), "read_ms_median": round(median, 2),
                      "read_ms_p95": round(p95, 2)}))


if __name__ == "__main__":
    main()

"""The whole simulated kiosk for the fault tests: pcscd + vpcd (card, PSAM), the reference
backend over TLS, the outbox and its worker. No card printer: the faults here are about the
citizen's card, the readers, the backend and the disk."""
from __future__ import annotations

import pytest

from kiosk.core import KioskCore
from kiosk.visit import CitizenIdentity
from simulation.config import config_for_simulation
from simulation.stack import ZHANG_SAN, ZHANG_SAN_CARD_ID, seed_zhang_san

HOLDER = CitizenIdentity.from_id_document(ZHANG_SAN)
CARD_ID = ZHANG_SAN_CARD_ID
CARD_PIN = "147258"   # card_v3.toml's


def backend_events(backend, card_id: str = CARD_ID) -> list[str]:
    with backend.store._transaction() as conn:
        return [row[0] for row in conn.execute("SELECT event FROM card_events WHERE card_id = ? ORDER BY id",
                                               (card_id,))]


@pytest.fixture
def kiosk(reference_backend, pki_files, tmp_path, psam_slot):
    seed_zhang_san(reference_backend)
    config = config_for_simulation(reference_backend.url, pki_files, tmp_path, backend={"read_timeout_s": 2.0})
    core = KioskCore(config).start()
    yield core
    core.close()

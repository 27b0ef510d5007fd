"""The whole simulated kiosk for the fault tests: pcscd + vpcd (card, PSAM), the reference
backend over TLS, the outbox and its worker. No card printer: the faults here are about the
citizen's card, the readers, the backend and the disk."""
from __future__ import annotations

import datetime

import pytest

from kiosk.app import KioskCore
from kiosk.config import config_for_simulation
from kiosk.visit import CitizenIdentity

HOLDER = CitizenIdentity("371302198001011239", "张三", "1", 1, datetime.date(1980, 1, 1))
CARD_ID = "371300D15600000500BF7C7A48FB4966"   # the card of card_v3.toml
CARD_PIN = "147258"


def seed_holder(backend) -> None:
    backend.store.seed_card(holder={"id_number": HOLDER.id_number, "name": HOLDER.name, "sex": "1", "ethnicity": 1,
                                    "birth_date": "19800101", "birthplace": "371302"},
                            card_id=CARD_ID, card_number="M12345678", region_code="371300",
                            issue_date="20240315", expiry_date="20340315", status="normal")


def backend_events(backend, card_id: str = CARD_ID) -> list[str]:
    with backend.store._transaction() as conn:
        return [row[0] for row in conn.execute("SELECT event FROM card_events WHERE card_id = ? ORDER BY id",
                                               (card_id,))]


@pytest.fixture
def kiosk(reference_backend, pki_files, tmp_path, psam_slot):
    seed_holder(reference_backend)
    config = config_for_simulation(reference_backend.url, pki_files, tmp_path, backend={"read_timeout_s": 2.0})
    core = KioskCore(config).start()
    yield core
    core.close()

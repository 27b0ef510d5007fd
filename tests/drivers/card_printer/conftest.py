"""A simulated card printer whose contact station is the first vpcd slot (the one the citizen's
card reader uses in the simulation: Debian's vpcd has only two slots, and the PSAM holds the
other). Tests here never put a citizen's card in that slot at the same time."""
from __future__ import annotations

import pytest

from drivers.card_printer import CardPrinter
from drivers.pcsc import wait_for_card
from drivers.sim.card_printer import CardPrinterSimulator
from drivers.sim.pcscd import CARD_READER, VPCD_CARD_PORT


@pytest.fixture
def printer_sim(pcscd, tmp_path):
    simulator = CardPrinterSimulator(stock=5, out_dir=tmp_path / "faces", encoder_port=VPCD_CARD_PORT)
    with simulator:
        yield simulator
    wait_for_card(CARD_READER, timeout=5, present=False)  # leave the slot empty for the next test


@pytest.fixture
def printer(printer_sim):
    with CardPrinter(port=printer_sim.port, encoder_reader=CARD_READER, reply_timeout=1.0,
                     movement_timeout=3.0, encoder_timeout=5.0) as driver:
        yield driver

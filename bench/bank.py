"""The card's bank side (#15): the financial application's read (APDUs and milliseconds, on the
vpcd stack, T=0 card) and the machine time of a 1.10.2 bank account activation through the
reference backend's bank gateway, with the PIN typed twice on the simulated encrypting pad.

Run from the repo root: `.venv/bin/python bench/bank.py` (or `./run bench bank`); it starts
pcscd, the reference backend and the simulators itself. Machine time is the activation's wall
time less the time the pad spends collecting the citizen's keys (the simulated person types a
key every 20 ms; a real one takes seconds). Targets: the read in at most 8 APDUs; activation
under 500 ms. The last line is JSON.
"""
import json
import statistics
import time

from drivers.pcsc import wait_for_card
from drivers.pin_pad import PinPad
from drivers.sim.pcscd import CARD_READER
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from kiosk.visit import CitizenIdentity
from simulation.stack import ZHANG_SAN, running_kiosk

ROUNDS = 20
BANK_PIN = "582936"


class EntryTime:
    """Time inside the pad's PIN entries: the person's, not the machine's."""

    def __init__(self):
        self.seconds = 0.0
        read = PinPad.read_pin_block

        def timed(pad, *args, **kwargs):
            start = time.perf_counter()
            try:
                return read(pad, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
        PinPad.read_pin_block = timed


def main() -> None:
    entry = EntryTime()
    with running_kiosk() as (core, sim):
        profile = CardProfile.load("card_v3.toml")
        profile.t0_get_response = True   # the worst case: a GET RESPONSE after each answer
        sim.card.card = SimulatedSocialSecurityCard(profile)
        sim.card.insert()
        wait_for_card(CARD_READER, timeout=10)
        reads, apdus = [], 0
        for _ in range(ROUNDS):
            start = time.perf_counter()
            account = core.cards.bank_account()
            reads.append((time.perf_counter() - start) * 1000)
            apdus = core.cards.last_stats.card_apdus
        activations = []
        for _ in range(ROUNDS):
            sim.backend.store._conn.execute("DELETE FROM bank_accounts")   # the same account, activated anew
            visit = core.services.new_visit()
            visit.identify(CitizenIdentity.from_id_document(ZHANG_SAN))
            visit.assure("face", {"score": 0.3})   # as after a face check that matched
            visit.present_card(core.cards.read())
            sim.pin_pad.press(f"{BANK_PIN}\r{BANK_PIN}\r")
            typing, start = entry.seconds, time.perf_counter()
            [result] = core.services.activate_bank(visit, True)
            wall = time.perf_counter() - start
            assert result.outcome == "done", result
            activations.append((wall - (entry.seconds - typing)) * 1000)
            core.services.end_visit(visit, "bench")
    figures = {"financial_read_apdus": apdus, "financial_read_ms": round(statistics.median(reads), 2),
               "bank_activation_ms": round(statistics.median(activations), 1)}
    print(f"financial application read ({account.masked}): {apdus} APDUs, median {figures['financial_read_ms']} ms "
          f"over {ROUNDS} (target: at most 8 APDUs)")
    print(f"bank account activation, machine time (the pad's entries excluded): median "
          f"{figures['bank_activation_ms']} ms over {ROUNDS} (target: under 500 ms)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

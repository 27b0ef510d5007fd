"""A kiosk that applies for Wang Wu's first card, made on the spot, and kills itself with
SIGKILL at one point of the issuance: `after:STEP` once the journal has written STEP,
`before:STEP` just before it writes it (the step is done, its record is not), `after:feed`
once the blank is at the encoder but before the journal knows.

usage: issuance_crash_child.py CONFIG_TOML WHEN:STEP
"""
from __future__ import annotations

import datetime
import os
import signal
import sys

from drivers.card_printer import CardPrinter
from drivers.pin import Pin
from kiosk.config import load_config
from kiosk.core import KioskCore
from kiosk.services.issuance_journal import IssuanceJournal
from kiosk.visit import CitizenIdentity
from tests.backend_helpers import SAMPLE_APPLICATION

WANG_WU = CitizenIdentity(id_number="11010519900307002X", name="王五", sex="2", ethnicity=1,
                          birth_date=datetime.date(1990, 3, 7))
NEW_PIN = "582936"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_at(when: str, step: str) -> None:
    if step == "feed":
        feed = CardPrinter.feed_to_encoder

        def feed_then_die(self, *args, **kwargs):
            feed(self, *args, **kwargs)
            die()
        CardPrinter.feed_to_encoder = feed_then_die
        return
    if step == "opened":
        open_entry = IssuanceJournal.open

        def open_then_die(self, *args, **kwargs):
            open_entry(self, *args, **kwargs)
            die()
        IssuanceJournal.open = open_then_die
        return
    record = IssuanceJournal.record

    def record_and_die(self, entry, recorded, **changes):
        if when == "before" and recorded == step:
            die()
        done = record(self, entry, recorded, **changes)
        if when == "after" and recorded == step:
            die()
        return done
    IssuanceJournal.record = record_and_die


def main(config_path: str, point: str) -> None:
    core = KioskCore(load_config(config_path)).start()
    kill_at(*point.split(":"))
    visit = core.services.new_visit()
    visit.identify(WANG_WU)
    visit.application = SAMPLE_APPLICATION
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    with Pin.from_text(NEW_PIN) as new:
        results = core.services.apply(visit, True, new)
    print("not killed:", [(r.action, r.outcome, r.staff_detail) for r in results], flush=True)
    core.close()


if __name__ == "__main__":
    main(*sys.argv[1:])

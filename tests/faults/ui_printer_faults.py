"""Receipt-printer faults on the real screens, by touch (run as a subprocess by
test_fault_receipt_printer.py: Kivy runs one App per process).

Each visit is a new citizen's temporary loss report (ID card on the simulated reader, backend
up, so it is done at once), ending on the result screen with the receipt printed or shown.
Faults are injected while the kiosk is idle on the home screen or in the middle of a visit
(after the citizen confirmed, as the service runs), and mended at home before the next visit:
paper out, cover open, a printer that stops answering, the USB adapter pulled (the port is
gone), paper running out mid-job, and a printer that stops taking data mid-job. Also the ID
card reader sending garbage while the kiosk is idle.

Prints one JSON line: for every visit what the result screen said and showed, how many
receipts had come out of the printer by then, and at the end how many loss reports the backend
holds for each citizen. usage: ui_printer_faults.py
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

from kiosk.config import KioskConfig
from simulation import demo
from screens.app import configure_window


from bench.soak import person  # noqa: E402
from drivers.id_card_reader import IdDocument  # noqa: E402
from kiosk.masking import mask_id_number  # noqa: E402

FIRST = 500   # citizens from here on; the backend knows each one
IDLE_S = 1.5  # how long a fault sits on an idle kiosk before the next citizen comes


def card_id(n: int) -> str:
    return f"110100D156000005{n:016X}"


def resident(n: int) -> IdDocument:
    citizen = person(n)
    return IdDocument(name=citizen.name, sex="1", ethnicity=1, birth_date=citizen.birth_date,
                      address="北京市朝阳区建国路1号", id_number=citizen.id_number, issuing_authority="北京市公安局朝阳分局",
                      valid_from=datetime.date(2020, 1, 1), valid_to=None)


class Faults:
    """The printer's and the ID reader's faults, and how each is mended."""

    def __init__(self, sim, port_link: Path):
        self.printer = sim.receipt_printer
        self.id_reader = sim.id_reader
        self.link = port_link
        self._stall_after: int | None = None
        self._taken = 0
        received = self.printer.received

        def stalling(data: bytes) -> None:   # the simulator's byte handler, on its own thread
            received(data)
            if self._stall_after is not None:
                self._taken += len(data)
                if self._taken >= self._stall_after:
                    self._stall_after = None
                    self.printer.taking_data.clear()   # holds the line: the rest piles up unread

        self.printer.received = stalling

    def break_(self, fault: str) -> None:
        if fault == "paper_out":
            self.printer.set_state(paper_out=True)
        elif fault == "cover_open":
            self.printer.set_state(cover_open=True)
        elif fault == "not_answering":
            self.printer.set_state(unplugged=True)    # powered off: takes bytes, never answers
        elif fault == "usb_unplugged":
            os.unlink(self.link)                       # the adapter's device node goes away
        elif fault == "paper_out_mid_job":
            self.printer.set_state(paper_lines=6)      # runs out a few lines into the receipt
        elif fault == "stalled_mid_job":
            self._taken, self._stall_after = 0, 120    # stops reading 120 bytes into the job
        elif fault == "id_reader_garbage":
            self.id_reader.update(corrupt_replies=10 ** 6)
        else:
            raise ValueError(fault)

    def mend(self, fault: str) -> None:
        if fault in ("paper_out", "paper_out_mid_job"):
            self.printer.load_paper()
        elif fault == "cover_open":
            self.printer.set_state(cover_open=False)
        elif fault == "not_answering":
            self.printer.set_state(unplugged=False)
        elif fault == "usb_unplugged":
            os.symlink(self.printer.path, self.link)
        elif fault == "stalled_mid_job":
            self.printer.taking_data.set()
        elif fault == "id_reader_garbage":
            self.id_reader.update(corrupt_replies=0)


# (label, fault, when): "idle" = broken on the home screen before the visit, "visit" = broken
# as the service runs; every fault is mended on the home screen after its visit, and the next
# visit (a normal one) must print again.
PLAN = [("baseline", None, None)]
for _fault in ("paper_out", "cover_open", "not_answering", "usb_unplugged", "paper_out_mid_job", "stalled_mid_job"):
    PLAN += [(f"{_fault}/visit", _fault, "visit"), (f"after {_fault}/visit", None, None)]
for _fault in ("paper_out", "cover_open", "not_answering", "usb_unplugged"):
    PLAN += [(f"{_fault}/idle", _fault, "idle"), (f"after {_fault}/idle", None, None)]
PLAN += [("id_reader_garbage/idle", "id_reader_garbage", "idle"), ("after id_reader_garbage/idle", None, None)]


def add_steps(script, kiosk, sim, faults: Faults, seen: dict) -> None:
    app, step = kiosk.app, script.step
    result, identify = app.root.get_screen("result"), app.root.get_screen("identify")

    def home() -> bool:
        return kiosk.on("home") and not app.flow.active

    def printed() -> dict:
        receipts = list(sim.receipt_printer.receipts)
        return {"complete": sum(r.complete for r in receipts), "partial": sum(not r.complete for r in receipts),
                "last": receipts[-1].as_text(sim.receipt_printer.columns) if receipts else ""}

    def seed(n: int) -> None:
        citizen = person(n)
        sim.backend.store.seed_card(
            holder={"id_number": citizen.id_number, "name": citizen.name, "sex": "1", "ethnicity": 1,
                    "birth_date": citizen.birth_date.strftime("%Y%m%d"), "birthplace": "110105"},
            card_id=card_id(n), card_number=f"S{n:08d}", region_code="110100", issue_date="20240315",
            expiry_date="20340315", status="normal")

    def record(label: str, n: int) -> None:
        seen["visits"].append({
            "label": label, "n": n, "lines": kiosk.result_lines(), "note": result.receipt_note,
            "shown": result.receipt_text, "printed": printed(), "id_number": person(n).id_number,
            "masked_id": mask_id_number(person(n).id_number)})

    def wait_idle(seconds: float):
        import time
        until = time.monotonic() + seconds
        return lambda: home() and time.monotonic() >= until

    for index, (label, fault, when) in enumerate(PLAN):
        n = FIRST + index
        step(f"{label}: home", None, home)
        if when == "idle":
            step(f"{label}: broken while idle", lambda f=fault: faults.break_(f), wait_idle(IDLE_S))
        step(f"{label}: guide", lambda n=n: (seed(n), kiosk.tap("report_loss")), lambda: kiosk.on("guide"))
        if fault == "id_reader_garbage":
            step(f"{label}: told the ID card cannot be read",
                 lambda n=n: (sim.id_reader.update(person=resident(n)), kiosk.tap("start")),
                 lambda: kiosk.on("identify") and identify.problem)
            step(f"{label}: reader mended, ID card read",
                 lambda l=label: (seen["id_reader_problem"].update({l: identify.problem}), faults.mend("id_reader_garbage")),
                 lambda: kiosk.on("confirm"))
        else:
            step(f"{label}: ID card read", lambda n=n: (sim.id_reader.update(person=resident(n)), kiosk.tap("start")),
                 lambda: kiosk.on("confirm"))
        step(f"{label}: service run", lambda f=fault, w=when: (faults.break_(f) if w == "visit" else None,
                                                               kiosk.tap("confirm")),
             lambda: kiosk.on("result"))
        step(f"{label}: finished", lambda l=label, n=n: (record(l, n), kiosk.tap("finish"),
                                                         sim.id_reader.update(person=None)), home)
        if fault is not None and fault != "id_reader_garbage":
            step(f"{label}: mended at home", lambda f=fault: faults.mend(f), wait_idle(0.5))


def loss_reports(backend_db: Path, n: int) -> int:
    with sqlite3.connect(backend_db) as db:
        return db.execute("SELECT count(*) FROM card_events WHERE card_id = ? AND event = 'loss_reported_temporary'",
                          (card_id(n),)).fetchone()[0]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        configure_window(KioskConfig())
        seen: dict = {"visits": [], "id_reader_problem": {}}
        link = out / "receipt-printer"          # the configured port, as udev would name it

        def printer_behind_link(sim):
            os.symlink(sim.receipt_printer.path, link)
            settings = dataclasses.replace(sim.config.receipt_printer, port=str(link), read_timeout_s=1.0,
                                           write_timeout_s=1.0)
            return dataclasses.replace(sim.config, receipt_printer=settings)

        def count_at_the_backend(sim):
            seen["loss_reports"] = {v["label"]: loss_reports(sim.backend.store.path, v["n"]) for v in seen["visits"]}
            seen["final_printed"] = {"complete": sum(r.complete for r in sim.receipt_printer.receipts)}

        # No smart cards (a temporary loss report needs the ID card alone): the vpcd slots are for
        # the tests beside this one.
        script = demo.play(out, lambda script, kiosk, sim: add_steps(script, kiosk, sim, Faults(sim, link), seen),
                           idle_timeout_s=120, config_for=printer_behind_link, finish=count_at_the_backend,
                           smart_cards=False)
        seen["error"] = script.error
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

"""Staff sign-in with a staff card on the real screens, by touch (run as a subprocess by
test_staff.py), and a fee waived by staff on the staff-assisted path, with the visit's audit
entries of it. The demo's simulated card is enrolled as a staff card; prints one JSON line."""
import contextlib
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from drivers.sim.ssse_card import ClonedCard
from kiosk.config import KioskConfig
from kiosk.staff_pin import staff_card_digest
from offline_queue import Outbox
from simulation import demo
from screens.app import configure_window


def add_steps(script, kiosk, sim, seen):
    app, step = kiosk.app, script.step
    staff = app.root.get_screen("staff")

    def corner():
        for _ in range(3):
            demo.tap(demo.named(app.root.get_screen("home"), "staff_corner"))

    genuine = sim.card.card

    def insert_clone():
        sim.card.remove()
        sim.card.card = ClonedCard(bytes(16))   # the staff card's files on an emulator
        sim.card.insert()

    step("home", None, lambda: kiosk.on("home"))
    step("hidden corner: staff sign-in", corner, lambda: kiosk.on("staff"))
    step("staff card inserted: its PIN asked", (lambda: (seen.update(before=staff.prompt), sim.card.insert())),
         lambda: staff.staff_card is not None)
    step("a wrong card PIN is refused", lambda: (seen.update(card_prompt=staff.prompt), kiosk.type_pin("111111", "staff")),
         lambda: staff.problem != "")
    step("the card's PIN opens diagnostics", lambda: (seen.update(wrong=staff.problem),
                                                     kiosk.type_pin(demo.CARD_PIN, "staff")),
         lambda: kiosk.on("diagnostics"))
    diagnostics = app.root.get_screen("diagnostics")
    step("the tiles drawn for a healthy kiosk", None, lambda: diagnostics.overview is not None
         and not diagnostics.checking and diagnostics.levels())
    last = {}

    def trouble():
        seen.update(healthy_levels=diagnostics.levels(), healthy_texts=diagnostics.texts())
        last["overview"] = diagnostics.overview
        sim.receipt_printer.set_state(paper_out=True, paper_near_end=True)
        sim.cut_network()
        kiosk.tap("refresh", "diagnostics")

    step("the paper runs out, the backend goes away: re-checked", trouble,
         lambda: diagnostics.overview is not last["overview"] and not diagnostics.checking)

    def mend():
        seen.update(trouble_levels=diagnostics.levels(), trouble_texts=diagnostics.texts(),
                    trouble_faults=diagnostics.faults_words)
        sim.receipt_printer.load_paper()
        sim.restore_network()

    step("paper loaded, the backend back", mend, lambda: True)
    step("staff leaves", lambda: kiosk.tap("leave", "diagnostics"), lambda: kiosk.on("home"))
    step("staff sign-in again", corner, lambda: kiosk.on("staff"))
    step("a clone of the staff card is read as the staff card", insert_clone,
         lambda: staff.staff_card is not None and staff.staff_card != "")
    step("its PIN (any: it answers 9000) does not open diagnostics", lambda: kiosk.type_pin("000000", "staff"),
         lambda: staff.problem != "")
    step("card out", (lambda: (seen.update(clone=staff.problem, clone_screen=app.root.current), sim.card.remove(),
                               setattr(sim.card, "card", genuine))), lambda: True)

    # A fee waived by a member of staff with the staff card (#19): the lost-card bundle, whose
    # replacement this kiosk's province charges for, up to its payment code.
    payment, assist = app.root.get_screen("payment"), app.root.get_screen("staff_assist")
    step("back home", lambda: kiosk.tap("back", "staff"), lambda: kiosk.on("home"))
    step("我的卡丢了", lambda: kiosk.tap("lost_card"), lambda: kiosk.on("guide"))
    step("ID card, face check, the confirmation",
         lambda: (sim.id_reader.update(person=demo.ZHANG_SAN), kiosk.tap("start")), lambda: kiosk.on("confirm"))
    step("confirmed: the fee's payment code", lambda: (kiosk.tap("accept"), kiosk.tap("confirm")),
         lambda: kiosk.on("payment") and payment.state == "waiting")
    step("工作人员减免: staff called", lambda: kiosk.tap("staff_waiver"),
         lambda: kiosk.on("staff_assist") and not assist.asking_pin)
    step("the staff card in: its PIN asked", sim.card.insert, lambda: assist.asking_pin)
    step("its PIN: vouched, the card taken back", lambda: kiosk.type_pin(demo.CARD_PIN, "staff_assist"),
         lambda: not assist.asking_pin and assist.prompt.startswith("核验完成"))
    step("card out: the fee is waived and the PIN pad asks for the new card's PIN", sim.card.remove,
         lambda: kiosk.on("pin"))

    def waiver_recorded():
        order = payment.order
        events = sim.backend.store._conn.execute("SELECT * FROM fee_events WHERE order_id = ?",
                                                 (order.order_id,)).fetchall()
        seen.update(waived=order.status, waiver_events=[str(row) for row in events])
        # The kiosk's own audit trail of the visit: the call and who vouched, as the screens made them.
        with contextlib.closing(Outbox.connect(app.core.config.outbox.db)) as db:
            entries = app.core.audit.entries(db, app.flow.visit.visit_id)
        seen.update(staff_audit=[[e.step, e.outcome, e.details] for e in entries
                                 if e.step in ("staff_called", "staff_assisted")],
                    staff_card_digest=staff_card_digest(genuine.profile.identifier.hex())[:16])

    step("the backend holds who waived it", waiver_recorded, lambda: True)
    step("the citizen leaves", lambda: (app.flow.end("test over"), sim.id_reader.update(person=None)),
         lambda: kiosk.on("home"))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        configure_window(KioskConfig())
        seen = {}

        def staff_card_enrolled(sim):
            digest = staff_card_digest(sim.card.card.profile.identifier.hex())
            return dataclasses.replace(sim.config, ui=dataclasses.replace(sim.config.ui, staff_cards=digest),
                                       fees=dataclasses.replace(sim.config.fees, charges=demo.DEMO_FEES))

        script = demo.play(out, lambda script, kiosk, sim: add_steps(script, kiosk, sim, seen),
                           config_for=staff_card_enrolled)
        seen["error"] = script.error
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

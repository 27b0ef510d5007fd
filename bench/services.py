"""Machine time of each service item and bundle, online and offline, on the whole simulated
kiosk (pcscd + vpcd card and PSAM, card printer simulator with no mechanical delay, reference
backend over TLS, outbox and worker).

Online, a queued item counts until the backend has it (the citizen waits for that); offline
(the backend stopped), until its job is durably in the outbox. Instant issuance includes the
encoder's reader noticing the blank come and go, which pcscd polls for vpcd every 400 ms.

Run from the repo root: `.venv/bin/python bench/services.py` (or `./run bench services`).
Targets: each online item under 500 ms, each offline item under 50 ms, the "I lost my card"
bundle under 5 s. The last line is JSON.
"""
import datetime
import json
import time

from _stack import kiosk_stack  # bench/ is the script's folder, so first on sys.path
from drivers.pcsc import wait_for_card
from drivers.pin import Pin
from drivers.sim.pcscd import CARD_READER, VPCD_CARD_PORT
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from drivers.sim.vpcd import VpcdLink
from kiosk.visit import CitizenIdentity

ZHANG_SAN = CitizenIdentity("371302198001011239", "张三", "1", 1, datetime.date(1980, 1, 1))
CARD_ID = "371300D15600000500BF7C7A48FB4966"


def seed(backend, status="normal"):
    backend.store.seed_card(holder={"id_number": ZHANG_SAN.id_number, "name": "张三", "sex": "1", "ethnicity": 1,
                                    "birth_date": "19800101", "birthplace": "371302"},
                            card_id=CARD_ID, card_number="M12345678", region_code="371300",
                            issue_date="20240315", expiry_date="20340315", status=status)


def timed(results_by_item: dict, name: str, action):
    start = time.perf_counter()
    results = action()
    elapsed = (time.perf_counter() - start) * 1000
    outcomes = [r.outcome for r in results]
    assert all(r.ok for r in results), (name, results)
    results_by_item[name] = round(elapsed, 1)
    print(f"  {name:28s} {elapsed:8.1f} ms  {outcomes}")


def main() -> None:
    online, offline = {}, {}
    with kiosk_stack() as stack:
        services, cards = stack.core.services, stack.core.cards
        seed(stack.backend)
        card = VpcdLink(SimulatedSocialSecurityCard(CardProfile.load("card_v3.toml")), port=VPCD_CARD_PORT).insert()
        wait_for_card(CARD_READER, timeout=10)
        visit = services.new_visit()
        visit.identify(ZHANG_SAN)
        visit.present_card(cards.read())
        print("online:")
        timed(online, "1.10.6 report temporary loss", lambda: services.report_loss(visit, "temporary"))
        timed(online, "1.10.6 cancel loss report", lambda: services.cancel_loss(visit))
        with Pin.from_text("147258") as old, Pin.from_text("582936") as new:
            timed(online, "1.10.5 change PIN", lambda: services.change_pin(visit, old, new))
        with Pin.from_text("639147") as new:
            timed(online, "1.10.5 reset PIN", lambda: services.reset_pin(visit, new))
        seed(stack.backend, status="sealed")
        timed(online, "1.10.2 activate", lambda: services.activate(visit))
        timed(online, "review", lambda: services.review(visit, "1.10.2", 5))
        card.remove()  # the old card comes out: the simulated encoder shares its slot
        wait_for_card(CARD_READER, timeout=10, present=False)
        with Pin.from_text("582936") as new:
            timed(online, "1.10.7 replace (damaged)", lambda: services.replace(visit, "damaged", True, new))
        first = services.new_visit()
        first.identify(CitizenIdentity("11010519900307002X", "王五", "2", 1, datetime.date(1990, 3, 7)))
        with Pin.from_text("582936") as new:
            timed(online, "1.10.1 apply + issue", lambda: services.apply(first, True, new))

        seed(stack.backend)  # a fresh, normal card for the bundle
        lost = services.new_visit()
        lost.identify(ZHANG_SAN)
        with Pin.from_text("582936") as new:
            start = time.perf_counter()
            results = services.bundle("lost_card", lost, True, new)
            bundle_s = time.perf_counter() - start
        assert all(r.ok for r in results), results
        print(f"  lost_card bundle             {bundle_s * 1000:8.1f} ms  {[r.outcome for r in results]}")

        print("offline (backend stopped):")
        stack.backend.stop()
        card = VpcdLink(SimulatedSocialSecurityCard(CardProfile.load("card_v3.toml")), port=VPCD_CARD_PORT).insert()
        wait_for_card(CARD_READER, timeout=10)
        away = services.new_visit()
        away.identify(ZHANG_SAN)
        away.present_card(cards.read())
        timed(offline, "1.10.6 report temporary loss", lambda: services.report_loss(away, "temporary"))
        with Pin.from_text("147258") as old, Pin.from_text("582936") as new:
            timed(offline, "1.10.5 change PIN", lambda: services.change_pin(away, old, new))
        with Pin.from_text("639147") as new:
            timed(offline, "1.10.5 reset PIN", lambda: services.reset_pin(away, new))
        timed(offline, "review", lambda: services.review(away, "1.10.6", 4))
        card.remove()
    figures = {"online_item_ms_max": max(online.values()), "offline_item_ms_max": max(offline.values()),
               "lost_card_bundle_s": round(bundle_s, 3)}
    print("targets: online < 500 ms, offline < 50 ms, lost_card bundle < 5 s")
    print(json.dumps({**figures, "online_ms": online, "offline_ms": offline}, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Machine time of each service item and bundle, online and offline, on the whole simulated
kiosk (pcscd + vpcd card and PSAM, card printer simulator with no mechanical delay, reference
backend over TLS, outbox and worker).

Online, a queued item counts until the backend has it (the citizen waits for that); offline
(the backend stopped), until its job is durably in the outbox. Device delays are zero: the card
printer simulator moves cards instantly, and the time the encoder's reader takes to notice a
blank arrive (pcscd polls vpcd's slots every 400 ms; a real encoder signals it) is taken out of
the machine time and printed beside it as wall time.

Run from the repo root: `.venv/bin/python bench/services.py` (or `./run bench services`).
Targets: each online item under 500 ms, each offline item under 50 ms, the "I lost my card"
bundle under 5 s. The last line is JSON.
"""
import datetime
import json
import time

from drivers.pcsc import wait_for_card
from drivers.pin import Pin
from drivers.sim.camera import face_test_images
from drivers.sim.pcscd import CARD_READER, VPCD_CARD_PORT
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from drivers.sim.vpcd import VpcdLink
from kiosk.visit import CitizenIdentity
from simulation.stack import APPLICATION, REGISTERED_PHOTO, ReaderWaits, registry_photo, running_kiosk, seed_zhang_san

READER_WAITS = ReaderWaits().install()
ZHANG_SAN = CitizenIdentity("371302198001011239", "张三", "1", 1, datetime.date(1980, 1, 1))


def settled():
    """Waits until the encoder's reader has noticed the last card leave (pcscd polls it)."""
    wait_for_card(CARD_READER, timeout=5, present=False)


def timed(figures: tuple[dict, dict], name: str, action):
    """Machine time of one item: wall time less the encoder reader's detection latency."""
    waited_before = READER_WAITS.seconds
    start = time.perf_counter()
    results = action()
    wall = (time.perf_counter() - start) * 1000
    machine = wall - (READER_WAITS.seconds - waited_before) * 1000
    assert all(r.ok for r in results), (name, results)
    machine_ms, wall_ms = figures
    machine_ms[name], wall_ms[name] = round(machine, 1), round(wall, 1)
    print(f"  {name:28s} {machine:8.1f} ms machine, {wall:8.1f} ms wall  {[str(r.outcome) for r in results]}")


def main() -> None:
    online, offline, online_wall, offline_wall = {}, {}, {}, {}
    with running_kiosk(serial_devices=False) as (core, sim):
        services, cards = core.services, core.cards
        card = VpcdLink(SimulatedSocialSecurityCard(CardProfile.load("card_v3.toml")), port=VPCD_CARD_PORT).insert()
        wait_for_card(CARD_READER, timeout=10)
        visit = services.new_visit()
        visit.identify(ZHANG_SAN)
        visit.assure("face", {"score": 0.3})   # as after a face check that matched
        visit.present_card(cards.read())
        print("online:")
        timed((online, online_wall), "1.10.6 report temporary loss", lambda: services.report_loss(visit, "temporary"))
        timed((online, online_wall), "1.10.6 cancel loss report", lambda: services.cancel_loss(visit))
        with Pin.from_text("147258") as old, Pin.from_text("582936") as new:
            timed((online, online_wall), "1.10.5 change PIN", lambda: services.change_pin(visit, old, new))
        with Pin.from_text("639147") as new:
            timed((online, online_wall), "1.10.5 reset PIN", lambda: services.reset_pin(visit, new))
        seed_zhang_san(sim.backend, status="sealed")
        timed((online, online_wall), "1.10.2 activate", lambda: services.activate(visit))
        timed((online, online_wall), "review", lambda: services.review(visit, "1.10.2", 5))
        card.remove()  # the old card comes out: the simulated encoder shares its slot
        wait_for_card(CARD_READER, timeout=10, present=False)
        with Pin.from_text("582936") as new:
            timed((online, online_wall), "1.10.7 replace (damaged)", lambda: services.replace(visit, "damaged", True, new))
        settled()  # a next citizen finds the encoder's reader settled: seconds pass between visits
        first = services.new_visit()
        first.identify(CitizenIdentity("11010519900307002X", "王五", "2", 1, datetime.date(1990, 3, 7)))
        # No card is made without its holder's photo (#14): the registry's goes on the face.
        sim.backend.store.seed_photo(first.identity.id_number, registry_photo(face_test_images() / REGISTERED_PHOTO))
        first.assure("face", {"score": 0.3})   # as after a face check that matched
        first.application = APPLICATION
        with Pin.from_text("582936") as new:
            timed((online, online_wall), "1.10.1 apply + issue", lambda: services.apply(first, True, new))

        seed_zhang_san(sim.backend)  # a fresh, normal card for the bundle
        settled()
        lost = services.new_visit()
        lost.identify(ZHANG_SAN)
        lost.assure("face", {"score": 0.3})   # as after a face check that matched
        with Pin.from_text("582936") as new:
            timed((online, online_wall), "lost_card bundle", lambda: services.bundle("lost_card", lost, True, new))
        bundle_s = online.pop("lost_card bundle") / 1000

        print("offline (backend stopped):")
        sim.backend.stop()
        settled()
        card = VpcdLink(SimulatedSocialSecurityCard(CardProfile.load("card_v3.toml")), port=VPCD_CARD_PORT).insert()
        wait_for_card(CARD_READER, timeout=10)
        away = services.new_visit()
        away.identify(ZHANG_SAN)
        away.assure("face", {"score": 0.3})   # as after a face check that matched
        away.present_card(cards.read())
        timed((offline, offline_wall), "1.10.6 report temporary loss", lambda: services.report_loss(away, "temporary"))
        with Pin.from_text("147258") as old, Pin.from_text("582936") as new:
            timed((offline, offline_wall), "1.10.5 change PIN", lambda: services.change_pin(away, old, new))
        with Pin.from_text("639147") as new:
            timed((offline, offline_wall), "1.10.5 reset PIN", lambda: services.reset_pin(away, new))
        timed((offline, offline_wall), "review", lambda: services.review(away, "1.10.6", 4))
        card.remove()
    figures = {"online_item_ms_max": max(online.values()), "offline_item_ms_max": max(offline.values()),
               "lost_card_bundle_s": round(bundle_s, 3)}
    print("targets: online < 500 ms, offline < 50 ms, lost_card bundle < 5 s (machine time)")
    print(json.dumps({**figures, "online_ms": online, "offline_ms": offline, "online_wall_ms": online_wall}, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Card writes and instant issuance on the vpcd stack: APDUs and milliseconds for change PIN,
reset PIN and a full personalisation, and the machine time of a whole instant issuance
(apply -> mark -> personalise -> PIN -> print the face with the holder's registry photo -> 回盘
-> activate -> eject) with the card printer simulator's mechanical delays at zero.

Run from the repo root: `.venv/bin/python bench/issuance.py` (or `./run bench issuance`); it
starts pcscd, the reference backend and the simulators itself. Targets: change PIN under 20 ms
and 4 APDUs; personalisation under 300 ms; instant issuance under 5 s machine time, the photo
composed on the face included. The last line is JSON.
"""
import datetime
import json
import statistics
import time

from drivers.pcsc import wait_for_card
from drivers.pin import Pin
from drivers.sim.camera import face_test_images
from drivers.sim.pcscd import CARD_READER, VPCD_CARD_PORT
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from drivers.sim.vpcd import VpcdLink
from drivers.ssse_records import CardHolder, CardIdentifier, CardInfo
from kiosk.visit import CitizenIdentity
from simulation.stack import APPLICATION, REGISTERED_PHOTO, ReaderWaits, registry_photo, running_kiosk

ROUNDS = 30
READER_WAITS = ReaderWaits().install()


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def inserted(card):
    link = VpcdLink(card, port=VPCD_CARD_PORT).insert()
    wait_for_card(CARD_READER, timeout=10)
    return link


def removed(link):
    link.remove()
    wait_for_card(CARD_READER, timeout=10, present=False)


def main() -> None:
    with running_kiosk(serial_devices=False) as (core, sim):
        cards = core.cards
        link = inserted(SimulatedSocialSecurityCard(CardProfile.load("card_v3.toml")))
        reading = cards.read()
        pins = ["582936", "639147"]
        change, reset = [], []
        current = "147258"  # card_v3.toml's PIN
        for i in range(ROUNDS):
            with Pin.from_text(current) as old, Pin.from_text(pins[i % 2]) as new:
                change.append(timed(lambda: cards.change_pin(reading.holder, old, new)))
            current = pins[i % 2]
        change_apdus = cards.last_stats.card_apdus
        for i in range(ROUNDS):
            with Pin.from_text(pins[i % 2]) as new:
                reset.append(timed(lambda: cards.reset_pin(reading, new)))
        reset_apdus = (cards.last_stats.card_apdus, cards.last_stats.psam_apdus)
        removed(link)

        personalise = []
        for i in range(10):
            identifier = bytes.fromhex(f"371300D156000005{i:016X}")
            link = inserted(SimulatedSocialSecurityCard(CardProfile.blank(identifier)))
            info = CardInfo(CardIdentifier(identifier), "3", "3.00", "D15600000537130000000100",
                            datetime.date(2026, 11, 26), datetime.date(2036, 11, 26), f"B{i:08d}")
            holder = CardHolder("37130219900307123X", "李华", "1", 1, "371302", datetime.date(1990, 3, 7))
            personalise.append(timed(lambda: cards.personalise(CARD_READER, info, holder)))
            personalise_apdus = cards.last_stats.card_apdus
            removed(link)

        issuance, issuance_wall = [], []
        photo = registry_photo(face_test_images() / REGISTERED_PHOTO)
        for i in range(5):
            # Seconds pass between two citizens: the encoder's reader has noticed the last card leave.
            wait_for_card(CARD_READER, timeout=5, present=False)
            visit = core.services.new_visit()
            applicant = CitizenIdentity(f"110105199003070{i:02d}X", "王五", "2", 1, datetime.date(1990, 3, 7))
            sim.backend.store.seed_photo(applicant.id_number, photo)   # composed on the card's face
            visit.identify(applicant)
            visit.assure("face", {"score": 0.3})   # as after a face check that matched
            visit.application = APPLICATION
            with Pin.from_text("582936") as new:
                waited, start = READER_WAITS.seconds, time.perf_counter()
                results = core.services.apply(visit, True, new)
                wall = time.perf_counter() - start
                issuance_wall.append(wall)
                issuance.append(wall - (READER_WAITS.seconds - waited))
            assert [r.outcome for r in results] == ["done"] * 3, results
    figures = {
        "change_pin_ms": round(statistics.median(change), 2),
        "change_pin_apdus": change_apdus,
        "reset_pin_ms": round(statistics.median(reset), 2),
        "personalise_ms": round(statistics.median(personalise), 2),
        "issuance_machine_s": round(statistics.median(issuance), 3),
        "issuance_wall_s": round(statistics.median(issuance_wall), 3),
    }
    print(f"change PIN: median {figures['change_pin_ms']} ms over {ROUNDS}, {change_apdus} card APDUs "
          "(targets: < 20 ms, <= 4 APDUs)")
    print(f"reset PIN (PSAM MAC): median {figures['reset_pin_ms']} ms, APDUs card/PSAM {reset_apdus}")
    print(f"personalisation of a 3.0 blank (write, verify, commit, read back): median "
          f"{figures['personalise_ms']} ms, {personalise_apdus} card APDUs (target < 300 ms)")
    print(f"instant issuance, machine time with zero mechanical delay: median {figures['issuance_machine_s']} s "
          "over 5 (apply, mark, personalise, PIN, print, 回盘, activate, eject; target < 5 s); wall time "
          f"{figures['issuance_wall_s']} s, the rest being the encoder's reader noticing the blank "
          "(pcscd polls vpcd every 400 ms)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

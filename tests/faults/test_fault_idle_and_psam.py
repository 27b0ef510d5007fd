"""The PSAM taken out of its reader while the kiosk is idle and at each of its APDUs during a
visit (a card read, a PIN reset), and the backend going down while the kiosk is idle, then a
visit. Whatever the moment: the citizen is told in plain words, nothing half-done reaches the
card or the backend, and once the part is back the kiosk works again without a restart, each
item reaching the backend exactly once."""
from __future__ import annotations

import time

import pytest

from drivers.apdu import CardError
from drivers.pin import Pin
from drivers.sim.psam import SimulatedPsam
from kiosk.device_messages import citizen_message
from kiosk.services import catalog
from tests.faults.conftest import CARD_PIN, HOLDER, backend_events
from tests.kiosk.services.test_services import restart_backend

NEW_PIN = "582936"


def wait_until(condition, timeout_s: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.1)


def drained(kiosk) -> None:
    wait_until(lambda: kiosk.outbox.stats().pending == 0, what="the outbox drained")
    assert kiosk.outbox.stats().dead == 0


def read_fails_clearly(kiosk) -> str:
    with pytest.raises(CardError) as caught:   # every card failure the screens show
        kiosk.cards.read()
    assert citizen_message(caught.value), caught.value
    return citizen_message(caught.value)


def test_psam_removed_while_idle(kiosk, card_slot, psam_slot):
    card_slot.insert_profile("card_v3.toml")
    psam_slot.remove()
    time.sleep(1.0)                                    # the kiosk sits idle without its PSAM
    message = read_fails_clearly(kiosk)
    assert "窗口" in message, message                  # told where to go instead
    psam_slot.insert(SimulatedPsam())
    assert kiosk.cards.read().holder.name == HOLDER.name


def test_psam_pulled_at_each_of_its_apdus_of_a_card_read(kiosk, card_slot, psam_slot):
    card_slot.insert_profile("card_v3.toml")
    psam = SimulatedPsam()
    psam_slot.insert(psam)
    kiosk.cards.read()
    count = psam.apdus_seen
    assert count >= 1
    for at in range(count):
        psam = SimulatedPsam()
        psam.pull_out_after_apdus = at
        psam_slot.insert(psam)
        read_fails_clearly(kiosk)
        psam_slot.insert(SimulatedPsam())
        assert kiosk.cards.read().holder.name == HOLDER.name, f"pulled at PSAM APDU {at + 1}/{count}"


def test_psam_pulled_at_each_of_its_apdus_of_a_pin_reset(kiosk, reference_backend, card_slot, psam_slot):
    card = card_slot.insert_profile("card_v3.toml")

    def reset_once() -> None:
        visit = kiosk.services.new_visit()
        visit.identify(HOLDER)
        visit.assure("face", {"score": 0.3})   # as after a face check that matched
        visit.present_card(kiosk.cards.read())
        psam.apdus_seen = 0                            # count the reset's own APDUs only
        with Pin.from_text(NEW_PIN) as new:
            assert all(r.ok for r in kiosk.services.reset_pin(visit, new))

    psam = SimulatedPsam()
    psam_slot.insert(psam)
    reset_once()
    count = psam.apdus_seen
    assert count >= 1
    drained(kiosk)
    resets = backend_events(reference_backend).count("pin_reset")
    assert resets == 1
    for at in range(count):
        case = f"PSAM pulled at APDU {at + 1}/{count} of a PIN reset"
        card.profile.pin = CARD_PIN
        psam = SimulatedPsam()
        psam_slot.insert(psam)
        visit = kiosk.services.new_visit()
        visit.identify(HOLDER)
        visit.assure("face", {"score": 0.3})   # as after a face check that matched
        visit.present_card(kiosk.cards.read())
        psam.pull_out_after_apdus = psam.apdus_seen + at
        with Pin.from_text(NEW_PIN) as new:
            [result] = kiosk.services.reset_pin(visit, new)
        assert result.outcome == "failed" and result.citizen_message, (case, result)
        assert card.profile.pin == CARD_PIN, case        # the card never got the reset
        assert visit.unconfirmed_pin_event is None, case  # and the kiosk knows it did not
        # The PSAM back in: the citizen tries again in the same visit, and it goes through once.
        psam_slot.insert(SimulatedPsam())
        with Pin.from_text(NEW_PIN) as new:
            [again] = kiosk.services.reset_pin(visit, new)
        assert again.ok and card.profile.pin == NEW_PIN, (case, again)
        resets += 1
        kiosk.services.end_visit(visit, "done")
    drained(kiosk)
    assert backend_events(reference_backend).count("pin_reset") == resets


def test_backend_down_while_idle_then_a_visit(kiosk, reference_backend, pki_files, tmp_path, card_slot):
    card_slot.insert_profile("card_v3.toml")
    reference_backend.stop()
    time.sleep(1.0)   # idle: nothing is sent, so the kiosk learns of the outage from the visit
    visit = kiosk.services.new_visit()
    visit.identify(HOLDER)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    visit.present_card(kiosk.cards.read())
    started = time.monotonic()
    [loss] = kiosk.services.report_loss(visit, "temporary")
    [activation] = kiosk.services.activate(visit)
    assert time.monotonic() - started < 10             # the first failure marks the link down: no long wait
    assert not kiosk.worker.link_up
    assert loss.outcome == "pending" and loss.outbox_reference and \
        loss.citizen_message == catalog.action("report_loss_temporary").offline_message, loss
    assert activation.outcome == "refused" and activation.citizen_message == catalog.action("activate").offline_message
    receipt = kiosk.services.receipt(visit)
    assert [item.outcome for item in receipt.items] == ["pending"]
    kiosk.services.end_visit(visit, "done")
    backend = restart_backend(reference_backend, pki_files, tmp_path / "backend.db")
    try:
        drained(kiosk)
        wait_until(lambda: kiosk.worker.link_up, what="the kiosk noticed the backend back")
        assert backend_events(backend).count("loss_reported_temporary") == 1
        # And the next citizen is served online again.
        visit = kiosk.services.new_visit()
        visit.identify(HOLDER)
        visit.assure("face", {"score": 0.3})   # as after a face check that matched
        [rating] = kiosk.services.review(visit, "1.10.6", 5)
        assert rating.outcome == "done", rating
    finally:
        backend.stop()

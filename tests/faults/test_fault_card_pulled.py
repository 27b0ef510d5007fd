"""The card pulled out at each APDU of a PIN change and a PIN reset, before the card processed
the command and after it did (the answer lost on the way back). Whatever the moment: the
citizen gets a clear message, the kiosk goes on with the next card, the backend hears of a PIN
change exactly when the card's PIN did change, and never twice. When the card was pulled while
it held the PIN command, only the card can say whether it took it: back in, the citizen's new
PIN settles it (pin.confirm_pin)."""
from __future__ import annotations

import time

import pytest

from drivers.pin import Pin
from kiosk.device_messages import citizen_message
from tests.faults.conftest import CARD_PIN, HOLDER, backend_events

NEW_PIN = "582936"


def run(kiosk, action: str, visit):
    with Pin.from_text(NEW_PIN) as new:
        if action == "change_pin":
            with Pin.from_text(CARD_PIN) as old:
                return kiosk.services.change_pin(visit, old, new)
        return kiosk.services.reset_pin(visit, new)


def apdus_of(kiosk, card_slot, action: str) -> int:
    """How many APDUs the card sees for `action` when nothing goes wrong."""
    card = card_slot.insert_profile("card_v3.toml")
    visit = kiosk.services.new_visit()
    visit.identify(HOLDER)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    visit.present_card(kiosk.cards.read())
    before = card.apdus_seen
    assert all(r.ok for r in run(kiosk, action, visit))
    card_slot.remove()
    return card.apdus_seen - before


@pytest.mark.parametrize("action, event", [("change_pin", "pin_changed"), ("reset_pin", "pin_reset")])
def test_card_pulled_at_every_apdu(kiosk, reference_backend, card_slot, action, event):
    count = apdus_of(kiosk, card_slot, action)
    assert 1 <= count <= 9   # the card's proof of genuineness (#15) comes first: a pull there changes nothing
    expected_events = backend_events(reference_backend).count(event)
    unannounced = []   # cases where the card took the new PIN and the kiosk said it failed
    for at in range(count):
        for after_processing in (False, True):
            card = card_slot.insert_profile("card_v3.toml")
            visit = kiosk.services.new_visit()
            visit.identify(HOLDER)
            visit.assure("face", {"score": 0.3})   # as after a face check that matched
            visit.present_card(kiosk.cards.read())
            card.profile.pull_out_after_apdus = card.apdus_seen + at
            card.profile.pull_out_after_processing = after_processing
            [result] = run(kiosk, action, visit)
            case = f"{action} pulled at APDU {at + 1}/{count}, {'after' if after_processing else 'before'} processing"
            assert result.citizen_message, case
            assert not result.ok and result.outcome == "failed", (case, result)
            if visit.unconfirmed_pin_event is not None:
                # Pulled while the card held the PIN command: the citizen is told the new PIN
                # may be in effect, and the card, back in, settles it with the new PIN.
                assert "可能已经生效" in result.citizen_message, case
                card.profile.pull_out_after_apdus = None
                card_slot.insert(card)
                with Pin.from_text(NEW_PIN) as new:
                    [confirmed] = kiosk.services.confirm_pin(visit, new)
                assert confirmed.ok == (card.profile.pin == NEW_PIN), (case, confirmed)
            if card.profile.pin == NEW_PIN:
                # The card took the new PIN: the backend must hear of it, and the citizen must
                # not be told that nothing happened (they would retry with the old PIN).
                expected_events += 1
                if visit.results[-1].outcome != "done":
                    unannounced.append((case, visit.results[-1].citizen_message))
            kiosk.services.card_withdrawn(visit)
            card_slot.remove()
    assert not unannounced
    card_slot.insert_profile("card_v3.toml")
    assert kiosk.cards.read().holder.name == HOLDER.name  # the kiosk goes on with the next card
    deadline = time.monotonic() + 10
    while kiosk.outbox.stats().pending and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kiosk.outbox.stats().pending == 0 and kiosk.outbox.stats().dead == 0
    assert backend_events(reference_backend).count(event) == expected_events


def test_card_pulled_at_every_apdu_of_the_read_that_starts_a_card_service(kiosk, reference_backend, card_slot):
    """Activation, cancel-loss and the PIN items all begin by reading the card (with the
    PSAM's external authentication on a 3.0 card): pulled at any APDU of it, the citizen is
    told, the visit holds no card, nothing is recorded or queued, and the next card reads."""
    from drivers.apdu import CardError
    from kiosk.visit import CardRequired
    card = card_slot.insert_profile("card_v3.toml")
    before = card.apdus_seen
    kiosk.cards.read()
    count = card.apdus_seen - before
    card_slot.remove()
    assert count >= 10
    queued = kiosk.outbox.stats()
    for at in range(count):   # a read changes nothing on the card: before or after processing is alike
        card = card_slot.insert_profile("card_v3.toml")
        visit = kiosk.services.new_visit()
        visit.identify(HOLDER)
        visit.assure("face", {"score": 0.3})   # as after a face check that matched
        card.profile.pull_out_after_apdus = card.apdus_seen + at
        case = f"read pulled at APDU {at + 1}/{count}"
        with pytest.raises(CardError) as pulled:
            kiosk.cards.read()
        assert citizen_message(pulled.value), case
        [activation] = kiosk.services.activate(visit)   # it cannot run on a card it could not read
        assert not activation.ok and activation.citizen_message == CardRequired.citizen_message, case
        kiosk.services.card_withdrawn(visit)
        card_slot.remove()
    stats = kiosk.outbox.stats()
    assert (stats.pending, stats.dead, stats.done) == (queued.pending, queued.dead, queued.done)
    card_slot.insert_profile("card_v3.toml")
    assert kiosk.cards.read().holder.name == HOLDER.name

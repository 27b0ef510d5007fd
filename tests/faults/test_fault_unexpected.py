"""Nothing unexpected leaves a visit stuck (#16): an exception that no one foresaw, raised at any
step an action takes, ends as a failed result with a staff detail, and the visit still ends
and lets go of the citizen's data. The steps are found by watching each action run once;
then each of them, in turn, raises. The receipt's making and printing likewise."""
from __future__ import annotations

import datetime
import inspect
import itertools

import pytest

from drivers.pin import Pin
from kiosk import core as core_module
from kiosk.card_service import CardService
from kiosk.core import KioskCore
from kiosk.outcome import Outcome
from kiosk.receipt import RECEIPT_FAILED
from kiosk.services import activate, apply_card, bundles, loss, pin, replace_card, review
from kiosk.services.base import BackendLink
from kiosk.services.runner import KioskServices
from kiosk.visit import CitizenIdentity
from simulation.config import config_for_simulation
from simulation.stack import ZHANG_SAN, ZHANG_SAN_CARD_ID, seed_zhang_san
from tests.backend_helpers import SAMPLE_APPLICATION

HOLDER = CitizenIdentity.from_id_document(ZHANG_SAN)
CARD_PIN, NEW_PIN = "147258", "582936"
_new_people = itertools.count(1)

# Where an action's steps may go wrong: the service modules' functions, and the methods of the
# parts they use (the backend link, the card service).
WATCHED = [(module, name) for module in (activate, apply_card, bundles, loss, pin, replace_card, review)
           for name, member in vars(module).items()
           if inspect.isfunction(member) and member.__module__ == module.__name__]
WATCHED += [(cls, name) for cls in (BackendLink, CardService) for name, member in vars(cls).items()
            if inspect.isfunction(member) and not name.startswith("__")]


def a_new_person() -> CitizenIdentity:
    """Someone with no card and no application yet."""
    return CitizenIdentity(f"11010519900307{next(_new_people):03d}X", "王五", "2", 1, datetime.date(1990, 3, 7))


# action -> (card status at the start, needs the card in the reader, how to run it)
ACTIONS = {
    "report_loss_temporary": ("normal", False, lambda s, v: s.report_loss(v, "temporary")),
    "report_loss_formal": ("normal", False, lambda s, v: s.report_loss(v, "formal")),
    "cancel_loss": ("temporary_loss", True, lambda s, v: s.cancel_loss(v)),
    "activate": ("sealed", True, lambda s, v: s.activate(v)),
    "change_pin": ("normal", True, lambda s, v: s.change_pin(v, Pin.from_text(CARD_PIN), Pin.from_text(NEW_PIN))),
    "reset_pin": ("normal", True, lambda s, v: s.reset_pin(v, Pin.from_text(NEW_PIN))),
    "apply_batch": (None, False, lambda s, v: s.apply(v, True, Pin.from_text(NEW_PIN))),
    "replace": ("temporary_loss", False, lambda s, v: s.replace(v, "lost", True, Pin.from_text(NEW_PIN))),
    "review": ("normal", False, lambda s, v: s.review(v, "1.10.6", 5)),
}


@pytest.fixture
def kiosk(reference_backend, pki_files, tmp_path, psam_slot):
    core = KioskCore(config_for_simulation(reference_backend.url, pki_files, tmp_path)).start()
    yield core
    core.close()


def visit_for(kiosk, backend, card_slot, action):
    """A visit identified as the action needs, with the backend and the card as it expects."""
    status, needs_card, _run = ACTIONS[action]
    visit = kiosk.services.new_visit()
    if status is None:
        visit.identify(a_new_person())
        visit.assure("face", {"score": 0.3})   # as after a face check that matched
        visit.application = SAMPLE_APPLICATION
    else:
        seed_zhang_san(backend, status)
        visit.identify(HOLDER)
        visit.assure("face", {"score": 0.3})   # as after a face check that matched
    if needs_card:
        card_slot.insert_profile("card_v3.toml")   # a fresh card: its PIN as the profile has it
        visit.present_card(kiosk.cards.read())
    return visit


def steps_of(kiosk, backend, card_slot, monkeypatch, action) -> list[str]:
    """The watched steps the action takes when nothing goes wrong, in the order first taken."""
    taken = []
    visit = visit_for(kiosk, backend, card_slot, action)
    with monkeypatch.context() as patch:
        for owner, name in WATCHED:
            original = getattr(owner, name)

            def watched(*args, _original=original, _step=f"{owner.__name__}.{name}", **kwargs):
                if _step not in taken:
                    taken.append(_step)
                return _original(*args, **kwargs)
            patch.setattr(owner, name, watched)
        results = ACTIONS[action][2](kiosk.services, visit)
    assert results and all(r.ok for r in results), (action, results)
    kiosk.services.end_visit(visit, "done")
    return taken


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_an_exception_at_any_step_of_an_action_ends_in_a_failed_result(kiosk, reference_backend, card_slot,
                                                                       monkeypatch, action):
    steps = steps_of(kiosk, reference_backend, card_slot, monkeypatch, action)
    assert len(steps) >= 2, steps   # the action itself and what it uses
    for step in steps:
        owner_name, name = step.rsplit(".", 1)
        owner = next(owner for owner, n in WATCHED if owner.__name__ == owner_name and n == name)

        def fail(*args, _step=step, **kwargs):
            raise RuntimeError(f"injected at {_step}")
        visit = visit_for(kiosk, reference_backend, card_slot, action)
        with monkeypatch.context() as patch:
            patch.setattr(owner, name, fail)
            results = ACTIONS[action][2](kiosk.services, visit)
        assert results, step
        failed = [r for r in results if r.outcome == Outcome.FAILED and "injected" in r.staff_detail]
        assert failed, (step, results)
        assert failed[-1].citizen_message and "RuntimeError" in failed[-1].staff_detail
        kiosk.services.end_visit(visit, "done")
        assert not visit.holds_personal_data(), step


def test_a_receipt_that_cannot_be_made_or_printed_never_stops_the_visit(kiosk, reference_backend, monkeypatch):
    for owner, name in ((KioskServices, "receipt"), (core_module, "hand_out")):
        seed_zhang_san(reference_backend)
        visit = kiosk.services.new_visit()
        visit.identify(HOLDER)
        visit.assure("face", {"score": 0.3})   # as after a face check that matched
        kiosk.services.report_loss(visit, "temporary")
        with monkeypatch.context() as patch:
            patch.setattr(owner, name, lambda *args, **kwargs: 1 / 0)
            handout = kiosk.hand_out_receipt(visit)
        assert handout.note == RECEIPT_FAILED and not handout.printed
        kiosk.services.end_visit(visit, "done")
        assert not visit.holds_personal_data()
    assert kiosk.client.call("card_status", {"card_id": ZHANG_SAN_CARD_ID})["status"] == "temporary_loss"

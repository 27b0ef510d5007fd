"""The step indicator shows the steps each service really has (screens/steps.py)."""
from screens.menu import OFFERS_BY_KEY
from screens.steps import (CHECK, DETAILS, DONE, ENTER_PIN, FEE, IDENTITY, MAKE_CARD, SERVICE, SET_PIN,
                           current_step, service_steps)


def test_the_lost_card_bundle_pays_then_sets_a_pin_then_makes_the_card():
    steps = service_steps(OFFERS_BY_KEY["lost_card"], charged=True, instant=True)
    assert steps == (IDENTITY, CHECK, FEE, SET_PIN, MAKE_CARD, DONE)
    assert service_steps(OFFERS_BY_KEY["lost_card"], charged=False, instant=True) == (
        IDENTITY, CHECK, SET_PIN, MAKE_CARD, DONE)


def test_an_application_gives_its_details_and_makes_a_card_only_where_the_kiosk_can():
    assert service_steps(OFFERS_BY_KEY["first_card"], charged=False, instant=True) == (
        IDENTITY, DETAILS, CHECK, SET_PIN, MAKE_CARD, DONE)
    assert service_steps(OFFERS_BY_KEY["first_card"], charged=False, instant=False)[-2] == SERVICE


def test_services_without_a_new_pin_enter_one_or_none():
    assert service_steps(OFFERS_BY_KEY["report_loss"], charged=False, instant=True) == (IDENTITY, CHECK, SERVICE, DONE)
    assert ENTER_PIN not in service_steps(OFFERS_BY_KEY["change_pin"], charged=False, instant=True)
    assert SET_PIN in service_steps(OFFERS_BY_KEY["change_pin"], charged=False, instant=True)


def test_each_screen_lights_its_step():
    steps = service_steps(OFFERS_BY_KEY["first_card"], charged=True, instant=True)
    assert [current_step(steps, screen) for screen in
            ("guide", "identify", "face", "staff_assist", "application", "photo", "signature", "confirm",
             "payment", "pin", "progress", "result", "rating")] == [-1, 0, 0, 0, 1, 1, 1, 2, 3, 4, 5, 6, 6]
    assert current_step(steps, "home") == -1
    plain = service_steps(OFFERS_BY_KEY["report_loss"], charged=False, instant=True)
    assert current_step(plain, "progress") == plain.index(SERVICE)

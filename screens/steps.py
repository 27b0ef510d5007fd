"""Where the citizen is in a service: the steps each offer really has, in order, for the step
indicator under every screen's header (no Kivy here)."""
from __future__ import annotations

from kiosk.i18n import N_
from screens.menu import NEW, Offer

IDENTITY, DETAILS, CHECK, FEE = N_("身份确认"), N_("填写信息"), N_("核对信息"), N_("缴费")
SET_PIN, ENTER_PIN, MAKE_CARD, SERVICE, DONE = N_("设置密码"), N_("输入密码"), N_("制卡"), N_("办理"), N_("完成")

# The step each screen of a visit belongs to. The guide comes before the first step (it shows
# the road ahead); home, the card holder's page and the staff screens are in no service.
SCREEN_STEPS = {
    "identify": IDENTITY, "face": IDENTITY, "staff_assist": IDENTITY,
    "application": DETAILS, "photo": DETAILS, "signature": DETAILS,
    "confirm": CHECK, "payment": FEE, "pin": (SET_PIN, ENTER_PIN),
    "progress": (MAKE_CARD, SERVICE), "result": DONE, "rating": DONE,
}


def service_steps(offer: Offer, *, charged: bool, instant: bool) -> tuple[str, ...]:
    """The steps of `offer`; `charged`: the province charges a fee for it; `instant`: this kiosk
    makes cards on the spot."""
    steps = [IDENTITY]
    if offer.asks_application:
        steps.append(DETAILS)
    steps.append(CHECK)
    if charged:
        steps.append(FEE)
    if offer.pins:
        steps.append(SET_PIN if NEW in offer.pins else ENTER_PIN)
    steps += [MAKE_CARD if offer.uses_card_printer and instant else SERVICE, DONE]
    return tuple(steps)


def current_step(steps: tuple[str, ...], screen: str) -> int:
    """The index in `steps` of the step `screen` belongs to; -1 before the first step."""
    step = SCREEN_STEPS.get(screen)
    for candidate in step if isinstance(step, tuple) else (step,):
        if candidate in steps:
            return steps.index(candidate)
    return -1

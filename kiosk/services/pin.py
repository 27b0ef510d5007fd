"""1.10.5 社会保障卡密码修改与重置: change the PIN (the card checks the old one) or reset a
forgotten or blocked one (identity by the resident ID card, MAC from the security module).

Both happen on the card here, online or not; the backend learns only that it happened (never
the PIN) through the outbox. Online, a card the backend has cancelled (replaced, or cancelled
for good) is refused before its PIN is touched: the citizen would go on with a dead card, and
the backend would refuse the event after the card had taken the new PIN.
"""
from __future__ import annotations

import datetime
import threading

from drivers.pin import Pin
from drivers.ssse import PinOutcomeUnknown, WrongPin
from kiosk.backend.errors import BackendUnavailable
from kiosk.card_service import CardService
from kiosk.device_messages import citizen_message
from kiosk.i18n import N_
from kiosk.outcome import Outcome
from kiosk.services import catalog
from kiosk.services.base import BackendLink, ServiceResult
from kiosk.services.outcomes import REJECTIONS
from kiosk.visit import Visit, VisitError

ITEM = "1.10.5"


class NothingToConfirm(VisitError):
    citizen_message = "没有需要确认的密码修改。"


def report_pin_event(link: BackendLink, visit: Visit, action: str, event: str, detail: dict) -> ServiceResult:
    card = visit.card
    payload = {"card_id": card.info.identifier.hex, "event": event,
               "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    outcome, job_id = link.queue(visit.visit_id, ITEM, action, "record_pin_event", payload,
                                 subject=card.holder.social_security_number, detail={"event": event, **detail})
    done = N_("密码已修改成功，请牢记新密码。") if event == "changed" else N_("密码已重置，卡片已解锁，请牢记新密码。")
    # The PIN itself changed on the card either way: for the citizen the item is done; the
    # receipt carries the outbox reference while the backend has not heard of it yet.
    message = done if outcome != Outcome.PENDING else f"{done}{catalog.action(action).offline_message}"
    return ServiceResult(ITEM, action, Outcome.DONE, message,
                         outbox_reference=job_id if outcome == Outcome.PENDING else None,
                         staff_detail=f"pin event job {job_id}: {outcome}")


def _unconfirmed(visit: Visit, action: str, event: str, exc: PinOutcomeUnknown) -> ServiceResult:
    visit.unconfirmed_pin_event = event
    return ServiceResult(ITEM, action, Outcome.FAILED, citizen_message(exc), staff_detail=f"unconfirmed: {exc}")


def _cancelled_card(link: BackendLink, visit: Visit, action: str) -> ServiceResult | None:
    """The refusal for a card the backend says is cancelled; None to go on (also when the
    backend cannot be reached: offline, the card's own state is all there is)."""
    card_id = visit.card.info.identifier.hex
    try:
        status = link.read("card_status", {"card_id": card_id}).get("status")
    except BackendUnavailable:
        return None
    if status != "cancelled":
        return None
    return ServiceResult(ITEM, action, Outcome.REFUSED, REJECTIONS["card_cancelled"], staff_detail=f"card {card_id} cancelled")


def change_pin(link: BackendLink, cards: CardService, visit: Visit, old: Pin, new: Pin,
               reader: str | None = None, cancel: threading.Event | None = None) -> ServiceResult:
    """`reader` is the card printer's encoder when a newly issued card gets its first PIN."""
    if (refused := _cancelled_card(link, visit, "change_pin")) is not None:
        return refused
    try:
        cards.change_pin(visit.card.holder, old, new, cancel, reader=reader)
    except PinOutcomeUnknown as exc:
        return _unconfirmed(visit, "change_pin", "changed", exc)
    visit.card_pin_verified = True
    return report_pin_event(link, visit, "change_pin", "changed", {"card": visit.card.info.identifier.hex})


def reset_pin(link: BackendLink, cards: CardService, visit: Visit, new: Pin) -> ServiceResult:
    holder = visit.identity.masked_id_number  # a reset needs the holder identified by ID card
    if (refused := _cancelled_card(link, visit, "reset_pin")) is not None:
        return refused
    try:
        cards.reset_pin(visit.card, new)
    except PinOutcomeUnknown as exc:
        return _unconfirmed(visit, "reset_pin", "reset", exc)
    visit.card_pin_verified = True
    return report_pin_event(link, visit, "reset_pin", "reset", {"holder": holder})


def action_to_confirm(visit: Visit) -> str:
    """The PIN action whose answer was lost, which a confirmation completes."""
    if visit.unconfirmed_pin_event is None:
        raise NothingToConfirm("no PIN change of this visit is waiting to be confirmed")
    return "change_pin" if visit.unconfirmed_pin_event == "changed" else "reset_pin"


def confirm_pin(link: BackendLink, cards: CardService, visit: Visit, new: Pin) -> ServiceResult:
    """After a PIN command whose answer was lost, with the card back in: the citizen enters the
    new PIN once. If the card accepts it, the command was carried out and the backend hears of
    it now; if not, the old PIN still holds (that try counts on the card, as any wrong PIN)."""
    event = visit.unconfirmed_pin_event
    action = action_to_confirm(visit)
    try:
        cards.verify_pin(new)
    except WrongPin as exc:
        visit.unconfirmed_pin_event = None
        return ServiceResult(ITEM, action, Outcome.FAILED, N_("新密码未生效，原密码仍然有效。"),
                             staff_detail=f"confirmation refused, {exc.tries_left} tries left")
    visit.unconfirmed_pin_event = None
    visit.card_pin_verified = True
    return report_pin_event(link, visit, action, event, {"card": visit.card.info.identifier.hex, "confirmed": True})



"""1.10.7 社会保障卡补领、换领、换发: replace a lost, damaged or expiring card, or one whose data
changed. With a card printer the new card is issued on the spot and the backend cancels the old
card when the new one is reported written (an issuance that fails leaves the citizen the card
they came with); otherwise the new card follows the batch channel and the old one is cancelled
as the application is accepted.

A lost card is not here: it must have been reported lost (1.10.6) and is found through the
holder's ID number. Any other reason needs the old card in the reader.
"""
from __future__ import annotations

import threading

from drivers.pin import Pin
from kiosk.i18n import N_
from kiosk.services.apply_card import commitment_record
from kiosk.outcome import Outcome
from kiosk.services.base import BackendLink, ServiceResult
from kiosk.services.issuance import InstantIssuance, Progress
from kiosk.visit import Visit, VisitError

ITEM = "1.10.7"
REASONS = {"lost": N_("补领（遗失）"), "damaged": N_("换领（损坏）"), "expiring": N_("换发（到期）"), "data_change": N_("换领（信息变更）")}
ACCEPTED_FOR_BATCH = {
    "lost": N_("补领（遗失）已受理，原卡已注销，新卡制作完成后将通知您领取。"),
    "damaged": N_("换领（损坏）已受理，原卡已注销，新卡制作完成后将通知您领取。"),
    "expiring": N_("换发（到期）已受理，原卡已注销，新卡制作完成后将通知您领取。"),
    "data_change": N_("换领（信息变更）已受理，原卡已注销，新卡制作完成后将通知您领取。"),
}
LIVE_STATUSES = ("normal", "sealed", "temporary_loss", "formal_loss")


class NoCardToReplace(VisitError):
    citizen_message = "未查到您名下可补换的社会保障卡，如需办卡请选择“申领”。"


def _card_to_replace(link: BackendLink, visit: Visit, reason: str) -> str:
    if reason != "lost":
        return visit.card.info.identifier.hex
    person = link.person_read(visit, "query_person")
    live = [card for card in person.get("cards", []) if card.get("status") in LIVE_STATUSES]
    if not live:
        raise NoCardToReplace("the backend lists no live card for this person")
    return max(live, key=lambda card: card.get("issue_date", ""))["card_id"]


def replace(link: BackendLink, issuance: InstantIssuance | None, visit: Visit, reason: str, commitment: bool,
            new_pin: Pin, progress: Progress, cancel: threading.Event | None = None) -> list[ServiceResult]:
    if reason not in REASONS:
        raise ValueError(f"unknown replacement reason {reason!r}")
    identity = visit.identity
    if issuance is not None:
        issuance.preflight(visit, new_pin, cancel)  # before the backend cancels the old card
    card_id = _card_to_replace(link, visit, reason)
    channel = "instant" if issuance is not None else "batch"
    reply = link.call(visit.visit_id, ITEM, f"replace_{reason}", "apply_replacement",
                      {"card_id": card_id, "reason": reason, "channel": channel, "commitment": commitment},
                      {"holder": identity.masked_id_number, "card": card_id, **commitment_record(commitment)})
    if issuance is None:
        return [ServiceResult(ITEM, f"replace_{reason}", Outcome.DONE, ACCEPTED_FOR_BATCH[reason],
                              data={"holder": identity.masked_id_number})]
    return issuance.issue(visit, ITEM, reply["application_id"], new_pin, progress, cancel)

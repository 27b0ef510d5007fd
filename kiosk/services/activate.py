"""1.10.2 社会保障卡启用: a sealed (封存) card becomes usable. Needs the backend now; a card under
formal loss is refused by it (a replacement is the way on)."""
from __future__ import annotations

from kiosk.i18n import N_
from kiosk.outcome import Outcome
from kiosk.services.base import BackendLink, ServiceResult
from kiosk.visit import Visit

ITEM = "1.10.2"


def activate(link: BackendLink, visit: Visit) -> ServiceResult:
    identity, card = visit.identity, visit.card
    card_id = card.info.identifier.hex
    link.call(visit.visit_id, ITEM, "activate", "activate_card", {"card_id": card_id},
              {"holder": identity.masked_id_number, "card": card_id})
    return ServiceResult(ITEM, "activate", Outcome.DONE, N_("社会保障卡已启用，可以正常使用。"),
                         data={"holder": identity.masked_id_number})

"""Where is my card? (制卡进度查询, #14): the cards the citizen applied for, from the backend,
each with its step (received, in production, sent to the office, ready to collect there,
collected). A question answered, not a service item: nothing is counted, nothing printed.
Offline the kiosk cannot know, and says so (the catalogue's offline words)."""
from __future__ import annotations

from kiosk.i18n import N_
from kiosk.outcome import Outcome
from kiosk.services.base import BackendLink, ServiceResult
from kiosk.services.catalog import QUERY_ITEM
from kiosk.visit import Visit

STATES = {"received": N_("{date}受理的申领：已受理，等待制卡。"),
          "in_production": N_("{date}受理的申领：正在制卡。"),
          "sent_to_office": N_("{date}受理的申领：卡片已制成，正寄往{office}。"),
          "ready": N_("{date}受理的申领：卡片已到{office}，请携带身份证前往领取。"),
          "collected": N_("{date}受理的申领：卡片已领取。")}
NONE_FOUND = N_("未查到您的社会保障卡申领记录。")


def query_progress(link: BackendLink, visit: Visit) -> list[ServiceResult]:
    applications = link.person_read(visit, "application_progress")["applications"]
    if not applications:
        return [ServiceResult(QUERY_ITEM, "query_progress", Outcome.DONE, NONE_FOUND)]
    return [ServiceResult(QUERY_ITEM, "query_progress", Outcome.DONE, STATES[application["state"]],
                          message_args={"date": application["applied_on"], "office": application.get("office", "")})
            for application in applications]

"""1.10.6 社会保障卡挂失与解挂: report a card lost (temporarily or formally) and cancel a report.

A lost card is not in the kiosk, so a loss report goes by the holder's ID number (identified
with the resident ID card). A temporary report works offline: it is queued as urgent, ahead of
everything else, and takes effect on delivery. A formal report and a cancellation need the
backend now; cancelling needs the card itself as well.
"""
from __future__ import annotations

from kiosk.i18n import N_
from kiosk.outcome import Outcome
from kiosk.services import catalog
from kiosk.services.base import BackendLink, ServiceResult
from kiosk.visit import Visit

ITEM = "1.10.6"


def report_loss(link: BackendLink, visit: Visit, kind: str) -> ServiceResult:
    if kind not in ("temporary", "formal"):
        raise ValueError(f"a loss report is temporary or formal, not {kind!r}")
    identity = visit.identity
    action = f"report_loss_{kind}"
    payload = {"id_number": identity.id_number, "kind": kind}
    detail = {"kind": kind, "holder": identity.masked_id_number}
    data = {"holder": identity.masked_id_number, "kind": N_("临时挂失") if kind == "temporary" else N_("正式挂失")}
    if kind == "formal":
        link.call(visit.visit_id, ITEM, action, "report_person_loss", payload, detail)
        return ServiceResult(ITEM, action, Outcome.DONE, N_("正式挂失已办理，原卡已停止使用。"), data=data)
    outcome, job_id = link.queue(visit.visit_id, ITEM, action, "report_person_loss", payload,
                                 subject=identity.id_number, detail=detail, urgent=True)
    messages = {Outcome.DONE: N_("临时挂失已生效，原卡已停止使用。"),
                Outcome.PENDING: catalog.action(action).offline_message,
                Outcome.REFUSED: N_("挂失未能办理，请到窗口咨询。")}
    return ServiceResult(ITEM, action, outcome, messages[outcome],
                         outbox_reference=job_id if outcome == Outcome.PENDING else None, data=data,
                         staff_detail=f"outbox job {job_id}")


def cancel_loss(link: BackendLink, visit: Visit) -> ServiceResult:
    identity, card = visit.identity, visit.card  # the holder, with the card found again
    detail = {"holder": identity.masked_id_number, "card": card.info.identifier.hex}
    link.call(visit.visit_id, ITEM, "cancel_loss", "cancel_loss_report",
              {"card_id": card.info.identifier.hex}, detail)
    return ServiceResult(ITEM, "cancel_loss", Outcome.DONE, N_("已解除挂失，卡片恢复正常使用。"),
                         data={"holder": identity.masked_id_number})

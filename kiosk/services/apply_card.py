"""1.10.1 社会保障卡申领: apply for a first card, issued on the spot when the kiosk can
(立等可取), otherwise a batch application that works offline too (queued, effective on delivery).

Where a proof would be needed, the citizen may accept the written commitment instead (告知承诺制):
the acceptance is recorded with the commitment text's version and the time. The application
carries what a card-management system needs besides the holder (kiosk/application.py, given
to the visit as `visit.application`); the batch one is sealed in the outbox with the rest of the
payload when it is queued.
"""
from __future__ import annotations

import threading

from drivers.pin import Pin
from kiosk.application import details_of
from kiosk.i18n import N_
from kiosk.outcome import Outcome
from kiosk.services import catalog
from kiosk.services.base import BackendLink, ServiceResult
from kiosk.services.issuance import InstantIssuance, Progress
from kiosk.visit import Visit

ITEM = "1.10.1"
COMMITMENT_VERSION = "2026-11-v1"


def commitment_record(accepted: bool) -> dict:
    return {"commitment_version": COMMITMENT_VERSION, "commitment_accepted": accepted}


def apply_batch(link: BackendLink, visit: Visit, region_code: str, commitment: bool) -> ServiceResult:
    identity = visit.identity
    payload = {"holder": identity.holder_payload(), "region_code": region_code, "channel": "batch",
               "commitment": commitment, "application": details_of(visit).payload(identity, instant=False)}
    outcome, job_id = link.queue(visit.visit_id, ITEM, "apply_batch", "apply_card", payload,
                                 subject=identity.id_number,
                                 detail={"holder": identity.masked_id_number, **commitment_record(commitment)})
    messages = {Outcome.DONE: N_("申领已受理，制卡完成后将通知您领取。"),
                Outcome.PENDING: catalog.action("apply_batch").offline_message,
                Outcome.REFUSED: N_("申领未能受理，请到窗口咨询。")}
    return ServiceResult(ITEM, "apply_batch", outcome, messages[outcome],
                         outbox_reference=job_id if outcome == Outcome.PENDING else None,
                         data={"holder": identity.masked_id_number})


def apply_instant(link: BackendLink, issuance: InstantIssuance, visit: Visit, region_code: str,
                  commitment: bool, new_pin: Pin, progress: Progress,
                  cancel: threading.Event | None = None) -> list[ServiceResult]:
    """Apply and issue on the spot: the results of 1.10.1, 1.10.2 (activation) and 1.10.5 (PIN)."""
    identity = visit.identity
    application = details_of(visit).payload(identity, instant=True)   # refused in plain words before anything starts
    issuance.preflight(visit, new_pin, cancel)  # before an application is opened at the backend
    payload = {"holder": identity.holder_payload(), "region_code": region_code, "channel": "instant",
               "commitment": commitment, "application": application}
    reply = link.call(visit.visit_id, ITEM, "apply_instant", "apply_card", payload,
                      {"holder": identity.masked_id_number, **commitment_record(commitment)})
    return issuance.issue(visit, ITEM, reply["application_id"], new_pin, progress, cancel)

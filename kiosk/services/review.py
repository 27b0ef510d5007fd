"""好差评: after each visit the citizen rates the service on five levels, with an optional comment.
Always through the outbox (it works offline); a review carries no personal data."""
from __future__ import annotations

from kiosk.i18n import N_
from kiosk.outcome import Outcome
from kiosk.services import catalog
from kiosk.services.base import BackendLink, ServiceResult
from kiosk.visit import Visit

LEVELS = {5: N_("非常满意"), 4: N_("满意"), 3: N_("基本满意"), 2: N_("不满意"), 1: N_("非常不满意")}
MAX_COMMENT_CHARS = 500


class InvalidReview(ValueError):
    citizen_message = "请选择评价等级。"


def submit_review(link: BackendLink, visit: Visit, service_item: str, level: int, comment: str = "") -> ServiceResult:
    if level not in LEVELS:
        raise InvalidReview(f"a review level is 1..5, not {level!r}")
    comment = comment.strip()[:MAX_COMMENT_CHARS]
    outcome, job_id = link.queue(visit.visit_id, service_item, "review", "submit_review",
                                 {"service_item": service_item, "level": level, "comment": comment},
                                 subject=f"review:{visit.visit_id}", detail={"level": level})
    message = N_("感谢您的评价！") if outcome != Outcome.PENDING else catalog.action("review").offline_message
    return ServiceResult(service_item, "review", Outcome.DONE if outcome != Outcome.PENDING else Outcome.PENDING, message,
                         outbox_reference=job_id if outcome == Outcome.PENDING else None,
                         data={"level": LEVELS[level]})

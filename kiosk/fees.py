"""Fees (工本费, #19): where `[fees] charges` sets a fee for an action and its reason (a card
replaced because it was lost, say), the citizen pays by QR code before the card is made. The
backend opens an order with its payment provider; the kiosk shows the order's payment code, the
amount and the time left, and asks after it until it is paid, failed, cancelled or expired.

A card is made only once its order is paid (or waived by a member of staff with their staff
card, audited). A paid order whose card could not then be made gets a refund request, queued in
the outbox so that it cannot be lost, and named on the citizen's receipt.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from kiosk.i18n import N_
from kiosk.outcome import Outcome
from kiosk.services import catalog
from kiosk.services.base import BackendLink
from kiosk.visit import Visit, VisitError

PENDING, PAID, FAILED, CANCELLED, EXPIRED, WAIVED, REFUND_REQUESTED = (
    "pending", "paid", "failed", "cancelled", "expired", "waived", "refund_requested")
SETTLED = frozenset({PAID, WAIVED})          # a card may be made

TOLD = {FAILED: N_("支付未成功，未扣费。您可重新支付，或取消办理。"),
        EXPIRED: N_("支付已超时，未扣费。您可重新支付，或取消办理。"),
        CANCELLED: N_("支付已取消，未扣费。")}
REFUND_TOLD = N_("本次制卡未成功，已缴的工本费将原路退回（退款申请 {order}）。")


class FeeNotPaid(VisitError):
    citizen_message = N_("此业务需先缴纳工本费。")


@dataclass(frozen=True)
class FeeOrder:
    order_id: str
    amount_fen: int
    pay_code: str          # what the citizen's payment app scans
    expires_at: float      # UNIX time
    status: str = PENDING

    @property
    def amount_text(self) -> str:
        return f"¥{self.amount_fen // 100}.{self.amount_fen % 100:02d}"

    @classmethod
    def from_reply(cls, reply: dict, pay_code: str) -> "FeeOrder":
        """The order as the backend answered it (its status reads carry no payment code)."""
        return cls(reply["order_id"], reply["amount_fen"], pay_code, reply["expires_at"], reply["status"])

    def seconds_left(self, now: float | None = None) -> int:
        return max(0, int(self.expires_at - (time.time() if now is None else now)))


class Payments:
    """The fee orders of visits, through the backend (`create_fee_order` and its kin)."""

    def __init__(self, link: BackendLink, charges: dict[tuple[str, str], int]):
        self.link = link
        self.charges = charges

    def fee_for(self, action: str, reason: str) -> int | None:
        """The fee in fen, or None when the province charges nothing for it."""
        return self.charges.get((action, reason))

    def fee_due(self, visit: Visit, action: str, reason: str) -> bool:
        """A fee is charged and the visit has no paid (or waived) order for it yet."""
        order = visit.fee_order
        return self.fee_for(action, reason) is not None and (order is None or order.status not in SETTLED)

    def open_order(self, visit: Visit, action: str, reason: str) -> FeeOrder:
        amount = self.charges[(action, reason)]
        reply = self.link.call(visit.visit_id, catalog.action(action).item, "fee_order", "create_fee_order",
                               {"action": action, "reason": reason, "amount_fen": amount,
                                "subject": visit.identity.id_number},
                               {"action": action, "reason": reason, "amount_fen": amount})
        return FeeOrder.from_reply(reply, reply["pay_code"])

    def status(self, order: FeeOrder) -> FeeOrder:
        return FeeOrder.from_reply(self.link.read("fee_order_status", {"order_id": order.order_id}), order.pay_code)

    def cancel(self, visit: Visit, action: str, order: FeeOrder) -> None:
        self.link.call(visit.visit_id, catalog.action(action).item, "fee_order_cancelled", "cancel_fee_order",
                       {"order_id": order.order_id}, {"order": order.order_id})

    def waive(self, visit: Visit, action: str, order: FeeOrder) -> FeeOrder:
        """A member of staff waived the fee (their staff card vouched, kiosk/identity_assurance.py):
        the backend records who and why; the audit trail here says so too."""
        assurance = visit.assurance or {}
        staff_card = assurance.get("staff_card")
        if assurance.get("by") != "staff" or not staff_card:
            raise PermissionError("only a member of staff whose card vouched may waive a fee")
        reply = self.link.call(visit.visit_id, catalog.action(action).item, "fee_waived", "waive_fee_order",
                               {"order_id": order.order_id, "staff_id": f"staff-card:{staff_card}",
                                "reason": "waived by staff at the kiosk"},
                               {"order": order.order_id, "staff_card": staff_card})
        return FeeOrder.from_reply(reply, order.pay_code)

    def request_refund(self, visit: Visit, action: str, order: FeeOrder, why: str) -> Outcome:
        """The card the citizen paid for was not made: the refund request goes through the outbox
        (it must reach the backend whatever the link does now)."""
        outcome, _job = self.link.queue(visit.visit_id, catalog.action(action).item, "fee_refund",
                                        "request_fee_refund", {"order_id": order.order_id, "reason": why[:200]},
                                        subject=order.order_id, detail={"order": order.order_id})
        return outcome

"""Fees (工本费, #19) in the kiosk's core against the reference backend: the province's charges
read from `[fees]`, no card without a paid (or waived) order, an expired order makes no card, a
paid order whose card was not made gets its refund request queued and named, and a waiver needs
a member of staff's card and is audited."""
from __future__ import annotations

import datetime
import time

import pytest

from backend_helpers import issue_card, key
from kiosk.config import ConfigError, parse_config, parse_fee_charges
from kiosk.core import KioskCore
from kiosk.fees import EXPIRED, PAID, REFUND_REQUESTED, REFUND_TOLD, WAIVED, FeeNotPaid
from kiosk.visit import CitizenIdentity
from simulation.config import config_for_simulation


def test_the_charges_are_read_and_a_wrong_one_is_refused_with_its_reason():
    assert parse_fee_charges("replace:lost=20.00, replace:damaged=15") == {("replace", "lost"): 2000,
                                                                            ("replace", "damaged"): 1500}
    for wrong, told in [("replace:stolen=20", "not an action and one of its reasons"),
                        ("replace:lost=0", "0.01 to 1000.00"), ("replace:lost=1.234", "in fen"),
                        ("replace:lost=inf", "not a number"), ("apply:lost=5", "not an action")]:
        with pytest.raises(ConfigError) as refused:
            parse_config({"fees": {"charges": wrong}})
        assert told in str(refused.value)


@pytest.fixture
def core(reference_backend, pki_files, tmp_path):
    config = config_for_simulation(reference_backend.url, pki_files, tmp_path, fees={"charges": "replace:lost=20.00"})
    core = KioskCore(config).start()   # no card printer: a replacement goes the batch way
    yield core
    core.close()


@pytest.fixture
def holder_visit(core, reference_backend, backend_client):
    """A cardholder identified and vouched for by a face check, as the screens leave a visit."""
    card_id = issue_card(backend_client)
    (id_number, name), = reference_backend.store._conn.execute(
        "SELECT p.id_number, p.name FROM cards c JOIN persons p ON p.id_number = c.id_number WHERE c.card_id = ?",
        (card_id,)).fetchall()
    visit = core.services.new_visit()
    visit.identify(CitizenIdentity(id_number, name, "1", 1, datetime.date(1980, 1, 1)))
    visit.assure("face", {"distance": 0.3})
    return visit, card_id


def test_no_card_without_a_paid_order_and_an_expired_one_makes_none(core, reference_backend, holder_visit,
                                                                     backend_client):
    visit, card_id = holder_visit
    backend_client.report_loss(card_id, "formal", idempotency_key=key())
    [refused] = core.services.replace(visit, "lost", True, None)
    assert refused.outcome == "refused" and refused.citizen_message == FeeNotPaid.citizen_message
    order = core.payments.open_order(visit, "replace", "lost")
    assert (order.amount_fen, order.amount_text, order.status) == (2000, "¥20.00", "pending")
    reference_backend.store.expire_fee_order(order.order_id)
    visit.fee_order = core.payments.status(order)
    assert visit.fee_order.status == EXPIRED
    [refused] = core.services.replace(visit, "lost", True, None)
    assert refused.citizen_message == FeeNotPaid.citizen_message
    assert backend_client.card_status(card_id)["status"] == "formal_loss"   # the old card untouched


def test_a_paid_order_then_the_card_is_made(core, reference_backend, holder_visit, backend_client):
    visit, card_id = holder_visit
    backend_client.report_loss(card_id, "formal", idempotency_key=key())
    order = core.payments.open_order(visit, "replace", "lost")
    reference_backend.store.pay_fee_order(order.order_id)
    visit.fee_order = core.payments.status(order)
    results = core.services.replace(visit, "lost", True, None)
    assert [r.outcome for r in results] == ["done"] and visit.fee_order.status == PAID
    assert backend_client.card_status(card_id)["status"] == "cancelled"   # replaced by the new one


def test_a_paid_order_whose_card_was_not_made_is_refunded_and_the_receipt_says_so(core, reference_backend,
                                                                                 holder_visit):
    visit, _card_id = holder_visit   # never reported lost: the backend refuses the replacement
    order = core.payments.open_order(visit, "replace", "lost")
    reference_backend.store.pay_fee_order(order.order_id)
    visit.fee_order = core.payments.status(order)
    refused, refund = core.services.replace(visit, "lost", True, None)
    assert refused.outcome == "refused" and refund.action == "fee_refund" and refund.ok
    assert refund.message() == REFUND_TOLD.format(order=order.order_id)
    deadline = time.monotonic() + 10
    while core.payments.status(order).status != REFUND_REQUESTED and time.monotonic() < deadline:
        time.sleep(0.1)
    assert core.payments.status(order).status == REFUND_REQUESTED
    receipt = core.services.receipt(visit)
    assert any(item.action == "工本费退款申请" for item in receipt.items)


def test_a_waiver_needs_a_member_of_staff_and_is_audited(core, reference_backend, holder_visit):
    visit, _card_id = holder_visit
    order = core.payments.open_order(visit, "replace", "lost")
    with pytest.raises(PermissionError):
        core.payments.waive(visit, "replace", order)   # a face check is not a member of staff
    visit.assure("staff", {"staff_card": "5c1f0e9a7b3d2c41"})
    assert core.payments.waive(visit, "replace", order).status == WAIVED
    with core.outbox.transaction() as tx:
        steps = [(e.step, e.details) for e in core.audit.entries(tx) if e.visit_id == visit.visit_id]
    assert ("fee_waived", {"order": order.order_id, "staff_card": "5c1f0e9a7b3d2c41"}) in steps
    events = reference_backend.store._conn.execute("SELECT * FROM fee_events").fetchall()
    assert any("staff-card:5c1f0e9a7b3d2c41" in str(row) for row in events)

"""#19 in the contract: the electronic social security card's QR code (电子社保卡) as
identification, short-lived and single-use, and the fee (工本费) paid by QR code, its order
going from pending to paid, failed, cancelled, expired, waived or refund_requested. Through the
kiosk's HTTPS client against the reference backend, and on the store's two databases."""
from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time

import pytest
import requests

from backend_helpers import ContractClient, key, new_card_id, new_holder
from kiosk.backend.errors import BackendRejected
from reference_backend.store import ESSC_CODE_PREFIX, FEE_ORDER_SECONDS, BackendStore, Refusal

FEE = {"action": "replace_card", "reason": "lost", "amount_fen": 2000, "subject": "37130219800101001X"}


def rejected(call, *args, **kwargs) -> BackendRejected:
    with pytest.raises(BackendRejected) as caught:
        call(*args, **kwargs)
    return caught.value


def known_person(store: BackendStore, holder: dict | None = None) -> dict:
    """A person the backend knows (a card of theirs was made before)."""
    holder = holder or new_holder()
    store.seed_card(holder=holder, card_id=new_card_id(), card_number="S" + secrets.token_hex(4).upper(),
                    region_code="371300", issue_date="20240101", expiry_date="20340101")
    return holder


def other_kiosk(backend, pki) -> ContractClient:
    certificate, private_key = pki.other_kiosk("KIOSK-0002")
    return ContractClient(backend.url, ca_file=pki.ca_cert, cert_file=certificate, key_file=private_key)


def resolve(client, code: str, idempotency_key: str | None = None) -> dict:
    return client.call("resolve_essc_code", {"code": code}, idempotency_key=idempotency_key or key())


def new_order(client, **changes) -> dict:
    return client.call("create_fee_order", {**FEE, **changes}, idempotency_key=key())


def order_status(client, order_id: str) -> dict:
    return client.call("fee_order_status", {"order_id": order_id})


def cancel(client, order_id: str) -> dict:
    return client.call("cancel_fee_order", {"order_id": order_id}, idempotency_key=key())


def waive(client, order_id: str, staff_id: str = "STAFF-007", reason: str = "低保户减免") -> dict:
    return client.call("waive_fee_order", {"order_id": order_id, "staff_id": staff_id, "reason": reason},
                       idempotency_key=key())


def refund(client, order_id: str, reason: str = "card could not be made") -> dict:
    return client.call("request_fee_refund", {"order_id": order_id, "reason": reason}, idempotency_key=key())


# --- the e-SSC code, through the client -------------------------------------------------------

def test_a_code_identifies_its_person_once_and_a_lost_answer_is_replayed(client, backend, pki):
    holder = known_person(backend.store)
    code = backend.store.issue_essc_code(holder["id_number"])
    assert code.startswith(ESSC_CODE_PREFIX)
    first_key = key()
    person = resolve(client, code, first_key)
    assert person == {"id_number": holder["id_number"], "name": holder["name"], "sex": holder["sex"],
                      "ethnicity": holder["ethnicity"], "birth_date": holder["birth_date"], "document": "resident_id"}
    assert resolve(client, code, first_key) == person   # the same request again: its answer, not a second use
    raw = requests.post(f"{backend.url}/v1/essc-resolutions", json={"code": code},
                        headers={"Idempotency-Key": first_key}, verify=str(pki.ca_cert),
                        cert=(str(pki.kiosk_cert), str(pki.kiosk_key)), timeout=5)
    assert raw.headers["Idempotent-Replayed"] == "true" and raw.json() == person
    used = rejected(resolve, client, code)
    assert (used.status, used.code) == (422, "essc_code_used")
    stranger = other_kiosk(backend, pki)
    assert rejected(resolve, stranger, code).code == "essc_code_used"
    stranger.close()


def test_a_code_used_at_another_kiosk_is_used_here(client, backend, pki):
    code = backend.store.issue_essc_code(known_person(backend.store)["id_number"])
    stranger = other_kiosk(backend, pki)
    resolve(stranger, code)
    assert rejected(resolve, client, code).code == "essc_code_used"
    stranger.close()


def test_an_expired_code_and_a_garbled_scan_are_refused_in_plain_words(client, backend):
    holder = known_person(backend.store)
    code = backend.store.issue_essc_code(holder["id_number"], ttl_s=0.05)
    time.sleep(0.1)
    expired = rejected(resolve, client, code)
    assert (expired.status, expired.code) == (422, "essc_code_expired") and "expired" in expired.message
    live = backend.store.issue_essc_code(holder["id_number"])
    for garbled in (live[:-1], live + "x", "garbled-scan", "\x1b[0m" + live, "电子社保卡"):
        unknown = rejected(resolve, client, garbled)
        assert (unknown.status, unknown.code) == (422, "essc_code_unknown")
        assert garbled not in unknown.message
    for malformed in ("", "x" * 513):
        assert rejected(resolve, client, malformed).code == "invalid_field"
    assert rejected(client.call, "resolve_essc_code", {"code": live, "id_number": holder["id_number"]},
                    idempotency_key=key()).code == "unknown_field"
    assert resolve(client, live)["id_number"] == holder["id_number"]   # none of that used it up


def test_the_code_names_the_document_and_no_ethnicity_where_it_records_none(client, backend):
    permit = known_person(backend.store, {**new_holder(), "id_number": "810000199001011234", "birthplace": "810000",
                                          "ethnicity": 97})
    foreigner = known_person(backend.store, {**new_holder(), "id_number": "USA123456789012", "ethnicity": 97})
    for holder, document in ((permit, "hmt_residence_permit"), (foreigner, "foreign_permanent_resident")):
        person = resolve(client, backend.store.issue_essc_code(holder["id_number"]))
        assert (person["document"], person["ethnicity"]) == (document, None)


def test_codes_are_issued_for_known_people_only_and_kept_as_hashes(backend):
    with pytest.raises(Refusal) as caught:
        backend.store.issue_essc_code(new_holder()["id_number"])
    assert caught.value.code == "person_not_found"
    with pytest.raises(Refusal):
        backend.store.issue_essc_code("not an ID number")
    holder = known_person(backend.store)
    with pytest.raises(Refusal):
        backend.store.issue_essc_code(holder["id_number"], ttl_s=0)
    code = backend.store.issue_essc_code(holder["id_number"])
    files = [backend.store.path, backend.store.path.with_name(backend.store.path.name + "-wal")]
    assert not any(code.encode() in path.read_bytes() for path in files if path.exists())
    with sqlite3.connect(backend.store.path) as db:
        assert db.execute("SELECT code_hash FROM essc_codes").fetchall() == [(hashlib.sha256(code.encode()).hexdigest(),)]


# --- fee orders, through the client ------------------------------------------------------------

def test_a_paid_fee_and_its_refund_when_the_card_could_not_be_made(client, backend):
    order = new_order(client)
    assert order["status"] == "pending" and order["amount_fen"] == 2000 and order["pay_code"]
    assert order["expires_in_s"] == FEE_ORDER_SECONDS
    assert order["expires_at"] == pytest.approx(time.time() + FEE_ORDER_SECONDS, abs=5)
    assert order_status(client, order["order_id"]) == {"order_id": order["order_id"], "status": "pending",
                                                       "amount_fen": 2000, "expires_at": order["expires_at"],
                                                       "paid_at": None}
    assert rejected(refund, client, order["order_id"]).code == "fee_order_not_paid"
    backend.store.pay_fee_order(order["order_id"])
    paid = order_status(client, order["order_id"])
    assert paid["status"] == "paid" and paid["paid_at"] == pytest.approx(time.time(), abs=5)
    assert rejected(cancel, client, order["order_id"]).code == "fee_order_not_pending"
    assert rejected(waive, client, order["order_id"]).code == "fee_order_not_pending"
    requested = refund(client, order["order_id"])
    assert requested["status"] == "refund_requested" and requested["refund_id"].startswith("RF")
    assert order_status(client, order["order_id"])["status"] == "refund_requested"
    assert rejected(refund, client, order["order_id"]).code == "fee_order_not_paid"   # once


def test_an_order_cancelled_or_failed_cannot_be_paid(client, backend):
    cancelled = new_order(client)
    assert cancel(client, cancelled["order_id"])["status"] == "cancelled"
    with pytest.raises(Refusal) as caught:
        backend.store.pay_fee_order(cancelled["order_id"])
    assert caught.value.code == "fee_order_not_pending"
    failed = new_order(client)
    assert backend.store.fail_fee_order(failed["order_id"])["status"] == "failed"
    assert order_status(client, failed["order_id"])["status"] == "failed"
    with pytest.raises(Refusal):
        backend.store.pay_fee_order(failed["order_id"])
    assert rejected(refund, client, failed["order_id"]).code == "fee_order_not_paid"


def test_an_order_not_paid_in_time_is_expired_and_cannot_be_paid(client, backend, monkeypatch):
    order = new_order(client)
    now = time.time()
    monkeypatch.setattr(backend.store, "_clock", lambda: now + FEE_ORDER_SECONDS + 1)
    assert order_status(client, order["order_id"])["status"] == "expired"
    assert rejected(cancel, client, order["order_id"]).code == "fee_order_not_pending"
    assert rejected(waive, client, order["order_id"]).code == "fee_order_not_pending"
    with pytest.raises(Refusal):
        backend.store.pay_fee_order(order["order_id"])
    monkeypatch.undo()
    soon = new_order(client)   # the demo's panel lets an order expire now
    assert backend.store.expire_fee_order(soon["order_id"])["status"] == "expired"
    assert order_status(client, soon["order_id"])["status"] == "expired"


def test_a_waiver_keeps_who_and_why(client, backend):
    order = new_order(client)
    waived = waive(client, order["order_id"], "STAFF-007", "低保户减免")
    assert (waived["status"], waived["paid_at"]) == ("waived", None)
    with sqlite3.connect(backend.store.path) as db:
        events = db.execute("SELECT event, detail, terminal FROM fee_events WHERE order_id = ? ORDER BY id",
                            (order["order_id"],)).fetchall()
    assert [event for event, _detail, _terminal in events] == ["created", "waived"]
    assert events[1][1:] == ('{"staff_id": "STAFF-007", "reason": "低保户减免"}', "KIOSK-0001")
    assert rejected(client.call, "waive_fee_order", {"order_id": new_order(client)["order_id"], "staff_id": "S1",
                                                     "reason": ""}, idempotency_key=key()).code == "invalid_field"


def test_an_order_is_only_for_the_terminal_that_made_it(client, backend, pki):
    order = new_order(client)
    stranger = other_kiosk(backend, pki)
    for call in (order_status, cancel, waive, refund):
        error = rejected(call, stranger, order["order_id"])
        assert (error.status, error.code) == (403, "other_terminal_order")
    assert order_status(client, order["order_id"])["status"] == "pending"
    stranger.close()
    missing = rejected(order_status, client, "FO0000000000000000")
    assert (missing.status, missing.code) == (404, "fee_order_not_found")


def test_a_fee_order_is_made_once_per_key_and_within_its_bounds(client, backend):
    order_key = key()
    first = client.call("create_fee_order", FEE, idempotency_key=order_key)
    assert client.call("create_fee_order", FEE, idempotency_key=order_key) == first
    with sqlite3.connect(backend.store.path) as db:
        assert db.execute("SELECT count(*) FROM fee_orders").fetchone() == (1,)
    for bad in ({"amount_fen": 0}, {"amount_fen": 100_001}, {"amount_fen": 20.5}, {"subject": "x" * 41},
                {"action": ""}, {"reason": None}):
        assert rejected(new_order, client, **bad).code == "invalid_field", bad
    assert rejected(new_order, client, channel="instant").code == "unknown_field"


# --- the store's rules on both databases --------------------------------------------------------

@pytest.fixture
def store(store_db, clock):
    store = BackendStore(store_db, clock=clock)
    yield store
    store.close()


def change(store: BackendStore, terminal: str, operation: str, *args):
    """One state-changing request as the server makes it, under a fresh key."""
    action = getattr(store, operation)
    return store.change(terminal, key(), f"{operation}{args}", lambda conn, t, k: action(conn, t, k, *args))


def test_a_code_lives_its_minute_on_either_database(store, clock):
    holder = known_person(store)
    at_once, late = store.issue_essc_code(holder["id_number"]), store.issue_essc_code(holder["id_number"])
    clock.now += 59.9
    assert change(store, "KIOSK-0001", "resolve_essc_code", {"code": at_once}).status == 200
    clock.now += 0.1
    assert change(store, "KIOSK-0001", "resolve_essc_code", {"code": late}).body["error"]["code"] == \
        "essc_code_expired"


def test_two_kiosks_resolving_one_code_at_once_one_succeeds(store):
    """The code is used up in the transaction that answers with the person: whichever kiosk
    comes second, even by a hair, is told it is used."""
    holder = known_person(store)
    for _round in range(5):
        code = store.issue_essc_code(holder["id_number"])
        start, replies = threading.Barrier(2), []

        def scan(terminal: str) -> None:
            start.wait()
            replies.append(change(store, terminal, "resolve_essc_code", {"code": code}))

        kiosks = [threading.Thread(target=scan, args=(terminal,)) for terminal in ("KIOSK-0001", "KIOSK-0002")]
        for kiosk in kiosks:
            kiosk.start()
        for kiosk in kiosks:
            kiosk.join(10)
        assert sorted(reply.status for reply in replies) == [200, 422]
        assert [reply.body["error"]["code"] for reply in replies if reply.status == 422] == ["essc_code_used"]


def test_the_order_s_states_on_either_database(store, clock):
    orders = {name: change(store, "KIOSK-0001", "create_fee_order", FEE).body["order_id"]
              for name in ("paid", "failed", "cancelled", "waived", "expired")}
    store.pay_fee_order(orders["paid"])
    store.fail_fee_order(orders["failed"])
    change(store, "KIOSK-0001", "cancel_fee_order", orders["cancelled"], {})
    change(store, "KIOSK-0001", "waive_fee_order", orders["waived"], {"staff_id": "STAFF-1", "reason": "减免"})
    clock.now += FEE_ORDER_SECONDS - 0.1
    assert store.read(lambda conn: store.fee_order_status(conn, "KIOSK-0001", orders["expired"], {})).body[
        "status"] == "pending"
    clock.now += 0.1
    for name, order_id in orders.items():
        assert store.read(lambda conn: store.fee_order_status(conn, "KIOSK-0001", order_id, {})).body[
            "status"] == name
        with pytest.raises(Refusal):
            store.pay_fee_order(order_id)
    refunded = change(store, "KIOSK-0001", "request_fee_refund", orders["paid"], {"reason": "printer jammed"})
    assert refunded.status == 201 and refunded.body["status"] == "refund_requested"


def test_a_payment_and_a_cancellation_at_once_one_wins(store):
    """The citizen pays as the kiosk gives up waiting: the order ends paid or cancelled, never
    both (a payment the kiosk thinks cancelled would be money taken for nothing)."""
    for _round in range(5):
        order_id = change(store, "KIOSK-0001", "create_fee_order", FEE).body["order_id"]
        start, outcomes = threading.Barrier(2), []

        def pay() -> None:
            start.wait()
            try:
                outcomes.append(store.pay_fee_order(order_id)["status"])
            except Refusal as refusal:
                outcomes.append(refusal.code)

        def give_up() -> None:
            start.wait()
            reply = change(store, "KIOSK-0001", "cancel_fee_order", order_id, {})
            outcomes.append(reply.body["status"] if reply.status == 200 else reply.body["error"]["code"])

        both = [threading.Thread(target=pay), threading.Thread(target=give_up)]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join(10)
        final = store.read(lambda conn: store.fee_order_status(conn, "KIOSK-0001", order_id, {})).body["status"]
        assert sorted(outcomes) in (["fee_order_not_pending", "paid"], ["cancelled", "fee_order_not_pending"])
        assert final in outcomes

"""Every call of the contract against the reference backend, over real TLS on loopback."""
from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import pytest
import requests

from backend_helpers import issue_card, key, new_card_id, new_holder
from drivers import keyscheme
from kiosk.backend.client import OPERATIONS, BackendClient
from kiosk.backend.errors import BackendRejected
from kiosk.backend.hsm import BackendHsmSecurityModule
from reference_backend.server import ROUTES
from reference_backend.store import BackendStore, Reply, RequestInProgress

OPENAPI = Path(__file__).resolve().parents[3] / "kiosk" / "backend" / "openapi.yaml"


def rejected(call, *args, **kwargs) -> BackendRejected:
    with pytest.raises(BackendRejected) as caught:
        call(*args, **kwargs)
    return caught.value


def card_events(backend, card_id: str) -> list[str]:
    with sqlite3.connect(backend.store.path) as db:
        return [row[0] for row in db.execute("SELECT event FROM card_events WHERE card_id = ? ORDER BY id", (card_id,))]


def test_health_names_the_api_version(client):
    assert client.health() == {"status": "ok", "api_version": "1.0.0"}
    assert client.is_up()


def test_instant_issuance_from_application_to_activated_card(client, backend):
    holder = new_holder()
    application = client.apply_card(holder, "371300", idempotency_key=key())
    assert application["status"] == "applied"
    marked = client.mark_instant_issuance(application["application_id"], idempotency_key=key())
    data = client.personalisation(application["application_id"])
    assert data["holder"]["id_number"] == holder["id_number"] and data["card_number"] == marked["card_number"]
    card_id = new_card_id()
    written = client.report_written_card(application["application_id"], card_id, marked["card_number"],
                                         idempotency_key=key())
    assert written["status"] == "sealed"
    assert client.activate_card(card_id, idempotency_key=key())["status"] == "normal"
    assert client.card_status(card_id)["status"] == "normal"
    person = client.query_person(holder["id_number"])
    assert [c["card_id"] for c in person["cards"]] == [card_id]
    assert card_events(backend, card_id) == ["written", "activated"]


def test_a_second_application_for_the_same_person_is_refused(client):
    holder = new_holder()
    client.apply_card(holder, "371300", channel="batch", idempotency_key=key())
    assert rejected(client.apply_card, holder, "371300", idempotency_key=key()).code == "application_open"
    instant = new_holder()
    first = client.apply_card(instant, "371300", idempotency_key=key())
    client.mark_instant_issuance(first["application_id"], idempotency_key=key())   # being made now
    assert rejected(client.apply_card, instant, "371300", idempotency_key=key()).code == "application_open"


def test_an_open_instant_application_is_resumed_by_the_terminal_that_made_it(client):
    """An instant issuance that failed (or was cut off) leaves the application open: applying
    again at the same kiosk resumes it instead of refusing the citizen."""
    holder = new_holder()
    first = client.apply_card(holder, "371300", idempotency_key=key())
    again = client.apply_card(holder, "371300", idempotency_key=key())
    assert again["application_id"] == first["application_id"]
    assert rejected(client.apply_card, holder, "371300", channel="batch",
                    idempotency_key=key()).code == "application_open"


def test_cancelling_the_instant_issuance_mark_returns_the_application(client):
    application = client.apply_card(new_holder(), "371300", idempotency_key=key())
    marked = client.mark_instant_issuance(application["application_id"], idempotency_key=key())
    client.cancel_instant_issuance(application["application_id"], "encoder failed", idempotency_key=key())
    error = rejected(client.report_written_card, application["application_id"], new_card_id(),
                     marked["card_number"], idempotency_key=key())
    assert error.code == "not_marked_for_instant_issuance" and error.status == 422
    assert rejected(client.personalisation, application["application_id"]).code == "not_marked_for_instant_issuance"


def test_written_card_must_carry_the_assigned_number(client):
    application = client.apply_card(new_holder(), "371300", idempotency_key=key())
    client.mark_instant_issuance(application["application_id"], idempotency_key=key())
    assert rejected(client.report_written_card, application["application_id"], new_card_id(), "M99999999",
                    idempotency_key=key()).code == "card_number_mismatch"


def test_loss_reports_and_their_cancellation(client, backend):
    card_id = issue_card(client)
    assert rejected(client.cancel_loss_report, card_id, idempotency_key=key()).code == "no_loss_report"
    assert client.report_loss(card_id, "temporary", idempotency_key=key())["status"] == "temporary_loss"
    assert client.report_loss(card_id, "formal", idempotency_key=key())["status"] == "formal_loss"
    assert rejected(client.report_loss, card_id, "temporary", idempotency_key=key()).code == "loss_report_not_allowed"
    assert client.cancel_loss_report(card_id, idempotency_key=key())["status"] == "normal"
    assert card_events(backend, card_id)[-3:] == ["loss_reported_temporary", "loss_reported_formal",
                                                  "loss_report_cancelled"]


def test_a_card_under_formal_loss_cannot_be_activated(client):
    card_id = issue_card(client, activate=False)
    client.report_loss(card_id, "formal", idempotency_key=key())
    error = rejected(client.activate_card, card_id, idempotency_key=key())
    assert (error.code, error.status) == ("card_under_formal_loss", 422)
    assert client.card_status(card_id)["status"] == "formal_loss"


def test_a_replacement_cancels_the_old_card(client):
    card_id = issue_card(client)
    assert rejected(client.apply_replacement, card_id, "lost", idempotency_key=key()).code == "loss_not_reported"
    assert rejected(client.apply_replacement, card_id, "expiring", idempotency_key=key()).code == "renewal_too_early"
    client.report_loss(card_id, "temporary", idempotency_key=key())
    replacement = client.apply_replacement(card_id, "lost", idempotency_key=key())
    assert replacement["replaced_card_id"] == card_id and replacement["application_id"]
    # On the spot, the old card stays as it was until the new one is written (#16) ...
    assert client.card_status(card_id)["status"] == "temporary_loss"
    marked = client.mark_instant_issuance(replacement["application_id"], idempotency_key=key())
    new_card = new_card_id()
    client.report_written_card(replacement["application_id"], new_card, marked["card_number"], idempotency_key=key())
    # ... and then it is cancelled
    assert client.card_status(card_id)["status"] == "cancelled"
    assert rejected(client.activate_card, card_id, idempotency_key=key()).code == "card_not_sealed"
    assert client.activate_card(new_card, idempotency_key=key())["status"] == "normal"


def test_a_batch_replacement_cancels_the_old_card_at_once(client):
    card_id = issue_card(client)
    client.report_loss(card_id, "temporary", idempotency_key=key())
    client.apply_replacement(card_id, "lost", channel="batch", idempotency_key=key())
    assert client.card_status(card_id)["status"] == "cancelled"


def test_pin_events_are_recorded_but_a_pin_is_never_accepted(client, backend):
    card_id = issue_card(client)
    client.record_pin_event(card_id, "changed", "2026-11-26T08:00:00Z", idempotency_key=key())
    client.record_pin_event(card_id, "reset", "2026-11-26T08:05:00Z", idempotency_key=key())
    assert card_events(backend, card_id)[-2:] == ["pin_changed", "pin_reset"]
    error = rejected(client.call, "record_pin_event", {"card_id": card_id, "event": "changed", "at": "now",
                                                       "pin": "147258"}, idempotency_key=key())
    assert (error.code, error.status) == ("unknown_field", 400)


def test_reviews_take_five_levels_and_a_comment(client):
    assert client.submit_review("1.10.6", 5, "很方便", idempotency_key=key())["level_name"] == "非常满意"
    assert client.submit_review("1.10.1", 1, idempotency_key=key())["level_name"] == "非常不满意"
    assert rejected(client.submit_review, "1.10.1", 6, idempotency_key=key()).code == "invalid_field"
    assert rejected(client.submit_review, "9.9.9", 3, idempotency_key=key()).code == "invalid_field"


def test_heartbeats_come_from_the_certificate_s_own_terminal(client, backend):
    reply = client.record_heartbeat("KIOSK-0001", 3, 12.5, "0.1.0", dead_letters=2, idempotency_key=key())
    assert reply["terminal"] == "KIOSK-0001"
    with backend.store._transaction() as conn:
        assert conn.execute("SELECT queue_depth, dead_letters FROM heartbeats").fetchall() == [(3, 2)]
    assert rejected(client.record_heartbeat, "KIOSK-0002", 0, None, "0.1.0", idempotency_key=key()).status == 403


def test_unknown_person_and_card_are_404(client):
    assert rejected(client.query_person, new_holder()["id_number"]).status == 404
    assert rejected(client.card_status, new_card_id()).code == "card_not_found"


def test_the_backend_hsm_computes_the_documented_cryptogram(client):
    card_id = bytes.fromhex(new_card_id())
    challenge = bytes.fromhex("0102030405060708")
    expected = keyscheme.external_auth_cryptogram(
        keyscheme.diversify(keyscheme.TEST_MASTER_KEYS[keyscheme.KEY_EXTERNAL_AUTH], card_id), challenge)
    module = BackendHsmSecurityModule(client)
    assert module.external_auth_cryptogram(card_id, challenge, keyscheme.KEY_EXTERNAL_AUTH) == expected


# --- idempotency ----------------------------------------------------------------------------

def test_the_same_key_twice_has_one_effect_and_replays_the_first_answer(client, backend, pki):
    card_id = issue_card(client)
    loss_key = key()
    first = client.report_loss(card_id, "temporary", idempotency_key=loss_key)
    client.cancel_loss_report(card_id, idempotency_key=key())
    again = client.report_loss(card_id, "temporary", idempotency_key=loss_key)
    assert again == first  # the first answer, though the card is normal again by now
    assert client.card_status(card_id)["status"] == "normal"
    assert card_events(backend, card_id).count("loss_reported_temporary") == 1
    raw = requests.post(f"{backend.url}/v1/cards/{card_id}/loss-reports", json={"kind": "temporary"},
                        headers={"Idempotency-Key": loss_key}, verify=str(pki.ca_cert),
                        cert=(str(pki.kiosk_cert), str(pki.kiosk_key)), timeout=5)
    assert raw.headers["Idempotent-Replayed"] == "true" and raw.json() == first


def test_a_refusal_is_not_remembered_so_the_same_request_can_succeed_once_its_cause_is_gone(client):
    card_id = issue_card(client)
    cancel_key = key()
    assert rejected(client.cancel_loss_report, card_id, idempotency_key=cancel_key).code == "no_loss_report"
    assert rejected(client.cancel_loss_report, card_id, idempotency_key=cancel_key).code == "no_loss_report"
    client.report_loss(card_id, "temporary", idempotency_key=key())
    client.cancel_loss_report(card_id, idempotency_key=cancel_key)   # the dead letter sent again
    assert client.card_status(card_id)["status"] == "normal"
    client.cancel_loss_report(card_id, idempotency_key=cancel_key)   # and now it is remembered
    assert client.card_status(card_id)["status"] == "normal"


def test_the_same_key_with_another_payload_is_422(client):
    review_key = key()
    client.submit_review("1.10.6", 5, idempotency_key=review_key)
    error = rejected(client.submit_review, "1.10.6", 4, idempotency_key=review_key)
    assert (error.status, error.code) == (422, "idempotency_key_reused")


def test_a_change_without_idempotency_key_is_400(backend, pki):
    reply = requests.post(f"{backend.url}/v1/reviews", json={"service_item": "1.10.6", "level": 5},
                          verify=str(pki.ca_cert), cert=(str(pki.kiosk_cert), str(pki.kiosk_key)), timeout=5)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "idempotency_key_missing"


def test_a_repeat_while_the_first_is_still_running_waits_for_it_and_replays_its_reply(store_db):
    """Whichever worker it reaches: the repeat waits on the key's row, claimed in the first's
    transaction, and sees the first's reply once it commits. One effect."""
    store = BackendStore(store_db)
    started, release = threading.Event(), threading.Event()
    effects = []

    def slow_effect(conn, terminal, idempotency_key):
        effects.append(idempotency_key)
        started.set()
        release.wait(5)
        return Reply(201, {"done": True})

    first = threading.Thread(target=store.change, args=("KIOSK-0001", "k-1", "fp", slow_effect))
    first.start()
    assert started.wait(5)
    repeat = []
    second = threading.Thread(target=lambda: repeat.append(store.change("KIOSK-0001", "k-1", "fp", slow_effect)))
    second.start()
    second.join(0.3)
    assert second.is_alive()   # waiting for the first
    release.set()
    first.join(5)
    second.join(5)
    assert repeat == [Reply(201, {"done": True}, replayed=True)] and effects == ["k-1"]
    store.close()


def test_a_repeat_waits_no_longer_than_lock_wait_then_is_in_progress(postgres_db):
    """A first that runs on past the repeat's wait (a worker stuck mid-request): 409, try again."""
    store = BackendStore(postgres_db, lock_wait_s=0.2)
    started, release = threading.Event(), threading.Event()

    def slow_effect(conn, terminal, idempotency_key):
        started.set()
        release.wait(5)
        return Reply(201, {"done": True})

    first = threading.Thread(target=store.change, args=("KIOSK-0001", "k-1", "fp", slow_effect))
    first.start()
    assert started.wait(5)
    with pytest.raises(RequestInProgress):
        store.change("KIOSK-0001", "k-1", "fp", slow_effect)
    release.set()
    first.join(5)
    assert store.change("KIOSK-0001", "k-1", "fp", slow_effect) == Reply(201, {"done": True}, replayed=True)
    store.close()


def test_keys_are_scoped_to_the_terminal(store_db):
    store = BackendStore(store_db)
    effect = lambda conn, terminal, idempotency_key: Reply(201, {"terminal": terminal})
    assert store.change("KIOSK-0001", "same", "fp", effect).body == {"terminal": "KIOSK-0001"}
    assert store.change("KIOSK-0002", "same", "fp", effect) == Reply(201, {"terminal": "KIOSK-0002"})
    store.close()


# --- TLS ------------------------------------------------------------------------------------

def test_a_client_without_certificate_is_refused(backend, pki):
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(f"{backend.url}/v1/health", verify=str(pki.ca_cert), timeout=5)


def test_a_certificate_from_another_ca_is_refused(backend, pki, tmp_path):
    from reference_backend.pki import make_test_pki
    stranger = make_test_pki(tmp_path / "stranger")
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(f"{backend.url}/v1/health", verify=str(pki.ca_cert),
                     cert=(str(stranger.kiosk_cert), str(stranger.kiosk_key)), timeout=5)


def test_the_client_trusts_only_the_pinned_ca(backend, pki, tmp_path):
    from kiosk.backend.errors import BackendUnavailable
    from reference_backend.pki import make_test_pki
    other_ca = make_test_pki(tmp_path / "other").ca_cert
    client = BackendClient(backend.url, ca_file=other_ca, cert_file=pki.kiosk_cert, key_file=pki.kiosk_key)
    with pytest.raises(BackendUnavailable) as caught:
        client.health()
    assert "TLS" in caught.value.reason
    client.close()


# --- the contract in three places agrees ----------------------------------------------------

def test_client_server_and_openapi_document_agree():
    served = {route.name: (route.method, route.pattern.pattern, route.changes_state) for route in ROUTES}
    assert set(served) == set(OPERATIONS)
    document = OPENAPI.read_text(encoding="utf-8")
    operations = {part.split("\n", 1)[0]: part for part in document.split("operationId: ")[1:]}
    for name, (method, path, changes_state) in OPERATIONS.items():
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
        assert served[name] == (method, pattern, changes_state), name
        assert re.search(rf"^  {re.escape(path)}:\n    {method.lower()}:\n      operationId: {name}\n", document, re.M), \
            f"{method} {path} ({name}) is not in openapi.yaml"
        assert ("#/components/parameters/IdempotencyKey" in operations[name]) == changes_state, name


def post_raw(backend, pki, path: str, data: bytes, **headers) -> requests.Response:
    return requests.post(f"{backend.url}{path}", data=data, headers={"Idempotency-Key": key(), **headers},
                         verify=str(pki.ca_cert), cert=(str(pki.kiosk_cert), str(pki.kiosk_key)), timeout=5)


def test_malformed_and_oversized_requests_are_refused_and_the_server_goes_on(backend, pki, client):
    assert post_raw(backend, pki, "/v1/reviews", b"{not json").json()["error"]["code"] == "malformed_json"
    assert post_raw(backend, pki, "/v1/reviews", b"[1, 2]").status_code == 400
    assert post_raw(backend, pki, "/v1/reviews", b"x" * (97 * 1024)).status_code == 413
    assert post_raw(backend, pki, "/v2/reviews", b"{}").status_code == 404
    assert requests.get(f"{backend.url}/v1/reviews", verify=str(pki.ca_cert),
                        cert=(str(pki.kiosk_cert), str(pki.kiosk_key)), timeout=5).status_code == 405
    assert client.health()["status"] == "ok"

"""The reference backend authorises per terminal (#16): a person's data only within a visit the
asking terminal opened for that person, an application and its personal data only for the
terminal that made it, application ids that cannot be guessed, the HSM only for the operations
and keys the kiosk needs, and a revoked kiosk certificate refused."""
from __future__ import annotations

import re

import pytest

from backend_helpers import ContractClient, key, new_holder
from drivers import keyscheme, pin_block
from kiosk.backend.errors import BackendRejected
from reference_backend.pki import RevokedCertificates


def other_kiosk(backend, pki) -> ContractClient:
    certificate, private_key = pki.other_kiosk("KIOSK-0002")
    return ContractClient(backend.url, ca_file=pki.ca_cert, cert_file=certificate, key_file=private_key)


def refusal(call, *args, **kwargs) -> BackendRejected:
    with pytest.raises(BackendRejected) as caught:
        call(*args, **kwargs)
    return caught.value


def test_an_application_is_only_for_the_terminal_that_made_it(client, backend, pki):
    application = client.apply_card(new_holder(), "371300", idempotency_key=key())
    client.mark_instant_issuance(application["application_id"], idempotency_key=key())
    stranger = other_kiosk(backend, pki)
    for call, args in ((stranger.personalisation, ()),
                       (stranger.cancel_instant_issuance, ("reason",)),
                       (stranger.mark_instant_issuance, ())):
        kwargs = {} if call == stranger.personalisation else {"idempotency_key": key()}
        error = refusal(call, application["application_id"], *args, **kwargs)
        assert (error.status, error.code) == (403, "other_terminal_application")
    assert client.personalisation(application["application_id"])["holder"]   # its own terminal still may
    stranger.close()


def test_a_person_is_read_only_within_the_asking_terminal_s_own_visit(client, backend, pki):
    holder, other = new_holder(), new_holder()
    for person in (holder, other):
        client.apply_card(person, "371300", channel="batch", idempotency_key=key())
    token = client.open_visit(holder["id_number"])
    assert client.query_person(holder["id_number"], token)["name"] == holder["name"]
    stranger = other_kiosk(backend, pki)
    for call, args in ((client.query_person, (other["id_number"], token)),        # another person
                       (stranger.query_person, (holder["id_number"], token)),     # another terminal
                       (client.query_person, (holder["id_number"], "0" * 32))):   # no such visit
        error = refusal(call, *args)
        assert (error.status, error.code) == (403, "not_this_visit")
    client.open_visit(other["id_number"])   # the next citizen: the first visit is closed
    assert refusal(client.query_person, holder["id_number"], token).code == "not_this_visit"
    stranger.close()


def test_a_visit_expires_and_a_terminal_cannot_open_visits_without_end(store_db):
    from reference_backend.store import VISIT_SECONDS, VISITS_PER_HOUR, BackendStore, Refusal
    now = [1_000_000.0]
    store = BackendStore(store_db, clock=lambda: now[0])
    holder = new_holder()
    store.seed_card(holder=holder, card_id="371300D156000005" + "0" * 16, card_number="M00000001",
                    region_code="371300", issue_date="20240101", expiry_date="20340101")

    def open_visit(terminal="KIOSK-0001"):
        return store.read(lambda conn: store.open_visit(conn, terminal, {"id_number": holder["id_number"]})).body

    def query_person(token):
        return store.read(lambda conn: store.query_person(conn, "KIOSK-0001", {"id_number": holder["id_number"],
                                                                                "visit_token": token})).body

    token = open_visit()["visit_token"]
    assert query_person(token)
    now[0] += VISIT_SECONDS + 1
    with pytest.raises(Refusal, match="not_this_visit"):
        query_person(token)
    for _ in range(VISITS_PER_HOUR - 1):
        open_visit()
    with pytest.raises(Refusal) as caught:
        open_visit()
    assert (caught.value.status, caught.value.code) == (429, "too_many_visits")
    open_visit("KIOSK-0002")   # per terminal
    store.close()


def test_application_ids_cannot_be_guessed(client):
    ids = [client.apply_card(new_holder(), "371300", idempotency_key=key())["application_id"] for _ in range(3)]
    assert all(re.fullmatch(r"AP371300[0-9A-F]{16}", i) for i in ids) and len(set(ids)) == 3
    numbers = [int(i[-16:], 16) for i in ids]
    assert numbers[1] - numbers[0] != numbers[2] - numbers[1]   # not a counter


def test_the_hsm_serves_only_the_operations_and_keys_the_kiosk_needs(client, backend):
    card_id = "371300D15600000500BF7C7A48FB4966"
    terminal_key = b"kiosk-terminal-1"
    backend.store.seed_terminal_pin_key("KIOSK-0001", terminal_key)
    new_pin = pin_block.seal_card_pin(terminal_key, b"\x12\x34\x56")
    assert len(client.hsm_external_auth(card_id, bytes(8), keyscheme.KEY_EXTERNAL_AUTH)) == 16
    assert len(client.hsm_command_mac(card_id, bytes(8), bytes.fromhex("805E0000"), new_pin,
                                      keyscheme.KEY_PIN_RELOAD)) == 4
    for call, args in ((client.hsm_external_auth, (card_id, bytes(8), keyscheme.KEY_PIN_RELOAD)),
                       (client.hsm_command_mac, (card_id, bytes(8), bytes.fromhex("00DC0104"), new_pin,
                                                 keyscheme.KEY_PIN_RELOAD)),     # UPDATE RECORD: writing the card
                       (client.hsm_command_mac, (card_id, bytes(8), bytes.fromhex("805E0000"), new_pin,
                                                 keyscheme.KEY_EXTERNAL_AUTH))):
        error = refusal(call, *args)
        assert (error.status, error.code) == (403, "hsm_operation_not_allowed")


def test_a_revoked_certificate_is_refused_without_a_restart(client, backend, pki):
    stranger = other_kiosk(backend, pki)
    assert stranger.health()["status"] == "ok"
    certificate, _key = pki.other_kiosk("KIOSK-0002")
    RevokedCertificates(pki.revoked).revoke(certificate.read_bytes())
    try:
        error = refusal(stranger.health)
        assert (error.status, error.code) == (403, "certificate_revoked")
        assert client.health()["status"] == "ok"   # the other kiosks go on
    finally:
        pki.revoked.unlink()
        stranger.close()

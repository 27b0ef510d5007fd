"""The reference backend's bank gateway (1.10.2, #15), through the contract: the PIN the bank
issued with a card is checked before the citizen's own is set, a wrong one counts a try (kept
under its Idempotency-Key: the same request resent counts nothing more) and the last one
locks it; an account that is not the card's is refused before anything is asked, and a card not
yet activated has its account wait."""
from __future__ import annotations

import pytest

from backend_helpers import issue_card, key
from drivers import pin_block
from kiosk.backend.errors import BackendRejected

PAD_KEY = b"pad-pin-key-set0"
ACCOUNT = "6219993713000123452"   # of the card's bank (621999), its Luhn digit right
ISSUED_PIN, NEW_PIN = "730516", "582936"
DIGITS = pin_block.account_digits(ACCOUNT)   # what the pad is told of the account


@pytest.fixture
def card_id(client, backend):
    backend.store.seed_pad_key("KIOSK-0001", 0, PAD_KEY)
    backend.store.issue_bank_pin(ACCOUNT, ISSUED_PIN)
    return issue_card(client)


def activation(card_id: str, current: str | None) -> dict:
    blocks = {"pin_block": pin_block.encrypt(PAD_KEY, NEW_PIN, DIGITS).hex().upper(),
              "confirm_block": pin_block.encrypt(PAD_KEY, NEW_PIN, DIGITS).hex().upper()}
    if current is not None:
        blocks["current_block"] = pin_block.encrypt(PAD_KEY, current, DIGITS).hex().upper()
    return {"card_id": card_id, "bank_account": ACCOUNT, **blocks, "key_set": 0, "consent": True}


def refused(client, payload: dict, idempotency_key: str) -> BackendRejected:
    with pytest.raises(BackendRejected) as caught:
        client.call("activate_bank_account", payload, idempotency_key=idempotency_key)
    return caught.value


def state(client, card_id: str) -> dict:
    return client.call("bank_account_state", {"card_id": card_id, "bank_account": ACCOUNT})


def test_the_issued_pin_is_asked_for_and_a_wrong_one_counts_once_per_request(client, card_id):
    assert state(client, card_id) == {"active": False, "issued_pin": True, "tries_left": 3}
    assert refused(client, activation(card_id, None), key()).code == "bank_pin_required"
    wrong, wrong_key = activation(card_id, "111222"), key()
    assert (refused(client, wrong, wrong_key).status, refused(client, wrong, wrong_key).code) == (422, "wrong_bank_pin")
    assert state(client, card_id)["tries_left"] == 2   # the resend under the same key counted nothing more
    client.call("activate_bank_account", activation(card_id, ISSUED_PIN), idempotency_key=key())
    assert state(client, card_id) == {"active": True, "issued_pin": False, "tries_left": 0}


def test_the_last_wrong_try_locks_the_issued_pin(client, card_id):
    codes = [refused(client, activation(card_id, "111222"), key()).code for _ in range(3)]
    assert codes == ["wrong_bank_pin", "wrong_bank_pin", "bank_pin_locked"]
    assert refused(client, activation(card_id, ISSUED_PIN), key()).code == "bank_pin_locked"   # the right one too
    assert state(client, card_id) == {"active": False, "issued_pin": True, "tries_left": 0}


def test_an_account_that_is_not_the_cards_is_refused_by_the_state_read(client, card_id):
    other = "6229993713000123450"   # another bank's BIN
    with pytest.raises(BackendRejected) as caught:
        client.call("bank_account_state", {"card_id": card_id, "bank_account": other})
    assert caught.value.code == "not_the_cards_account"


def test_a_card_whose_social_security_application_is_not_active_is_refused(client, backend):
    # 1.10.2 activates the bank account after the card itself: a sealed card's account waits.
    backend.store.seed_pad_key("KIOSK-0001", 0, PAD_KEY)
    sealed = issue_card(client, activate=False)
    assert refused(client, activation(sealed, None), key()).code == "card_not_active"
    assert state(client, sealed)["active"] is False
    client.activate_card(sealed, idempotency_key=key())
    client.call("activate_bank_account", activation(sealed, None), idempotency_key=key())
    assert state(client, sealed)["active"] is True

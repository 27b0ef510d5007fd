"""PIN verify, change, reset and unblock through pcscd + vpcd, and where the PIN must never go."""
import dataclasses
import json
import logging

import pytest

from drivers.apdu import AuthenticationFailed, PinBlocked
from drivers.ssse import WrongPin
from drivers.apdu import CardRemoved
from drivers.pin import InvalidPinFormat, Pin
from drivers.security_module import SecurityModuleRequired
from drivers.sim.psam import SimulatedPsam
from drivers.sim.ssse_card import CardProfile
from kiosk.card_service import CardService, DifferentCard
from kiosk.config import KioskConfig, SecuritySection
from kiosk.pin_policy import WeakPin

CONFIG = KioskConfig()
OLD, NEW = "147258", "582936"  # card_v3.toml's PIN, and a PIN that breaks no rule


def pin(text):
    return Pin.from_text(text)


@pytest.fixture
def v3_card(card_slot, psam_slot):
    card = card_slot.insert_profile("card_v3.toml")
    service = CardService(CONFIG)
    return card, service, service.read()


def test_change_then_verify_with_the_new_pin(v3_card):
    card, service, reading = v3_card
    service.change_pin(reading.holder, pin(OLD), pin(NEW))
    assert service.last_stats.card_apdus == 2  # SELECT + CHANGE PIN
    service.verify_pin(pin(NEW))
    with pytest.raises(WrongPin) as wrong:
        service.verify_pin(pin(OLD))
    assert wrong.value.tries_left == 5


def test_wrong_pin_counts_down_and_blocks_at_the_sixth(v3_card):
    card, service, reading = v3_card
    for tries_left in (5, 4, 3, 2, 1):
        with pytest.raises(WrongPin) as wrong:
            service.verify_pin(pin("000000"))
        assert wrong.value.tries_left == tries_left
    with pytest.raises(PinBlocked):
        service.verify_pin(pin("000000"))
    with pytest.raises(PinBlocked):
        service.verify_pin(pin(OLD))  # even the right PIN, once blocked


def test_reset_with_the_psam_unblocks_with_a_new_pin(v3_card):
    card, service, reading = v3_card
    card.pin_tries_left = 0
    service.reset_pin(reading, pin(NEW))
    assert (service.last_stats.card_apdus, service.last_stats.psam_apdus) == (4, 2)
    service.verify_pin(pin(NEW))


def test_reset_refused_by_the_card_when_the_psam_has_other_keys(card_slot, psam_slot):
    card_slot.insert_profile("card_v2.toml")
    service = CardService(CONFIG)
    reading = service.read()
    psam_slot.insert(SimulatedPsam({1: bytes(16), 2: bytes(16)}))
    with pytest.raises(AuthenticationFailed):
        service.reset_pin(reading, pin(NEW))


def test_reset_needs_a_security_module(card_slot):
    card_slot.insert_profile("card_v2.toml")
    service = CardService(dataclasses.replace(CONFIG, security=SecuritySection(module="none")))
    reading = service.read()
    with pytest.raises(SecurityModuleRequired):
        service.reset_pin(reading, pin(NEW))


def test_reset_refuses_another_card_than_the_visits(card_slot, psam_slot):
    card_slot.insert_profile("card_v3.toml")
    service = CardService(CONFIG)
    reading = service.read()
    card_slot.insert_profile("card_v2.toml")
    with pytest.raises(DifferentCard):
        service.reset_pin(reading, pin(NEW))


@pytest.mark.parametrize("weak, rule", [
    ("111111", "same"), ("123456", "sequence"), ("876543", "sequence"),
    ("800101", "birth date"), ("198001", "birth date"), ("011239", "ID number"), (OLD, "same as the current"),
])
def test_weak_pins_are_refused_before_the_card_is_touched(v3_card, weak, rule):
    card, service, reading = v3_card
    seen = card.apdus_seen
    with pytest.raises(WeakPin, match=rule):
        service.change_pin(reading.holder, pin(OLD), pin(weak))
    assert card.apdus_seen == seen


@pytest.mark.parametrize("text", ["12345", "1234567", "12a456", "１２３４５６", ""])
def test_pin_format(text):
    with pytest.raises(InvalidPinFormat):
        Pin.from_text(text)


@pytest.mark.parametrize("processed", [False, True], ids=["pulled-before", "pulled-after"])
def test_card_pulled_during_change_leaves_old_or_new_pin_valid(card_slot, psam_slot, processed):
    profile = CardProfile.load("card_v3.toml")
    card = card_slot.insert_profile(profile)
    service = CardService(CONFIG)
    reading = service.read()
    for apdus_before_pull in (0, 1):  # during SELECT, during CHANGE PIN
        card.apdus_seen = 0
        profile.pull_out_after_apdus, profile.pull_out_after_processing = apdus_before_pull, processed
        with pytest.raises(CardRemoved):
            service.change_pin(reading.holder, pin(OLD), pin(NEW))
        profile.pull_out_after_apdus = None
        card_slot.insert(card)  # the same card, back in
        changed = processed and apdus_before_pull == 1
        service.verify_pin(pin(NEW if changed else OLD))
        if changed:
            return


def test_pin_digits_reach_no_log_exception_or_repr(v3_card, caplog):
    card, service, reading = v3_card
    caplog.set_level(logging.DEBUG)
    texts = []
    for old, new in ((OLD, NEW), ("999999", "582937")):
        try:
            service.change_pin(reading.holder, pin(old), pin(new))
        except WrongPin as exc:
            texts += [str(exc), repr(exc), exc.command]
    try:
        service.change_pin(reading.holder, pin(NEW), pin("123456"))
    except WeakPin as exc:
        texts += [str(exc), repr(exc)]
    texts += [repr(pin(NEW)), str(pin(NEW)), caplog.text]
    everything = "\n".join(texts)
    for digits in (OLD, NEW, "999999", "582937"):
        assert digits not in everything
        assert bytes.fromhex(digits).decode("latin-1") not in everything


def test_pin_bytes_are_wiped_after_use():
    p = pin(NEW)
    bcd = p.bcd()
    assert bcd == bytes.fromhex(NEW)
    with p:
        pass
    assert p._digits == bytearray(6)


def hsm_config():
    return dataclasses.replace(CONFIG, security=SecuritySection(module="hsm"))


TERMINAL_PIN_KEY = b"kiosk-terminal-1"


def test_the_backend_hsm_path_reads_a_3_0_card_and_resets_its_pin(card_slot, backend_client, reference_backend,
                                                                  monkeypatch):
    from kiosk.backend.hsm import BackendHsmSecurityModule
    reference_backend.store.seed_terminal_pin_key("KIOSK-0001", TERMINAL_PIN_KEY)
    card = card_slot.insert_profile("card_v3.toml")  # no PSAM in its slot: the HSM does the work
    sent = []
    call = backend_client.call
    monkeypatch.setattr(backend_client, "call", lambda op, payload, **kw: (sent.append(payload), call(op, payload, **kw))[1])
    service = CardService(hsm_config(), BackendHsmSecurityModule(backend_client, TERMINAL_PIN_KEY))
    reading = service.read()
    assert reading.holder.name == "张三"
    card.pin_tries_left = 0
    service.reset_pin(reading, pin(NEW))
    service.verify_pin(pin(NEW))
    # The new PIN reached the HSM only as a PIN block: its digits are in no request (#15).
    assert sent and all(NEW not in json.dumps(payload) for payload in sent)
    [mac_request] = [p for p in sent if "pin_block" in p]
    assert set(mac_request) == {"card_id", "challenge", "header", "pin_block", "key_id"}


def test_the_hsm_refuses_a_pin_block_under_another_terminals_key(card_slot, backend_client, reference_backend):
    from kiosk.backend.hsm import BackendHsmSecurityModule
    reference_backend.store.seed_terminal_pin_key("KIOSK-0001", TERMINAL_PIN_KEY)
    card_slot.insert_profile("card_v3.toml")
    service = CardService(hsm_config(), BackendHsmSecurityModule(backend_client, b"another-terminal"))
    with pytest.raises(SecurityModuleRequired, match="pin_block_invalid"):
        service.reset_pin(service.read(), pin(NEW))
    without_key = CardService(hsm_config(), BackendHsmSecurityModule(backend_client))
    with pytest.raises(SecurityModuleRequired, match="hsm_pin_key_file"):
        without_key.reset_pin(without_key.read(), pin(NEW))


def test_hsm_path_without_the_backend_says_so(card_slot, backend_client, reference_backend):
    from kiosk.backend.hsm import BackendHsmSecurityModule
    card_slot.insert_profile("card_v3.toml")
    service = CardService(hsm_config(), BackendHsmSecurityModule(backend_client))
    reference_backend.stop()
    with pytest.raises(SecurityModuleRequired, match="backend HSM unavailable"):
        service.read()

"""The diagnostics PIN: only its scrypt hash is stored, and five wrong tries lock the gate."""
import subprocess
import sys

import pytest

from kiosk.config import ConfigError, parse_config
from kiosk.staff_pin import StaffGate, hash_staff_pin, staff_pin_matches, well_formed

PIN = [2, 4, 6, 8, 1, 0]


def test_hash_checks_the_right_pin_only():
    stored = hash_staff_pin(PIN)
    assert well_formed(stored) and "246810" not in stored
    assert staff_pin_matches(PIN, stored) and not staff_pin_matches([2, 4, 6, 8, 1, 1], stored)
    assert not staff_pin_matches(PIN, "") and not staff_pin_matches(PIN, "scrypt$1$2$3$zz$00")


def test_five_wrong_tries_lock_even_the_right_pin_until_the_lockout_ends():
    now = [0.0]
    gate = StaffGate(hash_staff_pin(PIN), clock=lambda: now[0], lockout_s=300)
    for _ in range(5):
        assert not gate.try_pin([0] * 6)
    assert gate.locked and not gate.try_pin(PIN)
    now[0] = 301.0
    assert not gate.locked and gate.try_pin(PIN)


def test_no_hash_configured_means_no_way_in():
    assert not StaffGate("").try_pin(PIN)


def test_config_refuses_a_malformed_hash_and_the_command_makes_a_good_one():
    with pytest.raises(ConfigError, match="staff_pin_scrypt"):
        parse_config({"ui": {"staff_pin_scrypt": "246810"}})
    made = subprocess.run([sys.executable, "-m", "kiosk.cli", "config", "hash-staff-pin", "--pin-stdin"],
                          input="246810\n", capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    stored = made.stdout.strip()
    assert parse_config({"ui": {"staff_pin_scrypt": stored}}).ui.staff_pin_scrypt == stored
    assert staff_pin_matches(PIN, stored)
    short = subprocess.run([sys.executable, "-m", "kiosk.cli", "config", "hash-staff-pin", "--pin-stdin"],
                           input="12\n", capture_output=True, text=True, timeout=30)
    assert short.returncode == 2


CARD = "371300D15600000500BF7C7A48FB4966"


def test_a_staff_card_opens_only_when_enrolled_and_its_own_pin_is_accepted():
    from drivers.ssse import WrongPin
    from kiosk.staff_pin import staff_card_digest
    gate = StaffGate("", staff_card_digest(CARD.lower()))
    accepted, refused = [], []

    def card_accepts():
        accepted.append(True)

    def card_refuses():
        refused.append(True)
        raise WrongPin(0x63C2)

    assert gate.card_enrolled(CARD) and not gate.card_enrolled("371300D15600000500BF7C7A48FB4967")
    assert gate.try_staff_card(CARD, card_accepts) and accepted == [True]
    assert not gate.try_staff_card("371300D15600000500BF7C7A48FB4967", card_accepts) and accepted == [True]
    assert not gate.try_staff_card(CARD, card_refuses)


def test_wrong_card_pins_count_toward_the_same_lockout():
    from drivers.ssse import WrongPin
    from kiosk.staff_pin import staff_card_digest
    gate = StaffGate(hash_staff_pin(PIN), staff_card_digest(CARD))

    def card_refuses():
        raise WrongPin(0x63C2)

    for _ in range(3):
        assert not gate.try_pin([0] * 6)
    for _ in range(2):
        assert not gate.try_staff_card(CARD, card_refuses)
    assert gate.locked and not gate.try_pin(PIN) and not gate.try_staff_card(CARD, lambda: None)


def test_a_card_pulled_out_during_the_check_reaches_the_screen_as_a_card_error():
    from drivers.apdu import CardRemoved
    from kiosk.staff_pin import staff_card_digest
    gate = StaffGate("", staff_card_digest(CARD))

    def pulled():
        raise CardRemoved("card removed during VERIFY")

    with pytest.raises(CardRemoved):
        gate.try_staff_card(CARD, pulled)
    assert not gate.locked


def test_config_refuses_a_malformed_staff_card_list_and_the_command_makes_an_entry():
    with pytest.raises(ConfigError, match="staff_cards"):
        parse_config({"ui": {"staff_cards": "not-a-digest"}})
    made = subprocess.run([sys.executable, "-m", "kiosk.cli", "config", "hash-staff-card", "--identifier", CARD],
                          capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    entry = made.stdout.strip()
    assert CARD not in entry and CARD.lower() not in entry
    two = f"{entry}, {'0' * 64}"
    assert StaffGate("", parse_config({"ui": {"staff_cards": two}}).ui.staff_cards).card_enrolled(CARD)
    bad = subprocess.run([sys.executable, "-m", "kiosk.cli", "config", "hash-staff-card", "--identifier", "12"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2


def test_an_eight_digit_staff_pin_is_refused_at_enrolment_as_the_pad_takes_six():
    made = subprocess.run([sys.executable, "-m", "kiosk.cli", "config", "hash-staff-pin", "--pin-stdin"],
                          input="24681012\n", capture_output=True, text=True, timeout=30)
    assert made.returncode == 2 and "6 digits" in made.stderr


def test_the_lockout_survives_a_restart_and_grows_at_each_lockout(tmp_path):
    from kiosk.staff_pin import StaffLockoutStore
    from offline_queue import KeyRing, Outbox
    now, events = [1000.0], []

    def gate_on_disk():
        outbox = Outbox(tmp_path / "kiosk.db", KeyRing.generate())
        return outbox, StaffGate(hash_staff_pin(PIN), store=StaffLockoutStore(outbox), clock=lambda: now[0],
                                 lockout_s=300, on_event=lambda event, detail: events.append((event, detail)))

    outbox, gate = gate_on_disk()
    for _ in range(5):
        assert not gate.try_pin([0] * 6)
    outbox.close()
    outbox, gate = gate_on_disk()                  # the kiosk restarted: still locked
    assert gate.locked and not gate.try_pin(PIN)
    now[0] += 301
    for _ in range(5):
        assert not gate.try_pin([0] * 6)
    now[0] += 301
    assert gate.locked                             # the second lockout lasts twice as long
    now[0] += 300
    assert gate.try_pin(PIN) and not gate.locked
    assert [e for e, _ in events] == ["staff_lockout", "staff_lockout", "staff_signed_in"]
    assert [d["seconds"] for e, d in events if e == "staff_lockout"] == [300, 600]
    outbox.close()


def test_a_staff_card_that_fails_its_proof_is_refused_counted_and_told():
    from drivers.ssse import CardNotGenuine
    from kiosk.staff_pin import staff_card_digest
    events, pin_checked = [], []
    gate = StaffGate("", staff_card_digest(CARD), on_event=lambda event, detail: events.append(event))

    def emulator():
        raise CardNotGenuine("the answer to INTERNAL AUTHENTICATE is not this card's")

    with pytest.raises(CardNotGenuine):
        gate.try_staff_card(CARD, lambda: pin_checked.append(True), emulator)
    assert pin_checked == [] and events == ["staff_card_not_genuine"]
    # A genuine card of another identifier than the one the screen read is no better.
    with pytest.raises(CardNotGenuine):
        gate.try_staff_card(CARD, lambda: pin_checked.append(True), lambda: "371300D15600000500BF7C7A48FB4967")
    assert gate.try_staff_card(CARD, lambda: pin_checked.append(True), lambda: CARD)
    assert pin_checked == [True] and events[-1] == "staff_signed_in"

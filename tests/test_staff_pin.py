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

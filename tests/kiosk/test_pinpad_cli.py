"""`kiosk pinpad status|load-key` (#15) against the simulated pad: a blank pad says so, the
key loads, the pad then says its keys are loaded, and the audit trail records the key set and
its check value, never the key; a malformed key or a silent pad is a clear error."""
from __future__ import annotations

import subprocess
import sys

import pytest

from backend_helpers import kiosk_config_file
from drivers.keyscheme import sm4_ecb_encrypt
from drivers.sim.pin_pad import SimulatedPinPad
from kiosk.config import load_config
from kiosk.core import KioskCore
from offline_queue import Outbox

KEY = "6B696F736B2D73696D2D7061642D3430"


@pytest.fixture
def pad(tmp_path):
    device = SimulatedPinPad(tmp_path / "pad-keys.json")
    device.start()
    yield device
    device.stop()


def kiosk(config, *args, stdin=""):
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), *args], input=stdin,
                          capture_output=True, text=True, timeout=30)


def test_a_blank_pad_is_told_then_its_key_is_loaded_and_audited(tmp_path, reference_backend, pki_files,
                                                                 pad):
    config = kiosk_config_file(tmp_path, reference_backend, pki_files, None, pin_pad_port=pad.path)
    blank = kiosk(config, "pinpad", "status")
    assert blank.returncode == 0 and "NO KEYS" in blank.stdout, blank.stderr
    loaded = kiosk(config, "pinpad", "load-key", "--key-set", "0", "--custodian", "BANK-007", stdin=KEY + "\n")
    check_value = sm4_ecb_encrypt(bytes.fromhex(KEY), bytes(16))[:4].hex().upper()
    assert loaded.returncode == 0 and check_value in loaded.stdout, loaded.stderr
    assert pad.keys() == {0x40: bytes.fromhex(KEY)}
    assert "keys loaded" in kiosk(config, "pinpad", "status").stdout
    core = KioskCore(load_config(config))
    try:
        [entry] = [e for e in core.audit.entries(Outbox.connect(core.config.outbox.db)) if e.step == "pin_pad_key_load"]
    finally:
        core.close()
    assert entry.details == {"key_set": 0, "check_value": check_value, "custodian": "BANK-007"}
    assert KEY not in str(entry.details)


@pytest.mark.parametrize("stdin, args, told", [
    ("not hex\n", ["--custodian", "BANK-007"], "32 hex digits"),
    (KEY[:-2] + "\n", ["--custodian", "BANK-007"], "32 hex digits"),
    (KEY + "\n", ["--custodian", "张三"], "staff number"),
])
def test_a_malformed_key_or_custodian_is_refused(tmp_path, reference_backend, pki_files, pad,
                                                 stdin, args, told):
    config = kiosk_config_file(tmp_path, reference_backend, pki_files, None, pin_pad_port=pad.path)
    refused = kiosk(config, "pinpad", "load-key", *args, stdin=stdin)
    assert refused.returncode == 2 and told in refused.stderr and not pad.keys()


def test_a_silent_pad_is_not_responding(tmp_path, reference_backend, pki_files, pad):
    pad.unplugged = True
    config = kiosk_config_file(tmp_path, reference_backend, pki_files, None, pin_pad_port=pad.path)
    silent = kiosk(config, "pinpad", "status")
    assert silent.returncode == 3 and "did not answer" in silent.stderr

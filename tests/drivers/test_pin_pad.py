"""The encrypting PIN pad driver (drivers/pin_pad.py) against its simulator on a pty, and the
ISO 9564 format 0 block (drivers/pin_block.py): what the pad sends opens to the digits typed;
Cancel, the kiosk's cancel, a missing key, a broken answer and a silent pad are typed errors;
the social security PIN taken in plain-text mode is a wiped `Pin`."""
from __future__ import annotations

import threading

import pytest

from drivers import pin_block
from drivers.pin_pad import (PinEntryCancelled, PinPad, PinPadFrameError, PinPadKeyMissing, PinPadUnavailable,
                             encode_frame)
from drivers.sim.pin_pad import SimulatedPinPad

KEY = b"kiosk-sim-pad-40"
ACCOUNT = "6219993713000123452"


@pytest.fixture
def sim(tmp_path):
    device = SimulatedPinPad(tmp_path / "keys.json", key_interval_s=0.005)
    device.start()
    yield device
    device.stop()


@pytest.fixture
def pad(sim):
    with PinPad(sim.path, read_timeout=0.3, entry_timeout_s=5) as pad:
        pad.load_pin_key(0, KEY)
        yield pad


def test_iso9564_format_0_matches_the_published_example():
    assert pin_block.format0("1234", pin_block.account_digits("43219876543210987")).hex().upper() == "0412AC89ABCDEF67"
    block = pin_block.encrypt(KEY, "582936", pin_block.account_digits(ACCOUNT))
    assert pin_block.open_block(KEY, block, ACCOUNT) == "582936"
    with pytest.raises(pin_block.PinBlockError):
        pin_block.open_block(b"another-pad-key!", block, ACCOUNT)


def test_frames_carry_length_etx_and_a_xor_checksum():
    assert encode_frame(b"3") == b"\x02" + b"0013\x03" + b"%02X" % (0x30 ^ 0x30 ^ 0x31 ^ 0x33 ^ 0x03)


def test_the_block_the_pad_sends_opens_to_the_digits_typed_with_a_correction(sim, pad):
    sim.press("58293\b36\r")
    keys = []
    sent = pad.read_pin_block(ACCOUNT, on_key=keys.append)
    assert pin_block.open_block(KEY, sent.block, ACCOUNT) == "582936"
    assert keys == ["digit"] * 5 + ["backspace"] + ["digit"] * 2
    assert sim.beeps == 1   # the pad called the citizen's attention as it began to take keys
    assert "582936" not in repr(sent) and sent.block.hex() not in repr(sent)


def test_cancel_on_the_pad_and_the_kiosks_cancel_stop_the_entry(sim, pad):
    sim.press("58\x1b")
    with pytest.raises(PinEntryCancelled, match="pressed Cancel"):
        pad.read_pin_block(ACCOUNT)
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    with pytest.raises(PinEntryCancelled, match="kiosk cancelled"):
        pad.read_pin_block(ACCOUNT, cancel=cancel)


def test_a_key_set_without_a_key_is_refused_by_the_pad(sim, pad):
    with pytest.raises(PinPadKeyMissing):
        pad.read_pin_block(ACCOUNT, key_set=3)


def test_a_broken_answer_and_a_silent_pad_are_typed_errors(sim, pad):
    sim.garbage = True
    with pytest.raises(PinPadFrameError):
        pad.status()
    sim.garbage, sim.unplugged = False, True
    with pytest.raises(PinPadUnavailable, match="did not answer"):
        pad.status()


def test_the_card_pin_in_plain_text_mode_is_a_pin_the_card_can_take(sim, pad):
    sim.press("1472589\b8\r")
    with pad.read_card_pin() as pin:
        assert pin.bcd() == bytearray.fromhex("147258")

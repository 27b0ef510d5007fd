"""pcscd killed with SIGKILL, while the kiosk is idle and in the middle of a visit, then started
again: the citizen is told the reader is not available, nothing half-done reaches the card or
the backend, and the kiosk reads cards again once pcscd is back, without a restart of its own.
First through the core, then on the real screens (ui_pcscd_killed.py)."""
from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from drivers.apdu import CardError
from drivers.pcsc import PcscError
from drivers.pin import Pin
from kiosk.device_messages import citizen_message
from tests.faults.conftest import CARD_PIN, HOLDER, backend_events
from tests.ui_script import run_ui_script

READERS_DOWN_MESSAGE = "读卡设备暂不可用，请稍候或联系工作人员。"   # screens/app.py (no Kivy in this process)


def read_when_back(kiosk, timeout_s: float = 15.0):
    """The kiosk's next card read once pcscd is back (the simulated cards reconnect to it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return kiosk.cards.read()
        except CardError:  # pcscd coming back: no service, no card seen yet, or its card lost
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_pcscd_killed_while_idle(kiosk, pcscd, card_slot):
    card_slot.insert_profile("card_v3.toml")
    pcscd.stop(signal.SIGKILL)
    try:
        with pytest.raises(PcscError) as caught:
            kiosk.cards.read()
        assert citizen_message(caught.value)
    finally:
        pcscd.start()
    assert read_when_back(kiosk).holder.name == HOLDER.name


def test_pcscd_killed_during_a_pin_change(kiosk, pcscd, card_slot, reference_backend):
    card = card_slot.insert_profile("card_v3.toml")
    visit = kiosk.services.new_visit()
    visit.identify(HOLDER)
    visit.present_card(kiosk.cards.read())
    pcscd.stop(signal.SIGKILL)
    try:
        with Pin.from_text(CARD_PIN) as old, Pin.from_text("582936") as new:
            [result] = kiosk.services.change_pin(visit, old, new)
    finally:
        pcscd.start()
    assert result.outcome == "failed" and "读卡" in result.citizen_message, result
    assert card.profile.pin == CARD_PIN                      # nothing reached the card
    assert "pin_changed" not in backend_events(reference_backend)
    # The citizen tries again once the reader is back, in the same visit: it goes through once.
    read_when_back(kiosk)
    with Pin.from_text(CARD_PIN) as old, Pin.from_text("582936") as new:
        [again] = kiosk.services.change_pin(visit, old, new)
    assert again.ok and card.profile.pin == "582936"
    deadline = time.monotonic() + 10
    while kiosk.outbox.stats().pending and time.monotonic() < deadline:
        time.sleep(0.1)
    assert backend_events(reference_backend).count("pin_changed") == 1


# --- the same on the real screens ---------------------------------------------------------------

@pytest.fixture(scope="module")
def on_screen(pcscd):
    return run_ui_script(Path(__file__).with_name("ui_pcscd_killed.py"), env={"KIOSK_RUN_DIR": str(pcscd.run_dir)})


def test_on_screen_pcscd_killed_while_idle_is_told_on_the_home_screen_and_mended(on_screen):
    assert on_screen["idle_down"] == READERS_DOWN_MESSAGE            # in Chinese, the default language
    assert on_screen["idle_after"].startswith("张")                   # read again, no restart of the kiosk


def test_on_screen_pcscd_killed_during_a_pin_change_fails_in_plain_words_and_changes_nothing(on_screen):
    assert any("读卡" in line for line in on_screen["visit_result"]), on_screen["visit_result"]
    assert on_screen["pin_after_visit"] == CARD_PIN
    assert "pin_changed" not in on_screen["backend_events"]
    assert on_screen["visit_after"].startswith("张")

"""The reader supervisor and the card watcher, including pcscd dying under them."""
import queue
import signal
import time

from drivers.pcsc import ReaderEvent, ReaderSupervisor
from drivers.sim.pcscd import CARD_READER, PSAM_READER
from kiosk.card_service import (CardPresented, CardReadFailed, CardService, CardWatcher, CardWithdrawn,
                                ReadersAvailable, ReadersUnavailable)
from kiosk.config import KioskConfig
from kiosk.device_messages import citizen_message


def next_event(events: queue.Queue, kind, timeout=5.0, reader=None):
    """The next event of `kind` (skipping others, and those of other readers when `reader` is
    given), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {kind} within {timeout} s"
        try:
            event = events.get(timeout=remaining)
        except queue.Empty:
            continue
        if isinstance(event, ReaderEvent):
            if event.kind == kind and reader in (None, event.reader):
                return event
        elif isinstance(event, kind):
            return event


def test_supervisor_reports_readers_and_cards(card_slot):
    events = queue.Queue()
    supervisor = ReaderSupervisor(events.put).start()
    try:
        readers = {next_event(events, ReaderEvent.READER_ADDED).reader for _ in range(2)}
        assert readers == {CARD_READER, PSAM_READER}
        card_slot.insert_profile("card_v2.toml")
        inserted = next_event(events, ReaderEvent.CARD_INSERTED, reader=CARD_READER)
        assert inserted.atr
        assert supervisor.snapshot()[CARD_READER] == inserted.atr
        card_slot.remove()
        next_event(events, ReaderEvent.CARD_REMOVED, reader=CARD_READER)
        assert supervisor.snapshot()[CARD_READER] is None
    finally:
        supervisor.stop()


def test_watcher_recovers_when_pcscd_is_killed_and_restarted(pcscd, card_slot, psam_slot):
    events = queue.Queue()
    watcher = CardWatcher(CardService(KioskConfig()), events.put).start()
    try:
        card_slot.insert_profile("card_v3.toml")
        assert next_event(events, CardPresented).reading.holder.name == "张三"

        pcscd.stop(signal.SIGKILL)
        next_event(events, ReadersUnavailable)
        pcscd.start()
        restarted = time.monotonic()
        next_event(events, ReadersAvailable)
        # The simulated cards reconnect to the new pcscd by themselves, as real cards stay put.
        # About a second here alone; the bound leaves room for the rest of the suite running
        # beside it on the other core (./run test), which slows pcscd's own start.
        presented = next_event(events, CardPresented, timeout=10)
        assert time.monotonic() - restarted < 10
        assert presented.reading.info.card_number == "M12345678"

        card_slot.remove()
        next_event(events, CardWithdrawn)
    finally:
        watcher.stop()


def test_watcher_reports_a_failed_read_and_keeps_watching(card_slot):
    events = queue.Queue()
    watcher = CardWatcher(CardService(KioskConfig()), events.put).start()
    try:
        card_slot.insert_profile("card_v3.toml", pull_out_after_apdus=3)
        failed = next_event(events, CardReadFailed)
        assert "取出" in citizen_message(failed.error)
        card_slot.remove()
        card_slot.insert_profile("card_v2.toml")
        assert next_event(events, CardPresented).reading.info.generation == 2
    finally:
        watcher.stop()

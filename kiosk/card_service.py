"""Reading the citizen's social security card, and watching the reader for the screens.

`CardService.read()` does one complete read through the configured readers and security
module. `CardWatcher` turns the reader supervisor's events into what a visit cares about
(card presented and read, read failed, card withdrawn, readers unavailable), reading on its
own worker thread so no caller, least of all the UI thread, ever waits on a card.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Callable

from drivers.apdu import ApduChannel, CardError
from drivers.pcsc import CardConnection, ReaderEvent, ReaderSupervisor
from drivers.security_module import PsamSecurityModule, SecurityModuleRequired
from drivers.ssse import CardReading, SocialSecurityCard
from drivers.ssse_records import mask_id_number
from kiosk.config import KioskConfig

log = logging.getLogger(__name__)


class _PsamOnDemand:
    """Connects to the PSAM only when a card needs a cryptogram: 1.0/2.0 reads never do."""

    def __init__(self, reader: str, cancel: threading.Event | None):
        self.reader = reader
        self.cancel = cancel
        self.connection: CardConnection | None = None
        self.channel: ApduChannel | None = None

    def external_auth_cryptogram(self, card_identifier: bytes, challenge: bytes, key_id: int) -> bytes:
        if self.connection is None:
            try:
                self.connection = CardConnection(self.reader)
            except CardError as exc:
                raise SecurityModuleRequired(f"PSAM in {self.reader!r} unavailable: {exc}") from exc
            self.channel = ApduChannel(self.connection, self.cancel)
        return PsamSecurityModule(self.channel).external_auth_cryptogram(card_identifier, challenge, key_id)

    @property
    def apdu_count(self) -> int:
        return self.channel.apdu_count if self.channel else 0

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


@dataclass(frozen=True)
class CardReadStats:
    card_apdus: int
    psam_apdus: int


class CardService:
    def __init__(self, config: KioskConfig):
        self.config = config
        self.last_stats = CardReadStats(0, 0)

    def read(self, cancel: threading.Event | None = None) -> CardReading:
        """One full read of the card in the card reader; raises a CardError subclass on failure."""
        psam = (_PsamOnDemand(self.config.readers.psam, cancel)
                if self.config.security.module == "psam" else None)
        try:
            with CardConnection(self.config.readers.card) as connection, connection.transaction():
                channel = ApduChannel(connection, cancel)
                try:
                    return SocialSecurityCard(channel, connection.atr, psam).read()
                finally:
                    self.last_stats = CardReadStats(channel.apdu_count, psam.apdu_count if psam else 0)
        finally:
            if psam is not None:
                psam.close()

    def ireadcardbas(self, reading: CardReading) -> str:
        terminal = self.config.terminal
        return reading.ireadcardbas(terminal.terminal_number, terminal.terminal_device_number)


def mask_name(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧***: the first character is enough for the holder to recognise."""
    return name[:1] + "*" * (len(name) - 1)


def mask_card_number(number: str) -> str:
    return number[:1] + "*" * (len(number) - 5) + number[-4:] if len(number) > 5 else "*" * len(number)


@dataclass(frozen=True)
class CardSummary:
    """What a screen may show of a card: personal data masked, dates as people read them."""

    name: str
    social_security_number: str
    card_number: str
    expiry: str
    card_version: str

    @classmethod
    def of(cls, reading: CardReading) -> "CardSummary":
        info = reading.info
        return cls(
            name=mask_name(reading.holder.name),
            social_security_number=mask_id_number(reading.holder.social_security_number),
            card_number=mask_card_number(info.card_number),
            expiry=f"{info.expiry_date.year}年{info.expiry_date.month}月{info.expiry_date.day}日",
            card_version=f"{info.generation}.0 代卡（{info.spec_version}）",
        )


@dataclass(frozen=True)
class CardPresented:
    reading: CardReading


@dataclass(frozen=True)
class CardReadFailed:
    error: CardError


@dataclass(frozen=True)
class CardWithdrawn:
    pass


@dataclass(frozen=True)
class ReadersUnavailable:
    """pcscd is gone or the configured card reader is missing."""

    reason: str


@dataclass(frozen=True)
class ReadersAvailable:
    pass


CardEvent = CardPresented | CardReadFailed | CardWithdrawn | ReadersUnavailable | ReadersAvailable


class CardWatcher:
    """Supervises the readers and reads each inserted card; `on_event` gets CardEvent values
    on the watcher's worker thread (the screens hand them to the UI thread with Clock)."""

    def __init__(self, service: CardService, on_event: Callable[[CardEvent], None]):
        self.service = service
        self.on_event = on_event
        self._events: queue.Queue[ReaderEvent | None] = queue.Queue()
        self._cancel_read = threading.Event()
        self._supervisor = ReaderSupervisor(self._events.put)
        self._worker = threading.Thread(target=self._run, name="card-watcher", daemon=True)

    def start(self) -> "CardWatcher":
        self._worker.start()
        self._supervisor.start()
        return self

    def stop(self) -> None:
        self._cancel_read.set()
        self._supervisor.stop()
        self._events.put(None)
        self._worker.join(3)

    def _is_card_reader(self, reader: str) -> bool:
        return reader.startswith(self.service.config.readers.card)

    def _run(self) -> None:
        while (event := self._events.get()) is not None:
            try:
                self._handle(event)
            except Exception:  # keep watching whatever one event did
                log.exception("card watcher failed on %s", event.kind)

    def _handle(self, event: ReaderEvent) -> None:
        if event.kind == ReaderEvent.SERVICE_LOST:
            self.on_event(ReadersUnavailable("the smart card service (pcscd) is not running"))
        elif event.kind == ReaderEvent.SERVICE_BACK:
            self.on_event(ReadersAvailable())
        elif not self._is_card_reader(event.reader):
            return
        elif event.kind == ReaderEvent.CARD_INSERTED:
            self._read_card()
        elif event.kind == ReaderEvent.CARD_REMOVED:
            self.on_event(CardWithdrawn())
        elif event.kind == ReaderEvent.READER_REMOVED:
            self.on_event(ReadersUnavailable(f"card reader {event.reader!r} was removed"))
        elif event.kind == ReaderEvent.READER_ADDED:
            self.on_event(ReadersAvailable())

    def _read_card(self) -> None:
        self._cancel_read.clear()
        try:
            reading = self.service.read(self._cancel_read)
        except CardError as exc:
            log.info("card read failed: %s", exc)
            self.on_event(CardReadFailed(exc))
        else:
            self.on_event(CardPresented(reading))

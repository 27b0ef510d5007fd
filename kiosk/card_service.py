"""Reading the citizen's social security card, and watching the reader for the screens.

`CardService.read()` does one complete read through the configured readers and security
module. `CardWatcher` turns the reader supervisor's events into what a visit cares about
(card presented and read, read failed, card withdrawn, readers unavailable), reading on its
own worker thread so no caller, least of all the UI thread, ever waits on a card.
"""
from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

from drivers.apdu import ApduChannel, CardError
from drivers.financial import BankAccount, FinancialApplication, NoFinancialApplication
from drivers.pcsc import CardConnection, ReaderEvent, ReaderSupervisor
from drivers.security_module import PsamSecurityModule, SecurityModule, SecurityModuleRequired
from drivers.pin import Pin
from drivers.ssse import CardReading, SocialSecurityCard
from drivers.ssse_records import CardHolder, CardIdentifier, CardInfo
from kiosk.i18n import _
from kiosk.masking import mask_card_number, mask_id_number, mask_name
from kiosk.config import KioskConfig
from kiosk.pin_policy import check_new_pin

log = logging.getLogger(__name__)


class DifferentCard(CardError):
    """The card in the reader is not the one the visit started with."""

    citizen_message = "卡片与本次办理的卡不一致，请插入您本人的社会保障卡。"


class _PsamOnDemand:
    """Connects to the PSAM only when a card needs a cryptogram: 1.0/2.0 reads never do. A card
    of a region whose keys the PSAM lacks ([security] hsm_regions) goes to the backend's HSM."""

    def __init__(self, reader: str, cancel: threading.Event | None, hsm: SecurityModule | None = None,
                 hsm_regions: frozenset[str] = frozenset()):
        self.reader = reader
        self.cancel = cancel
        self.hsm = hsm
        self.hsm_regions = hsm_regions
        self.connection: CardConnection | None = None
        self.channel: ApduChannel | None = None

    def external_auth_cryptogram(self, card_identifier: bytes, challenge: bytes, key_id: int) -> bytes:
        return self._for(card_identifier).external_auth_cryptogram(card_identifier, challenge, key_id)

    def command_mac(self, card_identifier: bytes, challenge: bytes, header: bytes, data: bytes,
                    key_id: int) -> bytes:
        return self._for(card_identifier).command_mac(card_identifier, challenge, header, data, key_id)

    def internal_auth_genuine(self, card_identifier: bytes, challenge: bytes, response: bytes, key_id: int,
                              cipher: str) -> bool:
        return self._for(card_identifier).internal_auth_genuine(card_identifier, challenge, response, key_id, cipher)

    def _for(self, card_identifier: bytes) -> SecurityModule:
        region = CardIdentifier(card_identifier).region_code
        if region not in self.hsm_regions:
            return self._psam()
        if self.hsm is None:
            raise SecurityModuleRequired(f"a card of region {region}, whose keys the PSAM lacks, needs the backend's HSM")
        return self.hsm

    def _psam(self) -> PsamSecurityModule:
        if self.connection is None:
            try:
                self.connection = CardConnection(self.reader)
            except CardError as exc:
                raise SecurityModuleRequired(f"PSAM in {self.reader!r} unavailable: {exc}") from exc
            self.channel = ApduChannel(self.connection, self.cancel)
        return PsamSecurityModule(self.channel)

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
    """The citizen's card through the configured readers. `hsm` is the backend's security
    module, required when the config says [security] module = "hsm"."""

    def __init__(self, config: KioskConfig, hsm: SecurityModule | None = None):
        """`hsm`: the backend's security module, for module = 'hsm' and for [security] hsm_regions."""
        if config.security.module == "hsm" and hsm is None:
            raise ValueError("[security] module = 'hsm' needs the backend's security module")
        self.config = config
        self.hsm = hsm
        self.last_stats = CardReadStats(0, 0)

    def _security_module(self, cancel: threading.Event | None):
        return {"psam": lambda: _PsamOnDemand(self.config.readers.psam, cancel, self.hsm,
                                              self.config.security.hsm_region_codes),
                "hsm": lambda: self.hsm, "none": lambda: None}[self.config.security.module]()

    @contextlib.contextmanager
    def _card(self, reader: str, cancel: threading.Event | None) -> Iterator[SocialSecurityCard]:
        """The card in `reader` inside a PC/SC transaction, with the security module on demand."""
        module = self._security_module(cancel)
        psam = module if isinstance(module, _PsamOnDemand) else None
        try:
            with CardConnection(reader) as connection, connection.transaction():
                channel = ApduChannel(connection, cancel)
                try:
                    yield SocialSecurityCard(channel, connection.atr, module)
                finally:
                    self.last_stats = CardReadStats(channel.apdu_count, psam.apdu_count if psam else 0)
        finally:
            if psam is not None:
                psam.close()

    def read(self, cancel: threading.Event | None = None) -> CardReading:
        """One full read of the card in the card reader; raises a CardError subclass on failure."""
        with self._card(self.config.readers.card, cancel) as card:
            return card.read()

    def bank_account(self, reader: str | None = None, cancel: threading.Event | None = None) -> BankAccount | None:
        """The account of the card's financial application (金融社保卡, #15), or None for a card
        without one. Raises a CardError subclass (MalformedFinancialData for data that does not
        parse)."""
        with self._card(reader or self.config.readers.card, cancel) as card:
            try:
                return FinancialApplication(card.channel).read()
            except NoFinancialApplication:
                return None

    def verify_pin(self, pin: Pin, cancel: threading.Event | None = None) -> None:
        with self._card(self.config.readers.card, cancel) as card:
            card.select()
            card.verify_pin(pin)

    def prove_genuine(self, cancel: threading.Event | None = None) -> CardIdentifier:
        """The card in the card reader proves it holds its own key (INTERNAL AUTHENTICATE, checked
        by the PSAM or the HSM, in the cipher its EF05 declares); returns its identifier, now to be
        trusted. Raises CardNotGenuine."""
        with self._card(self.config.readers.card, cancel) as card:
            card.select()
            identifier = card.read_identifier()
            card.prove_genuine(identifier.raw, card.read_generation())
            return identifier

    def change_pin(self, holder: CardHolder, old: Pin, new: Pin, cancel: threading.Event | None = None,
                   reader: str | None = None) -> None:
        """1.10.5 change: the card checks the old PIN itself (a wrong one costs a try).
        `reader` defaults to the citizen's card reader (the encoder, for a new card)."""
        check_new_pin(new, holder.birth_date, holder.social_security_number, old)
        with self._card(reader or self.config.readers.card, cancel) as card:
            card.select()
            card.change_pin(old, new)

    def reset_pin(self, reading: CardReading, new: Pin, cancel: threading.Event | None = None) -> None:
        """1.10.5 reset: a forgotten or blocked PIN replaced, with the security module's MAC.
        The caller has identified the holder (ID card); the card must be the one read."""
        check_new_pin(new, reading.holder.birth_date, reading.holder.social_security_number)
        with self._card(self.config.readers.card, cancel) as card:
            self._select_same_card(card, reading.info)
            card.reload_pin(reading.info.identifier.raw, new)

    def blank_identifier(self, encoder_reader: str, cancel: threading.Event | None = None) -> CardIdentifier:
        """The identifier of the blank in the card printer's encoder (refusing a used card)."""
        with self._card(encoder_reader, cancel) as card:
            card.select()
            return card.blank_identifier()

    def identifier_in(self, reader: str, cancel: threading.Event | None = None) -> CardIdentifier:
        """The identifier of the written card in `reader` (a card the issuance journal left there)."""
        with self._card(reader, cancel) as card:
            card.select()
            return card.read_identifier()

    def personalise(self, encoder_reader: str, info: CardInfo, holder: CardHolder,
                    cancel: threading.Event | None = None) -> CardReading:
        """Write a blank in the card printer's encoder (instant issuance); see SocialSecurityCard.personalise."""
        with self._card(encoder_reader, cancel) as card:
            return card.personalise(info, holder)

    @staticmethod
    def _select_same_card(card: SocialSecurityCard, info: CardInfo) -> None:
        card.select()
        if card.read_identifier() != info.identifier:
            raise DifferentCard(f"expected card {info.identifier.hex}")

    def ireadcardbas(self, reading: CardReading) -> str:
        terminal = self.config.terminal
        return reading.ireadcardbas(terminal.terminal_number, terminal.terminal_device_number)


def bank_of(account: BankAccount, banks: dict[str, str]) -> str:
    """The bank of the account by the longest BIN of the table that begins it; "" if none."""
    matches = [prefix for prefix in banks if account.pan.startswith(prefix)]
    return banks[max(matches, key=len)] if matches else ""


@dataclass(frozen=True)
class CardSummary:
    """What a screen may show of a card: personal data masked, dates as people read them, in
    the visit's language."""

    name: str
    social_security_number: str
    card_number: str
    expiry: str
    card_version: str
    bank_account: str = ""    # the bank and the masked account of a 金融社保卡 (#15)

    @classmethod
    def of(cls, reading: CardReading, account: BankAccount | None = None,
           banks: dict[str, str] | None = None) -> "CardSummary":
        """`banks`: the configured BIN table ([bank] bins)."""
        info = reading.info
        return cls(
            bank_account=(_("本卡无银行账户") if account is None
                          else f"{bank_of(account, banks or {}) or _('银行账户')} {account.masked}"),
            name=mask_name(reading.holder.name),
            social_security_number=mask_id_number(reading.holder.social_security_number),
            card_number=mask_card_number(info.card_number),
            expiry=_("{year}年{month}月{day}日").format(
                year=info.expiry_date.year, month=info.expiry_date.month, day=info.expiry_date.day),
            card_version=_("{generation}.0 代卡（{spec}）").format(generation=info.generation, spec=info.spec_version),
        )


@dataclass(frozen=True)
class CardPresented:
    reading: CardReading
    account: BankAccount | None = None   # the financial application's, when the card has one


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
            return
        try:
            account = self.service.bank_account(cancel=self._cancel_read)
        except CardError as exc:   # the bank side is the bank's: the card still serves its holder
            log.warning("the card's financial application could not be read: %s", exc)
            account = None
        self.on_event(CardPresented(reading, account))

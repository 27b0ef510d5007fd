"""PC/SC through pcscd: the only module that imports pyscard.

Two things live here:

* `CardConnection`: one card in one reader, `transmit(bytes) -> bytes`, with every PC/SC
  failure turned into a typed error (`CardRemoved`, `ReaderUnavailable`, ...).
* `ReaderSupervisor`: a thread that watches readers and cards with `SCardGetStatusChange`
  and survives pcscd going away. pyscard's `CardMonitor` is not used because its thread dies
  silently when pcscd restarts; here a lost service is reported, the context is released and
  re-established with backoff, and the readers are re-listed when it comes back.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from smartcard import scard

from drivers.apdu import CardError, CardRemoved, NoCardPresent

log = logging.getLogger(__name__)

PNP_NOTIFICATION = "\\\\?PnP?\\Notification"


class PcscError(CardError):
    """A PC/SC call failed; `code` is the PC/SC return code."""

    def __init__(self, message: str, code: int = 0):
        self.code = code
        super().__init__(message)


class ReaderServiceUnavailable(PcscError):
    pass


class ReaderUnavailable(PcscError):
    pass


_SERVICE_GONE = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED}
# A contact card that stops mid-transaction has almost always lost its contacts: for the
# citizen and for the outcome of the command, that is the card being pulled out.
_CARD_GONE = {scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_RESET_CARD,
              scard.SCARD_W_UNPOWERED_CARD, scard.SCARD_W_UNRESPONSIVE_CARD,
              scard.SCARD_E_NOT_TRANSACTED}
_READER_GONE = {scard.SCARD_E_READER_UNAVAILABLE, scard.SCARD_E_UNKNOWN_READER,
                scard.SCARD_E_NO_READERS_AVAILABLE}


def _describe(code: int) -> str:
    return f"{scard.SCardGetErrorMessage(code).strip()} (0x{code & 0xFFFFFFFF:08X})"


def _error(code: int, doing: str) -> CardError:
    """The typed error for a failed PC/SC call."""
    if code in _SERVICE_GONE:
        cls = ReaderServiceUnavailable
    elif code in _CARD_GONE:
        return CardRemoved(f"{doing}: {_describe(code)}")
    elif code in _READER_GONE:
        cls = ReaderUnavailable
    else:
        cls = PcscError
    return cls(f"{doing}: {_describe(code)}", code)


def _establish_context() -> int:
    code, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if code != scard.SCARD_S_SUCCESS:
        raise _error(code, "connecting to pcscd")
    return context


def _list_readers(context: int) -> list[str]:
    code, readers = scard.SCardListReaders(context, [])
    if code == scard.SCARD_E_NO_READERS_AVAILABLE:
        return []
    if code != scard.SCARD_S_SUCCESS:
        raise _error(code, "listing readers")
    return list(readers)


def match_reader(readers: list[str], wanted: str) -> str:
    """The reader called `wanted`: an exact name, else the one name that starts with it."""
    if wanted in readers:
        return wanted
    candidates = [r for r in readers if r.startswith(wanted)]
    if len(candidates) == 1:
        return candidates[0]
    listing = ", ".join(readers) or "none"
    if not candidates:
        raise ReaderUnavailable(f"no reader named {wanted!r} (readers: {listing})")
    raise ReaderUnavailable(f"{wanted!r} matches several readers ({listing}); give the full name")


def list_readers() -> list[str]:
    context = _establish_context()
    try:
        return _list_readers(context)
    finally:
        scard.SCardReleaseContext(context)


class CardConnection:
    """One card in one reader, powered up and ready for APDUs."""

    def __init__(self, reader: str):
        self._context = _establish_context()
        try:
            self.reader = match_reader(_list_readers(self._context), reader)
            code, self._card, self._protocol = scard.SCardConnect(
                self._context, self.reader, scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
            if code == scard.SCARD_E_NO_SMARTCARD or code == scard.SCARD_W_REMOVED_CARD:
                raise NoCardPresent(f"no card in {self.reader}")
            if code != scard.SCARD_S_SUCCESS:
                raise _error(code, f"connecting to the card in {self.reader}")
            code, _, _, _, atr = scard.SCardStatus(self._card)
            if code != scard.SCARD_S_SUCCESS:
                raise _error(code, f"reading the ATR in {self.reader}")
            self.atr = bytes(atr)
        except BaseException:
            scard.SCardReleaseContext(self._context)
            raise

    @property
    def protocol(self) -> str:
        return "T=0" if self._protocol == scard.SCARD_PROTOCOL_T0 else "T=1"

    def transmit(self, apdu: bytes) -> bytes:
        pci = scard.SCARD_PCI_T0 if self._protocol == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1
        code, response = scard.SCardTransmit(self._card, pci, list(apdu))
        if code != scard.SCARD_S_SUCCESS:
            raise _error(code, f"sending an APDU to {self.reader}")
        if len(response) < 2:
            # A working card always ends with a status word; vpcd and some readers hand back
            # nothing when the contacts open mid-command.
            raise CardRemoved(f"the card in {self.reader} stopped answering mid-command")
        return bytes(response)

    @contextlib.contextmanager
    def transaction(self):
        """Exclusive access for a multi-APDU operation, so no other process interleaves."""
        code = scard.SCardBeginTransaction(self._card)
        if code != scard.SCARD_S_SUCCESS:
            raise _error(code, f"starting a transaction on {self.reader}")
        try:
            yield self
        finally:
            scard.SCardEndTransaction(self._card, scard.SCARD_LEAVE_CARD)

    def close(self) -> None:
        if self._context is None:
            return
        # Errors are ignored: the card or pcscd may already be gone, which is why we close.
        scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
        scard.SCardReleaseContext(self._context)
        self._context = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass(frozen=True)
class ReaderEvent:
    """What the supervisor saw. `kind` is one of the KIND_* names below."""

    kind: str
    reader: str = ""
    atr: bytes = b""

    SERVICE_LOST = "service_lost"
    SERVICE_BACK = "service_back"
    READER_ADDED = "reader_added"
    READER_REMOVED = "reader_removed"
    CARD_INSERTED = "card_inserted"
    CARD_REMOVED = "card_removed"


class ReaderSupervisor:
    """Watches every reader and reports changes to `on_event` (called on the supervisor's thread).

    `snapshot()` gives the current {reader: atr or None} at any time. When pcscd goes away,
    cards and readers are reported removed, then `service_lost`; the context is renewed with
    exponential backoff (from `backoff_min` to `backoff_max` seconds), and `service_back` is
    reported before the readers are listed again.
    """

    def __init__(self, on_event: Callable[[ReaderEvent], None],
                 backoff_min: float = 0.1, backoff_max: float = 2.0, poll_ms: int = 1000):
        self._on_event = on_event
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._poll_ms = poll_ms
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._context: int | None = None
        self._cards: dict[str, bytes | None] = {}
        self._thread = threading.Thread(target=self._run, name="reader-supervisor", daemon=True)

    def start(self) -> "ReaderSupervisor":
        self._thread.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        with self._lock:
            if self._context is not None:
                scard.SCardCancel(self._context)  # wakes a waiting SCardGetStatusChange
        self._thread.join(timeout)

    def snapshot(self) -> dict[str, bytes | None]:
        with self._lock:
            return dict(self._cards)

    def _emit(self, kind: str, reader: str = "", atr: bytes = b"") -> None:
        try:
            self._on_event(ReaderEvent(kind, reader, atr))
        except Exception:  # a consumer's bug must not kill reader supervision
            log.exception("reader event handler failed for %s", kind)

    def _run(self) -> None:
        backoff = self._backoff_min
        service_lost = False
        while not self._stop.is_set():
            try:
                context = _establish_context()
            except CardError as exc:
                if not service_lost:
                    log.warning("pcscd unavailable: %s", exc)
                    service_lost = True
                    self._emit(ReaderEvent.SERVICE_LOST)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._backoff_max)
                continue
            with self._lock:
                self._context = context
            if service_lost:
                service_lost = False
                self._emit(ReaderEvent.SERVICE_BACK)
            try:
                self._watch(context)
                backoff = self._backoff_min
            except ReaderServiceUnavailable as exc:
                log.warning("pcscd went away: %s", exc)
                self._forget_all()
                service_lost = True
                self._emit(ReaderEvent.SERVICE_LOST)
                backoff = self._backoff_min
            except CardError as exc:
                # Anything else (a PC/SC failure, or a card-gone code such a failure can carry)
                # is unexpected: start over with a fresh context, after a pause.
                log.warning("reader supervision restarting: %s", exc)
                self._forget_all()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._backoff_max)
            finally:
                with self._lock:
                    self._context = None
                scard.SCardReleaseContext(context)

    def _forget_all(self) -> None:
        with self._lock:
            cards, self._cards = self._cards, {}
        for reader, atr in cards.items():
            if atr is not None:
                self._emit(ReaderEvent.CARD_REMOVED, reader)
            self._emit(ReaderEvent.READER_REMOVED, reader)

    def _sync_readers(self, context: int, states: dict[str, int]) -> None:
        readers = _list_readers(context)
        for reader in readers:
            if reader not in states:
                states[reader] = scard.SCARD_STATE_UNAWARE
                with self._lock:
                    self._cards[reader] = None
                self._emit(ReaderEvent.READER_ADDED, reader)
        for reader in [r for r in states if r not in readers]:
            del states[reader]
            with self._lock:
                atr = self._cards.pop(reader, None)
            if atr is not None:
                self._emit(ReaderEvent.CARD_REMOVED, reader)
            self._emit(ReaderEvent.READER_REMOVED, reader)

    def _watch(self, context: int) -> None:
        states: dict[str, int] = {}
        pnp_state = scard.SCARD_STATE_UNAWARE
        self._sync_readers(context, states)
        while not self._stop.is_set():
            query = [(PNP_NOTIFICATION, pnp_state)] + list(states.items())
            code, result = scard.SCardGetStatusChange(context, self._poll_ms, query)
            if code in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
                continue
            if code in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE):
                self._sync_readers(context, states)  # a reader vanished between list and wait
                continue
            if code != scard.SCARD_S_SUCCESS:
                raise _error(code, "waiting for reader changes")
            readers_changed = False
            for reader, event_state, atr in result:
                if not event_state & scard.SCARD_STATE_CHANGED:
                    continue
                if reader == PNP_NOTIFICATION:
                    pnp_state = event_state & ~scard.SCARD_STATE_CHANGED
                    readers_changed = True
                    continue
                if reader not in states:
                    continue
                states[reader] = event_state & ~scard.SCARD_STATE_CHANGED
                self._card_state(reader, event_state, bytes(atr))
            if readers_changed:
                self._sync_readers(context, states)

    def _card_state(self, reader: str, event_state: int, atr: bytes) -> None:
        present = bool(event_state & scard.SCARD_STATE_PRESENT) and not event_state & scard.SCARD_STATE_MUTE
        with self._lock:
            before = self._cards.get(reader)
            self._cards[reader] = atr if present else None
        if present and before is None:
            self._emit(ReaderEvent.CARD_INSERTED, reader, atr)
        elif not present and before is not None:
            self._emit(ReaderEvent.CARD_REMOVED, reader)
        elif present and before != atr:  # swapped between two polls
            self._emit(ReaderEvent.CARD_REMOVED, reader)
            self._emit(ReaderEvent.CARD_INSERTED, reader, atr)


def card_present(reader: str) -> bool:
    """Whether `reader` holds a card right now (no waiting)."""
    context = _establish_context()
    try:
        name = match_reader(_list_readers(context), reader)
        code, result = scard.SCardGetStatusChange(context, 0, [(name, scard.SCARD_STATE_UNAWARE)])
        if code not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT):
            raise _error(code, f"looking at {name}")
        state = result[0][1]
        return bool(state & scard.SCARD_STATE_PRESENT) and not state & scard.SCARD_STATE_MUTE
    finally:
        scard.SCardReleaseContext(context)


def wait_for_card(reader: str, timeout: float, cancel: threading.Event | None = None,
                  present: bool = True) -> bytes:
    """Block until a card is in `reader` (or, with present=False, until it is out);
    return the ATR of the card found (b"" once it is out). Raises NoCardPresent on timeout."""
    deadline = time.monotonic() + timeout
    context = _establish_context()
    try:
        name = match_reader(_list_readers(context), reader)
        state = scard.SCARD_STATE_UNAWARE
        while True:
            if cancel is not None and cancel.is_set():
                raise NoCardPresent(f"cancelled while waiting for a card in {name}")
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                raise NoCardPresent(f"card in {name} not {'in' if present else 'out'} after {timeout:g} s")
            code, result = scard.SCardGetStatusChange(context, min(remaining_ms, 200), [(name, state)])
            if code == scard.SCARD_E_TIMEOUT:
                continue
            if code != scard.SCARD_S_SUCCESS:
                raise _error(code, f"waiting for a card in {name}")
            _, event_state, atr = result[0]
            state = event_state & ~scard.SCARD_STATE_CHANGED
            card_in = bool(event_state & scard.SCARD_STATE_PRESENT) and not event_state & scard.SCARD_STATE_MUTE
            if card_in == present:
                return bytes(atr) if present else b""
    finally:
        scard.SCardReleaseContext(context)

"""Identifying the citizen once for the visit (一次认证): the resident ID card on the ID reader,
or the electronic social security card's QR code (#19) under the scanner or before the camera,
and the social security card in the card reader. The screens wait for each on a worker thread;
the command line reads each once. All go through here, with the devices `KioskCore` built.

The e-SSC code is opaque to the kiosk: the backend resolves it to a person, once (a code is
short-lived and single-use). It counts as identification wherever the catalogue accepts an ID
card; the face check still applies where the catalogue requires one.
"""
from __future__ import annotations

import datetime
import threading
from typing import Callable

from drivers.apdu import CardError, NoCardPresent
from drivers.id_card_reader import Document, IdCardError, IdCardNotFound, IdReaderUnavailable
from drivers.pcsc import card_present
from drivers.qr_scanner import GarbledScan, QrScanError
from drivers.ssse import CardReading
from kiosk.backend.errors import BackendRejected, BackendUnavailable
from kiosk.card_service import CardService
from kiosk.devices import Devices
from kiosk.i18n import N_
from kiosk.services.base import BackendLink
from kiosk.services.catalog import QUERY_ITEM
from kiosk.visit import CitizenIdentity, Visit

POLL_S = 0.4
AFTER_ERROR_S = 1.5   # time to read the message before the next try


class EsscCodeRefused(Exception):
    """The backend would not say whose an e-SSC code is."""
    citizen_message = N_("此二维码无法使用，请在电子社保卡中刷新二维码后重新出示，或使用身份证。")


class EsscCodeExpired(EsscCodeRefused):
    citizen_message = N_("二维码已过期，请在电子社保卡中刷新后重新出示。")


class EsscCodeUsed(EsscCodeRefused):
    citizen_message = N_("此二维码已使用过，请在电子社保卡中刷新后重新出示。")


class EsscUnavailable(Exception):
    """The backend could not be asked: an e-SSC code cannot be resolved offline."""
    citizen_message = N_("网络中断，暂时不能使用电子社保卡，请使用身份证。")


ESSC_REFUSALS = {"essc_code_expired": EsscCodeExpired, "essc_code_used": EsscCodeUsed}


class Identification:
    def __init__(self, devices: Devices, cards: CardService, link: BackendLink):
        self.devices = devices
        self.cards = cards
        self.link = link

    def read_id_card(self) -> CitizenIdentity:
        """The ID card on the reader now, or a typed IdCardError."""
        with self.devices.id_card_reader() as reader:
            return CitizenIdentity.from_id_document(reader.read())

    def wait_for_id_card(self, stop: threading.Event,
                         on_problem: Callable[[Exception], None]) -> CitizenIdentity | None:
        """Waits for an ID card on the reader: its holder, or None once `stop` is set. A card that
        cannot be read (badly placed, expired, ...) goes to `on_problem` and is tried again; a
        reader that is missing or broken goes to `on_problem` too, and ends the wait (staff must
        look at it)."""
        try:
            with self.devices.id_card_reader() as reader:
                while not stop.is_set():
                    try:
                        return CitizenIdentity.from_id_document(reader.read())
                    except IdCardNotFound:
                        stop.wait(POLL_S)
                    except IdReaderUnavailable:
                        raise
                    except IdCardError as exc:
                        on_problem(exc)
                        stop.wait(AFTER_ERROR_S)
        except IdCardError as exc:
            on_problem(exc)
        return None

    def wait_for_essc_code(self, visit: Visit, stop: threading.Event,
                           on_problem: Callable[[Exception], None]) -> CitizenIdentity | None:
        """Waits for an e-SSC code under the scanner (or before the camera): the person the
        backend says it stands for, or None once `stop` is set. A garbled scan or a code the
        backend refuses goes to `on_problem` and the wait goes on (the citizen refreshes the
        code); a scanner that is missing or broken goes to `on_problem` and ends the wait."""
        try:
            with self.devices.qr_reader() as reader:
                while not stop.is_set():
                    try:
                        code = reader.wait_for_code(stop)
                        if code is None:
                            return None
                        return self.resolve_essc_code(visit, code)
                    except (GarbledScan, EsscCodeRefused, EsscUnavailable) as exc:
                        on_problem(exc)
                        stop.wait(AFTER_ERROR_S)
        except QrScanError as exc:
            on_problem(exc)
        return None

    def resolve_essc_code(self, visit: Visit, code: str) -> CitizenIdentity:
        """Whose the code is, as the backend says (once: the code is then used), in the visit's
        audit trail like every call. An answer lost on the way is asked for again under the same
        key and replayed, never taken as a second use."""
        try:
            person = self.link.call(visit.visit_id, QUERY_ITEM, "identified_by_essc", "resolve_essc_code",
                                    {"code": code}, {"document": "essc"})
        except BackendRejected as exc:
            raise ESSC_REFUSALS.get(exc.code, EsscCodeRefused)(f"{exc.status} {exc.code}") from None
        except BackendUnavailable as exc:
            raise EsscUnavailable(exc.reason) from None
        return CitizenIdentity(id_number=person["id_number"], name=person["name"], sex=person["sex"],
                               ethnicity=person["ethnicity"],
                               birth_date=datetime.datetime.strptime(person["birth_date"], "%Y%m%d").date(),
                               document=Document(person["document"]))

    def wait_for_other_id_card(self, holder_id: str, stop: threading.Event,
                               on_problem: Callable[[Exception], None]) -> CitizenIdentity | None:
        """Waits for another person's ID card (a minor's guardian, #14): the holder's own, still
        on the reader, is waited past."""
        while not stop.is_set():
            identity = self.wait_for_id_card(stop, on_problem)
            if identity is None or identity.id_number != holder_id:
                return identity
            stop.wait(POLL_S)
        return None

    def read_other_id_card(self, holder_id: str, timeout_s: float = 60.0) -> CitizenIdentity:
        """The command line's wait for another person's ID card; IdCardNotFound after `timeout_s`."""
        stop = threading.Event()
        timer = threading.Timer(timeout_s, stop.set)
        timer.start()
        problems: list[Exception] = []
        try:
            identity = self.wait_for_other_id_card(holder_id, stop, problems.append)
        finally:
            timer.cancel()
        if identity is None:
            raise problems[-1] if problems else IdCardNotFound("no other ID card was put on the reader")
        return identity

    def wait_for_card(self, stop: threading.Event, on_problem: Callable[[Exception], None]) -> CardReading | None:
        """Waits for a social security card in the reader: its reading, or None once `stop` is
        set. A card that cannot be read goes to `on_problem` and is tried again."""
        while not stop.is_set():
            try:
                return self.cards.read(stop)
            except NoCardPresent:
                stop.wait(POLL_S)
            except CardError as exc:
                on_problem(exc)
                stop.wait(AFTER_ERROR_S)
        return None

    def wait_for_card_out(self, stop: threading.Event) -> None:
        """Waits until the card reader is empty (a staff card taken back), or `stop` is set."""
        reader = self.cards.config.readers.card
        while not stop.is_set():
            try:
                if not card_present(reader):
                    return
            except CardError:
                pass
            stop.wait(POLL_S)

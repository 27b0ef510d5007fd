"""Identifying the citizen once for the visit (一次认证): the resident ID card on the ID reader,
the social security card in the card reader. The screens wait for each on a worker thread; the
command line reads each once. Both go through here, with the devices `KioskCore` built.
"""
from __future__ import annotations

import threading
from typing import Callable

from drivers.apdu import CardError, NoCardPresent
from drivers.id_card_reader import IdCardError, IdCardNotFound, IdReaderUnavailable
from drivers.pcsc import card_present
from drivers.ssse import CardReading
from kiosk.card_service import CardService
from kiosk.devices import Devices
from kiosk.visit import CitizenIdentity

POLL_S = 0.4
AFTER_ERROR_S = 1.5   # time to read the message before the next try


class Identification:
    def __init__(self, devices: Devices, cards: CardService):
        self.devices = devices
        self.cards = cards

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

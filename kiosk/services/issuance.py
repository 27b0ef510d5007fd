"""Instant issuance (立等可取) of a card applied for in 1.10.1 or 1.10.7, on the kiosk's card printer.

    mark the application -> fetch personalisation data -> blank to the encoder -> write and
    verify the chip -> set the citizen's PIN on it (1.10.5) -> print the face (which moves the
    card off the contact station, so every chip step comes first) -> report the written card
    (回盘) -> activate (1.10.2) -> tell the backend the PIN was set -> eject to the citizen

Before the written card is reported, any failure cancels the mark (the backend can issue the
application again) and retains the blank in the reject box: a half-made card never reaches a
citizen. After the report the card exists at the backend: if activation or the PIN step
fails, the card is still handed out, with a result telling the citizen what is left to do.
"""
from __future__ import annotations

import datetime
import logging
import threading
from dataclasses import dataclass
from typing import Callable

from drivers.card_printer import CardPrinter, CardPrinterError
from drivers.apdu import NoCardPresent
from drivers.pcsc import wait_for_card
from drivers.pin import Pin
from drivers.ssse_records import CardHolder, CardIdentifier, CardInfo
from kiosk.backend.errors import BackendError
from kiosk.card_face import compose_face
from kiosk.card_service import CardService
from kiosk.i18n import N_
from kiosk.outcome import Outcome
from kiosk.services.base import BackendLink, IssuanceFailed, ServiceResult
from kiosk.services.outcomes import REJECTIONS
from kiosk.pin_policy import check_new_pin
from kiosk.services.pin import report_pin_event
from kiosk.visit import Visit, VisitError

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
ENCODER_FREE_WAIT_S = 1.0  # pcscd polls a reader without card-change events every 400 ms  # (what is happening, in Chinese; fraction done)


class EncoderOccupied(VisitError):
    citizen_message = "请先取出读卡器中的旧卡，再开始制作新卡。"


@dataclass(frozen=True)
class IssuanceSettings:
    encoder_reader: str
    initial_pin: str          # the PIN blanks leave the factory with
    spec_version: str         # the blank stock's generation, e.g. "3.00"
    card_type: str
    initialising_org: str     # hex


class InstantIssuance:
    def __init__(self, link: BackendLink, cards: CardService, printer: CardPrinter, settings: IssuanceSettings):
        self.link = link
        self.cards = cards
        self.printer = printer
        self.settings = settings

    def available(self) -> bool:
        """A card printer that answers, with blanks and ribbon and no fault."""
        try:
            return not self.printer.status().faults()
        except CardPrinterError:
            return False

    def preflight(self, visit: Visit, new_pin: Pin, cancel: threading.Event | None = None) -> None:
        """What can stop an issuance without anyone's fault is checked before the backend is
        asked for anything (a replacement cancels the old card at once): the new PIN, and a
        free encoder."""
        identity = visit.identity
        with Pin.from_text(self.settings.initial_pin) as initial:
            check_new_pin(new_pin, identity.birth_date, identity.id_number, initial)
        try:
            # Where the encoder shares a slot with the card reader (the vpcd simulation), the
            # citizen's old card must come out before a blank can go in. (A card that just left
            # may take the reader a poll to notice: hence the short wait.)
            wait_for_card(self.settings.encoder_reader, ENCODER_FREE_WAIT_S, cancel, present=False)
        except NoCardPresent:
            raise EncoderOccupied(f"{self.settings.encoder_reader!r} holds a card") from None

    def _personalisation(self, reply: dict, identifier: bytes) -> tuple[CardInfo, CardHolder]:
        holder = reply["holder"]
        info = CardInfo(
            identifier=CardIdentifier(identifier), card_type=self.settings.card_type,
            spec_version=self.settings.spec_version, initialising_org=self.settings.initialising_org,
            issue_date=datetime.datetime.strptime(reply["issue_date"], "%Y%m%d").date(),
            expiry_date=datetime.datetime.strptime(reply["expiry_date"], "%Y%m%d").date(),
            card_number=reply["card_number"])
        return info, CardHolder(
            social_security_number=holder["id_number"], name=holder["name"], sex=holder["sex"],
            ethnicity=int(holder["ethnicity"]), birthplace=holder["birthplace"],
            birth_date=datetime.datetime.strptime(holder["birth_date"], "%Y%m%d").date())

    def issue(self, visit: Visit, service_item: str, application_id: str, new_pin: Pin,
              progress: Progress, cancel: threading.Event | None = None) -> list[ServiceResult]:
        """Returns the results of the issuing item, activation (1.10.2) and PIN (1.10.5)."""
        vid = visit.visit_id
        detail = {"application": application_id}
        self.preflight(visit, new_pin, cancel)
        progress(N_("正在受理制卡申请"), 0.05)
        self.link.call(vid, service_item, "mark_instant_issuance", "mark_instant_issuance",
                       {"application_id": application_id}, detail)
        fed = False
        try:
            progress(N_("正在获取制卡数据"), 0.15)
            data = self.link.read("personalisation", {"application_id": application_id})
            progress(N_("正在出卡"), 0.25)
            atr = self.printer.feed_to_encoder(cancel)
            fed = True
            progress(N_("正在写入芯片"), 0.4)
            identifier = self._blank_identifier(cancel)
            info, holder = self._personalisation(data, identifier)
            reading = self.cards.personalise(self.settings.encoder_reader, info, holder, cancel)
            progress(N_("正在设置密码"), 0.5)
            with Pin.from_text(self.settings.initial_pin) as initial:
                self.cards.change_pin(holder, initial, new_pin, cancel, reader=self.settings.encoder_reader)
            progress(N_("正在打印卡面"), 0.6)
            self.printer.print_face(compose_face(holder.name, holder.social_security_number,
                                                 info.card_number, info.issue_date), cancel)
            progress(N_("正在登记新卡"), 0.75)
            self.link.call(vid, service_item, "report_written_card", "report_written_card",
                           {"application_id": application_id, "card_id": info.identifier.hex,
                            "card_number": info.card_number}, {**detail, "card": info.identifier.hex})
        except Exception as exc:  # whatever stopped it, the blank and the mark are undone
            self._abandon(vid, service_item, application_id, fed, exc)
            raise IssuanceFailed(f"instant issuance of {application_id} stopped: {type(exc).__name__}: {exc}") from exc
        log.info("card %s written for application %s (ATR %s)", info.identifier.hex, application_id, atr.hex())
        visit.present_card(reading)
        results = [ServiceResult(service_item, "instant_issuance", Outcome.DONE, N_("新卡已制作完成。"),
                                 data={"card_number": info.card_number})]
        results.append(self._activate(visit, service_item, info, progress))
        results.append(report_pin_event(self.link, visit, "change_pin", "changed", {"card": info.identifier.hex}))
        progress(N_("请取走您的社会保障卡"), 0.95)
        try:
            self.printer.eject(cancel)
        except CardPrinterError as exc:
            # The card exists, is reported and active: only its way out is blocked.
            log.error("card %s made but not ejected: %s", info.identifier.hex, exc)
            results[0] = ServiceResult(service_item, "instant_issuance", Outcome.FAILED,
                                       N_("新卡已制作完成，但出卡受阻，请联系工作人员为您取卡。"),
                                       staff_detail=f"{type(exc).__name__}: {exc}",
                                       data={"card_number": info.card_number})
            return results
        progress(N_("制卡完成"), 1.0)
        return results

    def _blank_identifier(self, cancel) -> bytes:
        return self.cards.blank_identifier(self.settings.encoder_reader, cancel).raw

    def _abandon(self, vid: str, service_item: str, application_id: str, fed: bool, cause: Exception) -> None:
        """Undo what can be undone: the blank to the reject box, the mark cancelled."""
        log.warning("instant issuance of %s abandoned: %s", application_id, cause)
        if fed:
            try:
                self.printer.retain()
            except CardPrinterError as exc:
                log.error("could not retain the blank of %s: %s", application_id, exc)
        try:
            self.link.call(vid, service_item, "cancel_instant_issuance", "cancel_instant_issuance",
                           {"application_id": application_id, "reason": type(cause).__name__},
                           {"application": application_id})
        except BackendError as exc:
            # The backend will see a marked application with no written card; staff see this line.
            log.error("could not cancel the mark of %s: %s", application_id, exc)

    def _activate(self, visit: Visit, service_item: str, info: CardInfo, progress: Progress) -> ServiceResult:
        progress(N_("正在启用新卡"), 0.85)
        try:
            self.link.call(visit.visit_id, "1.10.2", "activate", "activate_card",
                           {"card_id": info.identifier.hex}, {"card": info.identifier.hex})
        except BackendError as exc:
            message = REJECTIONS.get(getattr(exc, "code", ""), N_("新卡已制作，但暂未启用，请稍后办理启用。"))
            return ServiceResult("1.10.2", "activate", Outcome.FAILED, message, staff_detail=str(exc))
        return ServiceResult("1.10.2", "activate", Outcome.DONE, N_("新卡已启用。"))

"""Instant issuance (立等可取) of a card applied for in 1.10.1 or 1.10.7, on the kiosk's card printer.

    mark the application -> fetch personalisation data -> blank to the encoder -> write and
    verify the chip -> set the citizen's PIN on it (1.10.5) -> print the face (which moves the
    card off the contact station, so every chip step comes first) -> report the written card
    (回盘) -> activate (1.10.2) -> tell the backend the PIN was set -> eject to the citizen

Nothing starts without the holder's photo for the card's face, taken at the kiosk or the
registry's (NoHolderPhoto, before the backend is asked to change anything): a card-management
system takes no card without one.

Before the written card is reported, any failure cancels the mark (the backend can issue the
application again) and retains the blank in the reject box: a half-made card never reaches a
citizen. After the report the card exists at the backend: if activation or the PIN step
fails, the card is still handed out, with a result telling the citizen what is left to do.

Every step is written to the issuance journal (issuance_journal.py) as it is done, so that
after a crash `recover()` knows which card is where; what the kiosk cannot settle alone waits
for staff (`kiosk issuance list|resume|reject`, and the diagnostics screen).
"""
from __future__ import annotations

import datetime
import logging
import threading
from dataclasses import dataclass
from typing import Callable

from PIL import Image

from drivers.card_printer import CardPosition, CardPrinter, CardPrinterError
from drivers.apdu import CardError, NoCardPresent
from drivers.financial import BankAccount
from drivers.pcsc import wait_for_card
from drivers.pin import Pin
from drivers.ssse_records import CardHolder, CardIdentifier, CardInfo
from kiosk.backend.errors import BackendError, BackendRejected, BackendUnavailable
from kiosk.card_face import compose_face
from kiosk.card_service import CardService
from kiosk.i18n import N_
from kiosk.outcome import Outcome
from kiosk.services.base import BackendLink, IssuanceFailed, IssuanceHeld, IssuanceUnclear, ServiceResult
from kiosk.services.issuance_journal import EntryStatus, IssuanceJournal, JournalEntry, JournalError
from kiosk.services.issuance_journal import IssuanceStep as Step
from kiosk.services.outcomes import REJECTIONS
from kiosk.pin_policy import check_new_pin
from kiosk.registry_photo import decode_registry_photo
from kiosk.services.pin import report_pin_event
from kiosk.visit import Visit, VisitError

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
ENCODER_FREE_WAIT_S = 1.0  # pcscd polls a reader without card-change events every 400 ms  # (what is happening, in Chinese; fraction done)


REGISTERED = ("the backend holds this card as the holder's (a replaced card is cancelled): it cannot be"
              " rejected; take it out with `resume` and hand it to the holder")
HELD_FOR_STAFF = ("the card holds the citizen's own PIN and was not handed out: `resume` to finish it and hand"
                  " it over, or `reject`")


class BlankOfAnotherBank(CardError):
    """The blank's financial application is not the application's bank's (or it has none)."""


class EncoderOccupied(VisitError):
    citizen_message = "请先取出读卡器中的旧卡，再开始制作新卡。"


class NoHolderPhoto(VisitError):
    """No photo of the holder for the card's face: none taken at the kiosk, none in the registry.
    A card-management system takes no card without it, so none is made."""

    citizen_message = "社保系统中没有您的照片，新卡无法现场制作。请到人工窗口办理，窗口可为您拍照。"


@dataclass(frozen=True)
class IssuanceSettings:
    encoder_reader: str
    initial_pin: str          # the PIN blanks leave the factory with
    spec_version: str         # the blank stock's generation, e.g. "3.00"
    card_type: str
    initialising_org: str     # hex


class InstantIssuance:
    def __init__(self, link: BackendLink, cards: CardService, printer: CardPrinter, settings: IssuanceSettings,
                 journal: IssuanceJournal):
        self.link = link
        self.cards = cards
        self.printer = printer
        self.settings = settings
        self.journal = journal

    def available(self) -> bool:
        """A card printer that answers, with blanks and ribbon and no fault, and holds no card
        kept for staff."""
        if any(entry.holds_card for entry in self.journal.unfinished() if entry.status == EntryStatus.NEEDS_STAFF):
            return False
        try:
            return not self.printer.status().faults()
        except CardPrinterError:
            return False

    def preflight(self, visit: Visit, new_pin: Pin, cancel: threading.Event | None = None) -> None:
        """What can stop an issuance without anyone's fault is checked before the backend is
        asked to change anything (a replacement cancels the old card at once): the new PIN, the
        holder's photo for the card's face, and a free encoder."""
        identity = visit.identity
        with Pin.from_text(self.settings.initial_pin) as initial:
            check_new_pin(new_pin, identity.birth_date, identity.id_number, initial)
        self._require_photo(visit)
        try:
            # Where the encoder shares a slot with the card reader (the vpcd simulation), the
            # citizen's old card must come out before a blank can go in. (A card that just left
            # may take the reader a poll to notice: hence the short wait.)
            wait_for_card(self.settings.encoder_reader, ENCODER_FREE_WAIT_S, cancel, present=False)
        except NoCardPresent:
            raise EncoderOccupied(f"{self.settings.encoder_reader!r} holds a card") from None

    def _require_photo(self, visit: Visit) -> None:
        """The photo the card's face will carry (#14): the one taken at the kiosk for this
        application, or else the registry's, asked for (a read) but not yet decoded."""
        if visit.application is not None and visit.application.photo is not None:
            return
        try:
            self.link.person_read(visit, "person_photo")
        except BackendRejected as exc:
            if exc.code != "photo_not_found":
                raise
            refused = NoHolderPhoto("instant issuance needs the holder's photo for the card face: none was taken at "
                                    "the kiosk and the registry has none (person_photo: photo_not_found)")
            log.warning("refused before anything was applied for, marked or fed: %s", refused)
            raise refused from None

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
        self.preflight(visit, new_pin, cancel)
        self._settle_backlog()
        entry = self.journal.open(application_id, vid, service_item)
        try:
            progress(N_("正在受理制卡申请"), 0.05)
            try:
                self.link.call(vid, service_item, "mark_instant_issuance", "mark_instant_issuance",
                               {"application_id": application_id}, {"application": application_id})
            except (BackendRejected, BackendUnavailable) as exc:
                if isinstance(exc, BackendRejected) or not exc.sent:   # no mark: a refusal to tell as such
                    self.journal.close(entry, EntryStatus.REJECTED, f"not marked: {exc}")
                    raise
                raise   # a mark whose answer was lost may stand: undone below
            entry = self.journal.record(entry, Step.MARKED)
            progress(N_("正在获取制卡数据"), 0.15)
            data = self.link.read("personalisation", {"application_id": application_id})
            photo = self._photo(data)   # a broken photo stops it here, before a blank is used
            progress(N_("正在出卡"), 0.25)
            atr = self.printer.feed_to_encoder(cancel)
            identifier = self._blank_identifier(cancel)
            entry = self.journal.record(entry, Step.BLANK_FED, holds_card=True, card_id=identifier.hex().upper())
            account = self._blank_account(data, cancel)
            if account is not None:
                self.journal.keep_account(entry, account.pan)
            progress(N_("正在写入芯片"), 0.4)
            info, holder = self._personalisation(data, identifier)
            reading = self.cards.personalise(self.settings.encoder_reader, info, holder, cancel)
            entry = self.journal.record(entry, Step.CHIP_PERSONALISED, card_number=info.card_number)
            progress(N_("正在设置密码"), 0.5)
            with Pin.from_text(self.settings.initial_pin) as initial:
                self.cards.change_pin(holder, initial, new_pin, cancel, reader=self.settings.encoder_reader)
            entry = self.journal.record(entry, Step.PIN_SET)
            progress(N_("正在打印卡面"), 0.6)
            entry = self._print_face(entry, info, holder, photo, cancel)
            progress(N_("正在登记新卡"), 0.75)
            entry = self._report(entry)
        except Exception as exc:  # whatever stopped it, what can be undone is undone
            entry = self.journal.get(entry.id)
            if entry.status == EntryStatus.REJECTED:
                raise
            entry = self._abandon(entry, exc)
            failure = (IssuanceUnclear if entry.step in (Step.REPORTING, Step.REPORTED)
                       else IssuanceHeld if entry.holds_card else IssuanceFailed)
            left = f" (for staff: {entry.note})" if entry.status == EntryStatus.NEEDS_STAFF else ""
            raise failure(f"instant issuance of {application_id} stopped: {type(exc).__name__}: {exc}{left}") from exc
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
            self.journal.needs_staff(entry, f"made and registered, not ejected ({type(exc).__name__}: {exc}):"
                                            " take it out (resume) and hand it to the holder")
            results[0] = ServiceResult(service_item, "instant_issuance", Outcome.FAILED,
                                       N_("新卡已制作完成，但出卡受阻，请联系工作人员为您取卡。"),
                                       staff_detail=f"{type(exc).__name__}: {exc}",
                                       data={"card_number": info.card_number})
            return results
        self.journal.close(entry, EntryStatus.HANDED_OUT)
        progress(N_("制卡完成"), 1.0)
        return results

    def _blank_identifier(self, cancel) -> bytes:
        return self.cards.blank_identifier(self.settings.encoder_reader, cancel).raw

    def _blank_account(self, data: dict, cancel: threading.Event | None) -> BankAccount | None:
        """The account the bank put on the blank (#15). A blank of another bank than the
        application's is refused before anything is written on it, and retained."""
        account = self.cards.bank_account(self.settings.encoder_reader, cancel)
        wanted = data.get("bank_bin")
        if wanted and (account is None or not account.pan.startswith(wanted)):
            held = f"an account of BIN {account.bin}" if account is not None else "no bank account"
            raise BlankOfAnotherBank(f"the blank holds {held}; the application's bank is BIN {wanted}")
        return account

    @staticmethod
    def _photo(reply: dict) -> Image.Image:
        """The holder's photo for the card face (#14): the registry's, where one taken at the
        kiosk went with the application. The preflight saw one; a backend that sends none now
        stops the issuance before a blank is fed."""
        if "photo" not in reply:
            raise NoHolderPhoto("the personalisation data carries no photo of the holder")
        return decode_registry_photo(reply["photo"])

    def _print_face(self, entry: JournalEntry, info: CardInfo, holder: CardHolder, photo: Image.Image,
                    cancel: threading.Event | None) -> JournalEntry:
        self.printer.print_face(compose_face(holder.name, holder.social_security_number,
                                             info.card_number, info.issue_date, photo), cancel)
        return self.journal.record(entry, Step.FACE_PRINTED)

    def _report(self, entry: JournalEntry) -> JournalEntry:
        """回盘: the written card, under the key the journal chose, so that a report whose answer
        was lost (or whose kiosk died) is sent again as the same request, never as a second one."""
        entry = self.journal.record(entry, Step.REPORTING)
        written = {"application_id": entry.application_id, "card_id": entry.card_id, "card_number": entry.card_number}
        account = self.journal.account_of(entry)
        if account is not None:
            written["bank_account"] = account   # the bank's account on the card, for the backend to link
        try:
            self.link.call(entry.visit_id, entry.service_item, "report_written_card", "report_written_card", written,
                           {"application": entry.application_id, "card": entry.card_id},
                           idempotency_key=entry.report_key)
        except (BackendRejected, BackendUnavailable) as exc:
            if isinstance(exc, BackendRejected) or not exc.sent:   # it certainly did not take effect
                self.journal.record(entry, Step.FACE_PRINTED)
            raise
        return self.journal.record(entry, Step.REPORTED)

    # -- undoing, recovering, and what staff do --------------------------------------------------

    def _abandon(self, entry: JournalEntry, cause: Exception) -> JournalEntry:
        """The issuance stopped during the visit: undo what can be undone."""
        log.warning("instant issuance of %s abandoned at %s: %s", entry.application_id, entry.step, cause)
        try:
            return self._reject(entry, type(cause).__name__)
        except JournalError as exc:   # the report went through after all: the card is the holder's
            log.error("instant issuance of %s: %s", entry.application_id, exc)
            return self.journal.get(entry.id)

    def _reject(self, entry: JournalEntry, reason: str) -> JournalEntry:
        """The card to the reject box and the mark cancelled, so that the application can be
        issued again; the entry closes `rejected`, or `needs_staff` with what is left. A card
        that the backend holds as the holder's is never rejected (JournalError)."""
        if entry.reached(Step.REPORTED):
            raise JournalError(REGISTERED)
        try:
            was_marked = self._cancel_mark(entry, reason)
        except BackendError as exc:
            if entry.step == Step.REPORTING:   # the card may be registered: it stays where it is
                return self.journal.needs_staff(entry, f"report unanswered and backend unreachable ({exc}):"
                                                       " settle it once the backend answers")
            return self._retain(entry, f"the mark is not cancelled ({exc}): reject again once the backend answers")
        if not was_marked and entry.step == Step.REPORTING:
            try:
                registered = self._report_stands(entry)
            except BackendError as exc:
                return self.journal.needs_staff(entry, f"cannot tell whether the report took effect ({exc})")
            if registered:
                self.journal.needs_staff(self.journal.record(entry, Step.REPORTED), REGISTERED)
                raise JournalError(REGISTERED)
            entry = self.journal.get(entry.id)   # the refused report put it back at face_printed
        return self._retain(entry, None)

    def _cancel_mark(self, entry: JournalEntry, reason: str) -> bool:
        """True when a mark was cancelled; False when the application was not (or no longer) marked."""
        try:
            self.link.call(entry.visit_id, entry.service_item, "cancel_instant_issuance", "cancel_instant_issuance",
                           {"application_id": entry.application_id, "reason": reason[:200]},
                           {"application": entry.application_id})
        except BackendRejected as exc:
            if exc.code == "not_marked_for_instant_issuance":
                return False
            raise
        return True

    def _report_stands(self, entry: JournalEntry) -> bool:
        """Whether the report sent under the entry's key took effect: the same request again is
        answered with what was done, or refused when it never arrived (the mark is gone)."""
        try:
            self._report(entry)
        except BackendRejected as exc:
            if exc.code == "not_marked_for_instant_issuance":
                return False
            raise
        return True

    def _retain(self, entry: JournalEntry, left: str | None) -> JournalEntry:
        """The entry's card (or a blank a crash left inside) into the reject box; then the entry
        closes, unless `left` or a stuck card needs staff."""
        try:
            if self.printer.card_position() is not CardPosition.NONE:
                self.printer.retain()
            entry = self.journal.record(entry, entry.step, holds_card=False)
        except CardPrinterError as exc:   # a card may be stuck inside: staff look before anything else
            entry = self.journal.record(entry, entry.step, holds_card=True)
            left = f"card not retained ({type(exc).__name__}: {exc})" + (f"; {left}" if left else "")
        if left:
            return self.journal.needs_staff(entry, left)
        return self.journal.close(entry, EntryStatus.REJECTED, "card retained, mark cancelled")

    def recover(self) -> list[JournalEntry]:
        """At start: every issuance a crash cut off is settled or handed to staff.

        Before the citizen's PIN is on the card, nothing on it is worth keeping: it is rejected
        (retained, mark cancelled; the old card was never touched and the application stays
        open). From the PIN on, the card in the printer is the citizen's in the making, and from
        the report on it may be their only valid card: it stays there for staff, who hand it
        over (`resume`) or reject it, and no new issuance starts until then. An entry whose
        card is already retained has only its mark left to cancel: tried again. A blank left
        inside by a crash that no entry explains is retained."""
        settled, someone_at_work = [], False
        for entry in self.journal.unfinished():
            if entry.status == EntryStatus.RUNNING and not entry.cut_off:
                someone_at_work = True   # another live process is at work on it
                continue
            if entry.status == EntryStatus.RUNNING:
                log.warning("instant issuance of %s was cut off at %s", entry.application_id, entry.step)
            entry = self.journal.take_over(entry)
            if entry.reached(Step.PIN_SET) and entry.holds_card:
                if entry.status == EntryStatus.RUNNING:
                    entry = self.journal.needs_staff(entry, HELD_FOR_STAFF)
            else:
                entry = self._reject(entry, "interrupted")
            settled.append(entry)
        if not someone_at_work and not any(entry.holds_card for entry in self.journal.unfinished()):
            try:
                if self.printer.card_position() is not CardPosition.NONE:
                    log.warning("a card no issuance accounts for is inside the card printer: retained")
                    self.printer.retain()
            except CardPrinterError as exc:
                log.error("the card printer could not be checked for a card left inside: %s", exc)
        return settled

    def _settle_backlog(self) -> None:
        """Rejections whose card is retained but whose mark the backend did not take back
        (it was unreachable) are tried again: the backend answers now that a visit reached it."""
        for entry in self.journal.unfinished():
            if entry.status == EntryStatus.NEEDS_STAFF and not entry.holds_card and not entry.reached(Step.REPORTING):
                self._reject(self.journal.take_over(entry), "rejected earlier")

    def resume(self, application_id: str, cancel: threading.Event | None = None) -> JournalEntry:
        """Staff finish an issuance held for them: the face printed if it is not, the card
        reported, and ejected into their hands. It stays sealed until its holder activates it."""
        entry = self._held(application_id)
        if not entry.reached(Step.PIN_SET):
            raise JournalError(f"{application_id} stopped at {entry.step}, before the citizen's PIN was set: only "
                               "`reject` applies (the application stays open; the citizen starts again)")
        if not entry.holds_card:
            raise JournalError(f"the printer no longer holds the card of {application_id}")
        self.link.record(entry.visit_id, entry.service_item, "staff_resume_issuance", Outcome.DONE,
                         {"application": application_id, "step": str(entry.step)})
        if entry.step == Step.PIN_SET:
            identifier = self.cards.identifier_in(self.settings.encoder_reader, cancel).hex
            if identifier != entry.card_id:
                raise JournalError(f"the encoder holds card {identifier}, not {entry.card_id}")
            data = self.link.read("personalisation", {"application_id": application_id})
            info, holder = self._personalisation(data, bytes.fromhex(identifier))
            entry = self._print_face(entry, info, holder, self._photo(data), cancel)
        if entry.step in (Step.FACE_PRINTED, Step.REPORTING):
            entry = self._report(entry)
        self.printer.eject(cancel)
        return self.journal.close(entry, EntryStatus.HANDED_OUT, "handed over by staff; sealed until activated")

    def reject(self, application_id: str) -> JournalEntry:
        """Staff give up an issuance held for them (see _reject)."""
        entry = self._held(application_id)
        self.link.record(entry.visit_id, entry.service_item, "staff_reject_issuance", Outcome.DONE,
                         {"application": application_id, "step": str(entry.step)})
        return self._reject(entry, "rejected by staff")

    def _held(self, application_id: str) -> JournalEntry:
        entry = self.journal.unfinished_for(application_id)
        if entry.status == EntryStatus.RUNNING and not entry.cut_off:
            raise JournalError(f"the issuance of {application_id} is running in process {entry.pid}")
        return self.journal.take_over(entry)

    def _activate(self, visit: Visit, service_item: str, info: CardInfo, progress: Progress) -> ServiceResult:
        progress(N_("正在启用新卡"), 0.85)
        try:
            self.link.call(visit.visit_id, "1.10.2", "activate", "activate_card",
                           {"card_id": info.identifier.hex}, {"card": info.identifier.hex})
        except BackendError as exc:
            message = REJECTIONS.get(getattr(exc, "code", ""), N_("新卡已制作，但暂未启用，请稍后办理启用。"))
            return ServiceResult("1.10.2", "activate", Outcome.FAILED, message, staff_detail=str(exc))
        return ServiceResult("1.10.2", "activate", Outcome.DONE, N_("新卡已启用。"))

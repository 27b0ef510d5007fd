"""`KioskServices` runs each action of the catalogue under one visit (one identification),
turns every failure into a result with a message for the citizen, records how long it took,
and makes the visit's one receipt."""
from __future__ import annotations

import datetime
import threading
import weakref
from typing import Callable

from drivers.id_card_reader import Document
from drivers.pin import Pin
from kiosk.backend.errors import BackendRejected, BackendUnavailable
from kiosk.card_service import CardService, DifferentCard
from kiosk.fees import PAID, REFUND_TOLD, FeeNotPaid, Payments
from kiosk.identity_assurance import IdentityAssurance
from kiosk.services import activate, apply_card, bank, bundles, loss, pin, progress, replace_card, review
from kiosk.outcome import Outcome
from kiosk.receipt import Receipt, ReceiptItem
from kiosk.services import catalog
from kiosk.services.base import BackendLink, IssuanceHeld, IssuanceUnclear, ServiceResult
from kiosk.services.issuance import InstantIssuance, Progress
from kiosk.services.outcomes import run_action
from kiosk.visit import DOCUMENT_NAMES, DocumentNotAccepted, Visit


def _no_progress(step: str, fraction: float) -> None:
    pass


BUSY_S = 300.0   # a visit untouched this long is no longer someone at the kiosk


class KioskServices:
    def __init__(self, link: BackendLink, cards: CardService, issuance: InstantIssuance | None,
                 assurance: IdentityAssurance, *, region_code: str, terminal_number: str = "",
                 service_phone: str = "12333", on_result: Callable[[Visit, ServiceResult, float], None] | None = None,
                 payments: Payments | None = None):
        self.link = link
        self.cards = cards
        self.devices = assurance.devices
        self.issuance = issuance
        self.assurance = assurance
        self.region_code = region_code
        self.terminal_number = terminal_number
        self.service_phone = service_phone
        self._on_result = on_result
        self.payments = payments
        self._visits: weakref.WeakSet[Visit] = weakref.WeakSet()   # begun, not ended (see busy())

    def new_visit(self) -> Visit:
        visit = Visit()
        self._visits.add(visit)
        return visit

    def busy(self) -> bool:
        """Whether a citizen is using the kiosk now: a visit not ended, touched within the last
        BUSY_S (a visit the screens forgot to end stops counting, so the devices are probed
        again)."""
        return any(not visit.ended and visit.idle_seconds() < BUSY_S for visit in list(self._visits))

    def _run(self, visit: Visit, item: str, action: str, work) -> list[ServiceResult]:
        visit.touch()

        def finish(result: ServiceResult, machine_ms: float) -> None:
            visit.results.append(result)
            if self._on_result is not None:
                self._on_result(visit, result, machine_ms)

        def vouched_for_then_work():
            if visit.has_identity and visit.identity.document not in catalog.action(action).documents:
                raise DocumentNotAccepted(f"{action} does not take a {visit.identity.document}")
            self.assurance.require(visit, action)   # no way round it: refused in plain words
            self._prove_card(visit, action)
            return work()
        return run_action(item, action, vouched_for_then_work, finish)

    def _prove_card(self, visit: Visit, action: str) -> None:
        """The card a service acts on proves it holds its own key first, once a visit (#15): a
        copy of a holder's files, or an emulator answering 9000, is kept out of every service
        (CardNotGenuine, in plain words)."""
        if not catalog.action(action).needs_card or not visit.has_card or visit.card_proven:
            return
        if self.cards.prove_genuine() != visit.card.info.identifier:
            raise DifferentCard("the card in the reader is not the one the visit read")
        visit.card_proven = True

    def end_visit(self, visit: Visit, reason: str) -> None:
        """The citizen is done (or walked away, or took the card): the visit's audit trail goes
        to the backend through the outbox, and every personal field is dropped."""
        self.link.send_audit_trail(self.terminal_number)
        visit.end(reason)
        self._visits.discard(visit)
        self.assurance.release()   # the face worker, if a check started it, and whatever it held

    def card_withdrawn(self, visit: Visit) -> None:
        """The card left the reader. A visit the card alone identified (a PIN change) ends with
        it; a citizen identified by the ID card may go on, but the card's PIN check is gone. A
        visit no card was presented to is not concerned: the card was the one before it."""
        if not visit.has_card:
            return
        if visit.has_identity:
            visit.card_withdrawn()
        else:
            self.end_visit(visit, "card removed")

    def needs_face(self, action_names) -> bool:
        """Whether what would run of `action_names` needs the person vouched for (#13). An
        application makes a card on the spot, the one that needs it, only when the card
        printer is ready."""
        names = [name for name in action_names if name != "apply_instant" or self.instant_issuance_ready()]
        return any(self.assurance.needs_face(name) for name in names)

    def instant_issuance_ready(self) -> bool:
        return self.issuance is not None and self.issuance.available()

    # where is my card? (a question, no item)
    def query_progress(self, visit: Visit) -> list[ServiceResult]:
        return self._run(visit, catalog.QUERY_ITEM, "query_progress", lambda: progress.query_progress(self.link, visit))

    # 1.10.6
    def report_loss(self, visit: Visit, kind: str) -> list[ServiceResult]:
        return self._run(visit, "1.10.6", f"report_loss_{kind}", lambda: loss.report_loss(self.link, visit, kind))

    def cancel_loss(self, visit: Visit) -> list[ServiceResult]:
        return self._run(visit, "1.10.6", "cancel_loss", lambda: loss.cancel_loss(self.link, visit))

    # 1.10.2
    def activate(self, visit: Visit) -> list[ServiceResult]:
        return self._run(visit, "1.10.2", "activate", lambda: activate.activate(self.link, visit))

    def activate_bank(self, visit: Visit, consent: bool, prompt: bank.Prompt = lambda step: None,
                      on_key: bank.KeyPressed = lambda kind: None,
                      cancel: threading.Event | None = None) -> list[ServiceResult]:
        """1.10.2, the card's bank account (#15): the PIN on the encrypting pad, twice."""
        return self._run(visit, "1.10.2", "activate_bank", lambda: bank.activate_bank(
            self.link, self.cards, self.devices, visit, consent, prompt, on_key, cancel))

    # 1.10.5
    def change_pin(self, visit: Visit, old: Pin, new: Pin) -> list[ServiceResult]:
        return self._run(visit, "1.10.5", "change_pin", lambda: pin.change_pin(self.link, self.cards, visit, old, new))

    def reset_pin(self, visit: Visit, new: Pin) -> list[ServiceResult]:
        return self._run(visit, "1.10.5", "reset_pin", lambda: pin.reset_pin(self.link, self.cards, visit, new))

    def confirm_pin(self, visit: Visit, new: Pin) -> list[ServiceResult]:
        """The card is back after a PIN change or reset whose answer was lost (see pin.confirm_pin)."""
        action = pin.action_to_confirm(visit)
        return self._run(visit, "1.10.5", action, lambda: pin.confirm_pin(self.link, self.cards, visit, new))

    def application_options(self, visit: Visit) -> dict:
        """What the application step offers the person (the backend's application_options: their
        category and place as insured, the offices); BackendUnavailable offline."""
        return self.link.person_read(visit, "application_options")

    def registry_lacks_photo(self, visit: Visit) -> bool:
        """Whether the photo must be taken here (#14): the registry has none of the person, or
        the backend cannot say (offline: a photo taken is one the application can carry)."""
        try:
            self.link.person_read(visit, "person_photo")
            return False
        except BackendRejected as exc:
            return exc.code == "photo_not_found"
        except BackendUnavailable:
            return True

    # 1.10.1: on the spot when the card printer is ready and the citizen was not offered a card made
    # later instead (no photo of them to print, #14); else a batch application
    def apply(self, visit: Visit, commitment: bool, new_pin: Pin, progress: Progress = _no_progress,
              cancel: threading.Event | None = None) -> list[ServiceResult]:
        made_here = visit.application is None or visit.application.made_here   # none: refused as missing
        if made_here and self.instant_issuance_ready():
            return self._run(visit, "1.10.1", "apply_instant", lambda: apply_card.apply_instant(
                self.link, self.issuance, visit, self.region_code, commitment, new_pin, progress, cancel))
        return self._run(visit, "1.10.1", "apply_batch", lambda: apply_card.apply_batch(
            self.link, visit, self.region_code, commitment))

    # 1.10.7
    def replace(self, visit: Visit, reason: str, commitment: bool, new_pin: Pin,
                progress: Progress = _no_progress, cancel: threading.Event | None = None) -> list[ServiceResult]:
        """With a fee for it ([fees] charges, #19), only once the visit's order is paid or waived;
        a paid order whose card was surely not made gets its refund request queued, named in the
        results (and so on the receipt)."""
        issuance = self.issuance if self.instant_issuance_ready() else None
        not_made = []

        def work():
            if self.payments is not None and self.payments.fee_due(visit, "replace", reason):
                raise FeeNotPaid(f"replace {reason}: the fee is not paid")
            try:
                return replace_card.replace(self.link, issuance, visit, reason, commitment, new_pin, progress, cancel)
            except (IssuanceHeld, IssuanceUnclear):   # a card may yet be handed out: staff settle it, fee and all
                raise
            except BackendUnavailable as exc:   # an answer lost after sending: the backend may have acted
                if not exc.sent:
                    not_made.append(exc)
                raise
            except Exception as exc:   # stopped before a card existed (an issuance cut off undoes what it did)
                not_made.append(exc)
                raise

        results = self._run(visit, "1.10.7", "replace", work)
        order = visit.fee_order
        if not_made and order is not None and order.status == PAID:
            outcome = self.payments.request_refund(visit, "replace", order, f"card not made: {type(not_made[0]).__name__}")
            refund = ServiceResult("1.10.7", "fee_refund", outcome, REFUND_TOLD, message_args={"order": order.order_id})
            visit.results.append(refund)
            results.append(refund)
        return results

    # 打包办
    def bundle(self, name: str, visit: Visit, commitment: bool, new_pin: Pin,
               progress: Progress = _no_progress, cancel: threading.Event | None = None) -> list[ServiceResult]:
        return bundles.run_bundle(self, name, visit, commitment, new_pin, progress, cancel)

    # 好差评
    def review(self, visit: Visit, service_item: str, level: int, comment: str = "") -> list[ServiceResult]:
        return self._run(visit, service_item, "review",
                         lambda: review.submit_review(self.link, visit, service_item, level, comment))

    def receipt(self, visit: Visit) -> Receipt | None:
        """One receipt for the whole visit, listing every item done or queued in it (None when
        nothing was). Made before the visit ends: it needs the holder, whom it masks."""
        items = tuple(ReceiptItem(r.service_item, Outcome.PENDING if r.outcome == Outcome.PENDING or r.outbox_reference
                                  else Outcome.DONE, catalog.receipt_name(r.action), r.outbox_reference)
                      for r in visit.results if r.ok and catalog.owner(r.action).is_service_item)
        if not items:
            return None
        if visit.has_identity:
            name, id_number = visit.identity.name, visit.identity.id_number
            document = visit.identity.document_name
        else:
            name, id_number = visit.card.holder.name, visit.card.holder.social_security_number
            document = DOCUMENT_NAMES[Document.RESIDENT_ID]
        return Receipt(items=items, completed_at=datetime.datetime.now(datetime.timezone.utc),
                       verification_reference=f"{self.terminal_number}-{visit.visit_id}".upper(),
                       terminal_number=self.terminal_number, holder_name=name, id_number=id_number,
                       document_name=document,
                       card_number=visit.card.info.card_number if visit.has_card else None,
                       service_phone=self.service_phone)

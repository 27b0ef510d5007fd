"""One citizen's way through the screens: guide -> identify -> (face check, or staff assistance,
where the offer needs the person vouched for) -> (the application's details, and the photo when
the registry has none, for an application; with no camera to take it, a card made later instead of
one made here) -> confirm -> PIN pad -> progress -> result -> rating -> home.

The flow holds the visit (kiosk/visit.py) and the PINs typed for it, tells each screen what to
show, and runs the chosen service on a worker thread; results come back through Clock. It
decides nothing about the services themselves: what they do and refuse is in kiosk/services.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time

from kivy.clock import Clock

from kiosk.i18n import SOURCE_LANGUAGE
from kiosk.services.outcomes import overdue_result, unexpected_result
from kiosk.process import return_free_memory
from screens.menu import AGAIN, NEW, OFFERS_BY_KEY, PIN_TITLES, PIN_VOICE, PINS_DIFFER, Offer

log = logging.getLogger(__name__)


class VisitFlow:
    def __init__(self, app):
        self.app = app
        self.services = app.core.services
        self.visit = None
        self.offer: Offer | None = None
        self.pins: dict = {}
        self._pin_index = 0
        self.busy = False            # a service is running: no idle timeout in the middle of it
        self._busy_since = 0.0
        self._run = 0                # which run of a service the result on its way belongs to
        self._cancel = threading.Event()
        self._waiving = False        # staff are vouching to waive the fee, not for an identity

    @property
    def active(self) -> bool:
        return self.visit is not None

    def _go(self, name: str):
        self.app.root.current = name
        return self.app.root.get_screen(name)

    def touch(self) -> None:
        if self.visit is not None:
            self.visit.touch()

    # --- the steps, in order ---------------------------------------------------------------

    def begin(self, offer_key: str) -> None:
        if self.visit is not None:       # a new offer from home ends whatever was left open
            self.end("new visit")
        self.offer = OFFERS_BY_KEY[offer_key]
        self.visit = self.services.new_visit()
        self._go("guide").show(self.offer, online=self.app.link_up)

    def start_identification(self) -> None:
        if self.offer.needs_id or self.offer.needs_card:
            self._go("identify").start(self.offer, self.visit)
        else:
            self.identified()

    def identified(self) -> None:
        if self.visit.assurance is None and self.services.needs_face(self.offer.actions):
            self._go("face").start(self.visit)
        else:
            self._to_confirm()

    def face_passed(self) -> None:
        self._to_confirm()

    def _to_confirm(self) -> None:
        """An application first says what it needs besides the holder (#14), then the confirmation."""
        if self.offer.asks_application and self.visit.application is None:
            self._go("application").start(self.offer, self.visit, self.services, self.app.core.identification,
                                          instant=self.services.instant_issuance_ready())
        else:
            self._go("confirm").show(self.offer, self.visit)

    def application_given(self, details, needs_photo: bool = False) -> None:
        """The details given; the photo next when the registry has none and there is a camera.
        A card made here carries its holder's photo (#14): with none to print and no camera to
        take one, the citizen is offered the card made later and sent instead (or the counter)."""
        camera = self.app.core.devices.camera is not None
        if needs_photo and not camera and details.made_here:
            self._go("application").offer_card_made_later()
            return
        self.visit.application = details
        if needs_photo and camera:
            self._go("photo").start()
        else:
            self._to_signature()

    def photo_kept(self, jpeg: bytes) -> None:
        self.visit.application = dataclasses.replace(self.visit.application, photo=jpeg)
        self._to_signature()

    def _to_signature(self) -> None:
        """The applicant's signature where the province requires one (#19), then the confirmation."""
        if self.app.kiosk_config.signature.required and self.visit.application.signature is None:
            self._go("signature").start()
        else:
            self._go("confirm").show(self.offer, self.visit)

    def signed(self, png: bytes) -> None:
        self.visit.application = dataclasses.replace(self.visit.application, signature=png)
        self._go("confirm").show(self.offer, self.visit)

    def ask_staff(self) -> None:
        """The citizen asked for a person, or the face check did not pass: staff vouch."""
        self._go("staff_assist").start(self.visit, f"{self.offer.key}: identity check")

    def staff_vouched(self) -> None:
        if self._waiving:
            self._waiving = False
            self._go("payment").waive()
            return
        if self.offer.needs_card:   # the citizen's card came out for the staff card: back in
            self._go("identify").start(self.offer, self.visit)
        else:
            self._to_confirm()

    def confirmed(self) -> None:
        """The fee first where the province charges one (#19), then the PINs."""
        if self.offer.fee and self.app.core.payments.fee_due(self.visit, *self.offer.fee):
            self._go("payment").start(self.offer, self.visit)
        else:
            self._to_pins()

    def paid(self, order) -> None:
        self.visit.fee_order = order
        self._to_pins()

    def ask_staff_waiver(self) -> None:
        """Staff waive the fee with their staff card: it vouches first, as for an identity check."""
        self._waiving = True
        self._go("staff_assist").start(self.visit, f"{self.offer.key}: fee waiver")

    def _to_pins(self) -> None:
        self._pin_index = 0
        if self.offer.pins:
            self._ask_pin()
        else:
            self.run()

    def _ask_pin(self, problem: str = "") -> None:
        kind = self.offer.pins[self._pin_index]
        # Asked before it is shown, so that the screen speaks the question it shows.
        self.app.root.get_screen("pin").ask(PIN_TITLES[kind], problem, PIN_VOICE[problem or kind], kind)
        self.app.root.current = "pin"

    def pin_entered(self, pin) -> None:
        kind = self.offer.pins[self._pin_index]
        if kind == AGAIN:
            same = pin.same_as(self.pins[NEW])
            pin.wipe()
            if not same:
                self.pins.pop(NEW).wipe()
                self._pin_index -= 1
                self._ask_pin(PINS_DIFFER)
                return
        else:
            self.pins[kind] = pin
        self._pin_index += 1
        if self._pin_index < len(self.offer.pins):
            self._ask_pin()
        else:
            self.run()

    def run(self) -> None:
        self.busy = True
        self._busy_since = time.monotonic()
        self._run += 1
        run = self._run
        self._cancel = cancel = threading.Event()   # its own: a run given up keeps its cancel set
        pins, self.pins = self.pins, {}             # the run's: wiped by it, whatever the flow does next
        progress = self._go("progress")
        progress.start(self.offer)
        offer, visit = self.offer, self.visit
        if offer.uses_card_printer:
            # The card printer's encoder shares the citizen's reader slot in the simulated
            # kiosk (README: two vpcd slots): the watcher must not read the blank being written.
            self.app.pause_card_watcher()

        def report(step: str, fraction: float, voice: str = "") -> None:   # on the worker thread
            Clock.schedule_once(lambda _dt: progress.update(step, fraction, voice))

        def work() -> None:
            results, handout = [], None
            try:
                try:
                    results = offer.run(self.services, visit, pins, report, cancel)
                finally:
                    for pin in pins.values():
                        pin.wipe()
                handout = self.app.core.hand_out_receipt(visit)
            except Exception as exc:   # what the services did not foresee still ends in a result
                log.exception("service %s: unexpected failure", offer.key)
                results = results or [unexpected_result(offer.rated_item, offer.actions[0], exc)]
            finally:
                Clock.schedule_once(lambda _dt: self._finished(run, offer, results, handout))

        threading.Thread(target=work, name="service", daemon=True).start()

    def _finished(self, run: int, offer: Offer, results, handout) -> None:
        if offer.uses_card_printer:
            self.app.resume_card_watcher()
        if run != self._run:            # a run given up at its deadline: the citizen was told then
            return
        self.busy = False
        if self.visit is None:          # ended while the service ran (the app is stopping)
            return
        self.visit.touch()
        self._go("result").show(offer, results, handout.note if handout else "", handout.text if handout else "",
                                printed=bool(handout and handout.printed))

    def overdue(self) -> bool:
        """A service has run longer than any should ([ui] service_deadline_s)."""
        return self.busy and time.monotonic() - self._busy_since > self.app.kiosk_config.ui.service_deadline_s

    def give_up(self) -> None:
        """The service is overdue: its thread is left behind (its late result is dropped, its
        PINs wiped when it ends) and the citizen is told that staff must check what became of
        it; the visit then ends as any other, on the idle timeout."""
        offer = self.offer
        log.error("service %s overdue after %.0f s: given up", offer.key, time.monotonic() - self._busy_since)
        self._run += 1
        self._cancel.set()
        self.busy = False
        if offer.uses_card_printer:
            self.app.resume_card_watcher()
        self.visit.touch()
        self._go("result").show(offer, [overdue_result(offer.rated_item, offer.actions[0])], "", "")

    def to_rating(self) -> None:
        self._go("rating").show(self.offer)

    def rate(self, level: int) -> None:
        visit, item = self.visit, self.offer.rated_item

        def work() -> None:
            self.services.review(visit, item, level)
            Clock.schedule_once(lambda _dt: self._go("rating").thank())

        threading.Thread(target=work, name="review", daemon=True).start()

    # --- leaving ---------------------------------------------------------------------------

    def card_withdrawn(self) -> None:
        """The card left the reader mid-visit: a visit the card alone identified ends with it."""
        if self.visit is None or self.busy:
            return
        self.services.card_withdrawn(self.visit)
        if self.visit.ended:
            self.end("card removed")

    def end(self, reason: str) -> None:
        """Ends the visit: its audit trail goes out, every personal field on every screen is
        cleared, elder mode ends, and the kiosk is home again."""
        if self.visit is None:
            return
        self._cancel.set()
        self._wipe_pins()
        self._waiving = False
        visit, self.visit, self.offer = self.visit, None, None
        self.services.end_visit(visit, reason)
        log.info("visit ended: %s", reason)
        for screen in self.app.root.screens:
            if hasattr(screen, "clear"):
                screen.clear()
        self.app.theme.elder = False
        self.app.set_language(SOURCE_LANGUAGE)
        self.app.root.current = "home"
        # Once home is drawn, what the visit used goes back to the system (a few ms, nobody waiting).
        Clock.schedule_once(lambda _dt: return_free_memory(), 1.0)

    def _wipe_pins(self) -> None:
        for pin in self.pins.values():
            pin.wipe()
        self.pins = {}

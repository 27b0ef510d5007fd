"""The fee (工本费, #19), where `[fees] charges` sets one for the offer: the order's payment code
as a QR code for the citizen's payment app, the amount, and the time left; the kiosk asks the
backend after the order until it is paid (the visit goes on to the PIN pad), failed or expired
(nothing was taken: pay again, or leave). A member of staff may waive the fee with their staff
card (screens/staff_assist.py), audited.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.backend.errors import BackendError
from kiosk.fees import PENDING, SETTLED, TOLD
from kiosk.i18n import N_
from screens.result import qr_texture

log = logging.getLogger(__name__)

OPENING = N_("正在生成缴费二维码……")
SCAN = N_("请用手机扫码支付工本费，支付完成后自动继续")
NOT_OPENED = N_("暂时无法生成缴费订单，请稍后再试或联系工作人员。")


class PaymentScreen(Screen):
    state = StringProperty("")        # opening, waiting, over
    prompt = StringProperty("")
    problem = StringProperty("")
    amount = StringProperty("")
    seconds_left = NumericProperty(0)
    qr = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._stop = threading.Event()
        self._order = None
        self._ticker = None

    @property
    def order(self):
        """The order shown (the simulator panel pays it)."""
        return self._order

    def start(self, offer, visit) -> None:
        self.clear()
        self._offer, self._visit = offer, visit
        self.open_order()

    def open_order(self) -> None:
        """A new order (again after one failed or expired): its code, then the wait for payment."""
        self._stop.set()
        self._stop = stop = threading.Event()
        self.state, self.prompt, self.problem, self.qr = "opening", OPENING, "", None
        payments, offer, visit = App.get_running_app().core.payments, self._offer, self._visit

        def work() -> None:
            try:
                order = payments.open_order(visit, *offer.fee)
            except BackendError as exc:
                log.warning("no fee order: %s", exc)
                self._later(stop, self._not_opened, NOT_OPENED)
                return
            self._later(stop, self._opened, order)

        threading.Thread(target=work, name="fee-order", daemon=True).start()

    def _opened(self, order) -> None:
        self._order = order
        self.amount, self.qr = order.amount_text, qr_texture(order.pay_code)
        self.state, self.prompt = "waiting", SCAN
        self._tick()
        self._ticker = Clock.schedule_interval(lambda _dt: self._tick(), 1.0)
        app, stop = App.get_running_app(), self._stop
        poll_s = app.kiosk_config.fees.order_poll_s

        def poll() -> None:
            current = order
            while not stop.wait(poll_s):
                try:
                    current = app.core.payments.status(current)
                except BackendError as exc:   # the link may come back before the order expires
                    log.info("fee order status not read: %s", exc)
                    continue
                if current.status != PENDING:
                    self._later(stop, self._settled, current)
                    return

        threading.Thread(target=poll, name="fee-order-status", daemon=True).start()

    def _tick(self) -> None:
        if self._order is not None:
            self.seconds_left = self._order.seconds_left()
        if self.state == "waiting":
            # The citizen is paying on their phone, not touching the screen: the visit does not
            # time out under a pending order (which expires by itself).
            self._visit.touch()

    def _settled(self, order) -> None:
        self._order = order
        self._stop_ticker()
        if order.status in SETTLED:
            App.get_running_app().flow.paid(order)
            return
        self.state, self.qr, self.prompt = "over", None, ""
        self.problem = TOLD.get(order.status, TOLD["failed"])

    def _not_opened(self, message: str) -> None:
        self.state, self.prompt, self.problem = "over", "", message

    def waive(self) -> None:
        """Staff vouched with their staff card (screens/flow.py): the fee is waived, audited."""
        app, order, visit, stop = App.get_running_app(), self._order, self._visit, self._stop
        self.state, self.prompt = "opening", OPENING

        def work() -> None:
            try:
                waived = app.core.payments.waive(visit, self._offer.fee[0], order)
            except (BackendError, PermissionError) as exc:
                log.warning("fee not waived: %s", exc)
                self._later(stop, self._not_opened, NOT_OPENED)
                return
            self._later(stop, self._settled, waived)

        threading.Thread(target=work, name="fee-waiver", daemon=True).start()

    def cancel(self) -> None:
        App.get_running_app().flow.end("citizen cancelled the payment")

    def _later(self, stop: threading.Event, method, *args) -> None:
        Clock.schedule_once(lambda _dt: None if stop.is_set() else method(*args))

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def clear(self) -> None:
        """The visit ended (or a new one begins): a code left unpaid is cancelled at the backend,
        so that nobody can pay it afterwards."""
        self._stop.set()
        self._stop_ticker()
        order, visit = self._order, getattr(self, "_visit", None)
        if order is not None and order.status == PENDING and visit is not None:
            payments, action = App.get_running_app().core.payments, self._offer.fee[0]
            threading.Thread(target=_cancel_quietly, args=(payments, visit, action, order), name="fee-cancel",
                             daemon=True).start()
        self._order = None
        self.state = self.prompt = self.problem = self.amount = ""
        self.qr, self.seconds_left = None, 0


def _cancel_quietly(payments, visit, action, order) -> None:
    try:
        payments.cancel(visit, action, order)
    except BackendError as exc:   # it expires by itself at the backend
        log.info("unpaid fee order left to expire: %s", exc)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

"""The kiosk's Kivy application: one Screen per step in a ScreenManager, the services of
`KioskCore` run on worker threads by the visit flow, results back through Clock.

The card watcher reads cards on its own thread; its events reach the UI thread through
`Clock.schedule_once`. The app also runs the two clocks every screen shares: the idle
countdown (a visit left alone ends and every personal field is cleared) and the backend
link for the offline banner.
"""
from __future__ import annotations

import datetime
import logging
import math
import time

from kiosk.config import KioskConfig, parse_bin_table

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.config import Config  # noqa: E402
from kivy.properties import StringProperty  # noqa: E402
from kivy.uix.screenmanager import ScreenManager  # noqa: E402

from kiosk.core import KioskCore  # noqa: E402
from kiosk.device_messages import citizen_message  # noqa: E402
from kiosk.i18n import N_, SOURCE_LANGUAGE, _, translator  # noqa: E402
from kiosk.log_export import RecentLogs  # noqa: E402
from kiosk.process import forbid_core_dumps, return_free_memory  # noqa: E402
from kiosk.receipt import LOCAL_TIME  # noqa: E402
from kiosk.systemd import notify  # noqa: E402
from kiosk.card_service import (CardPresented, CardReadFailed, CardSummary, CardWatcher,  # noqa: E402
                                CardWithdrawn, ReadersAvailable, ReadersUnavailable)
from screens.fonts import register_cjk_font, release_drawn_text_surfaces  # noqa: E402
from screens.icons import register_icon_font  # noqa: E402
from screens.transitions import CrossFade  # noqa: E402

log = logging.getLogger(__name__)

READERS_DOWN_MESSAGE = N_("读卡设备暂不可用，请稍候或联系工作人员。")
STAFF_TITLE = N_("设备维护（工作人员）")
CLOCK = N_("{month}月{day}日 {time}")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")   # not the C locale's
COUNTDOWN_S = 10         # the countdown's length, taken out of the idle time ...
TICK_S = 0.5             # ... checked this often (the idle CPU budget allows no faster)
WATCHDOG_PING_S = 10  # deploy/sscard-kiosk.service has WatchdogSec=30
LINK_PROBE_S = 5.0       # how often the home screen asks whether the backend is reachable


class KioskApp(App):
    title = N_("社会保障卡自助服务")
    # The visit's language. Every .kv text is `_("…", app.lang)`, so a change redraws them all.
    lang = StringProperty(SOURCE_LANGUAGE)

    def __init__(self, core: KioskCore, **kwargs):
        super().__init__(**kwargs)
        self.core = core
        self.kiosk_config = core.config
        # Without a configured hash, diagnostics cannot be entered at all.
        self.staff_gate = core.staff_gate
        self.randomise_pin_pad = core.config.ui.pin_pad_random_order
        self.theme = None        # made in build(): kivy.metrics must not run before the window is configured
        self.flow = None
        self.link_up = True
        self.watcher: CardWatcher | None = None
        self._countdown = None
        self._last_touch = time.monotonic()
        self.link_probe_s = LINK_PROBE_S
        self._probe_ok = True
        self._probing = False
        self._last_probe = 0.0
        self._minute = -1
        self.header = None   # the one ScreenHeader, moved into the screen on show (widgets.py)
        # This run's log records, redacted, for the diagnostics screen's export to a USB stick.
        self.recent_logs = RecentLogs()
        logging.getLogger().addHandler(self.recent_logs)

    def build(self):
        register_cjk_font()
        release_drawn_text_surfaces()
        register_icon_font()
        from screens.theme import Theme
        self.theme = Theme()
        # Screen modules load their .kv rules on import, after the font is in place.
        from screens import widgets  # noqa: F401  (shared rules the other .kv files use)
        from screens import pinpad  # noqa: F401
        from screens.application import ApplicationScreen
        from screens.card_holder import CardHolderScreen
        from screens.confirm import ConfirmScreen
        from screens.diagnostics import DiagnosticsScreen
        from screens.flow import VisitFlow
        from screens.guide import GuideScreen
        from screens.home import HomeScreen
        from screens.identify import IdentifyScreen
        from screens.payment import PaymentScreen
        from screens.photo import PhotoScreen
        from screens.pin import PinScreen
        from screens.progress import ProgressScreen
        from screens.rating import RatingScreen
        from screens.signature import SignatureScreen
        from screens.result import ResultScreen
        from screens.face import FaceScreen
        from screens.staff import StaffSignInScreen
        from screens.staff_assist import StaffAssistScreen

        self.flow = VisitFlow(self)
        manager = ScreenManager(transition=CrossFade(duration=0.2))
        for name, screen in (("home", HomeScreen), ("card_holder", CardHolderScreen), ("guide", GuideScreen),
                             ("identify", IdentifyScreen), ("face", FaceScreen), ("staff_assist", StaffAssistScreen),
                             ("application", ApplicationScreen), ("photo", PhotoScreen),
                             ("signature", SignatureScreen), ("confirm", ConfirmScreen), ("payment", PaymentScreen),
                             ("pin", PinScreen),
                             ("progress", ProgressScreen), ("result", ResultScreen), ("rating", RatingScreen),
                             ("staff", StaffSignInScreen), ("diagnostics", DiagnosticsScreen)):
            manager.add_widget(screen(name=name))
        from screens.widgets import HeaderSlot, ScreenHeader
        self.header = ScreenHeader(service_title=self.title, terminal=self.kiosk_config.terminal.terminal_number,
                                   clock_text=clock_text(datetime.datetime.now(LOCAL_TIME), self.lang))
        slots = {screen.name: next(w for w in screen.walk(restrict=True) if isinstance(w, HeaderSlot))
                 for screen in manager.screens}
        manager.bind(current=lambda _m, name: (slots[name].hold(self.header), self._show_step(name)))
        slots[manager.current].hold(self.header)
        self._show_step(manager.current)
        from screens.voice import VoicePrompts
        # Each screen speaks its prompt as it becomes current (and again when the language changes).
        self.voice = VoicePrompts.from_config(self.kiosk_config.ui).attach(manager, self)
        return manager

    def on_start(self):
        from kivy.core.window import Window
        Window.bind(on_touch_down=self._touched)
        # A close request from a window manager or a keyboard (Alt+F4) is refused: the kiosk is
        # stopped by systemd, and Escape does nothing either (configure_window).
        Window.bind(on_request_close=lambda *_args, **_kwargs: True)
        self.resume_card_watcher()
        self._tick = Clock.schedule_interval(self._every_tick, TICK_S)
        # systemd restarts a kiosk whose UI stops ticking: the pings come from the UI's clock.
        notify("READY=1")
        Clock.schedule_interval(lambda _dt: notify("WATCHDOG=1"), WATCHDOG_PING_S)

    def open_settings(self, *_args) -> bool:
        """Kivy opens its settings panel on F1; a kiosk offers nobody a way to reconfigure it."""
        return False

    def on_stop(self):
        self.flow.end("kiosk stopping")
        self.pause_card_watcher()
        logging.getLogger().removeHandler(self.recent_logs)

    # --- the card watcher ------------------------------------------------------------------

    def pause_card_watcher(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    def resume_card_watcher(self) -> None:
        if self.watcher is None:
            self.watcher = CardWatcher(self.core.cards, self._from_watcher).start()

    def _from_watcher(self, event) -> None:
        # Called on the watcher's thread: hand over to the UI thread.
        Clock.schedule_once(lambda _dt: self.on_card_event(event))

    def on_card_event(self, event) -> None:
        home = self.root.get_screen("home")
        if self.flow.active:
            # Mid-visit the identify screen reads the card itself; only its leaving matters here.
            if isinstance(event, CardWithdrawn):
                self.flow.card_withdrawn()
            return
        if self.root.current == "staff":
            self.root.get_screen("staff").on_card_event(event)
            return
        if self.root.current == "diagnostics":
            return
        holder = self.root.get_screen("card_holder")
        if isinstance(event, CardPresented):
            home.clear_problem()
            holder.show(CardSummary.of(event.reading, event.account, parse_bin_table(self.kiosk_config.bank.bins)))
            self.root.current = "card_holder"
        elif isinstance(event, CardReadFailed):
            home.show_problem(citizen_message(event.error))
            self.root.current = "home"
        elif isinstance(event, CardWithdrawn):
            holder.clear()
            self.root.current = "home"
        elif isinstance(event, ReadersUnavailable):
            log.warning("readers unavailable: %s", event.reason)
            holder.clear()
            home.show_problem(READERS_DOWN_MESSAGE)
            self.root.current = "home"
        elif isinstance(event, ReadersAvailable):
            home.clear_problem()

    # --- idle, offline ---------------------------------------------------------------------

    def _touched(self, _window, _touch) -> bool:
        self._last_touch = time.monotonic()
        self.flow.touch()
        if self._countdown is not None:
            self._countdown.dismiss()
            self._countdown = None
            self.voice.stop()   # the citizen is back: no more "are you still there?"
        return False  # the touch goes on to the widget under it

    def idle_seconds(self) -> float:
        if self.flow.active:
            return self.flow.visit.idle_seconds()
        return time.monotonic() - self._last_touch

    def _probe_link(self) -> None:
        """The outbox worker learns of a lost link only when a delivery fails; the banner must
        know before a citizen starts, so the app asks the backend's health itself, off the UI
        thread."""
        self._probing = True
        self._last_probe = time.monotonic()

        def work() -> None:
            try:
                self._probe_ok = bool(self.core.client.is_up())
            finally:
                self._probing = False

        self.core.link_prober.submit(work)

    # --- the header ---------------------------------------------------------------------------

    def show_header(self, **changes) -> None:
        """Changes what the header says (a value it already shows is not set again: each set
        redraws a label)."""
        for key, value in changes.items():
            if getattr(self.header, key) != value:
                setattr(self.header, key, value)

    def _show_time(self) -> None:
        self.show_header(clock_text=clock_text(datetime.datetime.now(LOCAL_TIME), self.lang))

    def _show_step(self, screen: str) -> None:
        """The header follows the screens: the service and its steps during a visit, the
        kiosk's name or the staff's work outside one."""
        from screens.steps import current_step, service_steps
        offer = self.flow.offer if self.flow.active else None
        if offer is None:
            title = STAFF_TITLE if screen in ("staff", "diagnostics") else self.title
            self.show_header(service_title=title, steps=[], step_index=-1, seconds_left=-1)
            return
        charged = bool(offer.fee) and self.core.payments.fee_for(*offer.fee) is not None
        # A kiosk with a card printer makes cards on the spot (configuration, not the printer's
        # state: asking the printer here would hold the UI thread on its answer), unless the
        # citizen was offered a card made later instead (no photo of them to print, #14).
        application = self.flow.visit.application
        instant = self.core.devices.card_printer is not None and (application is None or application.made_here)
        steps = list(service_steps(offer, charged=charged, instant=instant))
        self.show_header(service_title=offer.title, steps=steps, step_index=current_step(steps, screen))

    def _every_tick(self, _dt) -> None:
        minute = time.localtime().tm_min
        if minute != self._minute:
            self._minute = minute
            self._show_time()
        if not self._probing and time.monotonic() - self._last_probe >= self.link_probe_s:
            self._probe_link()
        link_up = self.core.worker.link_up and self._probe_ok
        if link_up != self.link_up:
            self.link_up = link_up
            self.root.get_screen("home").offline = not link_up
        self._check_idle()

    def _check_idle(self) -> None:
        timeout = self.kiosk_config.ui.idle_timeout_s
        idle = self.idle_seconds()
        if self.root.current in ("staff", "diagnostics"):
            self.show_header(seconds_left=-1)
            if idle >= timeout:
                self.leave_diagnostics()
            return
        if not self.flow.active:
            self.show_header(seconds_left=-1)
            if idle >= timeout:   # elder mode or English chosen, then nobody came
                self.theme.elder = False
                self.set_language(SOURCE_LANGUAGE)
            return
        if self.flow.busy:
            self.show_header(seconds_left=-1)   # the service runs: no timeout, the progress screen says so
            if self.flow.overdue():
                self.flow.give_up()
            return
        countdown = min(COUNTDOWN_S, timeout / 3)
        left = timeout - idle
        # The header's countdown and the popup's show the same whole seconds (both round up).
        self.show_header(seconds_left=max(0, math.ceil(left)))
        if left <= 0:
            self._close_countdown()
            self.flow.end("idle timeout")
        elif left <= countdown:
            if self._countdown is None:
                from screens.idle import IdleCountdown
                self._countdown = IdleCountdown()
                self._countdown.open(animation=False)
                self.voice.play("idle")
            self._countdown.seconds_left = self.header.seconds_left

    def _close_countdown(self) -> None:
        if self._countdown is not None:
            self._countdown.dismiss(animation=False)
            self._countdown = None

    # --- language --------------------------------------------------------------------------

    def set_language(self, language: str) -> None:
        """Chosen on the home screen; lasts for the visit, like elder mode."""
        translator.set_language(language)   # first: the redraw that follows reads it
        self.lang = language
        self._show_time()

    # --- staff -----------------------------------------------------------------------------

    def open_staff_sign_in(self) -> None:
        if not self.flow.active:
            self.root.current = "staff"

    def staff_signed_in(self) -> None:
        self._last_touch = time.monotonic()
        self.root.current = "diagnostics"

    def leave_diagnostics(self) -> None:
        for name in ("staff", "diagnostics"):
            self.root.get_screen(name).clear()
        self.root.current = "home"
        # As after a visit: once home is drawn, what the staff's session used goes back to the system.
        Clock.schedule_once(lambda _dt: return_free_memory(), 1.0)


def clock_text(now: datetime.datetime, language: str) -> str:
    """The header's date and time, as each language writes them (its month by number in
    Chinese, by name in English)."""
    month = str(now.month) if language == SOURCE_LANGUAGE else MONTHS[now.month - 1]
    return _(CLOCK).format(month=month, day=now.day, time=f"{now:%H:%M}")


def configure_window(config: KioskConfig) -> None:
    """Window settings must be set before the window exists."""
    Config.set("graphics", "width", str(config.ui.width))
    Config.set("graphics", "height", str(config.ui.height))
    Config.set("graphics", "fullscreen", "auto" if config.ui.fullscreen else "0")
    # No multisampled framebuffer: text and images are textures, the few curved shapes draw
    # their own smooth edges (SmoothRoundedRectangle), and Kivy's default of 2 samples costs
    # 32 MB of process memory for a 1280x800 window under a software renderer.
    Config.set("graphics", "multisamples", "0")
    Config.set("kivy", "exit_on_escape", "0")  # a citizen's keyboard must not close the kiosk


def run_kiosk(config: KioskConfig) -> int:
    forbid_core_dumps()
    configure_window(config)
    core = KioskCore(config).start()
    try:
        KioskApp(core).run()
    finally:
        core.close()
    return 0

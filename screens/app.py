"""The kiosk's Kivy application: screens in a ScreenManager, services on worker threads.

The card watcher reads cards on its own thread; its events reach the UI thread through
`Clock.schedule_once`, and the screens only show what they are given.
"""
from __future__ import annotations

import logging
import os

from kiosk.config import KioskConfig

# Kivy reads its options from the environment at import time: keep its argv parsing and
# console logging away from the kiosk's own.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.config import Config  # noqa: E402
from kivy.uix.screenmanager import FadeTransition, ScreenManager  # noqa: E402

from kiosk.card_service import (CardPresented, CardReadFailed, CardService, CardSummary,  # noqa: E402
                                CardWatcher, CardWithdrawn, ReadersAvailable, ReadersUnavailable)
from screens.fonts import register_cjk_font  # noqa: E402

log = logging.getLogger(__name__)

READERS_DOWN_MESSAGE = "读卡设备暂不可用，请稍候或联系工作人员。"


class KioskApp(App):
    title = "社会保障卡自助服务"

    def __init__(self, config: KioskConfig, **kwargs):
        super().__init__(**kwargs)
        self.kiosk_config = config
        self.watcher: CardWatcher | None = None

    def build(self):
        register_cjk_font()
        # Screen modules load their .kv rules on import, after the font is in place.
        from screens.card_holder import CardHolderScreen
        from screens.home import HomeScreen

        manager = ScreenManager(transition=FadeTransition(duration=0.25))
        manager.add_widget(HomeScreen(name="home"))
        manager.add_widget(CardHolderScreen(name="card_holder"))
        return manager

    def on_start(self):
        self.watcher = CardWatcher(CardService(self.kiosk_config), self._from_watcher).start()

    def on_stop(self):
        if self.watcher is not None:
            self.watcher.stop()

    def _from_watcher(self, event) -> None:
        # Called on the watcher's thread: hand over to the UI thread.
        Clock.schedule_once(lambda _dt: self.on_card_event(event))

    def screen(self, name: str):
        return self.root.get_screen(name)

    def on_card_event(self, event) -> None:
        home = self.screen("home")
        holder = self.screen("card_holder")
        if isinstance(event, CardPresented):
            home.clear_problem()
            holder.show(CardSummary.of(event.reading))
            self.root.current = "card_holder"
        elif isinstance(event, CardReadFailed):
            home.show_problem(event.error.citizen_message)
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


def configure_window(config: KioskConfig) -> None:
    """Window settings must be set before the window exists."""
    Config.set("graphics", "width", str(config.ui.width))
    Config.set("graphics", "height", str(config.ui.height))
    Config.set("graphics", "fullscreen", "auto" if config.ui.fullscreen else "0")
    Config.set("kivy", "exit_on_escape", "0")  # a citizen's keyboard must not close the kiosk


def run_kiosk(config: KioskConfig) -> int:
    configure_window(config)
    KioskApp(config).run()
    return 0

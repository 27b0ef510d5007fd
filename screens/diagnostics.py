"""Diagnostics for maintenance staff (after the staff PIN): a tile per device, green, amber or red
with the state and what to do in plain words, the supplies, the outbox by state, the last
faults with their times, and the disk and software, all from kiosk/diagnostics.py's overview
gathered on a worker thread; the staff actions are one tap each in a row of buttons. No error's
class name or repr reaches the screen: the words come from kiosk/device_messages.py's staff
table, the details go to the log. It leaves by itself after the idle time (the app watches it)."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from kiosk import diagnostics
from kiosk.device_messages import STAFF_UNEXPECTED, staff_message
from kiosk.i18n import N_, _
from kiosk.log_export import LogExportError, NoUsbStick, export_logs, journal_lines, usb_folders

log = logging.getLogger(__name__)

# The levels' colours (diagnostics.kv): the theme's `success` (green), `amber` and `warning` (red).


class DiagnosticTile(BoxLayout):
    """One device (or supply panel): its name, its words in the level's colour, a detail."""
    device = StringProperty("")
    title = StringProperty("")
    level = StringProperty("ok")
    words = StringProperty("")
    detail = StringProperty("")


class SupplyLine(BoxLayout):
    title = StringProperty("")
    level = StringProperty("ok")
    words = StringProperty("")


class DiagnosticsScreen(Screen):
    overview = ObjectProperty(None, allownone=True)   # kiosk.diagnostics.Overview, once gathered
    checking = BooleanProperty(False)
    action = StringProperty("")
    action_level = StringProperty("ok")
    outbox_words = StringProperty("")
    outbox_level = StringProperty("ok")
    faults_words = StringProperty("")
    system_words = StringProperty("")
    system_level = StringProperty("ok")
    held_application = StringProperty("")   # the first card made on the spot that waits for staff
    held_words = StringProperty("")
    card_printer = BooleanProperty(False)   # a test card can be made here
    tile_columns = NumericProperty(4)

    def on_pre_enter(self, *args):
        self.refresh()

    def refresh(self) -> None:
        self.checking = True
        app = App.get_running_app()

        def work() -> None:
            try:
                view = diagnostics.overview(app.core)
            except Exception:   # noqa: BLE001 - the screen must end in words, whatever broke
                log.exception("diagnostics: the overview failed")
                view = None

            def show(_dt) -> None:
                self.checking = False
                if view is None:
                    self.say(STAFF_UNEXPECTED, "fault")
                else:
                    self.show(view)
            Clock.schedule_once(show)

        threading.Thread(target=work, name="diagnostics", daemon=True).start()

    def show(self, view: diagnostics.Overview) -> None:
        """Draws an overview: the tiles in the grid, the supplies, the outbox, the faults."""
        self.overview = view
        grid = self.ids.tiles
        grid.clear_widgets()
        for tile in view.tiles:
            widget = DiagnosticTile(device=tile.device, title=tile.name, level=tile.level, words=tile.words,
                                    detail=tile.detail)
            widget.bind(minimum_height=self.even_tiles)
            grid.add_widget(widget)
        self.even_tiles()
        supplies = self.ids.supplies
        supplies.clear_widgets()
        for supply in view.supplies:
            supplies.add_widget(SupplyLine(title=supply.name, level=supply.level, words=supply.words))
        self.outbox_words, self.outbox_level = view.outbox.words(), view.outbox.level
        self.faults_words = "\n".join(line.text() for line in view.faults[:6]) or _("无")
        self.system_words, self.system_level = view.system.words, view.system.level
        self.held_application = view.held[0].application_id if view.held else ""
        self.held_words = view.held_words()
        self.card_printer = view.card_printer

    def even_tiles(self, *_args) -> None:
        """Every tile as tall as the tallest (the grid's rows line up), whatever wraps."""
        tiles = self.ids.tiles.children
        height = max((tile.minimum_height for tile in tiles), default=0)
        for tile in tiles:
            tile.height = height

    def say(self, message: str, level: str = "ok") -> None:
        self.action, self.action_level = message, level

    def _later(self, message: str, level: str = "ok") -> None:
        Clock.schedule_once(lambda _dt: self.say(message, level))

    def _failed(self, what: str, exc: Exception) -> None:
        """A staff action that failed: the details to the log, plain words to the screen."""
        log.warning("diagnostics: %s failed: %s: %s", what, type(exc).__name__, exc)

    def print_test_receipt(self) -> None:
        app = App.get_running_app()
        self.say(N_("正在打印测试页……"))

        def work() -> None:
            try:
                diagnostics.print_test_receipt(app.core.devices, app.kiosk_config.terminal.terminal_number)
                self._later(N_("测试页已打印"))
            except diagnostics.DEVICE_ERRORS as exc:
                self._failed("test receipt", exc)
                self._later(_("测试页未打印：{error}").format(error=_(staff_message(exc))), "fault")

        threading.Thread(target=work, name="test-receipt", daemon=True).start()

    def print_test_card(self) -> None:
        """A blank through the encoder and the printer, retained in the reject box."""
        app = App.get_running_app()
        self.say(N_("正在制作测试卡……"))

        def work() -> None:
            try:
                diagnostics.print_test_card(app.core.devices, said=lambda step: log.info("test card: %s", step))
                self._later(N_("测试卡已制作，已放入废卡箱"))
            except diagnostics.DEVICE_ERRORS as exc:
                self._failed("test card", exc)
                self._later(_("测试卡未制作：{error}").format(error=_(staff_message(exc))), "fault")
            Clock.schedule_once(lambda _dt: self.refresh())   # the ribbon and the reject box changed

        threading.Thread(target=work, name="test-card", daemon=True).start()

    def export_logs(self) -> None:
        """The logs, with personal data removed, and the report to the first USB stick found."""
        app = App.get_running_app()
        config = app.kiosk_config
        self.say(N_("正在导出日志……"))

        def work() -> None:
            try:
                sticks = usb_folders(Path(config.ui.usb_mount_root))
                if not sticks:
                    raise NoUsbStick(f"no writable mount under {config.ui.usb_mount_root}")
                folder = export_logs(sticks[0], config.terminal.terminal_number,
                                     journal_lines() + app.recent_logs.snapshot(), diagnostics.report(app.core))
                self._later(_("日志已导出到 {folder}，可以拔出U盘").format(folder=folder))
            except LogExportError as exc:
                log.warning("%s", exc)
                self._later(exc.staff_message, "fault")

        threading.Thread(target=work, name="log-export", daemon=True).start()

    def retry_dead_letters(self) -> None:
        count = diagnostics.retry_dead_letters(App.get_running_app().core.outbox)
        self.say(_("已重新排队 {count} 条死信").format(count=count))
        self.refresh()

    def settle_held_issuance(self, action: str) -> None:
        """`resume`: the held card finished and ejected into the staff member's hands; `reject`:
        retained. Either is written to the audit trail of the visit it was made in."""
        app, application = App.get_running_app(), self.held_application
        self.say(N_("正在处理……"))

        def work() -> None:
            try:
                entry = diagnostics.settle_held_issuance(app.core, application, action)
                self._later(_("申请 {application}：{status}").format(application=application,
                                                                   status=_(diagnostics.SETTLED[entry.status])))
            except (diagnostics.JournalError, *diagnostics.DEVICE_ERRORS) as exc:
                self._failed("settling a held card", exc)
                self._later(_("未能处理：{error}").format(error=_(staff_message(exc))), "fault")
            Clock.schedule_once(lambda _dt: self.refresh())

        threading.Thread(target=work, name="held-issuance", daemon=True).start()

    def levels(self) -> dict[str, str]:
        """Each device tile's level as drawn, by device key (for tests and the demo)."""
        return {tile.device: tile.level for tile in self.ids.tiles.children}

    def texts(self) -> list[str]:
        """Every text staff see on the screen now, buttons included (for tests and the demo)."""
        found = []

        def visit(widget) -> None:
            if widget.opacity == 0:
                return
            if isinstance(widget, Label) and widget.text.strip():
                found.append(widget.text)
            for child in reversed(widget.children):
                visit(child)
        visit(self)
        return found

    def clear(self) -> None:
        self.action = ""
        self.overview = None
        self.ids.tiles.clear_widgets()
        self.ids.supplies.clear_widgets()
        self.outbox_words = self.faults_words = self.system_words = self.held_words = self.held_application = ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

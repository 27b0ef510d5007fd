"""Diagnostics for maintenance staff (after the staff PIN): every device, the backend link, the
outbox and the disk on one screen, gathered on a worker thread; a test receipt, a retry of
dead letters and the settling of a card left half made on a tap. It leaves by itself after the idle time (the app watches it)."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk import diagnostics
from kiosk.i18n import N_, _
from kiosk.log_export import LogExportError, NoUsbStick, export_logs, journal_lines, usb_folders

log = logging.getLogger(__name__)


class DiagnosticsScreen(Screen):
    report = StringProperty("")
    action = StringProperty("")
    held_application = StringProperty("")   # the first card made on the spot that waits for staff

    def on_pre_enter(self, *args):
        self.refresh()

    def refresh(self) -> None:
        self.report = _("正在检测……")
        app = App.get_running_app()

        def work() -> None:
            lines = diagnostics.report(app.core)
            text = "\n".join(_("{what}：{answer}").format(what=what, answer=answer) for what, answer in lines)
            held = diagnostics.held_issuances(app.core)
            application = held[0].application_id if held else ""

            def show(_dt) -> None:
                self.report, self.held_application = text, application
            Clock.schedule_once(show)

        threading.Thread(target=work, name="diagnostics", daemon=True).start()

    def print_test_receipt(self) -> None:
        app = App.get_running_app()

        def work() -> None:
            try:
                diagnostics.print_test_receipt(app.core.devices, app.kiosk_config.terminal.terminal_number)
                message = N_("测试页已打印")
            except diagnostics.DEVICE_ERRORS as exc:
                message = _("测试页未打印：{error}").format(error=exc)
            Clock.schedule_once(lambda _dt: setattr(self, "action", message))

        threading.Thread(target=work, name="test-receipt", daemon=True).start()

    def export_logs(self) -> None:
        """The logs, with personal data removed, and this report to the first USB stick found."""
        app = App.get_running_app()
        config = app.kiosk_config
        self.action = _("正在导出日志……")

        def work() -> None:
            try:
                sticks = usb_folders(Path(config.ui.usb_mount_root))
                if not sticks:
                    raise NoUsbStick(f"no writable mount under {config.ui.usb_mount_root}")
                folder = export_logs(sticks[0], config.terminal.terminal_number,
                                     journal_lines() + app.recent_logs.snapshot(), diagnostics.report(app.core))
                message = _("日志已导出到 {folder}，可以拔出U盘").format(folder=folder)
            except LogExportError as exc:
                log.warning("%s", exc)
                message = _(exc.staff_message)
            Clock.schedule_once(lambda _dt: setattr(self, "action", message))

        threading.Thread(target=work, name="log-export", daemon=True).start()

    def retry_dead_letters(self) -> None:
        count = diagnostics.retry_dead_letters(App.get_running_app().core.outbox)
        self.action = _("已重新排队 {count} 条死信").format(count=count)
        self.refresh()

    def settle_held_issuance(self, action: str) -> None:
        """`resume`: the held card finished and ejected into the staff member's hands; `reject`:
        retained. Either is written to the audit trail of the visit it was made in."""
        app, application = App.get_running_app(), self.held_application
        self.action = _("正在处理……")

        def work() -> None:
            try:
                entry = diagnostics.settle_held_issuance(app.core, application, action)
                message = _("申请 {application}：{status}").format(application=application,
                                                                 status=_(diagnostics.SETTLED[entry.status]))
            except (diagnostics.JournalError, *diagnostics.DEVICE_ERRORS) as exc:
                message = _("未能处理：{error}").format(error=f"{type(exc).__name__}: {exc}")
            Clock.schedule_once(lambda _dt: setattr(self, "action", message))
            self.refresh()

        threading.Thread(target=work, name="held-issuance", daemon=True).start()

    def clear(self) -> None:
        self.report = self.action = ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

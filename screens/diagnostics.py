"""Diagnostics for maintenance staff (after the staff PIN): every device, the backend link, the
outbox and the disk on one screen, gathered on a worker thread; a test receipt and a retry of
dead letters on a tap. It leaves by itself after the idle time (the app watches it)."""
from __future__ import annotations

import importlib.metadata
import logging
import shutil
import threading
import time
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from drivers.apdu import CardError
from drivers.card_printer import CardPrinterError
from drivers.id_card_reader import IdCardError, IdCardNotFound, IdCardReader
from drivers.pcsc import card_present, list_readers
from drivers.receipt_printer import PrinterError, ReceiptPrinter
from kiosk.backend.errors import BackendRejected, BackendUnavailable
from kiosk.i18n import N_, _
from kiosk.log_export import LogExportError, NoUsbStick, export_logs, journal_lines, usb_folders
from kiosk.receipt import printer_test_page

log = logging.getLogger(__name__)


def _check(what, probe) -> tuple[str, str]:
    """One line of the report: a device's answer or the error that stands for it."""
    try:
        return what, probe()
    except (CardError, CardPrinterError, PrinterError, IdCardError, BackendUnavailable, BackendRejected,
            OSError) as exc:
        return what, _("故障：{error}").format(error=f"{type(exc).__name__}: {exc}")


def gather(app) -> list[tuple[str, str]]:
    core, config = app.core, app.kiosk_config

    def readers() -> str:
        found = list_readers()
        card = _("有卡") if card_present(config.readers.card) else _("无卡")
        psam = (_("在位") if card_present(config.readers.psam) else _("未插入")) if config.readers.psam else _("未配置")
        return _("{count} 个读卡器；用户卡座：{card}；PSAM：{psam}").format(count=len(found), card=card, psam=psam)

    def receipt_printer() -> str:
        settings = config.receipt_printer
        if not settings.port:
            return _("未配置（凭证显示在屏幕上）")
        with ReceiptPrinter(settings.port, baudrate=settings.baud, encoding=settings.encoding,
                            paper_mm=settings.paper_mm, read_timeout=settings.read_timeout_s,
                            write_timeout=settings.write_timeout_s) as printer:
            return printer.status().describe()

    def id_reader() -> str:
        settings = config.id_reader
        if not settings.port:
            return _("未配置")
        with IdCardReader(settings.port, baudrate=settings.baud, read_timeout=settings.read_timeout_s) as reader:
            reader.check_status()
            sam = reader.sam_id()
            try:
                reader.read()
                card = _("读卡区有身份证，读取正常")
            except IdCardNotFound:
                card = _("读卡区无证")
        return _("正常，SAM {sam}；{card}").format(sam=sam, card=card)

    def card_printer() -> str:
        if core.card_printer is None:
            return _("未启用即时制卡")
        status = core.card_printer.status()
        faults = "; ".join(str(fault) for fault in status.faults()) or _("无故障")
        ribbon = (_("未检测到色带") if status.ribbon_remaining is None
                  else _("色带余量 {ribbon}").format(ribbon=status.ribbon_remaining))
        blanks = _("有空白卡") if status.feeder_loaded else _("无空白卡")
        return _("{blanks}，{ribbon}，卡位 {position}；{faults}").format(
            blanks=blanks, ribbon=ribbon, position=status.card_position.name, faults=faults)

    def backend() -> str:
        started = time.perf_counter()
        core.client.health()
        return _("可达，{ms:.0f} ms").format(ms=(time.perf_counter() - started) * 1000)

    def outbox() -> str:
        stats = core.outbox.stats()
        oldest = "—" if stats.oldest_pending_age_s is None else f"{stats.oldest_pending_age_s:.0f} s"
        return _("待发送 {pending}，最早 {oldest}，死信 {dead}，已送达 {done}").format(
            pending=stats.pending, oldest=oldest, dead=stats.dead, done=stats.done)

    def disk() -> str:
        usage = shutil.disk_usage(Path(config.outbox.db).resolve().parent)
        return _("剩余 {free:.1f} GB / 共 {total:.1f} GB").format(free=usage.free / 2**30, total=usage.total / 2**30)

    return [_check(_("读卡器与PSAM"), readers), _check(_("凭条打印机"), receipt_printer),
            _check(_("身份证读卡器"), id_reader), _check(_("制卡机"), card_printer), _check(_("业务系统"), backend),
            _check(_("离线队列"), outbox), _check(_("磁盘空间"), disk),
            (_("软件版本"), importlib.metadata.version("sscard-kiosk"))]


class DiagnosticsScreen(Screen):
    report = StringProperty("")
    action = StringProperty("")

    def on_pre_enter(self, *args):
        self.refresh()

    def refresh(self) -> None:
        self.report = _("正在检测……")
        app = App.get_running_app()

        def work() -> None:
            lines = gather(app)
            text = "\n".join(_("{what}：{answer}").format(what=what, answer=answer) for what, answer in lines)
            Clock.schedule_once(lambda _dt: setattr(self, "report", text))

        threading.Thread(target=work, name="diagnostics", daemon=True).start()

    def print_test_receipt(self) -> None:
        settings = App.get_running_app().kiosk_config.receipt_printer
        terminal = App.get_running_app().kiosk_config.terminal.terminal_number

        def work() -> None:
            try:
                with ReceiptPrinter(settings.port, baudrate=settings.baud, encoding=settings.encoding,
                                    paper_mm=settings.paper_mm, read_timeout=settings.read_timeout_s,
                                    write_timeout=settings.write_timeout_s) as printer:
                    printer.print_job(printer_test_page(terminal, settings.paper_mm, settings.encoding).as_escpos())
                message = N_("测试页已打印")
            except PrinterError as exc:
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
                                     journal_lines() + app.recent_logs.snapshot(), gather(app))
                message = _("日志已导出到 {folder}，可以拔出U盘").format(folder=folder)
            except LogExportError as exc:
                log.warning("%s", exc)
                message = _(exc.staff_message)
            Clock.schedule_once(lambda _dt: setattr(self, "action", message))

        threading.Thread(target=work, name="log-export", daemon=True).start()

    def retry_dead_letters(self) -> None:
        outbox = App.get_running_app().core.outbox
        dead = [job.id for job in outbox.jobs(states=("dead",))]
        for job_id in dead:
            outbox.retry_dead(job_id)
        self.action = _("已重新排队 {count} 条死信").format(count=len(dead))
        self.refresh()

    def clear(self) -> None:
        self.report = self.action = ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

"""Diagnostics for maintenance staff (after the staff PIN): every device, the backend link, the
outbox and the disk on one screen, gathered on a worker thread; a test receipt and a retry of
dead letters on a tap. It leaves by itself after the idle time (the app watches it)."""
from __future__ import annotations

import importlib.metadata
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
from kiosk.receipt import printer_test_page


def _check(what, probe) -> tuple[str, str]:
    """One line of the report: a device's answer or the error that stands for it."""
    try:
        return what, probe()
    except (CardError, CardPrinterError, PrinterError, IdCardError, BackendUnavailable, BackendRejected,
            OSError) as exc:
        return what, f"故障：{type(exc).__name__}: {exc}"


def gather(app) -> list[tuple[str, str]]:
    core, config = app.core, app.kiosk_config

    def readers() -> str:
        found = list_readers()
        card = "有卡" if card_present(config.readers.card) else "无卡"
        psam = ("在位" if card_present(config.readers.psam) else "未插入") if config.readers.psam else "未配置"
        return f"{len(found)} 个读卡器；用户卡座：{card}；PSAM：{psam}"

    def receipt_printer() -> str:
        settings = config.receipt_printer
        if not settings.port:
            return "未配置（凭证显示在屏幕上）"
        with ReceiptPrinter(settings.port, baudrate=settings.baud, encoding=settings.encoding,
                            paper_mm=settings.paper_mm, read_timeout=settings.read_timeout_s,
                            write_timeout=settings.write_timeout_s) as printer:
            return printer.status().describe()

    def id_reader() -> str:
        settings = config.id_reader
        if not settings.port:
            return "未配置"
        with IdCardReader(settings.port, baudrate=settings.baud, read_timeout=settings.read_timeout_s) as reader:
            reader.check_status()
            sam = reader.sam_id()
            try:
                reader.read()
                card = "读卡区有身份证，读取正常"
            except IdCardNotFound:
                card = "读卡区无证"
        return f"正常，SAM {sam}；{card}"

    def card_printer() -> str:
        if core.card_printer is None:
            return "未启用即时制卡"
        status = core.card_printer.status()
        faults = "；".join(str(fault) for fault in status.faults()) or "无故障"
        ribbon = "未检测到色带" if status.ribbon_remaining is None else f"色带余量 {status.ribbon_remaining}"
        return f"{'有' if status.feeder_loaded else '无'}空白卡，{ribbon}，卡位 {status.card_position.name}；{faults}"

    def backend() -> str:
        started = time.perf_counter()
        core.client.health()
        return f"可达，{(time.perf_counter() - started) * 1000:.0f} ms"

    def outbox() -> str:
        stats = core.outbox.stats()
        oldest = "—" if stats.oldest_pending_age_s is None else f"{stats.oldest_pending_age_s:.0f} s"
        return f"待发送 {stats.pending}，最早 {oldest}，死信 {stats.dead}，已送达 {stats.done}"

    def disk() -> str:
        usage = shutil.disk_usage(Path(config.outbox.db).resolve().parent)
        return f"剩余 {usage.free / 2**30:.1f} GB / 共 {usage.total / 2**30:.1f} GB"

    return [_check("读卡器与PSAM", readers), _check("凭条打印机", receipt_printer), _check("身份证读卡器", id_reader),
            _check("制卡机", card_printer), _check("业务系统", backend), _check("离线队列", outbox),
            _check("磁盘空间", disk),
            ("软件版本", importlib.metadata.version("sscard-kiosk"))]


class DiagnosticsScreen(Screen):
    report = StringProperty("")
    action = StringProperty("")

    def on_pre_enter(self, *args):
        self.refresh()

    def refresh(self) -> None:
        self.report = "正在检测……"
        app = App.get_running_app()

        def work() -> None:
            lines = gather(app)
            text = "\n".join(f"{what}：{answer}" for what, answer in lines)
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
                message = "测试页已打印"
            except PrinterError as exc:
                message = f"测试页未打印：{exc}"
            Clock.schedule_once(lambda _dt: setattr(self, "action", message))

        threading.Thread(target=work, name="test-receipt", daemon=True).start()

    def retry_dead_letters(self) -> None:
        outbox = App.get_running_app().core.outbox
        dead = [job.id for job in outbox.jobs(states=("dead",))]
        for job_id in dead:
            outbox.retry_dead(job_id)
        self.action = f"已重新排队 {len(dead)} 条死信"
        self.refresh()

    def clear(self) -> None:
        self.report = self.action = ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

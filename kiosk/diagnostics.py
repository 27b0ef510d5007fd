"""Diagnostics for maintenance staff: each device's state, a test receipt, a test card, the
backend link, the outbox and the disk. The diagnostics screen, the log export and
`kiosk diag` all use these, with the devices `Devices` builds from the configuration.

The checks raise the drivers' typed errors; `report()` turns each into a line of the report.
"""
from __future__ import annotations

import datetime
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from drivers.apdu import CardError
from drivers.card_printer import CardPrinterError
from drivers.card_printer import PrinterStatus as CardPrinterStatus
from drivers.id_card_reader import IdCardError, IdCardNotFound, IdDocument
from drivers.pin_pad import PinPadError
from drivers.pcsc import card_present, list_readers
from drivers.receipt_printer import PrinterError, PrinterStatus
from kiosk.backend.errors import BackendRejected, BackendUnavailable
from kiosk.card_face import compose_test_face
from kiosk.devices import Devices
from kiosk.i18n import N_, _
from kiosk.receipt import printer_test_page
from kiosk.services.issuance_journal import EntryStatus, JournalEntry, JournalError

# What a check may raise: it stands for the device's answer in the report.
DEVICE_ERRORS = (CardError, CardPrinterError, PrinterError, IdCardError, PinPadError, BackendUnavailable,
                 BackendRejected, OSError)
# One use of the devices at a time outside a visit: the heartbeat's probe (kiosk/health.py), the
# diagnostics screen's report and its test receipt and card would otherwise meet on a port.
PROBING = threading.Lock()


def receipt_printer_status(devices: Devices) -> PrinterStatus:
    with devices.receipt_printer() as printer:
        return printer.status()


def print_test_receipt(devices: Devices, terminal_number: str) -> tuple[int, PrinterStatus]:
    """Prints the test page (Chinese text and a QR code): (its size in bytes, the status after)."""
    settings = devices.config.receipt_printer
    job = printer_test_page(terminal_number, settings.paper_mm, settings.encoding).as_escpos()
    with PROBING, devices.receipt_printer() as printer:   # the heartbeat's probe waits for it
        return len(job), printer.print_job(job)


@dataclass(frozen=True)
class IdReaderCheck:
    sam_id: str
    person: IdDocument | None    # the ID card on the reader, if any


def check_id_reader(devices: Devices, *, need_card: bool = False) -> IdReaderCheck:
    """The reader's status and SAM, and the ID card on it (IdCardNotFound when `need_card`)."""
    with devices.id_card_reader() as reader:
        reader.check_status()
        sam = reader.sam_id()
        try:
            person = reader.read()
        except IdCardNotFound:
            if need_card:
                raise
            person = None
    return IdReaderCheck(sam, person)


def card_printer_status(devices: Devices) -> CardPrinterStatus | None:
    """None when instant issuance is off on this kiosk."""
    return devices.card_printer.status() if devices.card_printer is not None else None


def print_test_card(devices: Devices, said=print) -> None:
    """Feeds a blank to the encoder, prints a test face and retains the card, whatever
    happened (it ends in the reject box). `said` hears each step."""
    printer = devices.card_printer
    with PROBING:   # the heartbeat's probe of the printer waits for the test card
        atr = printer.feed_to_encoder()
        said(f"test card at the encoder, ATR {atr.hex().upper()}")
        try:
            printer.print_face(compose_test_face(datetime.date.today()))
            said("test face printed")
        finally:
            printer.retain()
            said("test card retained")


def retry_dead_letters(outbox) -> int:
    """Every dead letter queued again under its own idempotency key; how many."""
    dead = [job.id for job in outbox.jobs(states=("dead",))]
    for job_id in dead:
        outbox.retry_dead(job_id)
    return len(dead)


SETTLED = {EntryStatus.HANDED_OUT: N_("已交付"), EntryStatus.REJECTED: N_("已回收"),
           EntryStatus.NEEDS_STAFF: N_("仍待处理"), EntryStatus.RUNNING: N_("制卡中")}


def held_issuances(core) -> list[JournalEntry]:
    """Cards made on the spot that wait for staff (kiosk/services/issuance.py, recover())."""
    return [entry for entry in core.issuance_journal.unfinished() if entry.status == EntryStatus.NEEDS_STAFF]


def settle_held_issuance(core, application_id: str, action: str) -> JournalEntry:
    """Staff `resume` (finish and eject into their hands) or `reject` a held card; raises
    JournalError when that is not possible, or a device's or the backend's error."""
    if core.issuance is None:
        raise JournalError("instant issuance is off on this kiosk")
    return {"resume": core.issuance.resume, "reject": core.issuance.reject}[action](application_id)


# What the last update did (kiosk/update.py's state), for staff.
UPDATE_STATES = {"updated": N_("已更新"), "up_to_date": N_("已是最新"), "rolled_back": N_("新版本健康检查未通过，已自动回退"),
                 "rolled_back_by_staff": N_("已由工作人员回退"), "failed": N_("新版本安装失败，未切换"),
                 "refused": N_("更新包未通过签名校验，已拒绝")}


def software_update(config) -> str:
    """The version running and what the last update did (its state file; nothing is fetched)."""
    from kiosk.update import UpdateManager
    manager = UpdateManager(config.update)
    state = manager.state()
    text = manager.installed_version()
    if state.get("state") in UPDATE_STATES:
        text += _("；更新：{state}").format(state=_(UPDATE_STATES[state["state"]]))
        if state.get("offered"):
            text += _("（{version}）").format(version=state["offered"])
    return text


def _line(what: str, probe) -> tuple[str, str]:
    try:
        return what, probe()
    except DEVICE_ERRORS as exc:
        return what, _("故障：{error}").format(error=f"{type(exc).__name__}: {exc}")


def report(core) -> list[tuple[str, str]]:
    """The whole kiosk, a line a part, in the current language: what the diagnostics screen
    shows and the log export saves. Each check runs even when another failed."""
    config, devices = core.config, core.devices

    def readers() -> str:
        found = list_readers()
        card = _("有卡") if card_present(config.readers.card) else _("无卡")
        psam = (_("在位") if card_present(config.readers.psam) else _("未插入")) if config.readers.psam else _("未配置")
        return _("{count} 个读卡器；用户卡座：{card}；PSAM：{psam}").format(count=len(found), card=card, psam=psam)

    def receipt_printer() -> str:
        if not devices.has_receipt_printer:
            return _("未配置（凭证显示在屏幕上）")
        return receipt_printer_status(devices).describe()

    def id_reader() -> str:
        if not devices.has_id_reader:
            return _("未配置")
        check = check_id_reader(devices)
        card = _("读卡区有身份证，读取正常") if check.person is not None else _("读卡区无证")
        return _("正常，SAM {sam}；{card}").format(sam=check.sam_id, card=card)

    def card_printer() -> str:
        status = card_printer_status(devices)
        if status is None:
            return _("未启用即时制卡")
        faults = "; ".join(str(fault) for fault in status.faults()) or _("无故障")
        ribbon = (_("未检测到色带") if status.ribbon_remaining is None
                  else _("色带余量 {ribbon}").format(ribbon=status.ribbon_remaining))
        blanks = _("有空白卡") if status.feeder_loaded else _("无空白卡")
        return _("{blanks}，{ribbon}，卡位 {position}；{faults}").format(
            blanks=blanks, ribbon=ribbon, position=status.card_position.name, faults=faults)

    def issuances() -> str:
        held = held_issuances(core)
        if not held:
            return _("无待处理")
        return "; ".join(_("申请 {application} 停在 {step}：{note}").format(
            application=entry.application_id, step=entry.step, note=entry.note) for entry in held)

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

    with PROBING:
        return [_line(_("读卡器与PSAM"), readers), _line(_("凭条打印机"), receipt_printer),
                _line(_("身份证读卡器"), id_reader), _line(_("制卡机"), card_printer),
                _line(_("待处理的即时制卡"), issuances), _line(_("业务系统"), backend),
                _line(_("离线队列"), outbox), _line(_("磁盘空间"), disk),
                (_("软件版本"), software_update(config))]

"""Diagnostics for maintenance staff: each device's state, a test receipt, a test card, the
backend link, the outbox and the disk. The diagnostics screen, the log export and
`kiosk diag` all use these, with the devices `Devices` builds from the configuration.

The checks raise the drivers' typed errors. `overview()` gathers the kiosk's state as plain data
for the screen: a tile per device (from the health monitor's findings, kiosk/health.py) at a
level (`ok` green, `warning` amber, `fault` red) with the state and what to do in plain words,
the supplies, the outbox by state, the last faults with their times, the disk and the software.
`report()` is the same as lines of text, for the log export. No error's class name nor `repr`
reaches these words: they come from kiosk/device_messages.py's staff table.
"""
from __future__ import annotations

import datetime
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from drivers.apdu import CardError
from drivers.card_printer import CardPrinterError
from drivers.card_printer import PrinterStatus as CardPrinterStatus
from drivers.id_card_reader import IdCardError, IdCardNotFound, IdDocument
from drivers.pin_pad import PinPadError
from drivers.qr_scanner import QrScanError
from drivers.receipt_printer import PrinterError, PrinterStatus
from kiosk.backend.errors import BackendRejected, BackendUnavailable
from kiosk.card_face import compose_test_face
from kiosk.devices import Devices
from kiosk.i18n import N_, _
from kiosk.receipt import printer_test_page
from kiosk.services.issuance_journal import EntryStatus, JournalEntry, JournalError

# What a check may raise: it stands for the device's answer in the report.
DEVICE_ERRORS = (CardError, CardPrinterError, PrinterError, IdCardError, PinPadError, QrScanError,
                 BackendUnavailable, BackendRejected, OSError)
RIBBON_LOW_FRACTION = 0.1   # under a tenth of the ribbon's panels left: order one now (kiosk/health.py too)
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
                 "refused": N_("更新包未通过签名校验，已拒绝"), "skipped": N_("该版本曾在本机回退，不再安装")}


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


# The model of the diagnostics screen: plain data, translated when made (as the report is).

LOCAL_TIME = ZoneInfo("Asia/Shanghai")
OK, WARNING, FAULT, ABSENT = "ok", "warning", "fault", "absent"   # kiosk.health.State's values
LEVELS = (OK, WARNING, FAULT)   # the worst last

# A tile per device, in this order; a device not fitted here (`absent`) has none.
DEVICE_NAMES = {"card_reader": N_("社保卡读卡器"), "psam": N_("PSAM卡"), "id_reader": N_("身份证读卡器"),
                "receipt_printer": N_("凭条打印机"), "card_printer": N_("制卡机"), "camera": N_("摄像头"),
                "pin_pad": N_("密码键盘"), "qr_scanner": N_("扫码器"), "backend": N_("业务系统")}


@dataclass(frozen=True)
class DeviceTile:
    device: str     # the key: card_reader, psam, ..., backend
    name: str       # what staff call it
    level: str      # ok, warning or fault
    words: str      # the state and what to do, e.g. "纸将用尽，请更换纸卷"
    detail: str = ""   # a fact that helps: the ID reader's SAM, the backend's answer time


@dataclass(frozen=True)
class Supply:
    name: str
    level: str
    words: str


@dataclass(frozen=True)
class OutboxCounts:
    pending: int        # waiting to be sent (not in flight)
    in_flight: int      # leased to the sender right now
    dead: int           # refused for good or out of tries: staff retry them
    delivered: int
    oldest_pending_age_s: float | None
    quarantined: int = 0   # a payload that cannot be opened

    @property
    def level(self) -> str:
        return WARNING if self.dead or self.quarantined else OK

    def words(self) -> str:
        text = _("待发送 {pending}，发送中 {in_flight}，死信 {dead}，已送达 {delivered}").format(
            pending=self.pending, in_flight=self.in_flight, dead=self.dead, delivered=self.delivered)
        if self.oldest_pending_age_s is not None:
            text += _("；最早一条已等待 {age}").format(age=duration(self.oldest_pending_age_s))
        if self.quarantined:
            text += _("；{count} 条无法解密，请导出日志并联系运维人员").format(count=self.quarantined)
        return text


@dataclass(frozen=True)
class FaultLine:
    at: str         # local time: "14:02", or "06-01 14:02" before today
    name: str
    level: str
    words: str

    def text(self) -> str:
        return f"{self.at}  {self.name}  {self.words}"


@dataclass(frozen=True)
class Overview:
    tiles: list[DeviceTile]
    supplies: list[Supply]
    outbox: OutboxCounts
    faults: list[FaultLine]
    system: Supply                  # the disk, the software version and the last update
    held: list[JournalEntry] = field(default_factory=list)   # cards made on the spot waiting for staff
    card_printer: bool = False      # instant issuance on: a test card can be made

    def held_words(self) -> str:
        if not self.held:
            return ""
        return _("申请 {application} 的卡停在制卡机中，请选择完成取出或回收").format(
            application=self.held[0].application_id)

    def texts(self) -> list[str]:
        """Every text the screen shows of it (the tests look for class names in these)."""
        return ([text for tile in self.tiles for text in (tile.name, tile.words, tile.detail) if text]
                + [text for supply in self.supplies for text in (supply.name, supply.words)]
                + [self.outbox.words(), self.system.words, self.held_words()] + [f.text() for f in self.faults])


def duration(seconds: float) -> str:
    """A wait in plain words: 40 秒, 12 分钟, 3 小时, 2 天."""
    for unit, size in ((N_("{n} 天"), 86400), (N_("{n} 小时"), 3600), (N_("{n} 分钟"), 60)):
        if seconds >= size:
            return _(unit).format(n=int(seconds // size))
    return _("{n} 秒").format(n=int(seconds))


def joined(words) -> str:
    """Staff words, each translated, in one line."""
    return _("；").join(_(text) for text in words)


def words_of(health) -> str:
    """A finding's words for staff, translated and joined."""
    return joined(health.words) or (_("正常") if health.state == OK else _("状态未知"))


def _detail(device: str, health) -> str:
    if health.state != OK:
        return ""
    if device == "id_reader" and health.detail.startswith("SAM "):
        return health.detail
    if device == "backend":
        return health.detail    # its answer time, "35 ms"
    if device == "card_printer":
        remaining, capacity = health.supplies.get("ribbon_remaining"), health.supplies.get("ribbon_capacity")
        if remaining is not None and capacity:
            return _("色带余量 {remaining}/{capacity}").format(remaining=remaining, capacity=capacity)
    return ""


def device_tiles(found: dict) -> list[DeviceTile]:
    """A tile for each device fitted here, from the health findings (kiosk.health.DeviceHealth by
    device key, the backend link among them), in DEVICE_NAMES' order."""
    return [DeviceTile(device, _(name), str(found[device].state), words_of(found[device]),
                       _detail(device, found[device]))
            for device, name in DEVICE_NAMES.items() if device in found and found[device].state != ABSENT]


def supplies(found: dict) -> list[Supply]:
    """The receipt paper, the card printer's ribbon, its blank cards and its reject box; none for
    a printer not fitted. A printer that did not answer has its supplies unknown."""
    found_supplies = []
    printer = found.get("receipt_printer")
    if printer is not None and printer.state != ABSENT:
        paper = printer.supplies.get("paper")
        found_supplies.append(Supply(_("凭条纸"), *{
            "ok": (OK, _("充足")), "near_end": (WARNING, _("将用尽，请更换纸卷")),
            "out": (FAULT, _("已用完，请装入新纸卷"))}.get(paper, (WARNING, _("无法读取，请检查打印机")))))
    cards = found.get("card_printer")
    if cards is not None and cards.state != ABSENT:
        given = cards.supplies
        if "blank_cards" not in given:
            unknown = (WARNING, _("无法读取，请检查制卡机"))
            return found_supplies + [Supply(_(name), *unknown) for name in (N_("色带"), N_("空白卡"), N_("废卡箱"))]
        remaining, capacity = given.get("ribbon_remaining"), given.get("ribbon_capacity")
        if remaining is None:
            ribbon = (FAULT, _("未检测到色带，请装入色带"))
        elif remaining == 0:
            ribbon = (FAULT, _("已用完，请更换色带"))
        elif cards.state == WARNING or (capacity and remaining < RIBBON_LOW_FRACTION * capacity):
            ribbon = (WARNING, _("剩余 {remaining}/{capacity}，请准备新色带").format(remaining=remaining, capacity=capacity))
        else:
            ribbon = (OK, _("剩余 {remaining}/{capacity}").format(remaining=remaining, capacity=capacity))
        found_supplies += [
            Supply(_("色带"), *ribbon),
            Supply(_("空白卡"), *((OK, _("有卡")) if given["blank_cards"] else (FAULT, _("已用完，请补充空白卡")))),
            Supply(_("废卡箱"), *((FAULT, _("已满，请清空废卡箱")) if given.get("reject_box_full") else (OK, _("未满"))))]
    return found_supplies


def outbox_counts(stats) -> OutboxCounts:
    """From offline_queue's OutboxStats (whose `pending` includes the jobs in flight)."""
    leased = getattr(stats, "leased", 0)
    return OutboxCounts(pending=stats.pending - leased, in_flight=leased, dead=stats.dead, delivered=stats.done,
                        oldest_pending_age_s=stats.oldest_pending_age_s, quarantined=stats.quarantined)


def fault_lines(faults, now: float | None = None) -> list[FaultLine]:
    """The health monitor's fault history (kiosk.health.Fault, newest first) as lines with local
    times: the time of day for today's, the date too for older ones."""
    today = datetime.datetime.fromtimestamp(time.time() if now is None else now, LOCAL_TIME).date()
    lines = []
    for fault in faults:
        when = datetime.datetime.fromtimestamp(fault.at, LOCAL_TIME)
        at = when.strftime("%H:%M") if when.date() == today else when.strftime("%m-%d %H:%M")
        lines.append(FaultLine(at, _(DEVICE_NAMES.get(fault.device, fault.device)), str(fault.state),
                               joined(fault.words)))
    return lines


def system_line(free_bytes: int, total_bytes: int, low_bytes: int, software: str) -> Supply:
    """The disk and the software in one line; amber when the disk runs low."""
    disk = _("磁盘剩余 {free:.1f} GB / 共 {total:.1f} GB").format(free=free_bytes / 2**30, total=total_bytes / 2**30)
    if free_bytes < low_bytes:
        disk += _("，空间不足，请导出日志后联系运维人员")
    return Supply(_("系统"), WARNING if free_bytes < low_bytes else OK,
                  _("{disk}；软件版本 {software}").format(disk=disk, software=software))


def overview(core) -> Overview:
    """Everything the diagnostics screen shows, probed now (staff use the kiosk: no visit)."""
    found, _probed_at = core.health.devices()
    found.update(core.health.probe_backend_link())
    usage = shutil.disk_usage(Path(core.config.outbox.db).resolve().parent)
    return Overview(tiles=device_tiles(found), supplies=supplies(found), outbox=outbox_counts(core.outbox.stats()),
                    faults=fault_lines(core.health.faults()),
                    system=system_line(usage.free, usage.total, core.config.metrics.disk_low_bytes,
                                       software_update(core.config)),
                    held=held_issuances(core), card_printer=core.devices.card_printer is not None)


def report_lines(view: Overview) -> list[tuple[str, str]]:
    """The overview as (what, state) lines of text."""
    lines = [(tile.name, tile.words + (f"（{tile.detail}）" if tile.detail else "")) for tile in view.tiles]
    if view.supplies:
        lines.append((_("耗材"), _("；").join(f"{supply.name}: {supply.words}" for supply in view.supplies)))
    lines += [(_("离线队列"), view.outbox.words()), (_("系统"), view.system.words)]
    if view.held:
        lines.append((_("待处理的即时制卡"), "; ".join(_("申请 {application} 停在 {step}：{note}").format(
            application=entry.application_id, step=entry.step, note=entry.note) for entry in view.held)))
    lines.append((_("最近故障"), "; ".join(fault.text() for fault in view.faults) or _("无")))
    return lines


def report(core) -> list[tuple[str, str]]:
    """The whole kiosk, a line a part, in the current language: what the log export saves
    (the diagnostics screen shows the same overview as tiles)."""
    return report_lines(overview(core))

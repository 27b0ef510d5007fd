"""The kiosk's health as the fleet sees it (#18): each device's state, its supplies, the disk,
the outbox, the audit chain's head and the software version, in one snapshot.

The heartbeat carries the snapshot to the backend (the province's fleet status), the metrics
exporter turns it into Prometheus gauges (kiosk/metrics.py), and the diagnostics screen shows
the same words. A device is probed only while no citizen is using the kiosk: a probe of a
serial device while a visit reads the ID card or takes a PIN would collide with it on the
port. During a visit the last probe's findings stand, with their age.

States: `ok`; `warning` (it works, staff should act soon: paper near its end, ribbon low);
`fault` (it does not work: paper out, no blank cards, a reader gone); `absent` (not fitted
here, by configuration).

Each finding also carries `words` for staff (Chinese, translated on screen: the state and what
to do), and the monitor keeps a short history of the changes to `warning` or `fault`, with
their times, for the diagnostics screen.
"""
from __future__ import annotations

import collections
import enum
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from drivers.pcsc import card_present, list_readers
from kiosk.device_messages import staff_message
from kiosk.diagnostics import (DEVICE_ERRORS, PROBING, RIBBON_LOW_FRACTION, card_printer_status, check_id_reader,
                               receipt_printer_status)
from kiosk.i18n import N_
from kiosk.version import SOFTWARE_VERSION

FAULT_HISTORY = 20          # the changes to warning or fault kept for the diagnostics screen


class State(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAULT = "fault"
    ABSENT = "absent"


@dataclass(frozen=True)
class DeviceHealth:
    state: State
    detail: str = ""        # for staff, in English, never personal data
    supplies: dict = field(default_factory=dict)   # paper, ribbon_remaining, blank_cards, ...
    words: tuple[str, ...] = ()   # for staff, in Chinese (msgids): the state and what to do


OK_WORDS = (N_("正常"),)
ABSENT_WORDS = (N_("本机未配置"),)


@dataclass(frozen=True)
class Fault:
    """A device that went to `warning` or `fault`: when (UNIX time), which, and the words then."""
    at: float
    device: str
    state: State
    words: tuple[str, ...]


def _card_reader(core) -> DeviceHealth:
    reader = core.config.readers.card
    if reader not in list_readers():
        return DeviceHealth(State.FAULT, f"reader {reader!r} not found by pcscd",
                            words=(N_("读卡器未连接，请检查连接线"),))
    present = card_present(reader)
    return DeviceHealth(State.OK, "card present" if present else "no card",
                        words=(N_("正常"), N_("卡座有卡") if present else N_("卡座无卡")))


def _psam(core) -> DeviceHealth:
    reader = core.config.readers.psam
    if not reader:
        return DeviceHealth(State.ABSENT, "no PSAM slot configured (the backend's HSM stands in)",
                            words=(N_("未配置，由业务系统的加密机代替"),))
    if reader not in list_readers():
        return DeviceHealth(State.FAULT, f"PSAM reader {reader!r} not found by pcscd",
                            words=(N_("PSAM读卡器未连接，请检查连接线"),))
    if card_present(reader):
        return DeviceHealth(State.OK, "present", words=(N_("PSAM卡在位"),))
    return DeviceHealth(State.FAULT, "PSAM missing", words=(N_("PSAM卡未插入，请插好PSAM卡"),))


def _id_reader(core) -> DeviceHealth:
    if not core.devices.has_id_reader:
        return DeviceHealth(State.ABSENT, words=ABSENT_WORDS)
    check = check_id_reader(core.devices)
    return DeviceHealth(State.OK, f"SAM {check.sam_id}",
                        words=(N_("正常"), N_("读卡区有身份证") if check.person is not None else N_("读卡区无证")))


def _receipt_printer(core) -> DeviceHealth:
    if not core.devices.has_receipt_printer:
        return DeviceHealth(State.ABSENT, "receipts shown on screen", words=(N_("未配置，凭证显示在屏幕上"),))
    status = receipt_printer_status(core.devices)
    paper = "out" if status.paper_out else "near_end" if status.paper_near_end else "ok"
    state = State.OK if status.ready and paper == "ok" else State.WARNING if status.ready else State.FAULT
    words = tuple(text for flag, text in (
        (not status.online and not (status.paper_out or status.cover_open), N_("打印机离线，请检查电源和连接线")),
        (status.cover_open, N_("机盖未关好，请关好机盖")),
        (status.paper_out, N_("缺纸，请装入新纸卷")),
        (status.paper_near_end and not status.paper_out, N_("纸将用尽，请更换纸卷")),
        (status.fault, N_("打印机报错，请检查切刀和卡纸")),
        (status.auto_recoverable_error and not status.fault, N_("打印机正在自动恢复，请稍候重新检测"))) if flag)
    return DeviceHealth(state, status.describe(), {"paper": paper}, words or OK_WORDS)


def _card_printer(core) -> DeviceHealth:
    status = card_printer_status(core.devices)
    if status is None:
        return DeviceHealth(State.ABSENT, "instant issuance off", words=(N_("未启用即时制卡"),))
    supplies = {"ribbon_remaining": status.ribbon_remaining, "ribbon_capacity": status.ribbon_capacity,
                "blank_cards": status.feeder_loaded, "reject_box_full": status.reject_box_full}
    faults = status.faults()
    if faults or not status.feeder_loaded:
        words = [str(fault) for fault in faults] + ([] if status.feeder_loaded else ["no blank cards"])
        staff = tuple(dict.fromkeys(staff_message(fault) for fault in faults))
        return DeviceHealth(State.FAULT, "; ".join(words), supplies, staff or (N_("空白卡已用完，请补充空白卡"),))
    if status.ribbon_capacity and status.ribbon_remaining < RIBBON_LOW_FRACTION * status.ribbon_capacity:
        return DeviceHealth(State.WARNING, f"ribbon low: {status.ribbon_remaining} of {status.ribbon_capacity}", supplies,
                            (N_("色带将用尽，请准备新色带"),))
    return DeviceHealth(State.OK, "", supplies, OK_WORDS)


def _camera(core) -> DeviceHealth:
    camera = core.devices.camera
    if camera is None:
        return DeviceHealth(State.ABSENT, words=ABSENT_WORDS)
    device = core.config.camera.device   # the V4L2 device, when the camera is [camera]'s (not a simulator)
    if device and not device.isdigit() and not os.path.exists(device):
        return DeviceHealth(State.FAULT, f"{device} is gone", words=(N_("摄像头未连接，请检查连接线"),))
    return DeviceHealth(State.OK, words=OK_WORDS)


def _pin_pad(core) -> DeviceHealth:
    if not core.devices.has_pin_pad:
        return DeviceHealth(State.ABSENT, words=ABSENT_WORDS)
    with core.devices.pin_pad() as pad:
        status = pad.status()
    if not status.keys_loaded:
        return DeviceHealth(State.FAULT, f"{status.model}: no PIN key loaded",
                            words=(N_("密码键盘未灌装密钥，请联系运维人员"),))
    return DeviceHealth(State.OK, status.model, words=OK_WORDS)


def _qr_scanner(core) -> DeviceHealth:
    """The scanner for the electronic card's QR code: the serial one answers, the keyboard-wedge
    one's device is there, or the camera reads the codes (#19)."""
    devices = core.devices
    if not devices.has_qr_reader:
        return DeviceHealth(State.ABSENT, words=ABSENT_WORDS)
    settings = devices.config.qr_scanner
    if settings.port:
        with devices.qr_reader():
            pass
    elif settings.input_device:
        if not Path(settings.input_device).exists():
            return DeviceHealth(State.FAULT, f"{settings.input_device} is gone",
                                words=(N_("扫码器未连接，请检查连接线"),))
    else:
        return DeviceHealth(State.OK, "camera", words=(N_("由摄像头扫码"),))
    return DeviceHealth(State.OK, words=OK_WORDS)


PROBES = {"card_reader": _card_reader, "psam": _psam, "id_reader": _id_reader, "receipt_printer": _receipt_printer,
          "card_printer": _card_printer, "camera": _camera, "pin_pad": _pin_pad, "qr_scanner": _qr_scanner}


def probe_devices(core) -> dict[str, DeviceHealth]:
    """Every device, each probe on its own: one that fails is that device's fault."""
    found = {}
    for name, probe in PROBES.items():
        try:
            found[name] = probe(core)
        except DEVICE_ERRORS as exc:
            found[name] = DeviceHealth(State.FAULT, f"{type(exc).__name__}: {exc}"[:200], words=(staff_message(exc),))
    return found


def probe_backend(client):
    """The backend link as a device: reachable (with its answer time) or what is wrong."""
    started = time.perf_counter()
    try:
        client.health()
    except DEVICE_ERRORS as exc:
        return DeviceHealth(State.FAULT, f"{type(exc).__name__}: {exc}"[:200], words=(staff_message(exc),))
    return DeviceHealth(State.OK, f"{(time.perf_counter() - started) * 1000:.0f} ms", words=(N_("已连接"),))


class HealthMonitor:
    """Keeps the last probe's findings; probes again only when the kiosk is idle (see the
    module's docstring). `busy()` says whether a citizen is using the kiosk now."""

    def __init__(self, core, busy=lambda: False, clock=time.time):
        self.core = core
        self.busy = busy
        self.clock = clock
        self._lock = threading.Lock()
        self._history_lock = threading.Lock()
        self._devices: dict[str, DeviceHealth] = {}
        self._probed_at: float | None = None
        self._states: dict[str, tuple[State, tuple[str, ...]]] = {}   # the last state each device was seen in
        self._faults: collections.deque[Fault] = collections.deque(maxlen=FAULT_HISTORY)

    def devices(self, max_age_s: float = 0.0) -> tuple[dict[str, DeviceHealth], float | None]:
        """(findings, when probed); probes first when nobody is using the kiosk and the last
        findings are older than `max_age_s`."""
        with self._lock:
            stale = self._probed_at is None or self.clock() - self._probed_at >= max_age_s
            if stale and not self.busy():
                with PROBING:
                    self._devices, self._probed_at = probe_devices(self.core), self.clock()
                self.record(self._devices)
            return dict(self._devices), self._probed_at

    def record(self, found: dict[str, DeviceHealth]) -> None:
        """Notes each device's state; one that went to `warning` or `fault` (or to other words
        in them) joins the fault history. The diagnostics screen records the backend link here
        too (it is not one of the heartbeat's devices)."""
        now = self.clock()
        with self._history_lock:
            for name, health in found.items():
                seen = (health.state, health.words)
                if self._states.get(name) != seen and health.state in (State.WARNING, State.FAULT):
                    self._faults.append(Fault(now, name, health.state, health.words))
                self._states[name] = seen

    def probe_backend_link(self) -> dict[str, DeviceHealth]:
        """The backend link, which the heartbeat leaves out (it is how the heartbeat travels, not
        a device of the kiosk), probed now for the diagnostics screen and recorded like the rest."""
        found = {"backend": probe_backend(self.core.client)}
        self.record(found)
        return found

    def faults(self) -> list[Fault]:
        """The last changes to `warning` or `fault`, newest first (at most FAULT_HISTORY)."""
        with self._history_lock:
            return list(reversed(self._faults))

    def snapshot(self, max_age_s: float = 0.0) -> dict:
        """What the heartbeat carries (the contract's Health); the metrics too (kiosk/metrics.py)."""
        devices, probed_at = self.devices(max_age_s)
        stats = self.core.outbox.stats()
        usage = shutil.disk_usage(Path(self.core.config.outbox.db).resolve().parent)
        return {
            "devices": {name: {"state": str(health.state), "detail": health.detail, **health.supplies}
                        for name, health in devices.items()},
            "probed_at": probed_at,
            "disk": {"free_bytes": usage.free, "total_bytes": usage.total},
            "outbox": {"pending": stats.pending, "oldest_pending_age_s": stats.oldest_pending_age_s, "dead": stats.dead},
            "software_version": SOFTWARE_VERSION,
        }


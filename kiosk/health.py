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
"""
from __future__ import annotations

import enum
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from drivers.camera import UvcCamera
from drivers.pcsc import card_present, list_readers
from kiosk.diagnostics import DEVICE_ERRORS, PROBING, card_printer_status, check_id_reader, receipt_printer_status
from kiosk.version import SOFTWARE_VERSION

RIBBON_LOW_FRACTION = 0.1   # under a tenth of the ribbon's panels left: order one now


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


def _card_reader(core) -> DeviceHealth:
    reader = core.config.readers.card
    if reader not in list_readers():
        return DeviceHealth(State.FAULT, f"reader {reader!r} not found by pcscd")
    return DeviceHealth(State.OK, "card present" if card_present(reader) else "no card")


def _psam(core) -> DeviceHealth:
    reader = core.config.readers.psam
    if not reader:
        return DeviceHealth(State.ABSENT, "no PSAM slot configured (the backend's HSM stands in)")
    if reader not in list_readers():
        return DeviceHealth(State.FAULT, f"PSAM reader {reader!r} not found by pcscd")
    return DeviceHealth(State.OK, "present") if card_present(reader) else DeviceHealth(State.FAULT, "PSAM missing")


def _id_reader(core) -> DeviceHealth:
    if not core.devices.has_id_reader:
        return DeviceHealth(State.ABSENT)
    check = check_id_reader(core.devices)
    return DeviceHealth(State.OK, f"SAM {check.sam_id}")


def _receipt_printer(core) -> DeviceHealth:
    if not core.devices.has_receipt_printer:
        return DeviceHealth(State.ABSENT, "receipts shown on screen")
    status = receipt_printer_status(core.devices)
    paper = "out" if status.paper_out else "near_end" if status.paper_near_end else "ok"
    state = State.OK if status.ready and paper == "ok" else State.WARNING if status.ready else State.FAULT
    return DeviceHealth(state, status.describe(), {"paper": paper})


def _card_printer(core) -> DeviceHealth:
    status = card_printer_status(core.devices)
    if status is None:
        return DeviceHealth(State.ABSENT, "instant issuance off")
    supplies = {"ribbon_remaining": status.ribbon_remaining, "ribbon_capacity": status.ribbon_capacity,
                "blank_cards": status.feeder_loaded, "reject_box_full": status.reject_box_full}
    faults = status.faults()
    if faults or not status.feeder_loaded:
        words = [str(fault) for fault in faults] + ([] if status.feeder_loaded else ["no blank cards"])
        return DeviceHealth(State.FAULT, "; ".join(words), supplies)
    if status.ribbon_capacity and status.ribbon_remaining < RIBBON_LOW_FRACTION * status.ribbon_capacity:
        return DeviceHealth(State.WARNING, f"ribbon low: {status.ribbon_remaining} of {status.ribbon_capacity}", supplies)
    return DeviceHealth(State.OK, "", supplies)


def _camera(core) -> DeviceHealth:
    camera = core.devices.camera
    if camera is None:
        return DeviceHealth(State.ABSENT)
    if isinstance(camera, UvcCamera) and not camera.device.isdigit() and not os.path.exists(camera.device):
        return DeviceHealth(State.FAULT, f"{camera.device} is gone")
    return DeviceHealth(State.OK)


def _pin_pad(core) -> DeviceHealth:
    if not core.devices.has_pin_pad:
        return DeviceHealth(State.ABSENT)
    with core.devices.pin_pad() as pad:
        status = pad.status()
    if not status.keys_loaded:
        return DeviceHealth(State.FAULT, f"{status.model}: no PIN key loaded")
    return DeviceHealth(State.OK, status.model)


PROBES = {"card_reader": _card_reader, "psam": _psam, "id_reader": _id_reader, "receipt_printer": _receipt_printer,
          "card_printer": _card_printer, "camera": _camera, "pin_pad": _pin_pad}


def probe_devices(core) -> dict[str, DeviceHealth]:
    """Every device, each probe on its own: one that fails is that device's fault."""
    found = {}
    for name, probe in PROBES.items():
        try:
            found[name] = probe(core)
        except DEVICE_ERRORS as exc:
            found[name] = DeviceHealth(State.FAULT, f"{type(exc).__name__}: {exc}"[:200])
    return found


class HealthMonitor:
    """Keeps the last probe's findings; probes again only when the kiosk is idle (see the
    module's docstring). `busy()` says whether a citizen is using the kiosk now."""

    def __init__(self, core, busy=lambda: False, clock=time.time):
        self.core = core
        self.busy = busy
        self.clock = clock
        self._lock = threading.Lock()
        self._devices: dict[str, DeviceHealth] = {}
        self._probed_at: float | None = None

    def devices(self, max_age_s: float = 0.0) -> tuple[dict[str, DeviceHealth], float | None]:
        """(findings, when probed); probes first when nobody is using the kiosk and the last
        findings are older than `max_age_s`."""
        with self._lock:
            stale = self._probed_at is None or self.clock() - self._probed_at >= max_age_s
            if stale and not self.busy():
                with PROBING:
                    self._devices, self._probed_at = probe_devices(self.core), self.clock()
            return dict(self._devices), self._probed_at

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


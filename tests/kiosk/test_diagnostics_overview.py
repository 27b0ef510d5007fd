"""The diagnostics screen's model (kiosk/diagnostics.py): tiles, supplies, the outbox, the fault
history and the system line as plain data from the health findings, with no device, no
service and no Kivy."""
from __future__ import annotations

import datetime
import re

import pytest

from drivers.card_printer import CardPrinterOffline, HopperEmpty
from drivers.pcsc import ReaderUnavailable
from drivers.receipt_printer import PrinterNotResponding, PrinterPaperOut
from kiosk import diagnostics, health
from kiosk.backend.errors import BackendRejected, BackendUnavailable
from kiosk.device_messages import STAFF_MESSAGES, STAFF_UNEXPECTED, staff_message
from kiosk.health import FAULT_HISTORY, DeviceHealth, HealthMonitor, State
from kiosk.i18n import translator
from offline_queue.outbox import OutboxStats

# What an exception's class name looks like: never on the diagnostics screen.
CLASS_NAME = re.compile(r"[A-Z][a-z]+[A-Z]\w*(Error|Unavailable|Rejected|Exception)|Traceback|<\w+ object")
FULL_RIBBON = {"ribbon_remaining": 240, "ribbon_capacity": 250, "blank_cards": True, "reject_box_full": False}


def healthy(**changed) -> dict[str, DeviceHealth]:
    found = {"card_reader": DeviceHealth(State.OK, "no card", words=("正常", "卡座无卡")),
             "psam": DeviceHealth(State.OK, "present", words=("PSAM卡在位",)),
             "id_reader": DeviceHealth(State.OK, "SAM 05.01-20261126-0000000001", words=("正常", "读卡区无证")),
             "receipt_printer": DeviceHealth(State.OK, "online", {"paper": "ok"}, ("正常",)),
             "card_printer": DeviceHealth(State.OK, "", dict(FULL_RIBBON), ("正常",)),
             "camera": DeviceHealth(State.OK, words=("正常",)),
             "pin_pad": DeviceHealth(State.ABSENT, words=("本机未配置",)),
             "qr_scanner": DeviceHealth(State.ABSENT),
             "backend": DeviceHealth(State.OK, "35 ms", words=("已连接",))}
    return found | changed


def tile(found, device):
    return next(t for t in diagnostics.device_tiles(found) if t.device == device)


@pytest.fixture(autouse=True)
def chinese():
    translator.set_language("zh")
    yield
    translator.set_language("zh")


def test_a_healthy_kiosk_is_all_green_with_a_tile_per_fitted_device_only():
    tiles = diagnostics.device_tiles(healthy())
    assert [t.device for t in tiles] == ["card_reader", "psam", "id_reader", "receipt_printer", "card_printer",
                                         "camera", "backend"]   # no PIN pad, no QR scanner on this kiosk
    assert {t.level for t in tiles} == {"ok"}
    assert tile(healthy(), "card_reader").words == "正常；卡座无卡"
    assert tile(healthy(), "id_reader").detail == "SAM 05.01-20261126-0000000001"
    assert tile(healthy(), "backend").detail == "35 ms"
    assert tile(healthy(), "card_printer").detail == "色带余量 240/250"
    assert [(s.name, s.level) for s in diagnostics.supplies(healthy())] == [
        ("凭条纸", "ok"), ("色带", "ok"), ("空白卡", "ok"), ("废卡箱", "ok")]


def test_a_receipt_printer_out_of_paper_is_red_and_says_what_to_do():
    out = DeviceHealth(State.FAULT, "offline, paper out", {"paper": "out"}, ("缺纸，请装入新纸卷",))
    printer = tile(healthy(receipt_printer=out), "receipt_printer")
    assert (printer.name, printer.level, printer.words) == ("凭条打印机", "fault", "缺纸，请装入新纸卷")
    [paper] = [s for s in diagnostics.supplies(healthy(receipt_printer=out)) if s.name == "凭条纸"]
    assert (paper.level, paper.words) == ("fault", "已用完，请装入新纸卷")


def test_paper_near_its_end_is_amber():
    near = DeviceHealth(State.WARNING, "online, paper near end", {"paper": "near_end"}, ("纸将用尽，请更换纸卷",))
    assert tile(healthy(receipt_printer=near), "receipt_printer").level == "warning"
    assert diagnostics.supplies(healthy(receipt_printer=near))[0] == diagnostics.Supply("凭条纸", "warning",
                                                                                       "将用尽，请更换纸卷")


class Client:
    def __init__(self, error=None):
        self.error = error

    def health(self):
        if self.error:
            raise self.error
        return {"status": "ok"}


@pytest.mark.parametrize("error, words", [
    (BackendUnavailable("backend not reachable (ConnectionError)", link_down=True, sent=False),
     "无法连接业务系统，请检查网络；业务暂按离线受理"),
    (BackendRejected("unknown_terminal", "certificate not enrolled", status=403), "业务系统拒绝了请求，请联系运维人员"),
])
def test_the_backend_down_is_a_red_tile_in_plain_words(error, words):
    down = health.probe_backend(Client(error))
    backend = tile(healthy(backend=down), "backend")
    assert (backend.name, backend.level, backend.words, backend.detail) == ("业务系统", "fault", words, "")
    up = health.probe_backend(Client())
    assert up.state == "ok" and up.detail.endswith(" ms")


def test_a_device_whose_probe_raised_shows_the_staff_words_not_the_error():
    from kiosk.health import probe_devices, PROBES

    class Core:
        pass

    def failing(_core):
        raise ReaderUnavailable("SCardConnect: reader 'Virtual PCD 00 00' unavailable", 0x8010000F)

    saved = dict(PROBES)
    try:
        PROBES.clear()
        PROBES["card_reader"] = failing
        found = probe_devices(Core())
    finally:
        PROBES.clear()
        PROBES.update(saved)
    reader = tile(found, "card_reader")
    assert (reader.level, reader.words) == ("fault", "读卡器未连接，请检查连接线")
    assert "ReaderUnavailable" in found["card_reader"].detail   # the fleet's English detail keeps it


def test_card_printer_supplies_ribbon_blanks_and_reject_box():
    low = DeviceHealth(State.WARNING, "ribbon low: 12 of 250",
                       FULL_RIBBON | {"ribbon_remaining": 12}, ("色带将用尽，请准备新色带",))
    assert tile(healthy(card_printer=low), "card_printer").level == "warning"
    ribbon, blanks, box = diagnostics.supplies(healthy(card_printer=low))[1:]
    assert (ribbon.level, ribbon.words) == ("warning", "剩余 12/250，请准备新色带")
    assert blanks.level == box.level == "ok"

    empty = DeviceHealth(State.FAULT, "feeder empty", FULL_RIBBON | {"blank_cards": False, "reject_box_full": True,
                                                                     "ribbon_remaining": None},
                         ("空白卡已用完，请补充空白卡", "废卡箱已满，请清空废卡箱"))
    assert tile(healthy(card_printer=empty), "card_printer").words == "空白卡已用完，请补充空白卡；废卡箱已满，请清空废卡箱"
    ribbon, blanks, box = diagnostics.supplies(healthy(card_printer=empty))[1:]
    assert [s.level for s in (ribbon, blanks, box)] == ["fault"] * 3
    assert (ribbon.words, blanks.words, box.words) == ("未检测到色带，请装入色带", "已用完，请补充空白卡", "已满，请清空废卡箱")

    silent = DeviceHealth(State.FAULT, "CardPrinterOffline: no answer", words=(staff_message(CardPrinterOffline("x")),))
    assert {s.level for s in diagnostics.supplies(healthy(card_printer=silent))[1:]} == {"warning"}   # unknown


def test_no_supplies_for_printers_not_fitted():
    absent = DeviceHealth(State.ABSENT)
    assert diagnostics.supplies(healthy(receipt_printer=absent, card_printer=absent)) == []


def test_the_outbox_by_state_with_the_oldest_pending_age():
    counts = diagnostics.outbox_counts(OutboxStats(pending=5, dead=2, done=130, oldest_pending_age_s=3 * 3600 + 5,
                                                   leased=1))
    assert (counts.pending, counts.in_flight, counts.dead, counts.delivered) == (4, 1, 2, 130)
    assert counts.level == "warning"   # dead letters wait for staff
    assert counts.words() == "待发送 4，发送中 1，死信 2，已送达 130；最早一条已等待 3 小时"
    calm = diagnostics.outbox_counts(OutboxStats(pending=0, dead=0, done=3, oldest_pending_age_s=None))
    assert calm.level == "ok" and "等待" not in calm.words()


@pytest.mark.parametrize("seconds, words", [(0, "0 秒"), (59, "59 秒"), (60, "1 分钟"), (7199, "1 小时"),
                                            (86400 * 3 + 5, "3 天")])
def test_durations_in_plain_words(seconds, words):
    assert diagnostics.duration(seconds) == words


def at(hour, minute, day=1):
    return datetime.datetime(2026, 6, day, hour, minute, tzinfo=diagnostics.LOCAL_TIME).timestamp()


def test_the_health_monitor_keeps_a_bounded_history_of_changes_to_amber_or_red():
    now = [at(14, 0)]
    monitor = HealthMonitor(None, clock=lambda: now[0])
    near = DeviceHealth(State.WARNING, "", {"paper": "near_end"}, ("纸将用尽，请更换纸卷",))
    out = DeviceHealth(State.FAULT, "", {"paper": "out"}, ("缺纸，请装入新纸卷",))
    monitor.record(healthy())
    assert monitor.faults() == []
    now[0] = at(14, 2)
    monitor.record(healthy(receipt_printer=out))
    now[0] = at(14, 3)
    monitor.record(healthy(receipt_printer=out))   # still out: not a new fault
    now[0] = at(14, 30)
    monitor.record(healthy(receipt_printer=near, backend=health.probe_backend(Client(BackendUnavailable("x")))))
    lines = diagnostics.fault_lines(monitor.faults(), now=at(15, 0))
    assert [line.text() for line in lines] == ["14:30  业务系统  无法连接业务系统，请检查网络；业务暂按离线受理",
                                               "14:30  凭条打印机  纸将用尽，请更换纸卷",
                                               "14:02  凭条打印机  缺纸，请装入新纸卷"]
    assert [(line.at, line.name, line.level) for line in lines] == [
        ("14:30", "业务系统", "fault"), ("14:30", "凭条打印机", "warning"), ("14:02", "凭条打印机", "fault")]
    assert diagnostics.fault_lines(monitor.faults(), now=at(9, 0, day=2))[2].at == "06-01 14:02"

    for minute in range(FAULT_HISTORY + 5):   # a flapping printer does not grow the history without end
        now[0] = at(16, minute)
        monitor.record(healthy(receipt_printer=out if minute % 2 else near))
    assert len(monitor.faults()) == FAULT_HISTORY
    assert monitor.faults()[0].at == at(16, FAULT_HISTORY + 4)


def test_the_system_line_turns_amber_when_the_disk_runs_low():
    fine = diagnostics.system_line(53 * 2**30, 252 * 2**30, 2**30, "0.1.0；更新：已是最新")
    assert fine.level == "ok" and fine.words == "磁盘剩余 53.0 GB / 共 252.0 GB；软件版本 0.1.0；更新：已是最新"
    assert diagnostics.system_line(2**29, 252 * 2**30, 2**30, "0.1.0").level == "warning"


def test_every_staff_message_is_plain_words_and_every_device_error_has_one():
    for error_type, words in STAFF_MESSAGES.items():
        assert not CLASS_NAME.search(words) and not re.search(r"[A-Za-z]{4,}", words.replace("PSAM", "")), words
    for error_type in diagnostics.DEVICE_ERRORS:
        assert staff_message(error_type.__new__(error_type)) != STAFF_UNEXPECTED
    assert staff_message(HopperEmpty("feeder empty")) == "空白卡已用完，请补充空白卡"
    assert staff_message(PrinterPaperOut("printer out of paper (offline, paper out)")) == "缺纸，请装入新纸卷"
    assert staff_message(PrinterNotResponding("no answer")) == "凭条打印机无响应，请检查电源和连接线"
    assert staff_message(ValueError("odd")) == STAFF_UNEXPECTED


@pytest.mark.parametrize("language", ["zh", "en"])
def test_nothing_in_the_overview_looks_like_an_error_class_or_a_repr(language):
    translator.set_language(language)
    down = health.probe_backend(Client(BackendUnavailable("backend not reachable (ConnectionError)")))
    found = healthy(receipt_printer=DeviceHealth(State.FAULT, "PrinterPaperOut: out", {"paper": "out"},
                                                 (staff_message(PrinterPaperOut("out")),)), backend=down)
    view = diagnostics.Overview(
        tiles=diagnostics.device_tiles(found), supplies=diagnostics.supplies(found),
        outbox=diagnostics.outbox_counts(OutboxStats(pending=1, dead=1, done=2, oldest_pending_age_s=61)),
        faults=[], system=diagnostics.system_line(2**33, 2**35, 2**30, "0.1.0"))
    texts = view.texts()
    assert len(texts) > 20 and not [text for text in texts if CLASS_NAME.search(text)]
    lines = dict(diagnostics.report_lines(view))
    assert not [line for line in lines.values() if CLASS_NAME.search(line)]
    if language == "en":
        assert not [text for text in texts if re.search(r"[\u4e00-\u9fff]", text)], texts   # all translated

"""Log export to a USB stick: only to a mounted, writable stick; every line redacted again;
nothing that looks finished is left when the write fails."""
import datetime
import errno
import logging

import pytest

from kiosk import log_export
from kiosk.log_export import ExportWriteFailed, RecentLogs, export_logs, journal_lines, usb_folders

ID_NUMBER = "110101199003077777"
BANK_CARD = "6222020200112233445"
NOW = datetime.datetime(2026, 11, 26, 23, 30, tzinfo=datetime.timezone.utc)


def test_only_mounted_writable_folders_count_as_usb_sticks(tmp_path):
    (tmp_path / "usb0").mkdir()                      # a stick mounted at /media/usb0
    (tmp_path / "kiosk" / "STICK").mkdir(parents=True)   # udisks style: /media/<user>/<label>
    (tmp_path / "empty").mkdir()                     # a folder on the kiosk's own disk
    mounts = {tmp_path / "usb0", tmp_path / "kiosk" / "STICK"}
    assert usb_folders(tmp_path, is_mount=lambda p: p in mounts) == [tmp_path / "kiosk" / "STICK", tmp_path / "usb0"]
    assert usb_folders(tmp_path, is_mount=lambda p: False) == []
    assert usb_folders(tmp_path / "no-such-root") == []


def test_the_export_holds_the_logs_and_the_report_with_personal_data_masked(tmp_path):
    lines = [f'{{"msg": "visit for {ID_NUMBER} paid with {BANK_CARD}"}}', "plain line\n"]
    folder = export_logs(tmp_path, "T0001", lines, [("业务系统", f"故障 for {ID_NUMBER}")], now=NOW)
    assert folder == tmp_path / "sscard-kiosk-logs-T0001-20261126T233000Z"
    exported = (folder / "kiosk.log").read_text(encoding="utf-8")
    report = (folder / "diagnostics.txt").read_text(encoding="utf-8")
    assert ID_NUMBER not in exported + report and BANK_CARD not in exported
    assert "1101**********7777" in exported and "***************3445" in exported
    assert exported.endswith("plain line\n") and "业务系统: 故障 for 1101**********7777" in report
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


@pytest.mark.parametrize("failing", ["mkdir", "fsync"])
def test_a_failed_write_leaves_nothing_behind_and_says_so(tmp_path, monkeypatch, failing):
    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    if failing == "mkdir":
        target = tmp_path / "not-there" / "deeper"
    else:
        target = tmp_path
        monkeypatch.setattr(log_export.os, "fsync", full)
    with pytest.raises(ExportWriteFailed) as raised:
        export_logs(target, "T0001", ["a line"], [], now=NOW)
    assert "写入U盘失败" in raised.value.staff_message
    assert list(tmp_path.rglob("*sscard-kiosk-logs*")) == []


def test_recent_logs_keep_the_last_records_redacted():
    recent = RecentLogs(capacity=3)
    logger = logging.getLogger("test.recent")
    logger.addHandler(recent)
    logger.setLevel(logging.INFO)
    try:
        for n in range(5):
            logger.info("record %d for %s", n, ID_NUMBER)
    finally:
        logger.removeHandler(recent)
    lines = recent.snapshot()
    assert len(lines) == 3 and '"record 4 for 1101**********7777"' in lines[-1]
    assert not any(ID_NUMBER in line for line in lines)


def test_without_systemd_there_is_no_journal_to_read(monkeypatch):
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    assert journal_lines() == []

"""Exporting the kiosk's logs to a USB stick, from the diagnostics screen, with personal data
removed, so that staff can hand a fault to the maintainers without carrying citizens' data.

The logs come from two places: the records of the running kiosk, kept in memory by
`RecentLogs` (already redacted when they were written), and, on a kiosk run by systemd, the
journal of its unit for the last days (earlier runs included). Every line is redacted again
on the way out: the export must be safe even if a line slipped past the filter once.

The export is written to a hidden folder on the stick and renamed when complete, so a stick
pulled out half way holds no folder that looks finished.
"""
from __future__ import annotations

import collections
import datetime
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterable

from kiosk.i18n import N_
from kiosk.logging_setup import JsonLinesFormatter, RedactingFilter, redact

log = logging.getLogger(__name__)

RECENT_LINES = 5000
JOURNAL_DAYS = 7
JOURNAL_UNIT = "sscard-kiosk.service"


class LogExportError(Exception):
    """The export did not happen; `staff_message` says why, for the diagnostics screen."""

    staff_message = N_("日志导出失败")


class NoUsbStick(LogExportError):
    staff_message = N_("未找到可写入的U盘，请插入U盘后重试")


class ExportWriteFailed(LogExportError):
    staff_message = N_("写入U盘失败（空间不足或只读），请更换U盘后重试")


class RecentLogs(logging.Handler):
    """The last RECENT_LINES log records of this run, as redacted JSON lines, for an export
    without the journal (a kiosk not run by systemd, or a journal that was rotated away)."""

    def __init__(self, capacity: int = RECENT_LINES):
        super().__init__()
        self.lines: collections.deque[str] = collections.deque(maxlen=capacity)
        self.addFilter(RedactingFilter())
        self.setFormatter(JsonLinesFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a handler must never raise into the code that logged
            self.handleError(record)

    def snapshot(self) -> list[str]:
        return list(self.lines)


def usb_folders(mount_root: Path, is_mount: Callable[[Path], bool] = os.path.ismount) -> list[Path]:
    """Mounted, writable file systems at most two levels under `mount_root` (/media/usb0,
    /media/<user>/<label>). A folder that is not a mount point is the kiosk's own disk."""
    if not mount_root.is_dir():
        return []
    candidates = []
    for first in sorted(mount_root.iterdir()):
        candidates.append(first)
        if first.is_dir() and not is_mount(first):
            candidates.extend(sorted(first.iterdir()) if os.access(first, os.R_OK | os.X_OK) else [])
    return [path for path in candidates if path.is_dir() and is_mount(path) and os.access(path, os.W_OK)]


def journal_lines(days: int = JOURNAL_DAYS) -> list[str]:
    """The kiosk unit's journal when the kiosk runs under systemd; nothing otherwise."""
    if "JOURNAL_STREAM" not in os.environ or shutil.which("journalctl") is None:
        return []
    try:
        result = subprocess.run(["journalctl", "--unit", JOURNAL_UNIT, "--output", "cat", "--no-pager",
                                 "--since", f"-{days}d"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("journal not read for the log export: %s", exc)
        return []
    return result.stdout.splitlines()


def export_logs(target: Path, terminal_number: str, lines: Iterable[str], report: list[tuple[str, str]],
                now: datetime.datetime | None = None) -> Path:
    """Writes `sscard-kiosk-logs-<terminal>-<UTC time>/` under `target` with kiosk.log (every
    line redacted) and diagnostics.txt (the screen's report); returns the folder."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    name = f"sscard-kiosk-logs-{terminal_number}-{now:%Y%m%dT%H%M%SZ}"
    partial = target / f".{name}.partial"
    try:
        partial.mkdir()
        with (partial / "kiosk.log").open("w", encoding="utf-8") as out:
            for line in lines:
                out.write(redact(line.rstrip("\n")) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with (partial / "diagnostics.txt").open("w", encoding="utf-8") as out:
            out.write(f"terminal {terminal_number}, exported {now.isoformat(timespec='seconds')}\n")
            out.writelines(redact(f"{what}: {answer}") + "\n" for what, answer in report)
            out.flush()
            os.fsync(out.fileno())
        folder = partial.rename(target / name)
        os.sync()   # the stick may be pulled out as soon as the screen says done
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise ExportWriteFailed(f"log export to {target} failed: {exc}") from exc
    log.info("logs exported to %s", folder)
    return folder

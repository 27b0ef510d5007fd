"""A kiosk process that crashes leaves no core dump holding a citizen's data.

The kiosk makes itself non-dumpable at start (kiosk.process.forbid_core_dumps, called by
`kiosk run` before anything is read). Here a child holding personal data makes the same call,
with RLIMIT_CORE raised to unlimited so only that call stands between it and a core file, and
crashes with SIGSEGV or SIGABRT in a folder of its own. The kernel must report it
non-dumpable (prctl(PR_GET_DUMPABLE), which holds whatever core_pattern says), and
no core file may appear. A control child that does not make the call must be dumpable, and
where core_pattern writes plain files into the crashing process's folder, its core file must
appear there and hold the data: the check above would see a leak.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.test_soak_at_rest import core_files

REPO = Path(__file__).resolve().parents[2]
ID_NUMBER, NAME = "371302198001011239", "张三"

CHILD = r"""
import ctypes, os, resource, signal, sys
from kiosk.process import forbid_core_dumps
soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
if sys.argv[1] == "forbid":
    forbid_core_dumps()
held = [("%s %s " % (sys.argv[3], sys.argv[4])) * 2000 for _ in range(4)]   # personal data in memory
libc = ctypes.CDLL(None, use_errno=True)
print(libc.prctl(3, 0, 0, 0, 0), hard == resource.RLIM_INFINITY, flush=True)   # 3: PR_GET_DUMPABLE
os.kill(os.getpid(), getattr(signal, sys.argv[2]))
"""


def crash(folder: Path, mode: str, sig: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    folder.mkdir()
    child = subprocess.run([sys.executable, "-c", CHILD, mode, sig, ID_NUMBER, NAME], cwd=folder,
                           capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": ""})
    assert child.returncode == -getattr(signal, sig), (child.returncode, child.stderr[-2000:])
    return child, child.stdout.split()


def core_pattern() -> str:
    return Path("/proc/sys/kernel/core_pattern").read_text().strip()


def plain_core_files_land_in_cwd() -> bool:
    """core_pattern names a file relative to the crashing process's folder (not a pipe to a
    collector such as systemd-coredump or apport, not an absolute path)."""
    pattern = core_pattern()
    return bool(pattern) and not pattern.startswith(("|", "/"))


@pytest.mark.parametrize("sig", ["SIGSEGV", "SIGABRT"])
def test_a_crashing_kiosk_is_not_dumpable_and_leaves_no_core(tmp_path, sig):
    _child, (dumpable, _unlimited) = crash(tmp_path / "kiosk", "forbid", sig)
    assert dumpable == "0"
    assert core_files(tmp_path / "kiosk") == []
    assert list((tmp_path / "kiosk").iterdir()) == []   # nothing at all left behind


@pytest.mark.parametrize("sig", ["SIGSEGV", "SIGABRT"])
def test_the_control_without_the_call_is_dumpable_and_its_core_would_be_seen(tmp_path, sig):
    _child, (dumpable, unlimited) = crash(tmp_path / "control", "allow", sig)
    assert dumpable == "1"
    if plain_core_files_land_in_cwd() and unlimited == "True":
        # This machine writes core files beside the process: the control's must be there, and
        # found and read by the post-soak scan's rules.
        [core] = core_files(tmp_path / "control")
        data = core.read_bytes()
        assert ID_NUMBER.encode() in data and NAME.encode() in data
    else:
        # Cores go to a collector (core_pattern is a pipe or an absolute path): only the
        # kernel's dumpable flag, checked above for both children, can be asserted here.
        assert core_pattern().startswith(("|", "/")) or unlimited != "True", core_pattern()


def test_the_kiosk_makes_the_call_before_it_starts():
    """`kiosk run` forbids core dumps before the core (and any citizen's data) exists."""
    source = (REPO / "screens" / "app.py").read_text(encoding="utf-8")
    body = source[source.index("def run_kiosk("):]
    body = body[:body.index("\ndef ", 1) if "\ndef " in body[1:] else len(body)]
    assert re.search(r"forbid_core_dumps\(\)[\s\S]*KioskCore\(", body), body

"""pcscd with the vpcd virtual reader, as the demo, the tests and the benches run it.

`./run` starts it through `python -m drivers.sim.pcscd RUN_DIR` (which becomes pcscd, so the
pid in RUN_DIR/pcscd.pid is pcscd's own); tests restart it through `Pcscd`; a bench started on
its own uses `pcscd_running()`, which starts one only if none is listening.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from drivers.pcsc import PcscError, list_readers

VPCD_CARD_PORT = 35963  # first vpcd slot: the citizen's card
VPCD_PSAM_PORT = 35964  # second slot: the PSAM
CARD_READER = "Virtual PCD 00 00"
PSAM_READER = "Virtual PCD 00 01"
_VPCD_DRIVER_PATHS = ("/usr/lib/pcsc/drivers/serial/libifdvpcd.so",)
PCSCD_IPC_DIR = Path("/run/pcscd")   # where Debian's pcscd keeps its socket and its pid file


def vpcd_ready() -> bool:
    """pcscd answers and lists the vpcd readers. (Probing vpcd's TCP ports instead would look
    like a card being inserted, and vpcd accepts one connection at a time.)"""
    try:
        readers = list_readers()
    except PcscError:
        return False
    return CARD_READER in readers and PSAM_READER in readers


def wait_until_ready(timeout: float = 10.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not vpcd_ready():
        if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
            raise RuntimeError("pcscd with the vpcd readers did not come up")
        time.sleep(0.05)


def _vpcd_driver() -> str:
    for path in _VPCD_DRIVER_PATHS:
        if os.path.exists(path):
            return path
    raise FileNotFoundError("vpcd driver libifdvpcd.so not found: install Debian's vsmartcard-vpcd")


def write_reader_conf(run_dir: Path) -> Path:
    conf_dir = run_dir / "reader.conf.d"
    conf_dir.mkdir(parents=True, exist_ok=True)
    # CHANNELID is a TCP port (0x8C7B = 35963); vpcd opens two slots, on 35963 and 35964.
    # Debian's vpcd is built with two slots in all, shared by every vpcd reader (its slot
    # table is indexed by slot number alone), so a second vpcd reader would not add slots.
    (conf_dir / "vpcd").write_text(
        'FRIENDLYNAME "Virtual PCD"\n'
        f"DEVICENAME   /dev/null:0x{VPCD_CARD_PORT:04X}\n"
        f"LIBPATH      {_vpcd_driver()}\n"
        f"CHANNELID    0x{VPCD_CARD_PORT:04X}\n")
    return conf_dir


def pcscd_command(run_dir: Path) -> list[str]:
    pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
    return [pcscd, "--foreground", "--config", str(write_reader_conf(run_dir))]


class Pcscd:
    """One pcscd process whose pid lives in RUN_DIR/pcscd.pid, so `./run` stops whichever
    pcscd is current when it exits, even one a test restarted."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.pidfile = self.run_dir / "pcscd.pid"
        self.log = self.run_dir / "pcscd.log"

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text())
        except (OSError, ValueError):
            return None

    def start(self, timeout: float = 10.0) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            process = subprocess.Popen(pcscd_command(self.run_dir), stdout=log, stderr=log,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.pidfile.write_text(str(process.pid))
        try:
            wait_until_ready(timeout, process)
        except RuntimeError:
            raise RuntimeError(f"pcscd did not start; see {self.log}") from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        # A killed pcscd leaves its socket behind; the next one replaces it, unless its pid
        # still names a process: a pcscd another process started and has not reaped yet (a
        # test's subprocess killing the pcscd the test started). That one is dead: its files go.
        with contextlib.suppress(OSError, ValueError):
            if _zombie(pid) and int((PCSCD_IPC_DIR / "pcscd.pid").read_text().split("\n")[0]) == pid:   # "PID\n\0"
                for name in ("pcscd.pid", "pcscd.comm"):
                    (PCSCD_IPC_DIR / name).unlink(missing_ok=True)
        self.pidfile.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours still "exists": reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False   # gone altogether
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


MACHINE_LOCK = Path("/tmp/sscard-kiosk-run.lock")  # the same lock ./run takes


@contextlib.contextmanager
def machine_lock():
    """pcscd and vpcd's two slots exist once per machine: a bench or a bare pytest run waits
    for any other user of them (./run takes this lock too, and says so in KIOSK_RUN_DIR)."""
    if os.environ.get("KIOSK_RUN_DIR"):
        yield  # started by ./run, which holds the lock for us
        return
    with open(MACHINE_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def pcscd_running(run_dir: Path):
    """Use the pcscd that is listening, or start one for the duration of the block; either way
    with the machine's vpcd slots to ourselves."""
    with machine_lock():
        if vpcd_ready():
            yield
            return
        pcscd = Pcscd(run_dir)
        pcscd.start()
        try:
            yield
        finally:
            pcscd.stop()


if __name__ == "__main__":
    if sys.argv[1:] == ["--wait"]:  # `python -m drivers.sim.pcscd --wait`: until pcscd serves
        wait_until_ready()
        sys.exit(0)
    # `python -m drivers.sim.pcscd RUN_DIR`: become pcscd (exec keeps the pid ./run recorded).
    run_dir = Path(sys.argv[1])
    run_dir.mkdir(parents=True, exist_ok=True)
    command = pcscd_command(run_dir)
    os.execv(command[0], command)

"""Living under systemd: readiness and watchdog notifications, and no core dumps.

The unit (deploy/sscard-kiosk.service) is Type=notify with WatchdogSec: the kiosk says
READY=1 once its window is up and WATCHDOG=1 from the UI thread's clock, so a hung UI stops
the pings and systemd restarts it. A core dump of the kiosk could hold a citizen's data, so the
process makes itself non-dumpable.
"""
from __future__ import annotations

import ctypes
import gc
import logging
import os
import socket

log = logging.getLogger(__name__)
PR_SET_DUMPABLE = 4


def notify(message: str) -> bool:
    """Sends one sd_notify message; False (and nothing sent) outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode("ascii"))
    except OSError as exc:
        log.warning("systemd notification %r not sent: %s", message, exc)
        return False
    return True


def forbid_core_dumps() -> None:
    """prctl(PR_SET_DUMPABLE, 0): no core file, no ptrace by other users' processes."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        log.warning("could not make the process non-dumpable (errno %d)", ctypes.get_errno())


def return_free_memory() -> None:
    """Collects unreachable objects and hands the heap's free pages back to the system
    (glibc's malloc_trim). A visit leaves many short-lived buffers behind (label textures under
    software rendering, TLS and SQLite buffers); without this, a kiosk that runs for months keeps
    its highest footprint for good."""
    gc.collect()
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)   # glibc only
    if trim is not None:
        trim(0)

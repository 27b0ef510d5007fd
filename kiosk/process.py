"""The kiosk as a process: no core dumps (one could hold a citizen's data, so the process makes
itself non-dumpable), and the memory a visit freed handed back to the system."""
from __future__ import annotations

import ctypes
import gc
import logging

log = logging.getLogger(__name__)
PR_SET_DUMPABLE = 4


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

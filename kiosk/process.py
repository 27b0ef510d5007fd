"""The kiosk as a process: no core dumps (one could hold a citizen's data, so the process makes
itself non-dumpable), and the memory a visit freed handed back to the system."""
from __future__ import annotations

import ctypes
import gc
import logging

from drivers.process_link import forbid_core_dumps  # noqa: F401  (its helper processes' too)

log = logging.getLogger(__name__)
M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8   # mallopt(3)
MMAP_THRESHOLD = 64 * 1024
ARENAS = 2


def return_free_memory() -> None:
    """Collects unreachable objects and hands the heap's free pages back to the system
    (glibc's malloc_trim). A visit leaves many short-lived buffers behind (label textures under
    software rendering, TLS and SQLite buffers); without this, a kiosk that runs for months keeps
    its highest footprint for good."""
    gc.collect()
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)   # glibc only
    if trim is not None:
        trim(0)


def keep_the_heap_compact() -> None:
    """glibc's malloc tuned for a process that lives for months with a few busy threads (#17):

    - a fixed mmap threshold of 64 KiB (half glibc's initial one): a camera frame, its pickle to
      the face worker, a receipt's image, the larger label textures of the software renderer are
      mapped and unmapped whole. glibc otherwise raises the threshold to the largest block
      freed, and from then on such blocks are carved from the heap, where they stay resident
      between visits (64 rather than 128 KiB: 2 MB less after the bench's visits);
    - at most two arenas: each thread that allocates (card watcher, outbox senders, link probe,
      a face check's, a photo's) would otherwise get one of its own (up to 8 per core), each
      keeping its own free pages.

    Together about 7 MB less resident after the bench's visits (bench/ui.py). No effect, and no
    error, on another C library."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)   # glibc only
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        mallopt(M_ARENA_MAX, ARENAS)

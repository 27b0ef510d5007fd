"""A helper process the kiosk starts for a job and ends after it, talked to over a socket pair:
the face worker (kiosk/face_worker.py) and the camera's process (drivers/camera_process.py).

    kiosk (ProcessLink)  --(request, *args)-->  python -m <its module> FD
                         <--(True, value) or (False, the exception raised)--

The process starts on the first request (or `start()`, which does not wait for it) and ends
on `stop()`; it ends by itself when the kiosk's end closes (the kiosk died). A process that dies
or does not answer within `deadline_s` is `failure` (each user's own error type), the request
named; the next request starts another. A request that finds it dead before it was sent goes to
a new one. One request at a time (a lock); safe to call from any thread.
"""
from __future__ import annotations

import ctypes
import logging
import pickle
import socket
import subprocess
import threading
from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

STOP_WAIT_S = 3.0
PR_SET_DUMPABLE = 4


def forbid_core_dumps() -> None:
    """prctl(PR_SET_DUMPABLE, 0): no core file, no ptrace by other users' processes. The kiosk
    and each helper process that holds a citizen's frames or data make themselves so."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        log.warning("could not make the process non-dumpable (errno %d)", ctypes.get_errno())


class ProcessLink:
    command: tuple[str, ...] = ()   # the process, given the file descriptor of its end
    name = "helper process"
    failure: type[Exception] = RuntimeError

    def __init__(self, deadline_s: float):
        self.deadline_s = deadline_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Starts the process if it is not running; does not wait for it."""
        with self._lock:
            self._ensure_running()

    def _started(self, conn: Connection) -> None:
        """What a new process is told first, before any request (nothing, unless a user says)."""

    def _ensure_running(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        if self._process is not None:
            log.warning("the %s had ended (exit %s): starting another", self.name, self._process.returncode)
            self._discard()
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen([*self.command, str(theirs.fileno())], pass_fds=[theirs.fileno()],
                                             stdin=subprocess.DEVNULL)
        except OSError as exc:
            ours.close()
            raise self.failure(f"the {self.name} could not be started: {exc}") from None
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self.starts += 1
        try:
            self._started(self._conn)
        except BaseException:   # a process not told what it needs serves nobody
            self._discard()
            raise

    def _call(self, kind: str, *args):
        with self._lock:
            self._ensure_running()
            try:
                self._conn.send((kind, *args))
            except OSError:   # it had died, unseen yet: the request never reached it, so a new one gets it
                self._discard()
                self._ensure_running()
                sent = False
            else:
                sent = True
            process, conn = self._process, self._conn
            try:
                if not sent:
                    conn.send((kind, *args))
                if not conn.poll(self.deadline_s):
                    self._discard()
                    raise self.failure(f"the {self.name} did not answer {kind} within {self.deadline_s:g} s")
                ok, value = conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError) as exc:
                try:
                    code = process.wait(STOP_WAIT_S)
                except subprocess.TimeoutExpired:
                    code = "none: it stopped answering"
                self._discard()
                raise self.failure(f"the {self.name} ended during {kind} (exit {code}: "
                                   f"{type(exc).__name__})") from None
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        """Ends the process, if one runs, in a few milliseconds (it holds nothing to save: SIGTERM,
        then it is reaped). A request in progress on another thread ends in `failure`; its caller
        has been cancelled anyway."""
        if not self._lock.acquire(timeout=0.1):   # busy: end the process under the request
            process = self._process
            if process is not None and process.poll() is None:
                process.terminate()
            return
        try:
            self._discard()
        finally:
            self._lock.release()

    def _discard(self) -> None:
        process, conn, self._process, self._conn = self._process, self._conn, None, None
        if conn is not None:
            conn.close()
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait()


def serve(conn: Connection, handle) -> int:
    """The process's end: answers each request with `handle(kind, *args)`, or the exception it
    raised, until the kiosk's end closes. Keeps nothing of a request once it is answered."""
    while True:
        try:
            kind, *args = conn.recv()
        except EOFError:
            return 0
        try:
            reply = (True, handle(kind, *args))
        except Exception as exc:   # the job's own errors go back as themselves
            reply = (False, exc)
        args = None   # the request's data goes now, not with the next request
        try:
            conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError):
            conn.send((False, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}")))
        reply = None

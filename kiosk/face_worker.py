"""The face models in a process of their own (#17): the kiosk's UI process never maps dlib, its
face models (the detector, 5-point landmarks and the ResNet embedding: about 100 MB resident
once a check has run) or their work buffers.

    kiosk (FaceWorker)  --frame, request-->  python -m kiosk.face_worker_process
                        <--analysis, embedding, or the error raised--

The worker starts when a check is about to need it (`start()` does not wait for it) and is
stopped when the check has passed or the visit ends, and when the kiosk stops; it loads the
models once per start. Frames and photos reach it over a socket pair, never the disk; it keeps
none between requests, and what it held is gone with the process. It makes itself non-dumpable
as the kiosk does, and ends by itself when the kiosk's end of the pipe closes (the kiosk died).

A worker that dies is started again by the next request; the request it died in (or that found
no answer within `deadline_s`) raises FaceWorkerFailed, which the face check turns into a
typed VisitError (kiosk/identity_assurance.py), so the citizen is offered the staff-assisted
path as for any check that cannot be made. Errors the models raise on purpose (a registered
photo without exactly one face, a frame refused as a card photo) come back as themselves.
"""
from __future__ import annotations

import logging
import pickle
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

DEADLINE_S = 30.0        # a request's answer, the models' loading included (a second or two)
STOP_WAIT_S = 3.0


class FaceWorkerFailed(RuntimeError):
    """The face worker died or did not answer; str() says which request and how it ended."""


class FaceWorker:
    """The kiosk's end: the same calls as face_check.LocalFaceEngine, answered by the worker.
    One request at a time (a lock); safe to call from any thread."""

    command = (sys.executable, "-m", "kiosk.face_worker_process")   # its other end

    def __init__(self, deadline_s: float = DEADLINE_S):
        self.deadline_s = deadline_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self.starts = 0

    # --- the calls ------------------------------------------------------------------------------

    def analyse(self, frame, settings, need_frontal: bool = True):
        return self._call("analyse", frame, settings, need_frontal)

    def embedding(self, frame, analysis):
        return self._call("embedding", frame, analysis)

    def embedding_of_photo(self, image):
        return self._call("embedding_of_photo", image)

    def make_photo(self, frame, spec):
        return self._call("make_photo", frame, spec)

    # --- the process ----------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Starts the worker if it is not running; does not wait for its models."""
        with self._lock:
            self._ensure_running()

    def _ensure_running(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        if self._process is not None:
            log.warning("the face worker had ended (exit %s): starting another", self._process.returncode)
            self._discard()
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen([*self.command, str(theirs.fileno())], pass_fds=[theirs.fileno()],
                                             stdin=subprocess.DEVNULL)
        except OSError as exc:
            ours.close()
            raise FaceWorkerFailed(f"the face worker could not be started: {exc}") from None
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self.starts += 1

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
                    raise FaceWorkerFailed(f"the face worker did not answer {kind} within {self.deadline_s:g} s")
                ok, value = conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError) as exc:
                try:
                    code = process.wait(STOP_WAIT_S)
                except subprocess.TimeoutExpired:
                    code = "none: it stopped answering"
                self._discard()
                raise FaceWorkerFailed(f"the face worker ended during {kind} (exit {code}: "
                                       f"{type(exc).__name__})") from None
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        """Ends the worker, if one runs, in a few milliseconds (it holds nothing to save: SIGTERM,
        then it is reaped). A request in progress on another thread ends in FaceWorkerFailed;
        its caller has been cancelled anyway."""
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

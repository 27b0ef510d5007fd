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

import sys

from drivers.process_link import ProcessLink

DEADLINE_S = 30.0        # a request's answer, the models' loading included (a second or two)


class FaceWorkerFailed(RuntimeError):
    """The face worker died or did not answer; str() says which request and how it ended."""


class FaceWorker(ProcessLink):
    """The kiosk's end: the same calls as face_check.LocalFaceEngine, answered by the worker
    (the process itself: drivers/process_link.py)."""

    command = (sys.executable, "-m", "kiosk.face_worker_process")   # its other end
    name = "face worker"
    failure = FaceWorkerFailed

    def __init__(self, deadline_s: float = DEADLINE_S):
        super().__init__(deadline_s)

    def analyse(self, frame, settings, need_frontal: bool = True):
        return self._call("analyse", frame, settings, need_frontal)

    def embedding(self, frame, analysis):
        return self._call("embedding", frame, analysis)

    def embedding_of_photo(self, image):
        return self._call("embedding_of_photo", image)

    def make_photo(self, frame, spec):
        return self._call("make_photo", frame, spec)

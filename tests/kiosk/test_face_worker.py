"""The face models in their own process (#17): the worker answers as the models in this process
do, its errors come back as themselves, a worker that dies is started again, a death during a
request is a FaceWorkerFailed and, within a face check, the typed FaceCheckBroken (the staff
path), and the kiosk stops it when the check passed, the visit ends and the kiosk stops."""
from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np
import pytest

from drivers.sim.camera import Scene, SimulatedCamera, _load, face_test_images
from kiosk.face_check import FaceCheckSettings, LocalFaceEngine
from kiosk.face_worker import FaceWorker, FaceWorkerFailed
from kiosk.photo_capture import PhotoRefused, PhotoSpec
from kiosk.visit import CitizenIdentity
from simulation.stack import ZHANG_SAN, simulated_kiosk
from tests.processes import alive

IMAGES = face_test_images()
SETTINGS = FaceCheckSettings()
# A worker that reads one request and dies of it, as a crash in the models would
DIES = (sys.executable, "-c", "import sys; from multiprocessing.connection import Connection; "
        "Connection(int(sys.argv[1])).recv(); sys.exit(3)")


@pytest.fixture
def worker():
    worker = FaceWorker()
    yield worker
    worker.stop()


def test_the_worker_answers_as_the_models_here_and_its_errors_come_back_as_themselves(worker):
    local = LocalFaceEngine()
    frame = SimulatedCamera(IMAGES / "obama.jpg", IMAGES / "biden.jpg").read()
    photo = _load(IMAGES / "obama2.jpg")
    here, there = local.analyse(frame, SETTINGS), worker.analyse(frame, SETTINGS)
    assert there.usable and (there.yaw, there.sharpness, there.shape[0]) == (here.yaw, here.sharpness, here.shape[0])
    assert np.allclose(worker.embedding(frame, there), local.embedding(frame, here))
    assert np.allclose(worker.embedding_of_photo(photo), local.embedding_of_photo(photo))
    with pytest.raises(ValueError, match="0 faces"):
        worker.embedding_of_photo(np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(PhotoRefused) as refused:
        worker.make_photo(np.full((480, 640, 3), 128, np.uint8), PhotoSpec())
    assert refused.value.problem == "no_face"
    assert worker.starts == 1   # one process served all of it


def test_a_worker_that_died_is_started_again_and_a_death_during_a_request_is_a_typed_error(worker):
    photo = _load(IMAGES / "obama2.jpg")
    worker.start()
    first = worker.pid
    os.kill(first, signal.SIGKILL)
    while alive(first) and worker._process.poll() is None:
        time.sleep(0.01)
    assert worker.embedding_of_photo(photo).shape == (128,)     # idle when it died: a new one answers
    assert worker.starts == 2 and worker.pid != first
    worker.stop()
    worker.command = DIES
    with pytest.raises(FaceWorkerFailed, match=r"ended during embedding_of_photo \(exit 3"):
        worker.embedding_of_photo(photo)
    assert worker.pid is None
    worker.command = FaceWorker.command
    assert worker.embedding_of_photo(photo).shape == (128,)


def test_a_worker_that_does_not_answer_in_time_is_ended(worker):
    worker.command = (sys.executable, "-c", "import time; time.sleep(60)")
    worker.deadline_s = 0.5
    worker.start()
    hung = worker.pid
    with pytest.raises(FaceWorkerFailed, match="did not answer embedding_of_photo within 0.5 s"):
        worker.embedding_of_photo(np.zeros((8, 8, 3), np.uint8))
    assert worker.pid is None and not alive(hung)


@pytest.fixture(scope="module")
def sim(pcscd):
    with simulated_kiosk(serial_devices=False) as sim:
        yield sim


def test_the_kiosk_runs_the_check_in_the_worker_and_stops_it_after_a_match_a_visit_and_at_close(sim):
    from kiosk.identity_assurance import FaceCheckBroken
    core = sim.kiosk_core().start()
    core.assurance.settings = FaceCheckSettings(find_face_timeout_s=3, challenge_timeout_s=3)
    worker = core.assurance.worker
    closed = []
    close_camera = sim.camera.close
    sim.camera.close = lambda: (closed.append(True), close_camera())
    try:
        sim.camera.scene = Scene.RIGHT_PERSON
        visit = core.services.new_visit()
        visit.identify(CitizenIdentity.from_id_document(ZHANG_SAN))
        assert core.assurance.check_face(visit, prompt=lambda c: None, on_frame=lambda f, a: None).passed
        assert worker.pid is None and len(closed) == 1   # passed: the visit needs no other check, nor the camera
        sim.camera.scene = Scene.OTHER_PERSON
        refused = core.assurance.check_face(visit, prompt=lambda c: None, on_frame=lambda f, a: None)
        assert not refused.passed and worker.pid is not None and len(closed) == 1   # kept for another try
        core.services.end_visit(visit, "done")
        assert worker.pid is None and len(closed) == 2
        # The worker dies during a check: a typed error, in the citizen's words, and staff can vouch.
        worker.command = DIES
        crashed = core.services.new_visit()
        crashed.identify(CitizenIdentity.from_id_document(ZHANG_SAN))
        with pytest.raises(FaceCheckBroken, match="ended during embedding_of_photo") as caught:
            core.assurance.check_face(crashed, prompt=lambda c: None, on_frame=lambda f, a: None)
        assert "工作人员协助" in caught.value.citizen_message and crashed.assurance is None
        worker.command = FaceWorker.command
        worker.start()
        running = worker.pid
    finally:
        sim.camera.scene = Scene.RIGHT_PERSON
        sim.camera.close = close_camera
        core.close()
    assert worker.pid is None and not alive(running)

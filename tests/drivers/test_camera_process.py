"""The camera driven from a process of its own (drivers/camera_process.py): the frames are the
camera's, its errors come back typed, a process that dies is CameraUnavailable and the next read
starts another, closing ends it, and OpenCV never enters the kiosk's process."""
import functools
import os
import subprocess
import sys

import numpy as np
import pytest

from drivers.camera import CameraUnavailable, UvcCamera
from drivers.camera_process import CameraProcess
from drivers.sim.camera import Scene, SimulatedCamera, SimulatedCameraProcess, face_test_images
from tests.processes import alive

IMAGES = face_test_images()


def test_the_simulator_s_frames_come_from_its_process_as_the_scene_changes_and_close_ends_it():
    camera = SimulatedCameraProcess(IMAGES / "obama.jpg", IMAGES / "biden.jpg", scene=Scene.NOBODY, fps=60)
    here = SimulatedCamera(IMAGES / "obama.jpg", IMAGES / "biden.jpg", fps=60)
    try:
        assert (camera.read() == 180).all()                 # nobody: the empty room
        camera.scene = Scene.RIGHT_PERSON                   # told to the process that runs
        assert np.array_equal(camera.read(), here.read())
        pid = camera.pid
        camera.close()
        assert camera.pid is None and not alive(pid)
        camera.scene = Scene.NOBODY                          # told to the next process, at its start
        assert (camera.read() == 180).all() and camera.starts == 2
    finally:
        camera.close()


def test_a_camera_s_error_comes_back_typed_and_a_dead_process_is_unavailable_then_replaced():
    missing = CameraProcess(functools.partial(UvcCamera, "/dev/no-such-video"), "camera /dev/no-such-video")
    with pytest.raises(CameraUnavailable, match="cannot be opened"):
        missing.read()
    missing.close()
    dies = CameraProcess(functools.partial(os._exit, 3), "camera that dies")
    with pytest.raises(CameraUnavailable, match=r"camera's process ended during read \(exit 3"):
        dies.read()
    dies.factory = functools.partial(SimulatedCamera, IMAGES / "obama.jpg", IMAGES / "biden.jpg", scene=Scene.NOBODY)
    try:
        assert (dies.read() == 180).all() and dies.starts == 2
    finally:
        dies.close()


def test_the_kiosk_s_process_never_loads_opencv_for_its_camera():
    code = ("import sys, dataclasses; from kiosk.config import KioskConfig; from kiosk.devices import Devices;"
            "from drivers.camera import CameraUnavailable; config = KioskConfig();"
            "config = dataclasses.replace(config, camera=dataclasses.replace(config.camera, device='/dev/no-such-video'));"
            "camera = Devices(config).camera\n"
            "try:\n    camera.read()\nexcept CameraUnavailable as exc:\n    print(exc)\n"
            "camera.close(); print('cv2' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["camera /dev/no-such-video: cannot be opened", "False"]

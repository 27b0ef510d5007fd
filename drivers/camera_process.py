"""The camera driven from a process of its own (#17): OpenCV, the device's buffers and the frames
being made stay out of the kiosk's process. The process starts on the first read and ends when
the camera is closed (after a face check, at the end of a visit), so between visits nothing of
it is resident; a camera driver that crashes or hangs costs a check, not the kiosk.

    kiosk (CameraProcess) --read, or a call--> python -m drivers.camera_process FD
                          <--the frame (an RGB array), or the error raised--

The camera inside is built by `factory`, which is pickled to the process (a class and its
arguments: the UvcCamera of [camera] device, or the simulator). A process that dies or does not
answer within `deadline_s` is CameraUnavailable, as a camera that stops giving frames is; the
next read starts another.
"""
from __future__ import annotations

import logging
import sys
from multiprocessing.connection import Connection

import numpy as np

from drivers.camera import CameraUnavailable
from drivers.process_link import ProcessLink, forbid_core_dumps, serve

READ_DEADLINE_S = 10.0   # the first read's answer, OpenCV's loading and the device's opening included


class CameraProcess(ProcessLink):
    command = (sys.executable, "-m", "drivers.camera_process")
    name = "camera's process"
    failure = CameraUnavailable

    def __init__(self, factory, description: str, deadline_s: float = READ_DEADLINE_S):
        super().__init__(deadline_s)
        self.factory = factory
        self.description = description

    def __repr__(self) -> str:
        return self.description

    def _started(self, conn: Connection) -> None:
        conn.send(self.factory)

    def read(self) -> np.ndarray:
        return self._call("read")

    def close(self) -> None:
        """The camera off: its process ends, and what it held with it."""
        self.stop()


def main() -> int:
    forbid_core_dumps()   # it holds the citizen's frames
    logging.basicConfig(level=logging.WARNING, format="camera: %(levelname)s %(message)s")
    conn = Connection(int(sys.argv[1]))
    camera = None
    try:
        camera = conn.recv()()

        def handle(kind: str, *args):
            if kind.startswith("_"):
                raise ValueError(f"not a camera request: {kind!r}")
            if kind == "set":   # an attribute of a simulated camera (who stands in front of it)
                name, value = args
                return setattr(camera, name, value)
            return getattr(camera, kind)(*args)
        return serve(conn, handle)
    except (EOFError, KeyboardInterrupt, BrokenPipeError, ConnectionResetError):
        return 0
    finally:
        if camera is not None:
            camera.close()
        conn.close()


if __name__ == "__main__":
    sys.exit(main())

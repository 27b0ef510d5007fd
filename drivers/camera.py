"""The camera for the face check: a UVC camera through OpenCV's V4L2 backend.

A frame is an RGB array (height, width, 3) of uint8. Frames live in memory only: nothing here
writes one to disk, and the face check drops them when it ends (kiosk/face_check.py).
"""
from __future__ import annotations

import threading
from typing import Protocol

import numpy as np


class CameraError(Exception):
    """The camera cannot give frames; `str()` is for staff."""


class CameraUnavailable(CameraError):
    """No camera at the configured device, or it stopped giving frames."""


class Camera(Protocol):
    def read(self) -> np.ndarray:
        """The next frame (blocks until it comes, at the camera's frame rate)."""

    def close(self) -> None: ...


class UvcCamera:
    """A V4L2 camera (`/dev/video0`, or its index), opened on the first read."""

    def __init__(self, device: str = "/dev/video0", width: int = 640, height: int = 480, fps: int = 15):
        self.device, self.width, self.height, self.fps = device, width, height, fps
        self._capture = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"camera {self.device}"

    def _open(self):
        import cv2   # OpenCV loads only on a kiosk that has a camera configured
        source = int(self.device) if self.device.isdigit() else self.device
        capture = cv2.VideoCapture(source, cv2.CAP_V4L2)
        if not capture.isOpened():
            raise CameraUnavailable(f"{self}: cannot be opened")
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        capture.set(cv2.CAP_PROP_FPS, self.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)   # the newest frame, not one from a second ago
        return capture

    def read(self) -> np.ndarray:
        import cv2
        with self._lock:
            if self._capture is None:
                self._capture = self._open()
            ok, frame = self._capture.read()
            if not ok or frame is None or frame.ndim != 3:
                self._release()
                raise CameraUnavailable(f"{self}: no frame")
            return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def close(self) -> None:
        with self._lock:
            self._release()

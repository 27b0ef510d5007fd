"""The e-SSC QR code read from the camera's frames (#19), for a kiosk with no scanner fitted: the
citizen holds the phone up to the face-check camera (drivers/camera.py) and zxing-cpp finds
the code in its RGB frames. QR codes only; the text goes through the scanner's checks
(drivers/qr_scanner.check_code) and errors, so the kiosk handles every source alike.
"""
from __future__ import annotations

import threading

import numpy as np
import zxingcpp

from drivers.camera import Camera, CameraError
from drivers.qr_scanner import QrScannerUnavailable, check_code


def decode_qr(frame: np.ndarray, source: str = "camera") -> str | None:
    """The text of the first QR code zxing reads in `frame` (RGB, height x width x 3, uint8),
    or None when there is none. GarbledScan if its text is not a clean code."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"a frame is an RGB array of uint8 (height, width, 3), not {frame.dtype} {frame.shape}")
    height, width = frame.shape[:2]
    image = zxingcpp.ImageView(np.ascontiguousarray(frame), width, height, zxingcpp.ImageFormat.RGB)
    # Plain text: HRI, zxing's default, would spell control characters out ("<NUL>"), and a
    # garbled code would pass the checks as printable.
    # Only codes whose error correction held come back (return_errors is off).
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode, text_mode=zxingcpp.TextMode.Plain)
    return check_code(found[0].text, source) if found else None


class CameraQrReader:
    """The scanner's `wait_for_code` on a camera: frames are read (at the camera's frame
    rate) until one holds a QR code."""

    def __init__(self, camera: Camera):
        self._camera = camera

    # Used in a `with` like the scanners; the camera itself stays open, its owner closes it.
    def __enter__(self) -> "CameraQrReader":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def wait_for_code(self, stop: threading.Event) -> str | None:
        """The code's text, or None once `stop` is set (looked at between frames). Raises
        QrScannerUnavailable (the camera gives no frames) or GarbledScan."""
        while not stop.is_set():
            try:
                frame = self._camera.read()
            except CameraError as exc:
                raise QrScannerUnavailable(f"no QR codes from the camera: {exc}") from None
            text = decode_qr(frame, repr(self._camera))
            if text is not None:
                return text
        return None

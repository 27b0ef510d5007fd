"""Every device the kiosk drives, built from its configuration in this one place.

`KioskCore` holds one `Devices`; the screens and the commands ask it for a device and never
build one themselves, so a device is always opened with the settings of its section (timeouts,
retries, encoding) and nowhere with others. Serial devices are opened for each use and closed
after it (another program, or the diagnostics, may need the port in between); the card printer
keeps its connection.
"""
from __future__ import annotations

import functools

from drivers.camera import Camera, UvcCamera
from drivers.camera_process import CameraProcess
from drivers.pin_pad import PinPad, PinPadUnavailable
from drivers.card_printer import CardPrinter
from drivers.id_card_reader import IdCardReader, IdReaderUnavailable
from drivers.qr_camera import CameraQrReader
from drivers.qr_scanner import QrScanner, QrScannerUnavailable
from drivers.qr_wedge import QrWedge
from drivers.receipt_printer import PrinterUnavailable, ReceiptPrinter
from kiosk.config import KioskConfig


class Devices:
    def __init__(self, config: KioskConfig, camera: Camera | None = None):
        """`camera` stands in for [camera] device (the simulation's camera is not a V4L2 device)."""
        self.config = config
        self.camera: Camera | None = camera
        if camera is None and config.camera.device:
            settings = config.camera
            self.camera = CameraProcess(functools.partial(UvcCamera, settings.device, settings.width, settings.height,
                                                          settings.fps), f"camera {settings.device}")
        printer = config.card_printer
        self.card_printer: CardPrinter | None = None
        if printer.enabled:
            self.card_printer = CardPrinter(printer.host, printer.port, encoder_reader=printer.encoder_reader,
                                            reply_timeout=printer.reply_timeout_s,
                                            movement_timeout=printer.movement_timeout_s,
                                            encoder_timeout=printer.encoder_timeout_s)

    @property
    def has_receipt_printer(self) -> bool:
        return bool(self.config.receipt_printer.port)

    @property
    def has_id_reader(self) -> bool:
        return bool(self.config.id_reader.port)

    def receipt_printer(self) -> ReceiptPrinter:
        """The receipt printer, opened (use it in a `with`). PrinterUnavailable when none is
        configured."""
        settings = self.config.receipt_printer
        if not settings.port:
            raise PrinterUnavailable("no receipt printer configured ([receipt_printer] port)")
        return ReceiptPrinter.open(settings.port, baudrate=settings.baud, encoding=settings.encoding,
                                   paper_mm=settings.paper_mm, read_timeout=settings.read_timeout_s,
                                   write_timeout=settings.write_timeout_s)

    def id_card_reader(self) -> IdCardReader:
        """The resident ID card reader, opened (use it in a `with`). IdReaderUnavailable when
        none is configured."""
        settings = self.config.id_reader
        if not settings.port:
            raise IdReaderUnavailable("no ID card reader configured ([id_reader] port)")
        return IdCardReader(settings.port, baudrate=settings.baud, read_timeout=settings.read_timeout_s,
                            write_timeout=settings.write_timeout_s, retries=settings.retries)

    @property
    def has_qr_reader(self) -> bool:
        settings = self.config.qr_scanner
        return bool(settings.port or settings.input_device or (settings.camera_fallback and self.camera is not None))

    def qr_reader(self):
        """What reads the electronic social security card's QR code, opened (use it in a `with`):
        the serial scanner, the keyboard-wedge one, or else the face check's camera (#19).
        QrScannerUnavailable when there is none."""
        settings = self.config.qr_scanner
        if settings.port:
            return QrScanner.open(settings.port, baudrate=settings.baud, read_timeout=settings.read_timeout_s,
                                  write_timeout=settings.write_timeout_s)
        if settings.input_device:
            return QrWedge.open(settings.input_device)
        if settings.camera_fallback and self.camera is not None:
            return CameraQrReader(self.camera)
        raise QrScannerUnavailable("no QR scanner configured ([qr_scanner] port or input_device) and no camera")

    @property
    def has_pin_pad(self) -> bool:
        return bool(self.config.pin_pad.port)

    def pin_pad(self) -> PinPad:
        """The encrypting PIN pad, opened (use it in a `with`). PinPadUnavailable when none is
        configured."""
        settings = self.config.pin_pad
        if not settings.port:
            raise PinPadUnavailable("no PIN pad configured ([pin_pad] port)")
        return PinPad(settings.port, baudrate=settings.baud, read_timeout=settings.read_timeout_s,
                      write_timeout=settings.write_timeout_s, entry_timeout_s=settings.entry_timeout_s)

    def close(self) -> None:
        if self.card_printer is not None:
            self.card_printer.close()
        if self.camera is not None:
            self.camera.close()

"""The receipt printer driver against the simulated printer, over a real pty through pyserial."""
from __future__ import annotations

import datetime
import time

import pytest
from hypothesis import given, strategies as st
from PIL import Image, ImageOps

from drivers import escpos
from drivers.escpos import Align
from drivers.receipt_printer import (
    PrinterConfigError, PrinterCoverOpen, PrinterFault, PrinterNotResponding, PrinterPaperOut,
    PrinterProtocolError, PrinterStatus, PrinterUnavailable, ReceiptPrinter, decode_status, encode_status)
from drivers.serial_port import open_port
from drivers.sim.receipt_printer import QR_QUIET_ZONE, qr_symbol, render_png
from kiosk.device_messages import citizen_message
from kiosk.outcome import Outcome
from kiosk.receipt import Receipt, ReceiptItem, render_escpos, render_text
from tests.conftest import FAST_BAUD, READ_TIMEOUT, WRITE_TIMEOUT

STATUS_FIELDS = [f for f in PrinterStatus.__dataclass_fields__]


def a_receipt() -> Receipt:
    return Receipt(items=(ReceiptItem("1.10.6", Outcome.DONE, "临时挂失"),),
                   completed_at=datetime.datetime(2026, 11, 26, 6, 30, tzinfo=datetime.timezone.utc),
                   verification_reference="V-KIOSK-0001-000001", terminal_number="KIOSK-0001",
                   holder_name="李华", id_number="37130219900307123X", card_number="X00000019")


# --- status bytes ---------------------------------------------------------------------------

@given(st.fixed_dictionaries({name: st.booleans() for name in STATUS_FIELDS}))
def test_every_status_survives_encoding_and_decoding(flags):
    status = PrinterStatus(**flags)
    assert decode_status(encode_status(status)) == status


@given(st.binary(min_size=0, max_size=8))
def test_any_answer_decodes_or_is_a_protocol_error(answer):
    try:
        status = decode_status(answer)
    except PrinterProtocolError:
        valid = len(answer) == 4 and all(b & 0x93 == 0x12 for b in answer)
        assert not valid
    else:
        assert len(answer) == 4 and isinstance(status.ready, bool)


def test_known_status_bytes_decode_as_the_manual_says():
    # Online and idle; then cover open (offline, DLE EOT 2 bit 2); then paper end (DLE EOT 4 bits 5, 6).
    assert decode_status(bytes([0x12, 0x12, 0x12, 0x12])).ready
    cover = decode_status(bytes([0x1A, 0x16, 0x12, 0x12]))
    assert (cover.online, cover.cover_open, cover.paper_out) == (False, True, False)
    paper = decode_status(bytes([0x1A, 0x32, 0x12, 0x7E]))
    assert paper.paper_out and paper.paper_near_end and not paper.ready
    with pytest.raises(PrinterProtocolError, match="DLE EOT 3"):
        decode_status(bytes([0x12, 0x12, 0xFF, 0x12]))
    # Offline without a cause it reports (e.g. the feed button held): not ready, and not "no answer".
    with pytest.raises(PrinterFault, match="offline"):
        decode_status(bytes([0x1A, 0x12, 0x12, 0x12])).raise_if_cannot_print()


# --- states through the wire ----------------------------------------------------------------

def test_ready_printer_reports_online(printer):
    status = printer.status()
    assert status.ready and status.describe() == "online"


@pytest.mark.parametrize("state, error", [
    ({"paper_out": True}, PrinterPaperOut),
    ({"cover_open": True}, PrinterCoverOpen),
    ({"mechanical_error": True}, PrinterFault),
    ({"autocutter_error": True}, PrinterFault),
    ({"unrecoverable_error": True}, PrinterFault),
])
def test_each_state_refuses_the_job_with_its_typed_error(printer_sim, printer, state, error):
    printer_sim.set_state(**state)
    with pytest.raises(error) as caught:
        printer.print_job(b"hello\n")
    assert citizen_message(caught.value)
    assert printer_sim.receipts == []


def test_paper_near_end_still_prints_and_says_so(printer_sim, printer):
    printer_sim.set_state(paper_near_end=True)
    after = printer.print_job(escpos.Page(80, "gbk").line("近纸尽").cut().as_escpos())
    assert after.paper_near_end and "paper near end" in after.describe()
    assert len(printer_sim.receipts) == 1


def test_unplugged_printer_fails_within_the_read_timeout(printer_sim, printer):
    printer_sim.set_state(unplugged=True)
    started = time.monotonic()
    with pytest.raises(PrinterNotResponding):
        printer.print_job(b"x\n")
    assert time.monotonic() - started < READ_TIMEOUT + 0.5


def test_printer_that_stops_taking_data_fails_within_the_write_timeout(printer_sim, printer):
    printer_sim.taking_data.clear()
    job = b"\x1b@" + b"A" * 2_000_000 + b"\n"  # far more than the pty buffers
    started = time.monotonic()
    with pytest.raises(PrinterNotResponding, match="stopped taking data"):
        printer.print_job(job)
    assert time.monotonic() - started < WRITE_TIMEOUT + READ_TIMEOUT + 1.0


def test_garbage_instead_of_status_is_a_protocol_error(printer_sim, printer):
    printer_sim.received = lambda data: printer_sim.send(b"\xff" * (data.count(b"\x10\x04")))
    with pytest.raises(PrinterProtocolError):
        printer.status()


def test_paper_out_mid_job_fails_and_the_same_job_prints_whole_after_paper_is_loaded(printer_sim, printer):
    job = render_escpos(a_receipt(), 80, "gb18030")
    printer_sim.set_state(paper_lines=5)
    with pytest.raises(PrinterPaperOut):
        printer.print_job(job)
    assert [r.complete for r in printer_sim.receipts] == [False]  # the torn-off part

    printer_sim.load_paper()
    after = printer.print_job(job)
    assert after.ready
    reprinted = printer_sim.receipts[-1]
    assert reprinted.complete
    assert reprinted.as_text(48) == render_text(a_receipt(), 80)


def test_the_printer_works_on_any_transport_it_is_given(printer_sim):
    transport = open_port(printer_sim.path, FAST_BAUD, read_timeout=READ_TIMEOUT, write_timeout=WRITE_TIMEOUT)
    with ReceiptPrinter(transport, device="pty", encoding="gbk", paper_mm=58) as printer:
        assert printer.status().ready
        printer.print_job(escpos.Page(58, "gbk").line("经传输层打印").cut().as_escpos())
    assert printer_sim.receipts[-1].complete and not transport.is_open


# --- configuration and ports ----------------------------------------------------------------

@pytest.mark.parametrize("setting, message", [
    ({"encoding": "utf-8"}, "encoding"),
    ({"paper_mm": 76}, "paper width"),
    ({"baudrate": 12345}, "baud rate"),
    ({"write_timeout": 0}, "write timeout"),
    ({"read_timeout": None}, "read timeout"),
])
def test_bad_settings_are_refused_with_the_setting_named(printer_sim, setting, message):
    with pytest.raises(PrinterConfigError, match=message):
        ReceiptPrinter.open(printer_sim.path, **setting)


def test_missing_port_is_unavailable_not_a_crash(tmp_path):
    with pytest.raises(PrinterUnavailable, match="cannot be opened"):
        ReceiptPrinter.open(str(tmp_path / "ttyUSB9"))


def test_status_is_not_confused_by_a_late_answer(printer_sim, printer):
    # A previous query timed out and its answer arrived afterwards: it must be discarded.
    printer_sim.send(b"\x1a\x16\x12\x12")
    time.sleep(0.05)
    assert printer.status().ready


# --- the QR code, as drawn on the simulator's picture of the receipt ------------------------

def decoded_qr(png_path):
    """zxing's reading of the one QR code in the PNG: (text, error correction level)."""
    import numpy as np
    import zxingcpp
    with Image.open(png_path) as image:
        pixels = np.asarray(image.convert("L"))
    found = zxingcpp.read_barcodes(pixels, formats=zxingcpp.BarcodeFormat.QRCode, text_mode=zxingcpp.TextMode.Plain)
    assert len(found) == 1, f"{len(found)} QR codes in {png_path}"
    return found[0].text, found[0].ec_level


def qr_job(payload: str, module_size: int, level: escpos.QrErrorLevel | None) -> bytes:
    """A job holding one QR code; `level` None leaves fn 69 out (the printer's default holds)."""
    qr = escpos.qr_code(payload, module_size, level or escpos.QrErrorLevel.M)
    if level is None:
        qr = qr[:17] + qr[25:]   # model (9 bytes) and module size (8), then the level (8) skipped
    return escpos.initialize() + escpos.align(Align.CENTER) + qr + escpos.partial_cut()


@pytest.mark.parametrize("module_size, level, expected_level", [
    (3, escpos.QrErrorLevel.L, "L"),
    (6, escpos.QrErrorLevel.Q, "Q"),
    (8, escpos.QrErrorLevel.H, "H"),
    (5, None, "M"),   # no fn 69 in the job: level M, the printer's default
])
def test_qr_code_is_drawn_as_a_real_symbol_at_the_jobs_size_and_level(printer_sim, printer, tmp_path,
                                                                        module_size, level, expected_level):
    payload = "V-KIOSK-0001-000042"
    printer.print_job(qr_job(payload, module_size, level))
    [printed] = printer_sim.wait_for_receipts(1)
    assert printer_sim.unknown_commands == []
    [qr] = [b for b in printed.blocks if isinstance(b, escpos.QrCode)]
    assert (qr.module_size, qr.error_level.name) == (module_size, expected_level)
    render_png(printed, 80, tmp_path / "qr.png")
    assert decoded_qr(tmp_path / "qr.png") == (payload, expected_level)
    # Modules of `module_size` dots, a quiet zone of 4 modules around the symbol: its dark
    # part is a whole number of modules wide, centred, with white paper all round.
    import segno
    modules = segno.make_qr(payload, error=expected_level.lower(), boost_error=False).symbol_size(scale=1, border=0)[0]
    side = (modules + 2 * QR_QUIET_ZONE) * module_size
    with Image.open(tmp_path / "qr.png") as page:
        symbol = page.crop((0, 10, 576, 10 + side))   # the page's top margin is 10 dots; the cut follows
        left = (576 - side) // 2 + QR_QUIET_ZONE * module_size
        assert ImageOps.invert(symbol).getbbox() == (left, QR_QUIET_ZONE * module_size,
                                                     left + modules * module_size, side - QR_QUIET_ZONE * module_size)


def test_qr_code_wider_than_the_paper_is_drawn_with_the_largest_module_that_fits(tmp_path):
    payload = "https://example.org/verify/" + "V-KIOSK-0001-000042" * 4
    qr_png = qr_symbol(escpos.QrCode(payload, 16, escpos.QrErrorLevel.H), 384)
    assert qr_png.width <= 384
    qr_png.save(tmp_path / "wide.png")
    assert decoded_qr(tmp_path / "wide.png") == (payload, "H")


def test_a_qr_code_survives_paper_accounting_and_ends_on_the_receipt(printer_sim, printer):
    # 8 lines of paper for the code (the paper budget): with 7 left, it tears off unprinted.
    printer_sim.set_state(paper_lines=7)
    with pytest.raises(PrinterPaperOut):
        printer.print_job(qr_job("AB12", 4, None))
    assert [r.complete for r in printer_sim.receipts] == [False]
    assert not any(isinstance(b, escpos.QrCode) for b in printer_sim.receipts[0].blocks)

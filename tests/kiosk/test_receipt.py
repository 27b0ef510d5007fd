"""The receipt as data: what the simulated printer prints equals what the screen shows."""
from __future__ import annotations

import datetime

import pytest
from PIL import Image

from drivers.receipt_printer import ReceiptPrinter
from drivers.sim.receipt_printer import SimulatedReceiptPrinter, render_png
from kiosk.masking import mask_address, mask_card_number, mask_id_number, mask_name
from kiosk.outcome import Outcome
from kiosk.receipt import (Receipt, ReceiptError, ReceiptItem, printer_test_page, render_escpos,
                           render_text)
from tests.conftest import FAST_BAUD

UTC = datetime.timezone.utc


def receipt(**overrides) -> Receipt:
    item = dict(service_item="1.10.7", outcome=Outcome.PENDING, outbox_reference=42, action="补领")
    fields = dict(completed_at=datetime.datetime(2026, 11, 26, 23, 59, 30, tzinfo=UTC),
                  verification_reference="V-KIOSK-0001-000042", terminal_number="KIOSK-0001",
                  holder_name="欧阳娜娜", id_number="37130219900307123X", card_number="X00000019")
    for key, value in overrides.items():
        (item if key in item else fields)[key] = value
    return Receipt(items=(ReceiptItem(**item),), **fields)


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
@pytest.mark.parametrize("paper_mm", [58, 80])
def test_printed_receipt_decodes_to_the_screen_text(encoding, paper_mm):
    with SimulatedReceiptPrinter(baudrate=FAST_BAUD, encoding=encoding, paper_mm=paper_mm) as sim, \
            ReceiptPrinter.open(sim.path, baudrate=FAST_BAUD, encoding=encoding, paper_mm=paper_mm) as printer:
        printer.print_job(render_escpos(receipt(), paper_mm, encoding))
        printed = sim.wait_for_receipts(1)
    assert sim.unknown_commands == []
    assert printed[0].complete
    assert printed[0].as_text(sim.columns) == render_text(receipt(), paper_mm)
    qr = [b for b in printed[0].blocks if type(b).__name__ == "QrCode"]
    assert [q.payload for q in qr] == ["V-KIOSK-0001-000042"]


def test_text_shows_masked_holder_local_time_and_pending_reference():
    text = render_text(receipt(), 80)
    assert "3713**********123X" in text and "37130219900307123X" not in text
    assert "欧***" in text and "娜娜" not in text
    assert "X00****19" in text
    assert "2026-11-27 07:59:30" in text  # 23:59:30 UTC is the next morning in Beijing
    assert "待提交编号：42" in text and "服务热线：12333" in text
    assert "社会保障卡补领、换领、换发" in text and "1.10.7" in text


def test_done_receipt_has_no_pending_line():
    text = render_text(receipt(outcome=Outcome.DONE, outbox_reference=None), 58)
    assert "办理成功" in text and "待提交" not in text


def test_every_line_fits_the_narrow_paper():
    from drivers.escpos import display_width
    for line in render_text(receipt(), 58).splitlines():
        if not line.lstrip().startswith("[二维码"):
            assert display_width(line) <= 32, line


@pytest.mark.parametrize("overrides, message", [
    ({"service_item": "9.9.9"}, "unknown service item"),
    ({"outcome": "maybe"}, "outcome"),
    ({"completed_at": datetime.datetime(2026, 11, 26, 8, 0)}, "timezone-aware"),
    ({"outbox_reference": None}, "outbox reference"),
    ({"verification_reference": "核验"}, "ASCII"),
])
def test_receipt_that_must_not_print_is_refused(overrides, message):
    with pytest.raises(ReceiptError, match=message):
        receipt(**overrides)


def test_repr_carries_no_personal_data():
    shown = repr(receipt())
    assert "37130219900307123X" not in shown and "欧阳" not in shown and "X00000019" not in shown


@pytest.mark.parametrize("masker, value, masked", [
    (mask_id_number, "371302199003071234", "3713**********1234"),
    (mask_name, "张三", "张*"),
    (mask_card_number, "X00000019", "X00****19"),
    (mask_card_number, "X0019", "*****"),
    (mask_address, "山东省临沂市兰山区沂蒙路100号", "山东省临沂市****"),
])
def test_maskers(masker, value, masked):
    assert masker(value) == masked


def test_png_of_a_printed_receipt(tmp_path):
    with SimulatedReceiptPrinter(baudrate=FAST_BAUD, paper_mm=58, png_dir=str(tmp_path)) as sim, \
            ReceiptPrinter.open(sim.path, baudrate=FAST_BAUD, paper_mm=58) as printer:
        printer.print_job(printer_test_page("KIOSK-0001", 58, "gb18030").as_escpos())
        printed = sim.wait_for_receipts(1)
    with Image.open(tmp_path / "receipt-001.png") as image:
        assert image.width == 384 and image.height > 400
        # Something was drawn: the page is not blank paper.
        assert image.getextrema()[0] == 0
    render_png(printed[0], 80, tmp_path / "wide.png")
    with Image.open(tmp_path / "wide.png") as wide:
        assert wide.width == 576

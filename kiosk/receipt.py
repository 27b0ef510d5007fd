"""The receipt (凭条) a citizen takes away: data first, then printed or shown.

A `Receipt` holds what happened in one visit — every item of it, each with its result and the
outbox reference when the work is still waiting for the network (a bundle gets one receipt
listing every item) — the time, and whose it is, masked before it reaches paper or screen. `receipt_page()` lays it out for 58 or 80 mm paper; the same page gives the ESC/POS
job for the printer and the plain text for the screen, so both always say the same thing.
`hand_out()` prints it, or says why not and gives the text to show instead.
"""
from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from drivers.escpos import Align, Page, display_width
from drivers.id_card_reader import Document
from drivers.receipt_printer import PrinterError
from kiosk.device_messages import citizen_message
from kiosk.devices import Devices
from kiosk.i18n import N_
from kiosk.masking import mask_card_number, mask_id_number, mask_name
from kiosk.outcome import Outcome
from kiosk.services.catalog import ITEMS
from kiosk.visit import DOCUMENT_NAMES

log = logging.getLogger(__name__)

LOCAL_TIME = ZoneInfo("Asia/Shanghai")

_RESULT_WORDS = {
    Outcome.DONE: "办理成功",
    Outcome.PENDING: "已受理，网络恢复后自动提交",
}


class ReceiptError(ValueError):
    """A receipt that must not be printed as given (unknown item, naive time, missing reference)."""


@dataclass(frozen=True)
class ReceiptItem:
    """One service item done (or queued) in the visit."""

    service_item: str                      # "1.10.6"
    outcome: Outcome                       # DONE or PENDING
    action: str = ""                       # e.g. "临时挂失", under the item's name
    outbox_reference: int | None = None    # set when PENDING

    def __post_init__(self):
        if self.service_item not in ITEMS:
            raise ReceiptError(f"unknown service item {self.service_item!r}")
        if self.outcome not in _RESULT_WORDS:
            raise ReceiptError(f"outcome {self.outcome!r} is not one of {', '.join(_RESULT_WORDS)}")
        if self.outcome == Outcome.PENDING and self.outbox_reference is None:
            raise ReceiptError("a pending receipt must carry its outbox reference")

    @property
    def service_name(self) -> str:
        return ITEMS[self.service_item]


@dataclass(frozen=True)
class Receipt:
    """One visit's receipt. Personal fields are unmasked here and kept out of repr; only their
    masked forms are ever rendered."""

    items: tuple[ReceiptItem, ...]
    completed_at: datetime.datetime        # timezone-aware; printed in Beijing time
    verification_reference: str            # in the QR code: staff look the visit up with it
    terminal_number: str
    holder_name: str = field(repr=False)
    id_number: str = field(repr=False)
    card_number: str | None = field(default=None, repr=False)
    document_name: str = DOCUMENT_NAMES[Document.RESIDENT_ID]   # the document the visit was identified by
    service_phone: str = "12333"
    title: str = "社会保障卡自助服务"

    def __post_init__(self):
        if not self.items:
            raise ReceiptError("a receipt lists at least one service item")
        if self.completed_at.tzinfo is None:
            raise ReceiptError("completed_at must be timezone-aware (UTC in storage)")
        if not self.verification_reference.isascii() or not self.verification_reference:
            raise ReceiptError("the verification reference must be non-empty ASCII (it goes in a QR code)")

    @property
    def local_time(self) -> str:
        return self.completed_at.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M:%S")


def receipt_page(receipt: Receipt, paper_mm: int = 80, encoding: str = "gb18030") -> Page:
    """Lay the receipt out. Raises escpos.EscPosConfigError for an unknown width or encoding."""
    page = Page(paper_mm, encoding)
    # Double width only where the title fits one line (not on 58 mm paper).
    title_width = 2 if 2 * display_width(receipt.title) <= page.columns else 1
    page.line(receipt.title, align=Align.CENTER, bold=True, width=title_width, height=2)
    page.line("业务凭条", align=Align.CENTER, bold=True)
    for item in receipt.items:
        page.rule()
        page.line(f"业务：{item.service_name}")
        page.line(f"事项编码：{item.service_item}")
        if item.action:
            page.line(f"事项：{item.action}")
        page.line(f"结果：{_RESULT_WORDS[item.outcome]}", bold=True)
        if item.outcome == Outcome.PENDING:
            page.line(f"待提交编号：{item.outbox_reference}")
    page.rule()
    page.line(f"时间：{receipt.local_time}")
    page.line(f"姓名：{mask_name(receipt.holder_name)}")
    if receipt.document_name == DOCUMENT_NAMES[Document.RESIDENT_ID]:
        page.line(f"身份证号：{mask_id_number(receipt.id_number)}")
    else:
        page.line(f"证件：{receipt.document_name}")
        page.line(f"证件号码：{mask_id_number(receipt.id_number)}")
    if receipt.card_number:
        page.line(f"社保卡号：{mask_card_number(receipt.card_number)}")
    page.line(f"终端：{receipt.terminal_number}")
    page.rule()
    page.qr(receipt.verification_reference)
    page.line("扫码核验办理记录", align=Align.CENTER)
    page.line(f"核验码：{receipt.verification_reference}", align=Align.CENTER)
    page.line(f"服务热线：{receipt.service_phone}", align=Align.CENTER)
    page.feed(3)
    page.cut()
    return page


def render_escpos(receipt: Receipt, paper_mm: int = 80, encoding: str = "gb18030") -> bytes:
    """The print job; EscPosConfigError for an unknown paper width or encoding."""
    return receipt_page(receipt, paper_mm, encoding).as_escpos()


def render_text(receipt: Receipt, paper_mm: int = 80) -> str:
    """For the screen and the tests; laid out exactly as on paper of that width."""
    return receipt_page(receipt, paper_mm).as_text()


def printer_test_page(terminal_number: str, paper_mm: int = 80, encoding: str = "gb18030",
                      now: datetime.datetime | None = None) -> Page:
    """The staff's test print (`kiosk diag printer --test-receipt`): every style a receipt
    uses, Chinese text in the printer's encoding and a QR code. It records no service, so it
    says so in its title rather than imitating a citizen's receipt."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    page = Page(paper_mm, encoding)
    page.line("打印机测试页", align=Align.CENTER, bold=True, width=2, height=2)
    page.line("（非业务凭条）", align=Align.CENTER)
    page.rule()
    page.line(f"终端：{terminal_number}")
    page.line(f"时间：{now.astimezone(LOCAL_TIME):%Y-%m-%d %H:%M:%S}")
    page.line(f"纸宽：{paper_mm} mm，编码：{page.encoding}")
    page.line("中文：社会保障卡一件事一次办好")
    page.line("加粗 Bold", bold=True)
    page.line("倍高 Tall", height=2)
    page.line("居右 Right", align=Align.RIGHT)
    page.rule()
    page.qr(f"TEST-{terminal_number}-{now:%Y%m%d%H%M%S}")
    page.line("二维码应可扫出 TEST 开头的核验码", align=Align.CENTER)
    page.feed(3)
    page.cut()
    return page


RECEIPT_FAILED = N_("凭条未能生成，您办理的业务以上方结果为准，请联系工作人员补打凭条。")


@dataclass(frozen=True)
class Handout:
    """How the citizen gets the visit's receipt: `note` says what to do (a msgid); `text` is the
    receipt to show on screen (as text and QR code) when it was not printed, else empty."""

    note: str
    text: str = ""
    printed: bool = False


def hand_out(receipt: Receipt, devices: Devices) -> Handout:
    """Prints `receipt` on the kiosk's receipt printer, or, when there is none or it fails (a
    typed PrinterError, logged for staff), hands it out as text. Never prints a failed receipt
    again: the citizen already has it on screen."""
    settings = devices.config.receipt_printer
    text = render_text(receipt, settings.paper_mm)
    if not devices.has_receipt_printer:
        return Handout(N_("本机没有凭条打印机，办理凭证如下，请用手机扫码或拍照留存。"), text)
    try:
        with devices.receipt_printer() as printer:
            printer.print_job(render_escpos(receipt, settings.paper_mm, settings.encoding))
    except PrinterError as exc:
        log.warning("receipt not printed: %s", exc)
        return Handout(citizen_message(exc) + N_("办理凭证如下，请用手机扫码或拍照留存。"), text)
    return Handout(N_("凭条已打印，请从下方出纸口取走。"), printed=True)

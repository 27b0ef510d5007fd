"""What the citizen is told when a device fails: one table for every driver error.

Drivers raise neutral, typed errors whose `str()` is for staff; the words on the screen, in
Chinese with English in the catalogue, are chosen here, as `kiosk/services/outcomes.py` does
for the backend's refusals. A class without an entry takes its nearest ancestor's; errors of
the kiosk's own (a visit, a weak PIN) carry their `citizen_message` themselves.
"""
from __future__ import annotations

from drivers.apdu import (AuthenticationFailed, CardError, CardRemoved, NoCardPresent, OperationCancelled, PinBlocked,
                          SecurityStatusNotSatisfied)
from drivers.card_printer import (CardJam, CardPrinterCancelled, CardPrinterError, CardPrinterOffline, CoverOpen,
                                  EncoderCardNotSeen, HopperEmpty, RejectBinFull, RibbonOut)
from drivers.id_card_reader import (IdCardDataInvalid, IdCardError, IdCardExpired, IdCardNotFound, IdCardReadFailed,
                                    IdReaderUnavailable, UnsupportedDocument)
from drivers.pcsc import ReaderServiceUnavailable, ReaderUnavailable
from drivers.pin import InvalidPinFormat
from drivers.qr_scanner import GarbledScan, QrScanError, QrScannerUnavailable
from drivers.pin_pad import PinEntryCancelled, PinEntryTimedOut, PinPadError, PinPadKeyMissing
from drivers.receipt_printer import PrinterCoverOpen, PrinterError, PrinterPaperOut
from drivers.security_module import SecurityModuleRequired
from drivers.ssse import (CardNotGenuine, NotABlankCard, NotSocialSecurityCard, PersonalisationFailed,
                          PinOutcomeUnknown, WrongPin)
from drivers.ssse_records import CardNotPersonalised, MalformedRecord
from kiosk.i18n import N_

DEVICE_MESSAGES: dict[type[Exception], str] = {
    # the citizen's card and its readers
    CardError: N_("读卡失败，请重新插卡或联系工作人员。"),
    NoCardPresent: N_("请插入社会保障卡。"),
    CardRemoved: N_("卡片已被取出，请重新插卡后再试。"),
    OperationCancelled: N_("操作已取消。"),
    WrongPin: N_("密码错误。"),
    PinBlocked: N_("密码已锁定，请持身份证办理密码重置。"),
    InvalidPinFormat: N_("密码须为6位数字。"),
    PinOutcomeUnknown: N_("卡片在设置密码时被取出，新密码可能已经生效。请重新插卡，输入新密码确认。"),
    SecurityStatusNotSatisfied: N_("卡片安全认证未通过，请联系工作人员。"),
    AuthenticationFailed: N_("卡片认证失败，请联系工作人员。"),
    SecurityModuleRequired: N_("本机暂不能读取此卡，请到窗口办理。"),
    ReaderServiceUnavailable: N_("读卡设备暂不可用，请稍候或联系工作人员。"),
    ReaderUnavailable: N_("读卡器未连接，请联系工作人员。"),
    NotSocialSecurityCard: N_("这不是社会保障卡，请插入社会保障卡。"),
    MalformedRecord: N_("卡片数据无法识别，请到窗口办理。"),
    CardNotPersonalised: N_("此卡尚未制作完成，不能使用，请联系工作人员。"),
    PersonalisationFailed: N_("制卡失败，卡片已回收，请联系工作人员。"),
    NotABlankCard: N_("制卡失败，卡片已回收，请联系工作人员。"),
    CardNotGenuine: N_("此卡未通过真伪校验，不能使用。"),
    # the card printer
    CardPrinterError: N_("制卡设备故障，暂时无法制卡，请联系工作人员。"),
    CardPrinterOffline: N_("制卡设备未响应，暂时无法制卡，请联系工作人员。"),
    CardPrinterCancelled: N_("操作已取消。"),
    HopperEmpty: N_("空白卡已用完，暂时无法即时制卡，请联系工作人员。"),
    RibbonOut: N_("制卡设备色带已用完，暂时无法制卡，请联系工作人员。"),
    CoverOpen: N_("制卡设备机盖未关闭，请联系工作人员。"),
    CardJam: N_("制卡设备卡片堵塞，请联系工作人员。"),
    RejectBinFull: N_("制卡设备废卡箱已满，请联系工作人员。"),
    EncoderCardNotSeen: N_("制卡设备读写卡片失败，请联系工作人员。"),
    # the QR code scanner (the electronic social security card, #19)
    QrScanError: N_("扫码失败，请重新出示二维码或使用身份证。"),
    QrScannerUnavailable: N_("扫码设备暂不可用，请使用身份证或联系工作人员。"),
    GarbledScan: N_("未能识别二维码，请将手机屏幕对准扫码区重新出示。"),
    # the resident ID card reader
    IdCardError: N_("身份证读取失败，请重新放置身份证或联系工作人员。"),
    IdReaderUnavailable: N_("身份证读卡器暂不可用，请联系工作人员。"),
    IdCardNotFound: N_("未检测到身份证，请将身份证平放在读卡区。"),
    IdCardReadFailed: N_("身份证读取失败，请拿起身份证后重新放置。"),
    IdCardDataInvalid: N_("身份证信息无法识别，请到人工窗口办理。"),
    IdCardExpired: N_("您的身份证已超过有效期，请持有效身份证件到人工窗口办理。"),
    UnsupportedDocument: N_("本机暂不能识别此证件，请持其他有效身份证件办理，或到人工窗口办理。"),
    PinPadError: N_("密码键盘暂不可用，请联系工作人员。"),
    PinPadKeyMissing: N_("密码键盘未就绪，请联系工作人员。"),
    PinEntryCancelled: N_("您已取消密码输入，本项业务未办理。"),
    PinEntryTimedOut: N_("密码输入超时，本项业务未办理。"),
    # the receipt printer: the service itself is done
    PrinterError: N_("凭条打印机暂不可用，您的业务已办理，请联系工作人员补打凭条。"),
    PrinterPaperOut: N_("凭条打印纸已用完，您的业务已办理，请联系工作人员补打凭条。"),
    PrinterCoverOpen: N_("凭条打印机盖未关好，您的业务已办理，请联系工作人员补打凭条。"),
}

UNEXPECTED = N_("本机发生故障，办理结果未能确认，请到窗口核实。")


def citizen_message(error: BaseException) -> str:
    """The words for the citizen (in Chinese; the screen translates them) for any error."""
    for cls in type(error).__mro__:   # the nearest class that has words: ours, or the kiosk's own
        if cls in DEVICE_MESSAGES:
            return DEVICE_MESSAGES[cls]
        if isinstance(cls.__dict__.get("citizen_message"), str):
            return cls.__dict__["citizen_message"]
    return UNEXPECTED

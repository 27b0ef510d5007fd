"""What the citizen, and staff, are told when a device fails: one table each for every driver error.

Drivers raise neutral, typed errors whose `str()` is for staff; the words on the screen, in
Chinese with English in the catalogue, are chosen here, as `kiosk/services/outcomes.py` does
for the backend's refusals. A class without an entry takes its nearest ancestor's; errors of
the kiosk's own (a visit, a weak PIN) carry their `citizen_message` themselves.

Staff (the diagnostics screen) get the state and what to do, in plain words: never the
error's class name nor its `str()`, which go to the log.
"""
from __future__ import annotations

from drivers.apdu import (AuthenticationFailed, CardError, CardRemoved, NoCardPresent, OperationCancelled, PinBlocked,
                          SecurityStatusNotSatisfied)
from drivers.card_printer import (CardJam, CardPrinterCancelled, CardPrinterError, CardPrinterOffline, CoverOpen,
                                  EncoderCardNotSeen, HopperEmpty, MalformedReply, RejectBinFull, RibbonOut)
from drivers.id_card_reader import (IdCardDataInvalid, IdCardError, IdCardExpired, IdCardNotFound, IdCardReadFailed,
                                    IdReaderUnavailable, UnsupportedDocument)
from drivers.pcsc import ReaderServiceUnavailable, ReaderUnavailable
from drivers.pin import InvalidPinFormat
from drivers.qr_scanner import GarbledScan, QrScanError, QrScannerUnavailable
from drivers.pin_pad import PinEntryCancelled, PinEntryTimedOut, PinPadError, PinPadKeyMissing, PinPadUnavailable
from drivers.receipt_printer import (PrinterCoverOpen, PrinterError, PrinterFault, PrinterNotResponding,
                                     PrinterPaperOut, PrinterUnavailable)
from drivers.security_module import SecurityModuleRequired
from drivers.ssse import (CardNotGenuine, NotABlankCard, NotSocialSecurityCard, PersonalisationFailed,
                          PinOutcomeUnknown, WrongPin)
from drivers.ssse_records import CardNotPersonalised, MalformedRecord
from kiosk.backend.errors import BackendRejected, BackendUnavailable
from kiosk.i18n import N_
from kiosk.services.issuance_journal import JournalError

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
WRONG_PIN_TRIES = N_("密码错误，还可以再试 {tries_left} 次。")


def citizen_message(error: BaseException) -> str:
    """The words for the citizen (in Chinese; the screen translates them) for any error."""
    for cls in type(error).__mro__:   # the nearest class that has words: ours, or the kiosk's own
        if cls in DEVICE_MESSAGES:
            return DEVICE_MESSAGES[cls]
        if isinstance(cls.__dict__.get("citizen_message"), str):
            return cls.__dict__["citizen_message"]
    return UNEXPECTED


def citizen_words(error: BaseException) -> tuple[str, dict]:
    """`citizen_message(error)` and what fills its {fields}, where the words need more than the
    error's kind: after a wrong PIN, how many tries the card has left."""
    if isinstance(error, WrongPin):
        return WRONG_PIN_TRIES, {"tries_left": error.tries_left}
    return citizen_message(error), {}


# For staff: what is wrong and what to do, short enough for a tile on the diagnostics screen.
STAFF_MESSAGES: dict[type[Exception], str] = {
    CardError: N_("读卡失败，请重新插卡后再检测"),
    ReaderServiceUnavailable: N_("读卡服务未运行，请重启本机"),
    ReaderUnavailable: N_("读卡器未连接，请检查连接线"),
    CardPrinterError: N_("制卡机故障，请检查制卡机后重新检测"),
    CardPrinterOffline: N_("制卡机无响应，请检查电源和网线"),
    MalformedReply: N_("制卡机应答异常，请重启制卡机"),
    CardPrinterCancelled: N_("操作已取消"),
    HopperEmpty: N_("空白卡已用完，请补充空白卡"),
    RibbonOut: N_("色带已用完，请更换色带"),
    CoverOpen: N_("机盖未关好，请关好机盖"),
    CardJam: N_("卡片堵塞，请打开机盖取出卡片"),
    RejectBinFull: N_("废卡箱已满，请清空废卡箱"),
    EncoderCardNotSeen: N_("写卡模块未检测到卡片，请检查进卡通道"),
    QrScanError: N_("扫码器故障，请检查连接线"),
    QrScannerUnavailable: N_("扫码器未连接，请检查连接线"),
    IdCardError: N_("身份证读取失败，请检查读卡器"),
    IdReaderUnavailable: N_("身份证读卡器未连接，请检查电源和连接线"),
    IdCardNotFound: N_("读卡区无身份证"),
    PinPadError: N_("密码键盘故障，请检查连接线"),
    PinPadUnavailable: N_("密码键盘未连接，请检查电源和连接线"),
    PinPadKeyMissing: N_("密码键盘未灌装密钥，请联系运维人员"),
    PrinterError: N_("凭条打印机故障，请检查打印机"),
    PrinterUnavailable: N_("凭条打印机未连接，请检查连接线"),
    PrinterNotResponding: N_("凭条打印机无响应，请检查电源和连接线"),
    PrinterPaperOut: N_("缺纸，请装入新纸卷"),
    PrinterCoverOpen: N_("机盖未关好，请关好机盖"),
    PrinterFault: N_("打印机报错，请检查切刀和卡纸"),
    BackendUnavailable: N_("无法连接业务系统，请检查网络；业务暂按离线受理"),
    BackendRejected: N_("业务系统拒绝了请求，请联系运维人员"),
    JournalError: N_("此卡当前状态不能这样处理，请排除故障后重新检测"),
    OSError: N_("设备无法访问，请检查连接线"),
}

STAFF_UNEXPECTED = N_("设备故障，请导出日志并联系运维人员")


def staff_message(error: BaseException) -> str:
    """The words for staff (in Chinese; the screen translates them): what is wrong, what to do."""
    for cls in type(error).__mro__:
        if cls in STAFF_MESSAGES:
            return STAFF_MESSAGES[cls]
    return STAFF_UNEXPECTED

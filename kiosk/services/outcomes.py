"""Turning whatever stopped an action into a result the citizen can read and staff can act on."""
from __future__ import annotations

import logging
import sqlite3
import time
from typing import Callable

from drivers.apdu import CardError
from drivers.card_printer import CardPrinterError
from drivers.pin_pad import PinPadError
from kiosk.backend.errors import BackendRejected, BackendUnavailable
from kiosk.device_messages import UNEXPECTED, citizen_message, citizen_words
from kiosk.i18n import N_
from kiosk.pin_policy import WeakPin
from kiosk.outcome import Outcome
from kiosk.services import catalog
from kiosk.services.base import IssuanceFailed, ServiceResult
from kiosk.visit import VisitError

log = logging.getLogger(__name__)

# The backend contract's refusal codes, in the citizen's words.
REJECTIONS = {
    "no_loss_report": N_("此卡没有挂失记录，无需解挂。"),
    "card_under_formal_loss": N_("此卡已正式挂失，不能启用，请办理补卡。"),
    "card_not_sealed": N_("此卡已经启用，无需再次启用。"),
    "loss_report_not_allowed": N_("此卡当前状态不能挂失。"),
    "card_exists": N_("您已有社会保障卡；如需新卡，请办理补领或换领。"),
    "application_open": N_("您已有一笔申领正在办理中，请勿重复申请。"),
    "loss_not_reported": N_("补领前请先办理挂失。"),
    "renewal_too_early": N_("有效期届满前60天内方可换领。"),
    "card_cancelled": N_("此卡已注销，不能办理此业务。"),
    "no_live_card": N_("未查到您名下可办理的社会保障卡。"),
    "person_not_found": N_("未查到您的参保信息，请到窗口办理。"),
    "card_not_found": N_("未查到此卡的信息，请到窗口办理。"),
    "bank_pins_differ": N_("两次输入的银行交易密码不一致，银行账户未激活，请重新办理。"),
    "bank_pin_too_simple": N_("银行交易密码过于简单（如相同或连续的数字），请重新办理并设置其他密码。"),
    "pin_block_invalid": N_("密码键盘与银行的密钥不一致，银行账户未激活，请联系工作人员。"),
    "no_pad_key": N_("密码键盘与银行的密钥不一致，银行账户未激活，请联系工作人员。"),
    "wrong_bank_pin": N_("发卡银行的初始交易密码不正确，银行账户未激活。请核对密码函后重新办理；连续输错将锁定。"),
    "bank_pin_locked": N_("发卡银行的初始交易密码已锁定，请携带身份证和社会保障卡到发卡银行网点办理。"),
    "bank_account_already_active": N_("此卡的银行账户已经激活，无需再次激活。"),
    "card_not_active": N_("请先启用社会保障卡，再激活银行账户。"),
    "not_the_cards_account": N_("此卡的银行账户信息与银行记录不符，请到银行网点办理。"),
}
DEFAULT_REJECTION = N_("业务系统不予办理，请到窗口咨询。")
STORAGE_FAILED = N_("本机存储故障，业务未受理，请到窗口办理。")
# A request the backend may have carried out; trying again sends the very same request (its
# Idempotency-Key is kept with it, base.py), so it can never take effect twice.
UNCONFIRMED = N_("业务系统未及时答复，办理结果暂未确认。您可稍后再次办理（不会重复办理），或到窗口核实。")
OVERDUE = N_("办理超时，结果未能确认，请联系工作人员核实办理结果。")


def unexpected_result(service_item: str, action: str, exc: BaseException) -> ServiceResult:
    return ServiceResult(service_item, action, Outcome.FAILED, UNEXPECTED,
                         staff_detail=f"unexpected {type(exc).__name__}: {exc}")


def overdue_result(service_item: str, action: str) -> ServiceResult:
    """A service that did not end within its deadline: what became of it is not known here."""
    return ServiceResult(service_item, action, Outcome.FAILED, OVERDUE, staff_detail="overdue: given up, outcome unknown")


def run_action(service_item: str, action: str, work: Callable[[], ServiceResult | list[ServiceResult]],
               on_finish: Callable[[ServiceResult, float], None]) -> list[ServiceResult]:
    """Runs one action (which may complete several items, like an instant issuance); every
    failure becomes a result, the unexpected ones too (logged with their traceback, for staff),
    and `on_finish(result, machine_ms)` records each."""
    started = time.perf_counter()
    try:
        done = work()
        results = done if isinstance(done, list) else [done]
    except BackendRejected as exc:
        results = [ServiceResult(service_item, action, Outcome.REFUSED, REJECTIONS.get(exc.code, DEFAULT_REJECTION),
                               staff_detail=f"backend refused: {exc.code}: {exc.message}")]
    except BackendUnavailable as exc:
        if exc.sent:   # it may have taken effect: neither "done" nor the offline refusal is true
            results = [ServiceResult(service_item, action, Outcome.FAILED, UNCONFIRMED,
                                     staff_detail=f"backend answer lost after sending (key kept): {exc}")]
        else:
            message = catalog.action(action).offline_message
            results = [ServiceResult(service_item, action, Outcome.REFUSED, message,
                                     staff_detail=f"backend unavailable: {exc}")]
    except (VisitError, WeakPin) as exc:
        results = [ServiceResult(service_item, action, Outcome.REFUSED, citizen_message(exc), staff_detail=str(exc))]
    except (CardError, CardPrinterError, IssuanceFailed, PinPadError) as exc:
        words, args = citizen_words(exc)
        results = [ServiceResult(service_item, action, Outcome.FAILED, words, staff_detail=f"{type(exc).__name__}: {exc}",
                                 message_args=args)]
    except sqlite3.Error as exc:
        # The kiosk's own disk (full, failing): nothing was promised, so nothing is lost.
        log.error("%s %s: local storage failed: %s", service_item, action, exc)
        results = [ServiceResult(service_item, action, Outcome.FAILED, STORAGE_FAILED,
                                 staff_detail=f"local database: {type(exc).__name__}: {exc}")]
    except Exception as exc:   # a fault of ours or a reply nobody foresaw: never a kiosk left stuck
        log.exception("%s %s: unexpected failure", service_item, action)
        results = [unexpected_result(service_item, action, exc)]
    machine_ms = (time.perf_counter() - started) * 1000
    for result in results:
        log.info("%s %s: %s in %.0f ms", result.service_item, result.action, result.outcome, machine_ms)
        on_finish(result, machine_ms)
    return results

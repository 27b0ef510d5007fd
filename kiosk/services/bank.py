"""1.10.2, the bank side (社会保障卡银行账户激活, #15): the card's financial account is activated
through the backend's bank gateway, after the social security application's own activation.

    the account read from the card's financial application -> the citizen's consent -> what the
    bank will ask (nothing if the account is active already) -> the PIN the bank issued with the
    card, if it issued one -> the transaction PIN typed twice on the encrypting PIN pad (SM4 PIN
    blocks; the digits never enter this process) -> the bank gateway opens the blocks with its
    copy of the pad's key

The account reaches the backend and nothing else: the audit trail and the result keep it masked.
"""
from __future__ import annotations

import threading
from typing import Callable

from kiosk.card_service import CardService
from kiosk.devices import Devices
from kiosk.i18n import N_
from kiosk.outcome import Outcome
from kiosk.services.base import BackendLink, ServiceResult
from kiosk.services.outcomes import REJECTIONS
from kiosk.visit import Visit, VisitError

ITEM = "1.10.2"


class NoBankAccount(VisitError):
    citizen_message = "此卡未开通金融功能，无需激活银行账户。"


class ConsentMissing(VisitError):
    citizen_message = "激活银行账户需要您同意开户须知。"


class BankAccountActive(VisitError):
    citizen_message = REJECTIONS["bank_account_already_active"]


class BankPinLocked(VisitError):
    citizen_message = REJECTIONS["bank_pin_locked"]


class NoPinPad(VisitError):
    citizen_message = "本机未配置密码键盘，请到银行网点或人工窗口激活银行账户。"


Prompt = Callable[[str], None]   # ["bank_pin_issued",] "bank_pin", then "bank_pin_again"
KeyPressed = Callable[[str], None]


def activate_bank(link: BackendLink, cards: CardService, devices: Devices, visit: Visit, consent: bool,
                  prompt: Prompt, on_key: KeyPressed, cancel: threading.Event | None) -> ServiceResult:
    card = visit.card
    if not consent:
        raise ConsentMissing("the citizen did not accept the account terms")
    if not devices.has_pin_pad:
        raise NoPinPad("[pin_pad] port is not set")
    key_set = devices.config.pin_pad.key_set   # the set whose key the bank's gateway shares
    account = cards.bank_account(cancel=cancel)
    if account is None:
        raise NoBankAccount("the card has no financial application")
    card_id = card.info.identifier.hex
    state = link.read("bank_account_state", {"card_id": card_id, "bank_account": account.pan})
    if state["active"]:
        raise BankAccountActive("the bank says the account is active already")
    if state["issued_pin"] and state["tries_left"] == 0:
        raise BankPinLocked("the PIN the bank issued with the card is locked")
    blocks = {}
    with devices.pin_pad() as pad:
        for step, name in ((("bank_pin_issued", "current_block"),) if state["issued_pin"] else ()) + (
                ("bank_pin", "pin_block"), ("bank_pin_again", "confirm_block")):
            prompt(step)
            blocks[name] = pad.read_pin_block(account.pan, key_set=key_set, on_key=on_key,
                                              cancel=cancel).block.hex().upper()
    link.call(visit.visit_id, ITEM, "activate_bank", "activate_bank_account",
              {"card_id": card_id, "bank_account": account.pan, **blocks, "key_set": key_set, "consent": True},
              {"card": card_id, "account": account.masked, "consent": True})
    return ServiceResult(ITEM, "activate_bank", Outcome.DONE, N_("银行账户已激活，交易密码已设置。"),
                         data={"account": account.masked})

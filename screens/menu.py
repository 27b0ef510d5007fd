"""What the home screen offers, and what each offer asks of the citizen before it runs.

This is the screens' side of the services: the words on the buttons and the service guide,
which identification and PINs to collect, and which `KioskServices` call to make with them.
What the services then do (and refuse) is decided in kiosk/services, never here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kiosk.i18n import N_, _
from kiosk.services import catalog
from kiosk.services.catalog import Offline, Proof

# Which PIN the pad is asking for: the card's current PIN, a new one, the new one again.
OLD, NEW, AGAIN = "old", "new", "again"
PIN_TITLES = {OLD: N_("请输入社会保障卡当前密码"), NEW: N_("请设置6位新密码"), AGAIN: N_("请再次输入新密码")}
PINS_DIFFER = N_("两次输入的新密码不一致，请重新设置。")
# Beside the pad (screens/pin.kv): which PIN this is, what a good one is or how many tries the
# card allows, and what to do when it is forgotten.
PIN_WHICH = {OLD: N_("社会保障卡的密码，6位数字，办卡或上次修改时设置。"),
             NEW: N_("社会保障卡的新密码，6位数字，以后在医院、药店和本机使用。"),
             AGAIN: N_("再输入一次刚才设置的新密码，确认没有按错。")}
PIN_RULE = {OLD: N_("连续输错6次，卡片密码将被锁定，需持身份证重置。"),
            NEW: N_("不能是相同数字、连续数字、生日或身份证号后六位。"),
            AGAIN: N_("两次输入一致后，新密码才会生效。")}
PIN_FORGOTTEN = {OLD: N_("忘记密码：请取消本次办理，在首页选择“忘记密码”，凭身份证重置。"),
                 NEW: N_("请记住新密码，不要告诉他人，也不要写在卡上。"),
                 AGAIN: N_("请记住新密码，不要告诉他人，也不要写在卡上。")}
# The spoken prompt (screens/voice.py) for each question, and for a new PIN asked anew.
PIN_VOICE = {OLD: "pin", NEW: "pin_new", AGAIN: "pin_again", PINS_DIFFER: "pin_differ"}


@dataclass(frozen=True)
class Guide:
    """The published service guide (办事指南) for one offer."""

    conditions: str
    materials: str
    time_limit: str


@dataclass(frozen=True)
class Offer:
    key: str
    title: str
    items: str                  # the service item codes it covers, for the guide
    actions: tuple[str, ...]    # the catalogue's actions it may run, the first one rated afterwards
    guide: Guide
    pins: tuple[str, ...]       # PIN entries, in order
    commitment: str = ""        # 告知承诺 text the citizen accepts, where the item takes one
    uses_card_printer: bool = False
    asks_application: bool = False   # the application's details step (screens/application.py)
    fee: tuple[str, str] | None = None   # (action, reason) a province may charge for ([fees] charges, #19)
    run: Callable = None        # (services, visit, pins, progress, cancel) -> list[ServiceResult]

    def heading(self) -> str:
        """The title on one line, in the visit's language, for the top of each step."""
        return _(self.title).replace("\n", " · ")

    @property
    def needs_id(self) -> bool:
        """The resident ID card first."""
        return any(Proof.ID_CARD in catalog.action(name).requires for name in self.actions)

    @property
    def needs_card(self) -> bool:
        """The social security card in the reader."""
        return any(catalog.action(name).needs_card for name in self.actions)

    @property
    def rated_item(self) -> str:
        """The service item the citizen rates after it (好差评)."""
        return catalog.action(self.actions[0]).item

    def works_offline(self) -> bool:
        """True when at least one of its actions can be done without the backend."""
        return any(catalog.action(name).offline != Offline.REFUSE for name in self.actions)

    def offline_notes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(catalog.action(name).offline_message for name in self.actions))


COMMITMENT = (N_("本人承诺：所提供的身份信息真实有效，申请的社会保障卡由本人使用；"
              "如有不实，本人承担相应法律责任。（告知承诺制，无需另交证明材料）"))

# 1.10.2's bank side: the consent the citizen accepts on the confirm screen, and what the
# progress screen says (and the voice, screens/voice.py) while the encrypting PIN pad takes the
# bank PIN (#15).
BANK_CONSENT = N_("本人同意激活社会保障卡的银行账户，已阅读发卡银行的开户须知。交易密码只在密码键盘上输入，"
                  "本机不会获知。")
BANK_PIN_STEPS = {"bank_pin_issued": (N_("请在密码键盘上输入发卡银行密码函中的初始交易密码，按确认键结束"), 0.2),
                  "bank_pin": (N_("请在密码键盘上输入6位银行交易密码，按确认键结束"), 0.3),
                  "bank_pin_again": (N_("请在密码键盘上再次输入银行交易密码，按确认键结束"), 0.6)}

OFFERS = [
    Offer("lost_card", N_("我的卡丢了\n挂失·补卡·启用一次办"), "1.10.6 + 1.10.7 + 1.10.2 + 1.10.5",
          ("report_loss_formal", "replace"),
          Guide(N_("本人持有效居民身份证；原卡遗失。"), N_("居民身份证（原件，放在读卡区）。"),
                N_("即时办结，现场制卡约2分钟（立等可取）。")),
          pins=(NEW, AGAIN), commitment=COMMITMENT, uses_card_printer=True, fee=("replace", "lost"),
          run=lambda s, visit, pins, progress, cancel: s.bundle("lost_card", visit, True, pins[NEW], progress, cancel)),
    Offer("first_card", N_("首次申领\n申领·制卡·启用一次办"), "1.10.1 + 1.10.2 + 1.10.5", ("apply_instant", "apply_batch"),
          Guide(N_("本人持有效居民身份证；尚未办理过社会保障卡。"), N_("居民身份证（原件）。"),
                N_("联网时现场制卡（立等可取）；离线时受理普通申领，30个工作日内邮寄或网点领卡。")),
          pins=(NEW, AGAIN), commitment=COMMITMENT, uses_card_printer=True, asks_application=True,
          run=lambda s, visit, pins, progress, cancel: s.bundle("first_card", visit, True, pins[NEW], progress, cancel)),
    Offer("report_loss", N_("临时挂失"), "1.10.6", ("report_loss_temporary",),
          Guide(N_("卡片遗失或被盗，需立即停用。"), N_("居民身份证（原件）。"),
                N_("即时办结；临时挂失有效期内可凭卡和身份证解除挂失。")),
          pins=(),
          run=lambda s, visit, pins, progress, cancel: s.report_loss(visit, "temporary")),
    Offer("cancel_loss", N_("解除挂失"), "1.10.6", ("cancel_loss",),
          Guide(N_("已挂失的卡片找回。"), N_("居民身份证和找回的社会保障卡。"), N_("即时办结。")),
          pins=(),
          run=lambda s, visit, pins, progress, cancel: s.cancel_loss(visit)),
    Offer("activate", N_("启用新卡"), "1.10.2", ("activate",),
          Guide(N_("领到的新卡尚未启用。"), N_("居民身份证和新社会保障卡。"), N_("即时办结；银行账户由发卡银行启用。")),
          pins=(),
          run=lambda s, visit, pins, progress, cancel: s.activate(visit)),
    Offer("activate_bank", N_("银行账户激活"), "1.10.2", ("activate_bank",),
          Guide(N_("社会保障卡已启用，卡上的银行账户尚未激活。"), N_("居民身份证和社会保障卡。"),
                N_("即时办结；交易密码在密码键盘上输入两次。")),
          pins=(), commitment=BANK_CONSENT,
          run=lambda s, visit, pins, progress, cancel: s.activate_bank(
              visit, True, prompt=lambda step: progress(*BANK_PIN_STEPS[step], voice=step), cancel=cancel)),
    Offer("change_pin", N_("修改密码"), "1.10.5", ("change_pin",),
          Guide(N_("记得当前密码，想换一个新密码。"), N_("社会保障卡。"), N_("即时办结。")),
          pins=(OLD, NEW, AGAIN),
          run=lambda s, visit, pins, progress, cancel: s.change_pin(visit, pins[OLD], pins[NEW])),
    Offer("reset_pin", N_("忘记密码\n重置·解锁"), "1.10.5", ("reset_pin",),
          Guide(N_("忘记密码，或密码输错6次已锁定。"), N_("居民身份证和社会保障卡。"), N_("即时办结。")),
          pins=(NEW, AGAIN),
          run=lambda s, visit, pins, progress, cancel: s.reset_pin(visit, pins[NEW])),
    Offer("progress", N_("制卡进度查询"), "1.10.1", ("query_progress",),
          Guide(N_("已申领社会保障卡，想知道卡片制作到哪一步、到哪里领取。"), N_("居民身份证（原件）。"),
                N_("即时查询，需联网。")),
          pins=(),
          run=lambda s, visit, pins, progress, cancel: s.query_progress(visit)),
]

OFFERS_BY_KEY = {offer.key: offer for offer in OFFERS}

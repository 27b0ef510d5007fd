"""The catalogue of actions: each thing a citizen can do at the kiosk, declared once.

An action names its service item, what the screens and the receipt call it, what happens when
the backend cannot be reached (and what the citizen is told then), the identification it
requires, its `kiosk service` command and whether the citizen rates it. The statistics, the
receipts, the offline rules, the home screen's offline list, the command line, the rating
choices and the README's table all read this module; tests/kiosk/services/test_catalog.py fails when an
action lacks any part, English included.

A new action: add it here, then its service module (kiosk/services/), its offer on the home
screen (screens/menu.py), its backend route (kiosk/backend/openapi.yaml, reference_backend/)
and its tests.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from drivers.id_card_reader import Document
from kiosk.i18n import N_

# The service items of bundle no. 10 (and 1.10.8 of bundle no. 9), as the policy names them.
ITEMS = {
    "1.10.1": N_("社会保障卡申领"),
    "1.10.2": N_("社会保障卡启用"),
    "1.10.5": N_("社会保障卡密码修改与重置"),
    "1.10.6": N_("社会保障卡挂失与解挂"),
    "1.10.7": N_("社会保障卡补领、换领、换发"),
    "1.10.8": N_("社会保障卡注销"),
}
REVIEW_ITEM = "review"   # a rating is about another item: it is counted under none
QUERY_ITEM = "query"     # a question answered (where is my card?): no item of its own, nothing counted


class Offline(enum.StrEnum):
    """What an action does when the backend cannot be reached."""

    QUEUE = "queue"     # done locally (if anything), written to the outbox, effective on delivery
    LOCAL = "local"     # done on the card here; the backend learns of it through the outbox
    REFUSE = "refuse"   # cannot be done without the backend: refused, with what works instead


class Proof(enum.StrEnum):
    """What identifies the citizen for an action."""

    ID_CARD = "id_card"     # the resident ID card on the ID reader
    CARD = "card"           # the social security card in the card reader
    CARD_PIN = "card_pin"   # the social security card and its current PIN
    FACE = "face"           # the person in front is the identified one: a live face matched to the
                            # registered photo, or a member of staff who checked them (#13)


EVERY_DOCUMENT = frozenset(Document)
# A card is made from the document's data: the resident ID card's, or a residence permit's (its
# 18-character number, its Chinese name; the region its number names, ethnicity 97 其他). The
# 2017 foreigner's card does not fit the card's holder records (a 15-character number where tag
# 08 holds 18, an English name of up to 120 bytes): its holders apply at the counter.
CARD_DOCUMENTS = frozenset({Document.RESIDENT_ID, Document.HMT_RESIDENCE_PERMIT})


@dataclass(frozen=True)
class Action:
    name: str
    item: str                       # the service item code, or REVIEW_ITEM
    title: str                      # on the screens and the receipt
    offline: Offline
    offline_message: str            # what the citizen is told offline (for REFUSE: why, and what works instead)
    requires: frozenset[Proof]
    command: str                    # `kiosk service COMMAND`
    rated: bool                     # the citizen rates it afterwards (好差评)
    urgent: bool = False            # queued ahead of everything else (a loss report never waits)
    documents: frozenset[Document] = EVERY_DOCUMENT   # the identity documents it accepts (#14)
    # Results it reports under a more precise name, with their names on the receipt.
    results: dict[str, str] = field(default_factory=dict)

    @property
    def needs_card(self) -> bool:
        return bool(self.requires & {Proof.CARD, Proof.CARD_PIN})

    @property
    def is_service_item(self) -> bool:
        """On the receipt and in the statistics (a rating is about an item, not one itself)."""
        return self.item in ITEMS


_INSTANT_ISSUANCE = {"instant_issuance": N_("即时制卡")}

ACTIONS = [
    Action("report_loss_temporary", "1.10.6", N_("临时挂失"), Offline.QUEUE,
           N_("网络中断，临时挂失已受理并优先发送，送达后生效。"),
           frozenset({Proof.ID_CARD}), "report-loss", rated=True, urgent=True),
    Action("report_loss_formal", "1.10.6", N_("正式挂失"), Offline.REFUSE,
           N_("正式挂失需联网办理。您可先办理临时挂失（离线可办），网络恢复后再办理正式挂失。"),
           frozenset({Proof.ID_CARD, Proof.FACE}), "report-loss --formal", rated=True),
    Action("cancel_loss", "1.10.6", N_("解除挂失"), Offline.REFUSE,
           N_("解除挂失需联网核验，请网络恢复后再办理，或到窗口办理。"),
           frozenset({Proof.ID_CARD, Proof.CARD, Proof.FACE}), "cancel-loss", rated=True),
    Action("activate", "1.10.2", N_("启用"), Offline.REFUSE,
           N_("启用需联网办理，请网络恢复后再办理，或到窗口办理。"),
           frozenset({Proof.ID_CARD, Proof.CARD, Proof.FACE}), "activate", rated=True),
    Action("activate_bank", "1.10.2", N_("银行账户激活"), Offline.REFUSE,
           N_("银行账户激活需联网办理，请网络恢复后再办理，或到银行网点、人工窗口办理。"),
           frozenset({Proof.ID_CARD, Proof.CARD, Proof.FACE}), "activate-bank", rated=True),
    Action("change_pin", "1.10.5", N_("修改密码"), Offline.LOCAL,
           N_("密码已在卡上修改；修改记录将在网络恢复后上报。"),
           frozenset({Proof.CARD_PIN}), "change-pin", rated=True),
    Action("reset_pin", "1.10.5", N_("重置密码"), Offline.LOCAL,
           N_("密码已在卡上重置；重置记录将在网络恢复后上报。"),
           frozenset({Proof.ID_CARD, Proof.CARD, Proof.FACE}), "reset-pin", rated=True),
    Action("apply_instant", "1.10.1", N_("申领"), Offline.REFUSE,
           N_("即时制卡需联网办理。您可改为邮寄/网点领卡的普通申领（离线可受理）。"),
           frozenset({Proof.ID_CARD, Proof.FACE}), "apply", rated=True, results=_INSTANT_ISSUANCE,
           documents=CARD_DOCUMENTS),
    Action("apply_batch", "1.10.1", N_("申领"), Offline.QUEUE,
           N_("网络中断，申领已受理，送达后生效。"),
           frozenset({Proof.ID_CARD}), "apply", rated=True, documents=CARD_DOCUMENTS),
    Action("replace", "1.10.7", N_("补换卡"), Offline.REFUSE,
           N_("补换卡需联网办理。如卡片丢失，可先办理临时挂失（离线可办）。"),
           frozenset({Proof.ID_CARD, Proof.FACE}), "replace", rated=True,
           results={"replace_lost": N_("补领（遗失）"), "replace_damaged": N_("换领（损坏）"),
                    "replace_expiring": N_("换发（到期）"), "replace_data_change": N_("换领（信息变更）"),
                    "fee_refund": N_("工本费退款申请"), **_INSTANT_ISSUANCE}, documents=CARD_DOCUMENTS),
    Action("query_progress", QUERY_ITEM, N_("制卡进度查询"), Offline.REFUSE,
           N_("网络中断，暂时无法查询制卡进度。请网络恢复后再查询，或到窗口、拨打12333咨询。"),
           frozenset({Proof.ID_CARD}), "progress", rated=False),
    Action("review", REVIEW_ITEM, N_("服务评价"), Offline.QUEUE,
           N_("感谢评价，评价将在网络恢复后发送。"),
           frozenset(), "review", rated=False),
]

_BY_NAME = {action.name: action for action in ACTIONS}
# Every name a result may carry, and the action it belongs to.
_BY_RESULT = {**{result: action for action in ACTIONS for result in action.results}, **_BY_NAME}


def action(name: str) -> Action:
    """The action called `name`; KeyError for one the catalogue does not know."""
    return _BY_NAME[name]


def is_result_name(name: str) -> bool:
    return name in _BY_RESULT


def receipt_name(result_name: str) -> str:
    """What the receipt calls a result: the precise name where the action has one."""
    action = owner(result_name)
    return action.results.get(result_name, action.title)


def owner(result_name: str) -> Action:
    """The action a result belongs to."""
    return _BY_RESULT[result_name]


def required(name: str, face_also_for: frozenset[str] = frozenset()) -> frozenset[Proof]:
    """What action `name` requires: the catalogue's floor, plus a face check where the
    province's configuration ([identity] face_required_for) asks for one. Never less."""
    floor = action(name).requires
    return floor | {Proof.FACE} if name in face_also_for else floor


def available_offline() -> list[Action]:
    """What the home screen lists under "网络中断时可办理"."""
    return [a for a in ACTIONS if a.offline != Offline.REFUSE]


def rated_items() -> list[str]:
    """The service items a citizen may rate (`kiosk service review --item`)."""
    return sorted({a.item for a in ACTIONS if a.rated})


def commands() -> dict[str, list[Action]]:
    """`kiosk service` commands and the actions each runs, in the catalogue's order."""
    by_command: dict[str, list[Action]] = {}
    for a in ACTIONS:
        by_command.setdefault(a.command.split()[0], []).append(a)
    return by_command


def markdown_table() -> str:
    """The table for the README, generated so the two never disagree."""
    lines = ["| action | item | name | identification | documents | offline | what the citizen is told offline"
             " | command | rated |", "|---|---|---|---|---|---|---|---|---|"]
    for a in ACTIONS:
        proofs = " + ".join(sorted(a.requires)) or "-"
        documents = "any" if a.documents == EVERY_DOCUMENT else ", ".join(sorted(a.documents))
        offline = f"{a.offline}{' (urgent)' if a.urgent else ''}"
        lines.append(f"| {a.name} | {a.item} | {a.title} | {proofs} | {documents} | {offline} | {a.offline_message} |"
                     f" `{a.command}` | {'yes' if a.rated else 'no'} |")
    return "\n".join(lines)

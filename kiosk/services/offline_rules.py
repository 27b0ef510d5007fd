"""What each action does when the backend cannot be reached: the one table the services, the
home screen's offline banner and the README all use.

QUEUE     done locally (if anything), written to the outbox, takes effect on delivery; the
          receipt shows the outbox reference.
LOCAL     done on the card here; the backend learns of it through the outbox.
REFUSE    cannot be done without the backend; the citizen is told why and what works instead.
"""
from __future__ import annotations

from dataclasses import dataclass

from kiosk.i18n import N_

QUEUE, LOCAL, REFUSE = "queue", "local", "refuse"


@dataclass(frozen=True)
class OfflineRule:
    action: str
    service_item: str
    offline: str
    citizen_message: str   # what the citizen is told offline (the nearest alternative for REFUSE)
    urgent: bool = False   # sent before everything else (a loss report never waits)


OFFLINE_RULES = [
    OfflineRule("report_loss_temporary", "1.10.6", QUEUE,
                N_("网络中断，临时挂失已受理并优先发送，送达后生效。"), urgent=True),
    OfflineRule("report_loss_formal", "1.10.6", REFUSE,
                N_("正式挂失需联网办理。您可先办理临时挂失（离线可办），网络恢复后再办理正式挂失。")),
    OfflineRule("cancel_loss", "1.10.6", REFUSE,
                N_("解除挂失需联网核验，请网络恢复后再办理，或到窗口办理。")),
    OfflineRule("activate", "1.10.2", REFUSE,
                N_("启用需联网办理，请网络恢复后再办理，或到窗口办理。")),
    OfflineRule("change_pin", "1.10.5", LOCAL,
                N_("密码已在卡上修改；修改记录将在网络恢复后上报。")),
    OfflineRule("reset_pin", "1.10.5", LOCAL,
                N_("密码已在卡上重置；重置记录将在网络恢复后上报。")),
    OfflineRule("apply_instant", "1.10.1", REFUSE,
                N_("即时制卡需联网办理。您可改为邮寄/网点领卡的普通申领（离线可受理）。")),
    OfflineRule("apply_batch", "1.10.1", QUEUE,
                N_("网络中断，申领已受理，送达后生效。")),
    OfflineRule("replace", "1.10.7", REFUSE,
                N_("补换卡需联网办理。如卡片丢失，可先办理临时挂失（离线可办）。")),
    OfflineRule("review", "review", QUEUE, N_("感谢评价，评价将在网络恢复后发送。")),
]

_BY_ACTION = {rule.action: rule for rule in OFFLINE_RULES}


def rule_for(action: str) -> OfflineRule:
    return _BY_ACTION[action]


def available_offline() -> list[OfflineRule]:
    """What the home screen lists under "网络中断时可办理"."""
    return [rule for rule in OFFLINE_RULES if rule.offline != REFUSE]


def markdown_table() -> str:
    """The table for the README, generated so the two never disagree."""
    lines = ["| action | item | offline | what the citizen is told |", "|---|---|---|---|"]
    lines += [f"| {r.action} | {r.service_item} | {r.offline}{' (urgent)' if r.urgent else ''} | {r.citizen_message} |"
              for r in OFFLINE_RULES]
    return "\n".join(lines)

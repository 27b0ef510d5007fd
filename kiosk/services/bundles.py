"""Bundles (打包办): several items in one visit, one identification, one set of confirmations,
one receipt listing every item. A bundle stops at the first item that does not succeed, since
each one needs the one before.

    lost_card   "I lost my card": formal loss report (1.10.6) -> replacement (1.10.7) ->
                instant issuance -> activation (1.10.2) -> set PIN (1.10.5)
    first_card  apply (1.10.1) -> instant issuance -> activation (1.10.2) -> set PIN (1.10.5)
"""
from __future__ import annotations

from kiosk.i18n import N_

BUNDLES = {
    "lost_card": N_("我的卡丢了：挂失、补卡、启用、设置密码一次办"),
    "first_card": N_("首次申领：申领、制卡、启用、设置密码一次办"),
}


class UnknownBundle(ValueError):
    citizen_message = "没有这项打包服务。"


def run_bundle(services, name, visit, commitment, new_pin, progress, cancel):
    if name not in BUNDLES:
        raise UnknownBundle(f"no bundle named {name!r} (known: {', '.join(BUNDLES)})")
    if name == "first_card":
        return services.apply(visit, commitment, new_pin, progress, cancel)
    results = services.report_loss(visit, "formal")
    if not all(result.ok for result in results):
        return results
    return results + services.replace(visit, "lost", commitment, new_pin, progress, cancel)

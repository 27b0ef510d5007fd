"""Where is my card? (制卡进度查询, #14): the citizen identified by the ID card sees each card
applied for with its step and where to collect it, in either language; a person with none is
told so; offline the kiosk says it cannot know; nothing is counted or printed, nothing rated."""
from __future__ import annotations

import datetime

import pytest

from kiosk.core import KioskCore
from kiosk.i18n import Translator
from simulation.config import config_for_simulation
from kiosk.visit import CitizenIdentity
from tests.backend_helpers import key, new_holder


@pytest.fixture
def kiosk(reference_backend, pki_files, tmp_path):
    core = KioskCore(config_for_simulation(reference_backend.url, pki_files, tmp_path)).start()
    yield core
    core.close()


def visit_of(kiosk, holder: dict):
    visit = kiosk.services.new_visit()
    visit.identify(CitizenIdentity(id_number=holder["id_number"], name=holder["name"], sex=holder["sex"],
                                   ethnicity=holder["ethnicity"], birth_date=datetime.date(1980, 1, 1)))
    return visit


def test_each_application_is_told_with_its_step_and_where_to_collect(kiosk, reference_backend, backend_client):
    holder = new_holder()
    first = backend_client.apply_card(holder, "371300", channel="batch", idempotency_key=key())
    store = reference_backend.store
    store.advance_production(first["application_id"], "ready", office="东昌府区社保服务大厅")
    [result] = kiosk.services.query_progress(visit_of(kiosk, holder))
    assert result.outcome == "done" and result.service_item == "query"
    today = result.message_args["date"]
    assert result.message() == f"{today}受理的申领：卡片已到东昌府区社保服务大厅，请携带身份证前往领取。"
    assert result.message(Translator("en").translate) == (
        f"Application of {today}: the card is at 东昌府区社保服务大厅; please collect it there with your ID card.")
    store.advance_production(first["application_id"], "in_production")
    [result] = kiosk.services.query_progress(visit_of(kiosk, holder))
    assert result.message().endswith("正在制卡。")
    # Nothing counted, nothing on a receipt.
    assert kiosk.services.receipt(visit_of(kiosk, holder)) is None


def test_a_person_without_an_application_is_told_so(kiosk):
    [result] = kiosk.services.query_progress(visit_of(kiosk, new_holder()))
    assert result.outcome == "done" and result.message() == "未查到您的社会保障卡申领记录。"


def test_offline_the_kiosk_says_it_cannot_know(kiosk, reference_backend):
    reference_backend.stop()
    [result] = kiosk.services.query_progress(visit_of(kiosk, new_holder()))
    assert result.outcome == "refused" and "暂时无法查询制卡进度" in result.message()


def test_the_backend_reports_only_known_steps_and_an_office_where_one_belongs(reference_backend, backend_client):
    store = reference_backend.store
    application = backend_client.apply_card(new_holder(), "371300", channel="batch", idempotency_key=key())
    for bad in (("lost_in_the_post", None), ("ready", None)):
        with pytest.raises(ValueError):
            store.advance_production(application["application_id"], *bad)
    with pytest.raises(ValueError, match="no such application"):
        store.advance_production("0" * 32, "received")

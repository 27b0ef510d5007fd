"""What an application says besides the holder (#14): the kiosk refuses in plain words what the
backend would (a wrong mobile number, a category without its place, a card to nowhere, a minor
without an adult guardian), the reference backend keeps the same rules, and an application
queued offline carries its details sealed and lands with them."""
from __future__ import annotations

import base64
import datetime
import json
import time
from pathlib import Path

import pytest

from kiosk.application import (ApplicationDetails, Category, GuardianNotAccepted, GuardianRequired, InvalidPhone,
                               Mailing, MailingRequired, PlaceUnknown, Guardian)
from kiosk.backend.errors import BackendRejected
from kiosk.core import KioskCore
from kiosk.visit import CitizenIdentity
from simulation.config import config_for_simulation
from tests.backend_helpers import key, new_holder

TODAY = datetime.date(2026, 11, 30)
ADULT = CitizenIdentity("37130219800101001X", "张三", "1", 1, datetime.date(1980, 1, 1), address="山东省聊城市东昌府区")
MINOR = CitizenIdentity("371302201503070022", "张小花", "2", 1, datetime.date(2015, 3, 7))
OFFICE = "聊城市社会保障卡服务中心"


@pytest.mark.parametrize("details, holder, instant, refused", [
    (ApplicationDetails("1380013800", Category.RETIREE), ADULT, True, InvalidPhone),
    (ApplicationDetails("23800138000", Category.RETIREE), ADULT, True, InvalidPhone),
    (ApplicationDetails("13800138000", Category.EMPLOYEE), ADULT, True, PlaceUnknown),
    (ApplicationDetails("13800138000", Category.RETIREE), ADULT, False, MailingRequired),
    (ApplicationDetails("13800138000", Category.STUDENT, "聊城一中"), MINOR, True, GuardianRequired),
])
def test_what_the_backend_would_refuse_is_refused_first_in_plain_words(details, holder, instant, refused):
    with pytest.raises(refused) as caught:
        details.payload(holder, instant=instant, today=TODAY)
    assert caught.value.citizen_message


def test_a_guardian_is_another_person_and_an_adult():
    with pytest.raises(GuardianNotAccepted):
        Guardian.accept(MINOR, MINOR, today=TODAY)
    with pytest.raises(GuardianNotAccepted):
        Guardian.accept(MINOR, CitizenIdentity("371302201001010011", "张小明", "1", 1, datetime.date(2010, 1, 1)),
                        today=TODAY)
    guardian = Guardian.accept(MINOR, ADULT, "parent", today=TODAY)
    details = ApplicationDetails("13800138000", Category.STUDENT, "聊城一中", Mailing("collect", office=OFFICE), guardian)
    assert details.payload(MINOR, instant=False, today=TODAY) == {
        "phone": "13800138000", "category": "student", "school": "聊城一中",
        "mailing": {"method": "collect", "office": OFFICE},
        "guardian": {"id_number": ADULT.id_number, "name": "张三", "relation": "parent"}}
    assert "13800138000" not in repr(details) and "张三" not in repr(details)


def kiosk_photo() -> bytes:
    """A JPEG of the size kiosk/photo_capture.py makes (a gradient with some grain, so that no
    stretch of its bytes repeats)."""
    import io

    import numpy as np
    from PIL import Image
    rows = np.linspace(60, 200, 441)[:, None, None] + np.linspace(0, 40, 358)[None, :, None]
    grain = np.random.default_rng(7).normal(0, 6, (441, 358, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rows + grain, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def holder_born(birth: str) -> dict:
    return {**new_holder(), "birth_date": birth}


@pytest.mark.parametrize("application, channel, code", [
    ({"phone": "13800138000", "category": "employee"}, "instant", "place_required"),
    ({"phone": "13800138000", "category": "retiree", "employer": "某公司"}, "instant", "place_required"),
    ({"phone": "13800138000", "category": "retiree"}, "batch", "mailing_required"),
    ({"phone": "13800138000", "category": "retiree", "mailing": {"method": "collect", "address": "x"}},
     "batch", "mailing_invalid"),
    ({"phone": "13800138000", "category": "retiree", "mailing": {"method": "collect", "office": OFFICE}},
     "instant", "mailing_invalid"),
])
def test_the_backend_keeps_the_same_rules(backend_client, application, channel, code):
    with pytest.raises(BackendRejected) as refused:
        backend_client.apply_card(new_holder(), "371300", channel=channel, application=application,
                                  idempotency_key=key())
    assert refused.value.code == code


def test_the_backend_wants_an_adult_guardian_for_a_minor_and_none_for_an_adult(backend_client):
    minor = holder_born("20150307")
    student = {"phone": "13800138000", "category": "student", "school": "聊城一中"}
    for guardian, code in ((None, "guardian_required"),
                           ({"id_number": minor["id_number"], "name": "x", "relation": "parent"}, "guardian_invalid"),
                           ({"id_number": "371302201001010011", "name": "x", "relation": "parent"}, "guardian_invalid")):
        with pytest.raises(BackendRejected) as refused:
            backend_client.apply_card(minor, "371300", application={**student, **({"guardian": guardian} if guardian
                                                                                    else {})}, idempotency_key=key())
        assert refused.value.code == code
    backend_client.apply_card(minor, "371300", idempotency_key=key(), application={
        **student, "guardian": {"id_number": ADULT.id_number, "name": "张三", "relation": "parent"}})
    with pytest.raises(BackendRejected) as refused:
        backend_client.apply_card(new_holder(), "371300", idempotency_key=key(), application={
            "phone": "13800138000", "category": "retiree",
            "guardian": {"id_number": ADULT.id_number, "name": "张三", "relation": "parent"}})
    assert refused.value.code == "guardian_invalid"


def test_the_options_are_the_persons_insurance_record_and_the_offices(reference_backend, backend_client):
    holder = new_holder()
    reference_backend.store.seed_insurance(holder["id_number"], "employee", "聊城市鲁西机械制造有限公司")
    backend_client.apply_card(holder, "371300", idempotency_key=key(), application={
        "phone": "13800138000", "category": "employee", "employer": "聊城市鲁西机械制造有限公司"})
    token = backend_client.call("open_visit", {"id_number": holder["id_number"]})["visit_token"]
    options = backend_client.call("application_options", {"id_number": holder["id_number"], "visit_token": token})
    assert options["insured"] == {"category": "employee", "employer": "聊城市鲁西机械制造有限公司"}
    assert OFFICE in options["offices"]


def test_an_application_queued_offline_carries_its_details_sealed(reference_backend, pki_files, tmp_path):
    core = KioskCore(config_for_simulation(reference_backend.url, pki_files, tmp_path)).start()   # no card printer
    try:
        reference_backend.stop()
        visit = core.services.new_visit()
        holder = new_holder()
        visit.identify(CitizenIdentity(holder["id_number"], holder["name"], "1", 1, datetime.date(1980, 1, 1),
                                       address="山东省聊城市东昌府区柳园路1号"))
        photo = kiosk_photo()
        visit.application = ApplicationDetails("13905356688", Category.RETIREE,
                                               mailing=Mailing("mail", address="山东省聊城市东昌府区柳园路1号"),
                                               photo=photo)
        [queued] = core.services.apply(visit, True, None)
        assert queued.outcome == "pending"
        database = Path(core.config.outbox.db)
        stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        assert b"13905356688" not in stored and "柳园路".encode() not in stored
        assert photo[200:264] not in stored and base64.b64encode(photo)[200:264] not in stored   # sealed
        from reference_backend.server import open_backend
        backend = open_backend("127.0.0.1", int(reference_backend.url.rsplit(":", 1)[1]),
                               reference_backend.store.path, pki_files.directory).start()
        try:
            deadline = time.monotonic() + 15
            while core.outbox.stats().pending and time.monotonic() < deadline:
                time.sleep(0.1)
            [(details,)] = backend.store._conn.execute("SELECT details FROM applications WHERE id_number = ?",
                                                       (holder["id_number"],)).fetchall()
            assert json.loads(details)["mailing"] == {"method": "mail", "address": "山东省聊城市东昌府区柳园路1号"}
            [(registered,)] = backend.store._conn.execute("SELECT jpeg FROM photos WHERE id_number = ?",
                                                         (holder["id_number"],)).fetchall()
            assert registered == photo
        finally:
            backend.stop()
    finally:
        core.close()


def test_a_photo_taken_at_the_kiosk_becomes_the_registered_photo(reference_backend, backend_client):
    jpeg = kiosk_photo()
    holder = new_holder()
    backend_client.apply_card(holder, "371300", idempotency_key=key(), application={
        "phone": "13800138000", "category": "retiree", "photo": base64.b64encode(jpeg).decode("ascii")})
    token = backend_client.call("open_visit", {"id_number": holder["id_number"]})["visit_token"]
    registered = backend_client.call("person_photo", {"id_number": holder["id_number"], "visit_token": token})
    assert base64.b64decode(registered["photo"]) == jpeg
    stored = reference_backend.store._conn.execute("SELECT details FROM applications WHERE id_number = ?",
                                                   (holder["id_number"],)).fetchone()[0]
    assert "photo" not in json.loads(stored)   # kept once, in the registry
    for photo in ("not base64!", base64.b64encode(b"GIF89a" + bytes(100)).decode(),
                  base64.b64encode(b"\xff\xd8" + bytes(46_000)).decode()):
        with pytest.raises(BackendRejected) as refused:
            backend_client.apply_card(new_holder(), "371300", idempotency_key=key(), application={
                "phone": "13800138000", "category": "retiree", "photo": photo})
        assert refused.value.status == 400

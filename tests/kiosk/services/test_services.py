"""The card bundle end to end: the services through every real part (pcscd + vpcd simulators,
the card printer simulator, the reference backend over TLS, the outbox and its worker)."""
import dataclasses
import datetime
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from drivers.pin import Pin
from drivers.sim.camera import face_test_images
from drivers.sim.card_printer import CardPrinterSimulator
from drivers.sim.id_card_reader import DEMO_FOREIGNER, DEMO_HMT_RESIDENT
from drivers.keyscheme import OTHER_REGION
from drivers.sim.ssse_card import BankApplication, another_regions_card
from kiosk.core import KioskCore
from reference_backend.server import open_backend
from simulation.config import config_for_simulation
from simulation.stack import ZHANG_SAN as simulated_holder
from simulation.stack import REGISTERED_PHOTO, ZHANG_SAN_CARD_ID, registry_photo, seed_zhang_san
from kiosk.receipt import render_text
from kiosk.services.issuance import NoHolderPhoto
from offline_queue import Outbox
from kiosk.visit import DOCUMENT_NAMES, CitizenIdentity
from tests.backend_helpers import SAMPLE_APPLICATION, kiosk_config_file

ZHANG_SAN = CitizenIdentity.from_id_document(simulated_holder)   # the holder of card_v3.toml
WANG_WU = CitizenIdentity(id_number="11010519900307002X", name="王五", sex="2", ethnicity=1,
                          birth_date=datetime.date(1990, 3, 7))
NEW_PIN = "582936"


OLD_CARD = ZHANG_SAN_CARD_ID


def person_cards(kiosk, id_number: str) -> dict:
    token = kiosk.client.call("open_visit", {"id_number": id_number})["visit_token"]
    return kiosk.client.call("query_person", {"id_number": id_number, "visit_token": token})


def apply_for_wang_wu(kiosk, *progress) -> tuple:
    """Wang Wu, vouched for, applies for a first card (made on the spot when the printer can):
    (the visit, its results). `progress` is passed on to the service."""
    visit = kiosk.services.new_visit()
    visit.identify(WANG_WU)
    visit.application = SAMPLE_APPLICATION
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    with Pin.from_text(NEW_PIN) as new:
        return visit, kiosk.services.apply(visit, True, new, *progress)


def status_of(kiosk, card_id=OLD_CARD):
    return kiosk.client.call("card_status", {"card_id": card_id})["status"]


def restart_backend(stopped, pki_files, db):
    """The same backend (store, port) back after an outage."""
    port = urlparse(stopped.url).port
    return open_backend("127.0.0.1", port, db, pki_files.directory).start()


@pytest.fixture
def card_printer(tmp_path, pcscd):
    with CardPrinterSimulator(out_dir=tmp_path / "faces") as simulator:
        yield simulator


@pytest.fixture
def kiosk(reference_backend, pki_files, tmp_path, card_printer, psam_slot):
    core = KioskCore(config_for_simulation(reference_backend.url, pki_files, tmp_path, card_printer.port)).start()
    yield core
    core.close()


def test_temporary_loss_online_takes_effect_at_once(kiosk, reference_backend):
    seed_zhang_san(reference_backend)
    visit = kiosk.services.new_visit()
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    [result] = kiosk.services.report_loss(visit, "temporary")
    assert result.outcome == "done", result
    assert status_of(kiosk) == "temporary_loss"


@pytest.mark.parametrize("document", [DEMO_HMT_RESIDENT, DEMO_FOREIGNER], ids=lambda d: d.document)
def test_a_permit_or_permanent_residence_card_holder_reports_a_loss_and_applies_where_the_document_allows(
        kiosk, reference_backend, document):
    """#14: the document identifies its holder wherever the catalogue accepts it; the receipt
    names it; a card made from a foreigner's card's data is for the counter."""
    card_id = "4403" + "0" * 26 + "77"   # 32 hex characters
    reference_backend.store.seed_card(
        holder={"id_number": document.id_number, "name": document.name, "sex": document.sex, "ethnicity": 1,
                "birth_date": document.birth_date.strftime("%Y%m%d"), "birthplace": "440304"},
        card_id=card_id, card_number="G12345678", region_code="440300", issue_date="20240315",
        expiry_date="20340315")
    visit = kiosk.services.new_visit()
    visit.identify(CitizenIdentity.from_id_document(document))
    [loss] = kiosk.services.report_loss(visit, "temporary")
    assert loss.outcome == "done", loss
    assert status_of(kiosk, card_id) == "temporary_loss"
    text = render_text(kiosk.services.receipt(visit))
    assert f"证件：{DOCUMENT_NAMES[document.document]}" in text and document.id_number[:4] in text
    assert document.id_number not in text and "身份证号" not in text
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    visit.application = SAMPLE_APPLICATION
    with Pin.from_text(NEW_PIN) as new:
        [applied] = kiosk.services.apply(visit, True, new)
    if document.document == "hmt_residence_permit":   # accepted: the backend knows the card he has
        assert applied.outcome == "refused" and "您已有社会保障卡" in applied.citizen_message
    else:                                              # a card from this document is for the counter
        assert applied.outcome == "refused" and "请到窗口办理" in applied.citizen_message


def test_a_residence_permit_holder_gets_a_card_made_on_the_spot(kiosk, reference_backend, card_printer):
    """#14: the permit's data makes the card: its number and name, the region it names (810000
    for Hong Kong), ethnicity 97 (其他), which the permit does not record."""
    visit = kiosk.services.new_visit()
    visit.identify(CitizenIdentity.from_id_document(DEMO_HMT_RESIDENT))
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    visit.application = SAMPLE_APPLICATION
    with Pin.from_text(NEW_PIN) as new:
        results = kiosk.services.apply(visit, True, new)
    assert [r.outcome for r in results] == ["done", "done", "done"], results
    row = reference_backend.store._conn.execute("SELECT name, ethnicity, birthplace FROM persons WHERE id_number = ?",
                                                (DEMO_HMT_RESIDENT.id_number,)).fetchone()
    assert row == (DEMO_HMT_RESIDENT.name, 97, "810000")
    assert "港澳台居民居住证" in render_text(kiosk.services.receipt(visit))


def test_temporary_loss_offline_is_queued_and_lands_once_when_the_link_is_back(kiosk, reference_backend,
                                                                                pki_files, tmp_path):
    seed_zhang_san(reference_backend)
    reference_backend.stop()
    visit = kiosk.services.new_visit()
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    [result] = kiosk.services.report_loss(visit, "temporary")
    assert result.outcome == "pending" and result.outbox_reference is not None
    assert "送达后生效" in result.citizen_message
    [formal] = kiosk.services.report_loss(visit, "formal")
    assert formal.outcome == "refused" and "临时挂失" in formal.citizen_message  # the offline alternative
    backend = restart_backend(reference_backend, pki_files, tmp_path / "backend.db")
    try:
        deadline = time.monotonic() + 10
        while kiosk.outbox.job_state(result.outbox_reference)[0] != "done":
            assert time.monotonic() < deadline, "the queued loss report was not delivered"
            time.sleep(0.1)
        assert status_of(kiosk) == "temporary_loss"
        events = backend.store._conn.execute(
            "SELECT count(*) FROM card_events WHERE event = 'loss_reported_temporary'").fetchone()[0]
        assert events == 1
    finally:
        backend.stop()


def test_business_rule_refusals_are_clear_results(kiosk, reference_backend, card_slot, psam_slot):
    seed_zhang_san(reference_backend, status="formal_loss")
    card_slot.insert_profile("card_v3.toml")
    visit = kiosk.services.new_visit()
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    visit.present_card(kiosk.cards.read())
    [activation] = kiosk.services.activate(visit)
    assert activation.outcome == "refused" and "正式挂失" in activation.citizen_message
    assert "card_under_formal_loss" in activation.staff_detail
    [cancel] = kiosk.services.cancel_loss(visit)
    assert cancel.outcome == "done"
    [again] = kiosk.services.cancel_loss(visit)
    assert again.outcome == "refused" and "没有挂失记录" in again.citizen_message


def test_services_refuse_without_identification_or_card(kiosk):
    visit = kiosk.services.new_visit()
    [loss] = kiosk.services.report_loss(visit, "temporary")
    assert loss.outcome == "refused" and "身份证" in loss.citizen_message
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    [activation] = kiosk.services.activate(visit)
    assert activation.outcome == "refused" and "社会保障卡" in activation.citizen_message


def test_change_pin_on_the_card_and_tell_the_backend(kiosk, reference_backend, card_slot, psam_slot):
    seed_zhang_san(reference_backend)
    card = card_slot.insert_profile("card_v3.toml")
    visit = kiosk.services.new_visit()
    visit.present_card(kiosk.cards.read())
    with Pin.from_text("147258") as old, Pin.from_text(NEW_PIN) as new:
        [result] = kiosk.services.change_pin(visit, old, new)
    assert result.outcome == "done" and result.outbox_reference is None, result
    assert card.profile.pin == NEW_PIN
    events = reference_backend.store._conn.execute(
        "SELECT count(*) FROM card_events WHERE event = 'pin_changed'").fetchone()[0]
    assert events == 1


def test_a_cancelled_card_keeps_its_pin_and_is_refused_in_plain_words(kiosk, reference_backend, card_slot,
                                                                        psam_slot):
    """A card replaced or cancelled at the backend: the PIN is not touched on the card (the
    backend would refuse the event after the card took it), nothing is queued."""
    seed_zhang_san(reference_backend, status="cancelled")
    card = card_slot.insert_profile("card_v3.toml")
    visit = kiosk.services.new_visit()
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    visit.present_card(kiosk.cards.read())
    before = kiosk.outbox.stats()
    with Pin.from_text("147258") as old, Pin.from_text(NEW_PIN) as new:
        [changed] = kiosk.services.change_pin(visit, old, new)
    with Pin.from_text(NEW_PIN) as new:
        [reset] = kiosk.services.reset_pin(visit, new)
    for result in (changed, reset):
        assert result.outcome == "refused" and result.citizen_message == "此卡已注销，不能办理此业务。", result
    assert card.profile.pin == "147258"
    assert kiosk.outbox.stats().pending == before.pending and kiosk.outbox.stats().dead == before.dead


def test_first_card_bundle_issues_on_the_spot(kiosk, reference_backend, card_printer):
    visit = kiosk.services.new_visit()
    visit.identify(WANG_WU)
    visit.application = SAMPLE_APPLICATION
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    steps = []
    with Pin.from_text(NEW_PIN) as new:
        results = kiosk.services.bundle("first_card", visit, True, new, lambda step, f: steps.append((step, f)))
    assert [(r.service_item, r.outcome) for r in results] == [("1.10.1", "done"), ("1.10.2", "done"),
                                                             ("1.10.5", "done")], results
    issued = card_printer.cards[-1]
    assert issued.place == "ejected" and issued.faces
    assert steps[-1] == ("制卡完成", 1.0) and [f for _, f in steps] == sorted(f for _, f in steps)
    assert status_of(kiosk, issued.identifier.hex().upper()) == "normal"
    person = person_cards(kiosk, WANG_WU.id_number)
    assert [c["status"] for c in person["cards"]] == ["normal"]
    # The written card's report carried the account the bank put on the blank (#15); the
    # kiosk's database kept it only sealed.
    account = BankApplication.for_blank(issued.identifier).account
    assert reference_backend.store._conn.execute("SELECT bank_account FROM card_accounts WHERE card_id = ?",
                                                 (issued.identifier.hex().upper(),)).fetchone() == (account,)
    database = Path(kiosk.config.outbox.db)
    for path in (database, database.with_name(database.name + "-wal")):
        assert not path.exists() or account.encode() not in path.read_bytes()


OTHER_BANKS_ACCOUNT = "6228480000000000000"   # a BIN that is not the card bank's


def test_a_blank_of_another_bank_is_retained_before_anything_is_written_on_it(kiosk, reference_backend,
                                                                              card_printer, caplog):
    from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard

    def other_banks_blank(identifier):
        profile = CardProfile.blank(identifier)
        profile.bank = BankApplication(OTHER_BANKS_ACCOUNT, "3512")
        return SimulatedSocialSecurityCard(profile)

    card_printer.blank_card_factory = other_banks_blank
    visit = kiosk.services.new_visit()
    visit.identify(WANG_WU)
    visit.application = SAMPLE_APPLICATION
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    with Pin.from_text(NEW_PIN) as new:
        [failed] = kiosk.services.apply(visit, True, new)
    assert failed.outcome == "failed"
    blank = card_printer.cards[-1]
    assert blank.place == "retained" and not blank.faces
    [entry] = kiosk.issuance_journal.recent(1)
    assert entry.status == "rejected" and entry.step == "blank_fed"
    assert "an account of BIN 622848; the application's bank is BIN 621999" in caplog.text
    assert OTHER_BANKS_ACCOUNT not in caplog.text
    [(status,)] = reference_backend.store._conn.execute(
        "SELECT status FROM applications WHERE id_number = ?", (WANG_WU.id_number,)).fetchall()
    assert status == "applied"   # the mark cancelled: the next blank may serve


def test_lost_card_bundle(kiosk, reference_backend, card_printer):
    seed_zhang_san(reference_backend)
    visit = kiosk.services.new_visit()
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    with Pin.from_text(NEW_PIN) as new:
        results = kiosk.services.bundle("lost_card", visit, True, new)
    assert [(r.service_item, r.outcome) for r in results] == [
        ("1.10.6", "done"), ("1.10.7", "done"), ("1.10.2", "done"), ("1.10.5", "done")], results
    assert status_of(kiosk) == "cancelled"
    text = render_text(kiosk.services.receipt(visit))  # one receipt for the whole bundle
    for item, action in (("1.10.6", "正式挂失"), ("1.10.7", "即时制卡"), ("1.10.2", "启用"), ("1.10.5", "修改密码")):
        assert f"事项编码：{item}" in text and f"事项：{action}" in text
    assert "3713**********1239" in text and ZHANG_SAN.id_number not in text
    kiosk.services.end_visit(visit, "citizen finished")
    assert not visit.holds_personal_data()
    trail = kiosk.audit.entries(Outbox.connect(kiosk.config.outbox.db), visit.visit_id)
    deadline = time.monotonic() + 10
    while count(reference_backend, "SELECT count(*) FROM audit_copies") < len(trail):
        assert time.monotonic() < deadline, "the audit trail did not reach the backend"
        time.sleep(0.1)
    copies = reference_backend.store._conn.execute("SELECT mac FROM audit_copies ORDER BY seq").fetchall()
    assert [row[0] for row in copies] == [entry.mac for entry in trail]
    new_card = card_printer.cards[-1]
    assert new_card.place == "ejected"
    assert status_of(kiosk, new_card.identifier.hex().upper()) == "normal"


@pytest.mark.parametrize("jam_at", ["feed", "print"])
def test_a_jam_during_issuance_cancels_the_mark_and_holds_the_card_for_staff(kiosk, reference_backend,
                                                                            card_printer, jam_at):
    card_printer.jam_at = jam_at
    visit, [result] = apply_for_wang_wu(kiosk)
    assert result.outcome == "failed" and "卡片留在制卡机内" in result.citizen_message
    application = reference_backend.store._conn.execute(
        "SELECT status FROM applications ORDER BY created_at DESC LIMIT 1").fetchone()[0]
    assert application == "applied"  # the mark was cancelled: the backend may issue it again
    assert card_printer.cards[-1].place == "jammed"
    [entry] = kiosk.issuance_journal.unfinished()   # a jammed card: staff must clear it
    assert entry.status == "needs_staff" and "card not retained" in entry.note


def test_a_chip_that_fails_to_write_is_retained_and_the_journal_closes(kiosk, reference_backend, card_printer):
    from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard

    class FailingMemory(SimulatedSocialSecurityCard):
        def update_record(self, command):
            return b"\x65\x81"

    card_printer.blank_card_factory = lambda identifier: FailingMemory(CardProfile.blank(identifier))
    _visit, [result] = apply_for_wang_wu(kiosk)
    assert result.outcome == "failed" and "已为您取消本次制卡" in result.citizen_message
    assert card_printer.cards[-1].place == "retained"
    assert kiosk.issuance_journal.unfinished() == []
    [entry] = kiosk.issuance_journal.recent()
    assert (entry.step, entry.status, entry.holds_card) == ("blank_fed", "rejected", False)


def test_a_visit_ended_by_idle_timeout_holds_no_personal_data(kiosk, card_slot, psam_slot):
    card_slot.insert_profile("card_v3.toml")
    visit = kiosk.services.new_visit()
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    visit.present_card(kiosk.cards.read())
    time.sleep(0.1)
    assert visit.idle_seconds() >= 0.1
    kiosk.services.end_visit(visit, "idle timeout")   # what the screens do at [ui] idle_timeout_s
    assert not visit.holds_personal_data()
    [after] = kiosk.services.report_loss(visit, "temporary")
    assert after.outcome == "refused" and "重新开始" in after.citizen_message


def test_kiosk_service_command_runs_a_visit_with_the_id_card(reference_backend, pki_files, tmp_path, card_printer):
    import subprocess
    import sys
    from drivers.id_card_reader import IdDocument
    from drivers.sim.id_card_reader import IdReaderProfile, SimulatedIdCardReader
    seed_zhang_san(reference_backend)
    person = IdDocument(name="张三", sex="1", ethnicity=1, birth_date=datetime.date(1980, 1, 1), address="山东省临沂市",
                        id_number=ZHANG_SAN.id_number, issuing_authority="临沂市公安局",
                        valid_from=datetime.date(2020, 1, 1), valid_to=None)
    reader = SimulatedIdCardReader(IdReaderProfile(person=person))
    port = reader.start()
    try:
        config = kiosk_config_file(tmp_path, reference_backend, pki_files, card_printer.port, id_reader_port=port,
                                   name="cli-kiosk")
        result = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), "service",
                                 "report-loss"], capture_output=True, text=True, timeout=60)
    finally:
        reader.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1.10.6 report_loss_temporary: done" in result.stdout
    assert "3713**********1239" in result.stdout and ZHANG_SAN.id_number not in result.stdout
    audit = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), "audit", "verify"],
                           capture_output=True, text=True, timeout=60)
    assert audit.returncode == 0 and "intact" in audit.stdout, audit.stdout + audit.stderr
    queue = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), "queue", "status", "--json"],
                           capture_output=True, text=True, timeout=60)
    assert queue.returncode == 0, queue.stderr
    assert '"pending": 0' in queue.stdout and '"dead": 0' in queue.stdout, queue.stdout


def test_kiosk_service_apply_sends_the_details_and_progress_says_where_the_card_is(reference_backend, pki_files,
                                                                                   tmp_path):
    """#14 on the command line: an application with the mobile number, the category and its
    place, mailed to the ID card's address (the kiosk makes no cards: the card is made later);
    then `kiosk service progress` says where the card is."""
    import json
    import subprocess
    import sys
    from drivers.sim.id_card_reader import IdReaderProfile, SimulatedIdCardReader
    from reference_backend.store import OFFICES
    from simulation.stack import LI_SI, LI_SI_EMPLOYER
    reader = SimulatedIdCardReader(IdReaderProfile(person=LI_SI))
    port = reader.start()
    try:
        config = kiosk_config_file(tmp_path, reference_backend, pki_files, None, id_reader_port=port, name="cli-kiosk")

        def service(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), "service", *args],
                                  input=stdin, capture_output=True, text=True, timeout=60)

        applied = service("--pin-stdin", "apply", "--phone", "13905356688", "--category", "employee",
                          "--place", LI_SI_EMPLOYER, "--mail-to-id-address", stdin=f"{NEW_PIN}\n{NEW_PIN}\n")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert "1.10.1 apply_batch: done" in applied.stdout and LI_SI.id_number not in applied.stdout
        [(application_id, channel, details)] = reference_backend.store._conn.execute(
            "SELECT application_id, channel, details FROM applications WHERE id_number = ?",
            (LI_SI.id_number,)).fetchall()
        assert channel == "batch" and json.loads(details) == {
            "phone": "13905356688", "category": "employee", "employer": LI_SI_EMPLOYER,
            "mailing": {"method": "mail", "address": LI_SI.address}}
        reference_backend.store.advance_production(application_id, "ready", OFFICES[1])
        progress = service("progress")
    finally:
        reader.stop()
    assert progress.returncode == 0, progress.stdout + progress.stderr
    assert f"卡片已到{OFFICES[1]}，请携带身份证前往领取。" in progress.stdout


def test_pin_digits_are_nowhere_in_the_database_or_its_wal(kiosk, reference_backend, card_slot, tmp_path):
    seed_zhang_san(reference_backend)
    reference_backend.stop()  # offline, so the PIN event stays queued in the outbox too
    card_slot.insert_profile("card_v3.toml")
    visit = kiosk.services.new_visit()
    visit.present_card(kiosk.cards.read())
    with Pin.from_text("147258") as old, Pin.from_text(NEW_PIN) as new:
        [result] = kiosk.services.change_pin(visit, old, new)
    assert result.outcome == "done" and result.outbox_reference is not None
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("kiosk.db*"))
    for digits in ("147258", NEW_PIN):
        for encoded in (digits.encode("ascii"), bytes.fromhex(digits), digits.encode("utf-16-le")):
            assert encoded not in stored, (digits, encoded)


def count(backend, sql):
    return backend.store._conn.execute(sql).fetchone()[0]


def test_every_queued_item_offline_lands_once_when_the_backend_returns(kiosk, reference_backend, pki_files,
                                                                       tmp_path, card_slot, card_printer):
    seed_zhang_san(reference_backend)
    card_printer.stock = 0  # no blanks: an application goes the batch way
    card_slot.insert_profile("card_v3.toml")
    reference_backend.stop()
    loss_visit = kiosk.services.new_visit()
    loss_visit.identify(ZHANG_SAN)
    loss_visit.assure("face", {"score": 0.3})   # as after a face check that matched
    pin_visit = kiosk.services.new_visit()
    pin_visit.present_card(kiosk.cards.read())
    apply_visit = kiosk.services.new_visit()
    apply_visit.identify(WANG_WU)
    apply_visit.application = SAMPLE_APPLICATION
    apply_visit.assure("face", {"score": 0.3})   # as after a face check that matched
    with Pin.from_text("147258") as old, Pin.from_text(NEW_PIN) as new:
        results = (kiosk.services.report_loss(loss_visit, "temporary") + kiosk.services.change_pin(pin_visit, old, new)
                   + kiosk.services.apply(apply_visit, True, new) + kiosk.services.review(loss_visit, "1.10.6", 2))
    assert [r.outcome for r in results] == ["pending", "done", "pending", "pending"], results
    assert all(r.outbox_reference for r in results)
    backend = restart_backend(reference_backend, pki_files, tmp_path / "backend.db")
    try:
        deadline = time.monotonic() + 15
        while kiosk.outbox.stats().pending:
            assert time.monotonic() < deadline, kiosk.outbox.jobs()
            time.sleep(0.1)
        assert kiosk.outbox.stats().dead == 0
        assert status_of(kiosk) == "temporary_loss"
        assert count(backend, "SELECT count(*) FROM card_events WHERE event = 'pin_changed'") == 1
        assert count(backend, "SELECT count(*) FROM applications WHERE channel = 'batch'") == 1
        assert count(backend, "SELECT count(*) FROM reviews") == 1
        assert count(backend, "SELECT count(*) FROM card_events WHERE event = 'loss_reported_temporary'") == 1
    finally:
        backend.stop()


def test_a_blank_pulled_out_while_it_is_written_is_retained_and_the_mark_cancelled(kiosk, reference_backend,
                                                                                  card_printer):
    from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard

    def blank_that_loses_contact(identifier):
        profile = CardProfile.blank(identifier)
        profile.pull_out_after_apdus = 12  # in the middle of the UPDATE RECORDs
        return SimulatedSocialSecurityCard(profile)

    card_printer.blank_card_factory = blank_that_loses_contact
    visit, [result] = apply_for_wang_wu(kiosk)
    assert result.outcome == "failed" and "卡片已回收" in result.citizen_message
    assert "CardRemoved" in result.staff_detail
    assert card_printer.cards[-1].place == "retained"
    assert count(reference_backend, "SELECT count(*) FROM applications WHERE status = 'applied'") == 1
    assert count(reference_backend, "SELECT count(*) FROM cards") == 0


def test_the_backend_lost_before_the_written_card_is_reported(kiosk, reference_backend, card_printer, pki_files):
    def progress(step, fraction):
        if step == "正在打印卡面":
            reference_backend.stop()  # the link goes while the face prints: 回盘 cannot be sent

    visit, [result] = apply_for_wang_wu(kiosk, progress)
    assert result.outcome == "failed" and "已为您取消本次制卡" in result.citizen_message
    assert card_printer.cards[-1].place == "retained"  # never handed out without 回盘
    trail = kiosk.audit.entries(Outbox.connect(kiosk.config.outbox.db), visit.visit_id)
    assert [e.step for e in trail][-2:] == ["report_written_card", "cancel_instant_issuance"]
    assert [e.outcome for e in trail][-2:] == ["failed", "failed"]
    [entry] = kiosk.issuance_journal.unfinished()   # the mark is still to be cancelled
    assert (entry.step, entry.status, entry.holds_card) == ("face_printed", "needs_staff", False)
    restarted = restart_backend(reference_backend, pki_files, reference_backend.store.path)
    try:
        [entry] = kiosk.issuance.recover()          # as at the next start
        assert entry.status == "rejected", entry.note
        assert count(restarted, "SELECT count(*) FROM applications WHERE status = 'applied'") == 1
    finally:
        restarted.stop()


def test_a_write_the_card_refuses_ends_with_the_blank_retained_and_the_mark_cancelled(kiosk, reference_backend,
                                                                                     card_printer):
    from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard

    class FailingMemory(SimulatedSocialSecurityCard):
        """A blank whose EEPROM fails on the third write (6581, memory failure)."""
        writes = 0

        def update_record(self, command):
            self.writes += 1
            return b"\x65\x81" if self.writes == 3 else super().update_record(command)

    card_printer.blank_card_factory = lambda identifier: FailingMemory(CardProfile.blank(identifier))
    visit, [result] = apply_for_wang_wu(kiosk)
    assert result.outcome == "failed" and "6581" in result.staff_detail
    assert card_printer.cards[-1].place == "retained"
    assert count(reference_backend, "SELECT count(*) FROM applications WHERE status = 'applied'") == 1
    steps = [e.step for e in kiosk.audit.entries(Outbox.connect(kiosk.config.outbox.db), visit.visit_id)]
    assert steps[-1] == "cancel_instant_issuance"


def test_a_jam_at_the_bezel_after_the_card_exists_tells_the_citizen_to_ask_staff(kiosk, reference_backend,
                                                                                 card_printer):
    card_printer.jam_at = "eject"
    visit, (issued, activated, pin_set) = apply_for_wang_wu(kiosk)
    assert issued.outcome == "failed" and "CardJam" in issued.staff_detail and "工作人员" in issued.citizen_message
    assert (activated.outcome, pin_set.outcome) == ("done", "done")
    assert card_printer.cards[-1].place == "jammed"
    person = person_cards(kiosk, WANG_WU.id_number)
    assert [c["status"] for c in person["cards"]] == ["normal"]  # made, reported and activated: staff hand it over


def test_taking_the_card_out_ends_a_visit_the_card_alone_identified(kiosk, card_slot):
    card_slot.insert_profile("card_v3.toml")
    by_card = kiosk.services.new_visit()
    by_card.present_card(kiosk.cards.read())
    kiosk.services.card_withdrawn(by_card)
    assert by_card.ended and not by_card.holds_personal_data()
    by_id = kiosk.services.new_visit()
    by_id.identify(ZHANG_SAN)
    by_id.assure("face", {"score": 0.3})   # as after a face check that matched
    by_id.present_card(kiosk.cards.read())
    by_id.card_pin_verified = True
    kiosk.services.card_withdrawn(by_id)
    assert not by_id.ended and not by_id.card_pin_verified
    # A card taken out just after a new visit began (on the home screen, a tap on an offer,
    # then the reader notices) was not this visit's: the visit goes on.
    no_card_yet = kiosk.services.new_visit()
    kiosk.services.card_withdrawn(no_card_yet)
    assert not no_card_yet.ended


def test_the_kiosk_sends_heartbeats_while_the_link_is_up(reference_backend, pki_files, tmp_path, card_printer):
    config = config_for_simulation(reference_backend.url, pki_files, tmp_path / "hb", card_printer.port,
                                   backend={"heartbeat_interval_s": 1.0})
    core = KioskCore(config).start()
    try:
        for _ in range(5):   # someone guessing the staff PIN: the office hears of the lockout
            core.staff_gate.try_pin([0] * 6)
        deadline = time.monotonic() + 10
        while count(reference_backend, "SELECT count(*) FROM heartbeats WHERE staff_lockouts = 1") < 1:
            assert time.monotonic() < deadline, "no heartbeats"
            time.sleep(0.1)
    finally:
        core.close()
    terminal, depth, version = reference_backend.store._conn.execute(
        "SELECT terminal, queue_depth, software_version FROM heartbeats").fetchone()
    assert (terminal, depth) == ("KIOSK-0001", 0) and version


def test_reset_pin_with_the_id_card_and_tell_the_backend(kiosk, reference_backend, card_slot):
    seed_zhang_san(reference_backend)
    card = card_slot.insert_profile("card_v3.toml")
    card.pin_tries_left = 0  # forgotten and blocked
    visit = kiosk.services.new_visit()
    visit.present_card(kiosk.cards.read())
    with Pin.from_text(NEW_PIN) as new:
        [without_id] = kiosk.services.reset_pin(visit, new)
    assert without_id.outcome == "refused" and "身份证" in without_id.citizen_message
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    with Pin.from_text(NEW_PIN) as new:
        [result] = kiosk.services.reset_pin(visit, new)
    assert result.outcome == "done", result
    assert card.profile.pin == NEW_PIN and card.pin_tries_left == 6
    assert count(reference_backend, "SELECT count(*) FROM card_events WHERE event = 'pin_reset'") == 1


def test_replace_a_damaged_card_on_the_spot(kiosk, reference_backend, card_slot, card_printer):
    seed_zhang_san(reference_backend)
    card_slot.insert_profile("card_v3.toml")
    visit = kiosk.services.new_visit()
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    visit.present_card(kiosk.cards.read())
    with Pin.from_text(NEW_PIN) as new:
        [occupied] = kiosk.services.replace(visit, "damaged", True, new)
    assert occupied.outcome == "refused" and "取出" in occupied.citizen_message  # old card still in the slot
    assert status_of(kiosk) == "normal"  # nothing was done
    card_slot.remove()
    with Pin.from_text(NEW_PIN) as new:
        results = kiosk.services.replace(visit, "damaged", True, new)
    assert [(r.service_item, r.outcome) for r in results] == [("1.10.7", "done"), ("1.10.2", "done"),
                                                             ("1.10.5", "done")], results
    assert status_of(kiosk) == "cancelled"
    assert status_of(kiosk, card_printer.cards[-1].identifier.hex().upper()) == "normal"
    # The face carries the holder's registry photo, scaled into its box at 300 dpi (#14).
    [printed] = card_printer.cards[-1].faces
    assert photo_box_difference(printed, registry_photo(face_test_images() / REGISTERED_PHOTO)) < 12


def photo_box_difference(printed_face, jpeg: bytes) -> float:
    """Mean difference (0-255) between the printed face's photo box and `jpeg` fitted into it."""
    import io

    import numpy as np
    from PIL import Image

    from kiosk.card_face import PHOTO_BOX, _fit_photo
    size = (PHOTO_BOX[2] - PHOTO_BOX[0], PHOTO_BOX[3] - PHOTO_BOX[1])
    expected = _fit_photo(Image.open(io.BytesIO(jpeg)), size)
    with Image.open(printed_face) as face:
        box = face.convert("RGB").crop(PHOTO_BOX)
    return float(np.abs(np.asarray(box, dtype=float) - np.asarray(expected, dtype=float)).mean())


def test_no_card_is_made_without_the_holders_photo(kiosk, reference_backend, card_printer, caplog):
    """#14: none taken at the kiosk, none in the registry: a card-management system would take no
    such card, so the issuance is refused, in plain words, before anything is applied for,
    replaced, marked, journalled or fed."""
    visit = kiosk.services.new_visit()
    visit.identify(WANG_WU)
    visit.application = dataclasses.replace(SAMPLE_APPLICATION, photo=None)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    with Pin.from_text(NEW_PIN) as new:
        with pytest.raises(NoHolderPhoto, match="the registry has none"):
            kiosk.issuance.preflight(visit, new)
        [applied] = kiosk.services.apply(visit, True, new)
    assert applied.outcome == "refused" and applied.citizen_message == NoHolderPhoto.citizen_message
    assert "photo_not_found" in applied.staff_detail and "photo_not_found" in caplog.text
    card_id = "1101" + "0" * 26 + "55"   # his card, reported lost: a replacement needs the photo too
    reference_backend.store.seed_card(
        holder={"id_number": WANG_WU.id_number, "name": WANG_WU.name, "sex": "2", "ethnicity": 1,
                "birth_date": "19900307", "birthplace": "110105"},
        card_id=card_id, card_number="W12345678", region_code="110105", issue_date="20240315",
        expiry_date="20340315", status="formal_loss")
    with Pin.from_text(NEW_PIN) as new:
        [replaced] = kiosk.services.replace(visit, "lost", True, new)
    assert replaced.outcome == "refused" and replaced.citizen_message == NoHolderPhoto.citizen_message
    assert status_of(kiosk, card_id) == "formal_loss"   # the old card as it was
    assert count(reference_backend, "SELECT count(*) FROM applications") == 0
    assert not card_printer.cards and kiosk.issuance_journal.recent() == []


def test_a_broken_registry_photo_stops_an_issuance_before_a_blank_is_used(kiosk, reference_backend, card_printer):
    seed_zhang_san(reference_backend, status="formal_loss")
    reference_backend.store.seed_photo(ZHANG_SAN.id_number, b"\xff\xd8" + bytes(500))   # a JPEG in name only
    visit = kiosk.services.new_visit()
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    with Pin.from_text(NEW_PIN) as new:
        [failed] = kiosk.services.replace(visit, "lost", True, new)
    assert failed.outcome == "failed" and not card_printer.cards
    [(status,)] = reference_backend.store._conn.execute(
        "SELECT status FROM applications WHERE replaces_card_id = ?", (OLD_CARD,)).fetchall()
    assert status == "applied"            # unmarked, open for the next try


def test_a_failed_instant_replacement_leaves_the_old_card_working_and_is_resumed(kiosk, reference_backend,
                                                                                card_slot, card_printer):
    from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard

    class FailingMemory(SimulatedSocialSecurityCard):
        """A blank whose EEPROM fails on its first write (6581, memory failure)."""

        def update_record(self, command):
            return b"\x65\x81"

    seed_zhang_san(reference_backend)
    card_slot.insert_profile("card_v3.toml")
    visit = kiosk.services.new_visit()
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    visit.present_card(kiosk.cards.read())
    card_slot.remove()                    # the encoder shares the slot (README)
    good_blanks = card_printer.blank_card_factory
    card_printer.blank_card_factory = lambda identifier: FailingMemory(CardProfile.blank(identifier))
    with Pin.from_text(NEW_PIN) as new:
        [failed] = kiosk.services.replace(visit, "damaged", True, new)
    assert failed.outcome == "failed" and card_printer.cards[-1].place == "retained"
    assert status_of(kiosk) == "normal"   # the citizen still has a card that works (#16)
    [(application_id, status)] = reference_backend.store._conn.execute(
        "SELECT application_id, status FROM applications WHERE replaces_card_id = ?", (OLD_CARD,)).fetchall()
    assert status == "applied"            # open, for the kiosk (or staff) to resume
    card_printer.blank_card_factory = good_blanks
    with Pin.from_text(NEW_PIN) as new:
        results = kiosk.services.replace(visit, "damaged", True, new)
    assert [r.outcome for r in results] == ["done", "done", "done"], results
    assert reference_backend.store._conn.execute(
        "SELECT application_id, status FROM applications WHERE replaces_card_id = ?", (OLD_CARD,)).fetchall() == \
        [(application_id, "written")]     # the same application, resumed
    assert status_of(kiosk) == "cancelled"   # now that the new card is written


def test_a_cloned_card_is_kept_out_of_every_service(kiosk, reference_backend, card_slot):
    """#15: the holder's files copied onto a card without its keys read as the holder's card,
    but it cannot answer INTERNAL AUTHENTICATE: no service acts on it."""
    from drivers.sim.ssse_card import ClonedCard
    from kiosk.device_messages import DEVICE_MESSAGES
    from drivers.ssse import CardNotGenuine
    seed_zhang_san(reference_backend)
    card_slot.insert(ClonedCard(bytes(16)))
    visit = kiosk.services.new_visit()
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    visit.present_card(kiosk.cards.read())   # its files read like the holder's card
    with Pin.from_text(NEW_PIN) as new, Pin.from_text("147258") as old:
        results = (kiosk.services.change_pin(visit, old, new) + kiosk.services.reset_pin(visit, new)
                   + kiosk.services.activate(visit) + kiosk.services.activate_bank(visit, True)
                   + kiosk.services.cancel_loss(visit))
    assert [r.outcome for r in results] == ["failed"] * 5, results
    assert all(r.citizen_message == DEVICE_MESSAGES[CardNotGenuine] for r in results)
    assert status_of(kiosk) == "normal" and not visit.card_proven


def test_a_card_of_another_region_is_served_through_the_backend_hsm(reference_backend, pki_files, tmp_path,
                                                                      card_printer, psam_slot, card_slot):
    """#15: with [security] hsm_regions naming Shenzhen, the kiosk reads a Shenzhen card, has it
    prove itself and resets its PIN (the reload's MAC) through the backend's HSM, never the
    local PSAM, which lacks that region's keys."""
    terminal_key = b"kiosk-terminal-1"
    card = another_regions_card()
    card_id = card.profile.identifier.hex().upper()
    seed_zhang_san(reference_backend, card_id=card_id)
    card_slot.insert(card)
    card.pin_tries_left = 0   # forgotten and blocked
    # The new PIN reaches the HSM only as a PIN block under the terminal's key, which it shares.
    pin_key = tmp_path / "hsm-pin.key"
    pin_key.write_text(terminal_key.hex())
    pin_key.chmod(0o600)
    reference_backend.store.seed_terminal_pin_key("KIOSK-0001", terminal_key)
    config = config_for_simulation(reference_backend.url, pki_files, tmp_path, card_printer.port,
                                   security={"hsm_regions": OTHER_REGION, "hsm_pin_key_file": str(pin_key)})
    core = KioskCore(config).start()
    try:
        visit = core.services.new_visit()
        visit.identify(ZHANG_SAN)
        visit.assure("face", {"score": 0.3})   # as after a face check that matched
        visit.present_card(core.cards.read())
        assert visit.card.info.identifier.hex == card_id and core.cards.last_stats.psam_apdus == 0
        with Pin.from_text(NEW_PIN) as new:
            [result] = core.services.reset_pin(visit, new)
    finally:
        core.close()
    assert result.outcome == "done" and visit.card_proven, result
    assert core.cards.last_stats.psam_apdus == 0
    assert card.profile.pin == NEW_PIN and card.pin_tries_left == 6
    assert reference_backend.store._conn.execute(
        "SELECT count(*) FROM card_events WHERE event = 'pin_reset' AND card_id = ?", (card_id,)).fetchone() == (1,)


def test_a_weak_pin_stops_a_replacement_before_the_old_card_is_cancelled(kiosk, reference_backend, card_printer):
    seed_zhang_san(reference_backend, status="formal_loss")
    visit = kiosk.services.new_visit()
    visit.identify(ZHANG_SAN)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    with Pin.from_text("111111") as weak:
        [result] = kiosk.services.replace(visit, "lost", True, weak)
    assert result.outcome == "refused" and "过于简单" in result.citizen_message
    assert status_of(kiosk) == "formal_loss" and not card_printer.cards


@pytest.mark.parametrize("fault, told", [
    ({"corrupt_replies": 50}, "身份证读取失败"),        # garbage on the line, every retry
    ({"person": None}, "未检测到身份证"),               # no card on the reader
])
def test_an_id_reader_fault_during_a_visit_is_told_and_nothing_is_queued(reference_backend, pki_files, tmp_path,
                                                                          card_printer, fault, told):
    import subprocess
    import sys
    from drivers.sim.id_card_reader import IdReaderProfile, SimulatedIdCardReader
    seed_zhang_san(reference_backend)
    reader = SimulatedIdCardReader(IdReaderProfile(**fault))
    port = reader.start()
    try:
        config = kiosk_config_file(tmp_path, reference_backend, pki_files, card_printer.port, id_reader_port=port,
                                   name="cli-kiosk")
        result = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), "service",
                                 "report-loss"], capture_output=True, text=True, timeout=60)
    finally:
        reader.stop()
    assert result.returncode == 1 and told in result.stdout, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert status_of_card_in(reference_backend) == "normal"


def status_of_card_in(backend):
    return backend.store._conn.execute("SELECT status FROM cards WHERE card_id = ?", (OLD_CARD,)).fetchone()[0]


def test_a_card_held_at_the_bezel_is_shown_in_diagnostics_and_handed_over_by_staff(kiosk, card_printer):
    from kiosk import diagnostics

    def progress(step, fraction):
        if step == "请取走您的社会保障卡":
            card_printer.cover_open = True   # the eject is refused: the finished card stays inside

    visit, (issued, activated, pin_set) = apply_for_wang_wu(kiosk, progress)
    assert issued.outcome == "failed" and "工作人员" in issued.citizen_message
    [held] = diagnostics.held_issuances(kiosk)
    assert held.step == "reported" and held.holds_card and not kiosk.issuance.available()
    lines = dict(diagnostics.report(kiosk))
    assert held.application_id in lines["待处理的即时制卡"] and "not ejected" in lines["待处理的即时制卡"]
    with pytest.raises(diagnostics.JournalError, match="cannot be rejected"):
        diagnostics.settle_held_issuance(kiosk, held.application_id, "reject")
    card_printer.cover_open = False
    entry = diagnostics.settle_held_issuance(kiosk, held.application_id, "resume")
    assert entry.status == "handed_out" and card_printer.cards[-1].place == "ejected"
    assert diagnostics.held_issuances(kiosk) == [] and kiosk.issuance.available()


def test_the_staff_lockout_is_audited_and_survives_a_restart_of_the_kiosk(kiosk):
    for _ in range(5):
        assert not kiosk.staff_gate.try_pin([0] * 6)
    steps = [e.step for e in kiosk.audit.entries(Outbox.connect(kiosk.config.outbox.db), "staff")]
    assert steps == ["staff_lockout"]
    again = KioskCore(kiosk.config)   # the same database: a restarted kiosk
    try:
        assert again.staff_gate.locked
    finally:
        again.close()

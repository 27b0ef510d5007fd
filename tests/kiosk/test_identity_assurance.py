"""Who stands in front of the kiosk (#13): the catalogue's floor of actions that need the person
vouched for, a province's additions, the face check through the kiosk's core (registered photo
from the backend, audited), and the staff-assisted path (a staff card proved genuine, its PIN,
audited). No action that needs it runs without one of the two."""
from __future__ import annotations

import dataclasses

import pytest

from drivers.sim.camera import Scene
from drivers.sim.ssse_card import CardProfile, ClonedCard, SimulatedSocialSecurityCard
from drivers.pin import Pin
from kiosk.config import ConfigError, parse_config
from kiosk.identity_assurance import FaceCheckOffline, RegisteredPhotoUnusable
from kiosk.services import catalog
from kiosk.services.catalog import Proof
from kiosk.visit import CitizenIdentity
from offline_queue import Outbox
from simulation.stack import LI_SI, STAFF_CARD_PIN, STAFF_CARD_PROFILE, ZHANG_SAN, simulated_kiosk

HOLDER = CitizenIdentity.from_id_document(ZHANG_SAN)
NOBODY_S_PHOTO = CitizenIdentity.from_id_document(LI_SI)
FLOOR = {"reset_pin", "replace", "apply_instant", "activate", "activate_bank", "cancel_loss", "report_loss_formal"}


def test_the_catalogue_keeps_the_floor_and_a_province_may_only_add():
    assert {a.name for a in catalog.ACTIONS if Proof.FACE in a.requires} == FLOOR
    assert Proof.FACE not in catalog.required("report_loss_temporary")   # urgent, protective: the ID card alone
    assert Proof.FACE in catalog.required("report_loss_temporary", frozenset({"report_loss_temporary"}))
    assert parse_config({"identity": {"face_required_for": "apply_batch, review"}}).identity.face_required_for
    with pytest.raises(ConfigError, match="not actions of the catalogue"):
        parse_config({"identity": {"face_required_for": "everything"}})
    with pytest.raises(ConfigError, match="match_threshold"):
        parse_config({"identity": {"match_threshold": 0.9}})   # looser than dlib's own: refused


@pytest.fixture(scope="module")
def sim(pcscd):
    with simulated_kiosk(serial_devices=False) as sim:
        yield sim


@pytest.fixture
def kiosk(sim):
    core = sim.kiosk_core().start()
    core.assurance.settings = type(core.assurance.settings)(find_face_timeout_s=3, challenge_timeout_s=3)
    yield core
    core.close()


def audit_steps(kiosk, visit) -> list[tuple[str, str]]:
    return [(e.step, e.outcome) for e in kiosk.audit.entries(Outbox.connect(kiosk.config.outbox.db), visit.visit_id)]


def test_no_action_that_needs_it_runs_unvouched(kiosk):
    visit = kiosk.services.new_visit()
    visit.identify(HOLDER)
    with Pin.from_text("582936") as new:
        [refused] = kiosk.services.replace(visit, "lost", True, new)
    assert refused.outcome == "refused" and "人脸核验" in refused.citizen_message
    [formal] = kiosk.services.report_loss(visit, "formal")
    assert formal.outcome == "refused"


def test_the_right_person_is_vouched_for_by_the_face_check_and_it_is_audited(kiosk, sim):
    sim.camera.scene = Scene.RIGHT_PERSON
    visit = kiosk.services.new_visit()
    visit.identify(HOLDER)
    heard = []
    result = kiosk.assurance.check_face(visit, prompt=heard.append, on_frame=lambda frame, analysis: None)
    assert result.passed and visit.assurance["by"] == "face" and len(heard) == 2
    [(step, outcome)] = audit_steps(kiosk, visit)
    assert (step, outcome) == ("face_check", "done")
    entry = kiosk.audit.entries(Outbox.connect(kiosk.config.outbox.db), visit.visit_id)[0]
    assert entry.details["model"] == "dlib_face_recognition_resnet_model_v1" and "photo" not in entry.details
    kiosk.services.end_visit(visit, "done")
    assert visit.assurance is None


@pytest.mark.parametrize("scene", [Scene.OTHER_PERSON, Scene.PHOTO_HELD_UP, Scene.NOBODY])
def test_another_person_a_photo_or_nobody_is_not_vouched_for(kiosk, sim, scene):
    sim.camera.scene = scene
    visit = kiosk.services.new_visit()
    visit.identify(HOLDER)
    result = kiosk.assurance.check_face(visit, prompt=lambda c: None, on_frame=lambda f, a: None)
    assert not result.passed and visit.assurance is None
    assert audit_steps(kiosk, visit) == [("face_check", "refused")]
    sim.camera.scene = Scene.RIGHT_PERSON


def test_without_a_registered_photo_or_offline_the_face_check_says_so(kiosk, sim):
    visit = kiosk.services.new_visit()
    visit.identify(NOBODY_S_PHOTO)
    with pytest.raises(RegisteredPhotoUnusable):
        kiosk.assurance.check_face(visit, prompt=lambda c: None, on_frame=lambda f, a: None)
    offline = kiosk.services.new_visit()
    offline.identify(HOLDER)
    sim.cut_network()
    try:
        with pytest.raises(FaceCheckOffline) as caught:
            kiosk.assurance.check_face(offline, prompt=lambda c: None, on_frame=lambda f, a: None)
        assert "联网" in caught.value.citizen_message
    finally:
        sim.restore_network()


def test_the_id_card_photo_serves_where_the_registry_has_none_once_a_licensed_decoder_is_plugged_in(
        kiosk, sim, monkeypatch):
    """The plug-in point for a WLT decoder (none ships): with one, Li Si's ID card photo is
    what the camera's face is matched against."""
    from PIL import Image
    from drivers.sim.camera import face_test_images
    import kiosk.identity_assurance as assurance
    monkeypatch.setattr(assurance, "wlt_decoder", lambda: lambda wlt: Image.open(face_test_images() / "obama3.jpg"))
    sim.camera.scene = Scene.RIGHT_PERSON
    visit = kiosk.services.new_visit()
    visit.identify(dataclasses.replace(NOBODY_S_PHOTO, photo_wlt=b"WLT" + bytes(1021)))
    assert kiosk.assurance.check_face(visit, prompt=lambda c: None, on_frame=lambda f, a: None).passed


def test_staff_vouch_with_a_genuine_staff_card_and_its_pin_and_a_clone_cannot(kiosk, card_slot):
    visit = kiosk.services.new_visit()
    visit.identify(NOBODY_S_PHOTO)
    staff = SimulatedSocialSecurityCard(CardProfile.load(STAFF_CARD_PROFILE))
    identifier = staff.profile.identifier.hex().upper()
    card_slot.insert(ClonedCard(bytes(16), STAFF_CARD_PROFILE))
    with Pin.from_text(STAFF_CARD_PIN) as pin:
        ok, problem = kiosk.assurance.assure_by_staff(visit, identifier, lambda: kiosk.cards.verify_pin(pin),
                                                      lambda: kiosk.cards.prove_genuine().hex)
    assert not ok and "真伪" in problem and visit.assurance is None
    card_slot.remove()
    card_slot.insert(staff)
    with Pin.from_text(STAFF_CARD_PIN) as pin:
        ok, problem = kiosk.assurance.assure_by_staff(visit, identifier, lambda: kiosk.cards.verify_pin(pin),
                                                      lambda: kiosk.cards.prove_genuine().hex)
    assert ok and problem == "" and visit.assurance["by"] == "staff"
    assert audit_steps(kiosk, visit) == [("staff_assisted", "refused"), ("staff_assisted", "done")]
    kiosk.assurance.call_staff(visit, "apply: identity check")
    assert ("staff_called", "done") in audit_steps(kiosk, visit) or ("staff_called", "pending") in audit_steps(kiosk, visit)

"""Is the person in front the person identified? (#13, 国办发〔2020〕45号)

The action catalogue says which actions need it (Proof.FACE: a floor the code keeps, which
[identity] face_required_for may raise, never lower). It is met one of two ways, each written
to the audit trail:

* a face check (kiosk/face_check.py) against the photo the backend registered for the person,
  fetched within the backend visit opened for them; or
* a member of staff who has checked the person in front of them, authorising with their staff
  card (which proves itself with INTERNAL AUTHENTICATE) and its PIN: the human path for those a
  machine check fails, many of them elderly. The kiosk calls staff for it (on screen, aloud,
  and as an event to the backend).

There is no third way: `require()` refuses an action whose requirement is not met.
"""
from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from typing import Callable

import numpy as np

from drivers.apdu import CardError
from kiosk.backend.errors import BackendError, BackendRejected
from kiosk.device_messages import citizen_message
from kiosk.devices import Devices
from kiosk.face_check import Challenge, FaceCheckResult, FaceCheckSettings, FrameSeen, run_face_check
from kiosk.face_worker import FaceWorker, FaceWorkerFailed
from kiosk.outcome import Outcome
from kiosk.registry_photo import decode_registry_photo
from kiosk.services import catalog
from kiosk.services.base import BackendLink
from kiosk.staff_pin import StaffGate, staff_card_digest
from kiosk.visit import IdentityNotAssured, Visit, VisitError

log = logging.getLogger(__name__)



class FaceCheckUnavailable(VisitError):
    """The face check cannot be made: no camera, no backend, no usable registered photo.
    The staff-assisted path remains."""

    citizen_message = "暂时无法进行人脸核验，请工作人员协助核验身份。"


class RegisteredPhotoUnusable(FaceCheckUnavailable):
    citizen_message = "未能取得您的登记照片，无法进行人脸核验，请工作人员协助核验身份。"


class FaceCheckOffline(FaceCheckUnavailable):
    citizen_message = "网络中断，人脸核验需联网办理。您可请工作人员协助核验身份。"


class FaceCheckBroken(FaceCheckUnavailable):
    """The face worker (kiosk/face_worker.py) died or hung during the check: the check cannot
    be made this time (the next one starts another worker), and staff can vouch."""

    citizen_message = "人脸核验出现故障，暂时无法进行，请工作人员协助核验身份。"


class IdentityAssurance:
    def __init__(self, link: BackendLink, devices: Devices, staff_gate: StaffGate, settings: FaceCheckSettings,
                 face_also_for: frozenset[str] = frozenset(), terminal_number: str = "",
                 worker: FaceWorker | None = None):
        self.link = link
        # The face models run in a worker process, started for a check and stopped after it:
        # the kiosk's own process never holds them (#17).
        self.worker = worker or FaceWorker()
        self.devices = devices
        self.staff_gate = staff_gate
        self.settings = settings
        self.face_also_for = face_also_for
        self.terminal_number = terminal_number
        # Whoever else hears the kiosk speak a challenge: in the simulation, the simulated person
        # in front of the camera (drivers/sim/camera.py), as a person hears the loudspeaker.
        self.listeners: list[Callable[[Challenge], None]] = []

    # --- the rule --------------------------------------------------------------------------------

    def needs_face(self, action: str) -> bool:
        return catalog.Proof.FACE in catalog.required(action, self.face_also_for)

    def require(self, visit: Visit, action: str) -> None:
        """Raises IdentityNotAssured when `action` needs the person vouched for and they are not."""
        if self.needs_face(action) and visit.assurance is None:
            visit.identity   # the ID card comes first: NotIdentified says so
            raise IdentityNotAssured(f"{action} needs a face check or a member of staff")

    # --- the face check ---------------------------------------------------------------------------

    def registered_embedding(self, visit: Visit) -> np.ndarray:
        """The embedding of the photo the face is matched against: the backend's registry
        photo, or, where the registry has none, the ID card's own photo when a licensed WLT
        decoder is installed (the `sscard_kiosk.wlt_decoders` entry point: `decode(wlt) ->
        PIL image`). The kiosk ships without one."""
        try:
            reply = self.link.person_read(visit, "person_photo")
        except BackendRejected as exc:
            decode = wlt_decoder()
            wlt = visit.identity.photo_wlt
            if decode is None or not wlt:
                raise RegisteredPhotoUnusable(f"no registered photo: {exc.code}; no ID card photo decoder") from None
            return self.worker.embedding_of_photo(np.asarray(decode(wlt).convert("RGB")))
        except BackendError as exc:
            raise FaceCheckOffline(f"the registered photo cannot be fetched: {exc}") from None
        return self.worker.embedding_of_photo(np.asarray(decode_registry_photo(reply["photo"])))

    def check_face(self, visit: Visit, *, prompt: Callable[[Challenge], None], on_frame: FrameSeen,
                   cancel: threading.Event | None = None) -> FaceCheckResult:
        """One face check of the visit's person; on a match the visit is vouched for. Every
        check, passed or not, is in the audit trail (no image, no embedding)."""
        camera = self.devices.camera
        if camera is None:
            raise FaceCheckUnavailable("no camera on this kiosk ([camera] device)")
        try:
            self.worker.start()   # its models load while the registered photo is fetched
            try:
                registered = self.registered_embedding(visit)
            except ValueError as exc:
                raise RegisteredPhotoUnusable(f"the registered photo is unusable: {exc}") from None

            def spoken(challenge: Challenge) -> None:
                prompt(challenge)
                for listener in self.listeners:
                    listener(challenge)
            result = run_face_check(camera, registered, self.settings, prompt=spoken, on_frame=on_frame,
                                    cancel=cancel, engine=self.worker)
        except FaceWorkerFailed as exc:
            log.error("face check: %s", exc)
            raise FaceCheckBroken(str(exc)) from None
        finally:
            registered = None
        details = result.audit_details(self.settings)
        self.link.record(visit.visit_id, "identity", "face_check", Outcome.DONE if result.passed else Outcome.REFUSED,
                         details)
        if result.passed:
            visit.assure("face", {"score": details["score"]})
            self.release()   # the visit needs no other check; a refused one may be tried again
        return result

    def release(self) -> None:
        """The face worker stops and the camera is closed (after a check that passed, at the end
        of a visit, and when the kiosk stops): the models' memory goes back to the system, and
        the camera is off, its light out and its buffers holding no frame of the citizen, until
        a check, a photo or a QR code needs it again (it opens on its next read)."""
        self.worker.stop()
        if self.devices.camera is not None:
            self.devices.camera.close()

    # --- the staff-assisted path -----------------------------------------------------------------

    def call_staff(self, visit: Visit, reason: str) -> None:
        """Asks for a member of staff: in the audit trail, and to the backend (the office's
        screens) through the outbox, so that it reaches them even after an outage."""
        self.link.queue(visit.visit_id, "identity", "staff_called", "call_staff",
                        {"terminal_number": self.terminal_number, "reason": reason[:60]},
                        subject=f"staff:{self.terminal_number}", detail={"reason": reason[:60]})

    def assure_by_staff(self, visit: Visit, staff_card: str, verify_pin_on_card: Callable[[], None],
                        prove_card: Callable[[], object]) -> tuple[bool, str]:
        """A member of staff vouches for the person in front, with their staff card (proved
        genuine) and its PIN: (vouched, what went wrong with the card in the screen's words, or
        ""). Wrong tries count toward the staff lockout. Audited either way."""
        digest = staff_card_digest(staff_card)[:16]
        why = ""
        try:
            ok, problem = self.staff_gate.try_staff_card(staff_card, verify_pin_on_card, prove_card), ""
        except CardError as exc:   # not genuine, pulled out, unreadable
            ok, problem, why = False, citizen_message(exc), type(exc).__name__
        self.link.record(visit.visit_id, "identity", "staff_assisted", Outcome.DONE if ok else Outcome.REFUSED,
                         {"staff_card": digest, **({"why": why} if why else {})})
        if ok:
            visit.assure("staff", {"staff_card": digest})
        return ok, problem


WLT_DECODERS = "sscard_kiosk.wlt_decoders"


def wlt_decoder() -> Callable | None:
    """The installed decoder of the ID card's WLT photo, if a licensed one is installed."""
    found = list(entry_points(group=WLT_DECODERS))
    return found[0].load() if found else None

"""One citizen's visit (一次认证): identified once, every item of the bundle done under it.

The visit knows who the citizen is (from the resident ID card) and which card is in play
(read from the social security card, PIN-checked where a service touches the card). It ends
on request, after the idle timeout (the citizen walked away), or when the card is pulled where
that matters; ending wipes every personal field it held.
"""
from __future__ import annotations

import datetime
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from drivers.id_card_reader import Document
from drivers.ssse import CardReading
from kiosk.i18n import N_
from kiosk.masking import mask_id_number, mask_name


class VisitError(Exception):
    citizen_message = "请重新开始办理。"


class NotIdentified(VisitError):
    citizen_message = "请先刷身份证确认身份。"


class CardRequired(VisitError):
    citizen_message = "此业务需要插入您的社会保障卡。"


class IdentityMismatch(VisitError):
    citizen_message = "卡片不属于已验证身份的本人，请插入本人的社会保障卡。"


# What each identity document is called on the screens (translated) and the receipt.
DOCUMENT_NAMES = {Document.RESIDENT_ID: N_("居民身份证"), Document.HMT_RESIDENCE_PERMIT: N_("港澳台居民居住证"),
                  Document.FOREIGN_PERMANENT_RESIDENT: N_("外国人永久居留身份证")}


class IdentityNotAssured(VisitError):
    citizen_message = "此业务需先核验是否本人：请完成人脸核验，或请工作人员协助核验。"


# A residence permit records no ethnicity; the card's holder record wants a GB 3304 code: 97, 其他.
ETHNICITY_OTHER = 97
HMT_REGIONS = {"81": "810000", "82": "820000", "83": "710000"}


class DocumentNotAccepted(VisitError):
    citizen_message = "使用外国人永久居留身份证申领、补换社会保障卡，请到窗口办理。"


class VisitEnded(VisitError):
    citizen_message = "本次办理已结束，请重新开始。"


@dataclass(frozen=True)
class CitizenIdentity:
    """Who the citizen is, from the identity document on the ID reader (the resident ID card,
    or a residence permit or permanent residence card: `document`). Personal data: kept out of
    repr. `id_number` is the document's number, the person's social security number."""

    id_number: str = field(repr=False)
    name: str = field(repr=False)
    sex: str = field(repr=False)           # "1" male, "2" female (GB/T 2261.1)
    ethnicity: int | None = field(repr=False)     # GB 3304 code; None where the document has none
    birth_date: datetime.date = field(repr=False)
    # The ID card's photo as the chip holds it (WLT, compressed): only a licensed decoder opens
    # it (kiosk/identity_assurance.py); it leaves with the identity when the visit ends.
    photo_wlt: bytes = field(repr=False, default=b"")
    document: Document = Document.RESIDENT_ID
    address: str = field(repr=False, default="")   # the document's (a card may be mailed there, #14)

    @property
    def document_name(self) -> str:
        return DOCUMENT_NAMES[self.document]

    @property
    def resident_id_card(self) -> bool:
        return self.document == Document.RESIDENT_ID

    @property
    def birthplace(self) -> str:
        """The region code the ID number begins with (where the number was first issued); a
        residence permit's number names Hong Kong (81), Macao (82) or Taiwan (83), whose codes
        in GB/T 2260 are 810000, 820000 and 710000."""
        if self.document == Document.HMT_RESIDENCE_PERMIT:
            return HMT_REGIONS[self.id_number[:2]]
        return self.id_number[:6]

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @classmethod
    def from_id_document(cls, document) -> "CitizenIdentity":
        """From the ID reader's `IdDocument` (drivers/id_card_reader.py). A foreigner's card
        without a Chinese name is known by the English name it carries."""
        return cls(id_number=document.id_number, name=document.name or document.english_name, sex=document.sex,
                   ethnicity=document.ethnicity, birth_date=document.birth_date, photo_wlt=document.photo_wlt,
                   document=document.document, address=document.address)

    def holder_payload(self) -> dict:
        """The holder as the backend contract wants it (apply for a card)."""
        return {"id_number": self.id_number, "name": self.name, "sex": self.sex,
                "ethnicity": self.ethnicity if self.ethnicity is not None else ETHNICITY_OTHER,
                "birth_date": self.birth_date.strftime("%Y%m%d"), "birthplace": self.birthplace}


class Visit:
    """The state of one visit. Thread-safe: the screen and the service worker both touch it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.visit_id = secrets.token_hex(8)
        self.started_utc = datetime.datetime.now(datetime.timezone.utc)
        self._clock = clock
        self._started = clock()
        self._last_activity = self._started
        self._lock = threading.Lock()
        self._identity: CitizenIdentity | None = None
        self._card: CardReading | None = None
        self.card_pin_verified = False
        self.card_proven = False   # the card answered INTERNAL AUTHENTICATE with its own key (#15)
        self.end_reason: str | None = None
        self.results: list = []  # ServiceResults of this visit, for its one receipt
        # "changed"/"reset" when a PIN command's answer was lost: the card must tell whether it took it
        self.unconfirmed_pin_event: str | None = None
        # How the person in front was found to be the identified one: {"by": "face", ...} after a
        # face check that matched, {"by": "staff", ...} after a member of staff vouched (#13).
        self._assurance: dict | None = None
        self.backend_visit_token: str | None = None   # the backend's visit for this person (open_visit)
        # What an application says besides the holder (kiosk/application.py), once given (#14).
        self.application = None
        # The fee order paid (or waived) for the card this visit makes (kiosk/fees.py, #19).
        self.fee_order = None

    @property
    def ended(self) -> bool:
        return self.end_reason is not None

    def _check_open(self) -> None:
        if self.ended:
            raise VisitEnded(f"visit {self.visit_id} ended: {self.end_reason}")

    def touch(self) -> None:
        """The citizen did something: the idle clock starts again."""
        with self._lock:
            self._last_activity = self._clock()

    def idle_seconds(self) -> float:
        return self._clock() - self._last_activity

    def elapsed_seconds(self) -> float:
        return self._clock() - self._started

    def identify(self, identity: CitizenIdentity) -> None:
        with self._lock:
            self._check_open()
            if self._card is not None and self._card.holder.social_security_number != identity.id_number:
                raise IdentityMismatch("the card already read belongs to another person")
            if self._identity is not None and self._identity.id_number != identity.id_number:
                self._assurance, self.backend_visit_token = None, None   # vouched for someone else
            self._identity = identity
            self._last_activity = self._clock()

    def assure(self, how: str, details: dict) -> None:
        """The person in front is the identified one: by `how` ("face" or "staff"). Only the
        face check (kiosk/identification.py) and the staff authorisation (KioskServices) call it."""
        if how not in ("face", "staff"):
            raise ValueError(f"unknown identity assurance {how!r}")
        with self._lock:
            self._check_open()
            if self._identity is None:
                raise NotIdentified("a face or a member of staff can vouch only for an identified person")
            self._assurance = {"by": how, **details}

    @property
    def assurance(self) -> dict | None:
        return self._assurance

    def present_card(self, reading: CardReading) -> None:
        with self._lock:
            self._check_open()
            if self._identity is not None and reading.holder.social_security_number != self._identity.id_number:
                raise IdentityMismatch("the card belongs to another person than the ID card")
            if self._card is None or self._card.info.identifier != reading.info.identifier:
                self.card_pin_verified = self.card_proven = False
            self._card = reading
            self._last_activity = self._clock()

    def card_withdrawn(self) -> None:
        """The card left the reader: its PIN check and its proof no longer hold (the card that
        comes back may be another with the same identifier)."""
        with self._lock:
            self.card_pin_verified = self.card_proven = False

    @property
    def identity(self) -> CitizenIdentity:
        with self._lock:
            self._check_open()
            if self._identity is None:
                raise NotIdentified("the citizen has not identified with the ID card")
            return self._identity

    @property
    def card(self) -> CardReading:
        with self._lock:
            self._check_open()
            if self._card is None:
                raise CardRequired("no social security card read in this visit")
            return self._card

    @property
    def has_identity(self) -> bool:
        return self._identity is not None

    @property
    def has_card(self) -> bool:
        return self._card is not None

    def end(self, reason: str) -> None:
        """Ends the visit and drops every personal field it held."""
        with self._lock:
            if self.end_reason is None:
                self.end_reason = reason
            self._identity = None
            self._card = None
            self.card_pin_verified = self.card_proven = False
            self.unconfirmed_pin_event = None
            self._assurance, self.backend_visit_token = None, None
            self.application = None

    def holds_personal_data(self) -> bool:
        return self._identity is not None or self._card is not None or self.application is not None

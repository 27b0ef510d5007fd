"""What an application for a card says besides the holder (#14): what a real card-management
system needs to make and send a card.

- a mobile phone number, typed on the kiosk's own digit pad (11 digits, a mainland mobile);
- the person's category (在职职工, 城乡居民, 学生, 离退休人员), and where the category needs one
  the employer, school or community. They come from the person's social insurance record,
  which the backend holds (`application_options`): the citizen confirms or picks, never types
  a name on a touchscreen. A category whose place the record does not know is for the counter;
- for a card not made on the spot, where it goes: collected at an office the backend lists, or
  mailed to the address on the ID card;
- for a minor under 16, the guardian, who applies: the guardian's own ID card is read at the
  kiosk, so both are present (a guardian must be an adult, and another person);
- the photo taken at the kiosk, when the registry has none (kiosk/photo_capture.py); a card
  made on the spot needs one, so where none can be taken the citizen is offered the card made
  later and sent (`made_here`).
"""
from __future__ import annotations

import base64
import datetime
import enum
import re
from dataclasses import dataclass

from kiosk.i18n import N_
from kiosk.visit import CitizenIdentity, VisitError

GUARDIAN_BELOW_AGE = 16     # under it, the guardian applies
ADULT_AGE = 18
_MOBILE = re.compile(r"1[3-9][0-9]{9}")


class Category(enum.StrEnum):
    EMPLOYEE = "employee"
    RESIDENT = "resident"     # urban or rural resident (城乡居民)
    STUDENT = "student"
    RETIREE = "retiree"


CATEGORY_NAMES = {Category.EMPLOYEE: N_("在职职工"), Category.RESIDENT: N_("城乡居民"),
                  Category.STUDENT: N_("学生"), Category.RETIREE: N_("离退休人员")}
# The place each category names: its employer, its school, its community (none for a retiree).
PLACE_OF = {Category.EMPLOYEE: "employer", Category.STUDENT: "school", Category.RESIDENT: "community"}


class InvalidPhone(VisitError):
    citizen_message = "请输入11位手机号码（1开头）。"


class PlaceUnknown(VisitError):
    citizen_message = "参保记录中没有您的单位、学校或社区信息，请到窗口办理申领。"


class GuardianRequired(VisitError):
    citizen_message = "未满16周岁的申领人，须由监护人持本人身份证陪同办理，请监护人放置身份证。"


class GuardianNotAccepted(VisitError):
    citizen_message = "监护人须为年满18周岁的其他人，请监护人放置本人身份证。"


class DetailsMissing(VisitError):
    citizen_message = "申领信息（手机号码、人员类别等）尚未填写，请重新办理。"


class MailingRequired(VisitError):
    citizen_message = "请选择领卡方式：到网点领取或邮寄到身份证住址。"


def valid_phone(digits: str) -> str:
    if not _MOBILE.fullmatch(digits or ""):
        raise InvalidPhone("not an 11-digit mainland mobile number")
    return digits


def age_on(birth_date: datetime.date, day: datetime.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def needs_guardian(holder: CitizenIdentity, today: datetime.date | None = None) -> bool:
    return age_on(holder.birth_date, today or datetime.date.today()) < GUARDIAN_BELOW_AGE


@dataclass(frozen=True)
class Guardian:
    identity: CitizenIdentity
    relation: str = "parent"    # parent or other (其他监护人)

    @classmethod
    def accept(cls, holder: CitizenIdentity, guardian: CitizenIdentity, relation: str = "parent",
               today: datetime.date | None = None) -> "Guardian":
        if guardian.id_number == holder.id_number or age_on(guardian.birth_date, today or datetime.date.today()) < ADULT_AGE:
            raise GuardianNotAccepted("the guardian is the holder, or not an adult")
        if relation not in ("parent", "other"):
            raise ValueError(f"relation {relation!r}: parent or other")
        return cls(guardian, relation)

    def payload(self) -> dict:
        return {"id_number": self.identity.id_number, "name": self.identity.name, "relation": self.relation}


@dataclass(frozen=True)
class Mailing:
    method: str               # "collect" at an office, or "mail" to the ID card's address
    office: str = ""
    address: str = ""

    def payload(self) -> dict:
        return {"method": self.method, **({"office": self.office} if self.method == "collect" else
                                         {"address": self.address})}


def details_of(visit) -> "ApplicationDetails":
    if visit.application is None:
        raise DetailsMissing("no application details given for this visit")
    return visit.application


@dataclass(frozen=True)
class ApplicationDetails:
    phone: str
    category: Category
    place: str = ""                     # the employer, school or community, where the category has one
    mailing: Mailing | None = None      # for a card not made on the spot
    guardian: Guardian | None = None
    photo: bytes | None = None          # taken at the kiosk (kiosk/photo_capture.py) when the registry has none
    signature: bytes | None = None      # a PNG of the applicant's signature (kiosk/signature.py), where required
    made_here: bool = True              # made on the spot where the kiosk can; False: the citizen was offered
                                        # a card made later and sent (no photo of them to print here)

    def __repr__(self) -> str:   # personal data: never in a log
        return (f"ApplicationDetails(category={self.category!s}, mailing={self.mailing and self.mailing.method}, "
                f"photo={'taken' if self.photo else 'none'}, signature={'signed' if self.signature else 'none'})")

    def check_number_and_category(self) -> None:
        """The mobile number, and the category with its place (the screens' first page)."""
        valid_phone(self.phone)
        if self.category in PLACE_OF and not self.place:
            raise PlaceUnknown(f"{self.category} without its {PLACE_OF[self.category]}")

    def payload(self, holder: CitizenIdentity, *, instant: bool, today: datetime.date | None = None) -> dict:
        """The contract's `application` object; refuses what the backend would (in plain words)."""
        self.check_number_and_category()
        if needs_guardian(holder, today) and self.guardian is None:
            raise GuardianRequired("the holder is under 16")
        if not instant and self.mailing is None:
            raise MailingRequired("a card not made on the spot needs a way to the holder")
        application = {"phone": self.phone, "category": str(self.category)}
        if self.category in PLACE_OF:
            application[PLACE_OF[self.category]] = self.place
        if self.mailing is not None and not instant:
            application["mailing"] = self.mailing.payload()
        if self.guardian is not None:
            application["guardian"] = self.guardian.payload()
        if self.photo is not None:
            application["photo"] = base64.b64encode(self.photo).decode("ascii")
        if self.signature is not None:
            application["signature"] = base64.b64encode(self.signature).decode("ascii")
        return application

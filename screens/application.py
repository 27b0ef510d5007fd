"""申领信息: what an application says besides the holder (#14, kiosk/application.py), between the
identity check and the confirmation: the mobile number on the kiosk's own digit pad, the
person's category with the place their social insurance record names (the citizen confirms or
picks, never types a name), where a card not made on the spot goes (an office the backend
lists, or the ID card's address), and for a minor under 16 the guardian's own ID card. Two
pages: the number and the category; then, where there is one, how the card reaches the citizen
and the guardian."""
from __future__ import annotations

import threading
from pathlib import Path

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, DictProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.application import (CATEGORY_NAMES, PLACE_OF, ApplicationDetails, Category, Guardian, Mailing,
                                needs_guardian)
from kiosk.backend.errors import BackendError
from kiosk.device_messages import citizen_message
from kiosk.i18n import N_, _
from kiosk.visit import VisitError

MAIL = "mail"   # the mailing choice that is no office
OFFICES_SHOWN = 3   # what the page has room for, with the mailing choice (the nearest come first)
PLACE_WORDS = {"employer": N_("工作单位：{place}"), "school": N_("学校：{place}"), "community": N_("社区：{place}")}
NO_PLACE = N_("参保记录中没有此类别的单位、学校或社区，请选择其他类别或到窗口办理。")
NO_PHOTO_HERE = N_("社保系统中没有您的照片，本机无法拍照，新卡不能当场制作。您可以在此申领，卡片制成后到网点领取或邮寄给您；"
                   "也可到人工窗口拍照办理。")


class ApplicationScreen(Screen):
    title = StringProperty("")
    phone = StringProperty("")
    category = StringProperty("")
    places = DictProperty({})        # category -> the place the person's record names for it
    offices = ListProperty([])
    mailing = StringProperty("")     # an office, MAIL, or "" (not chosen)
    instant = BooleanProperty(True)  # the card is made here: nothing to mail
    minor = BooleanProperty(False)
    guardian_text = StringProperty("")
    relation = StringProperty("parent")
    problem = StringProperty("")
    page = NumericProperty(1)        # 1: number and category; 2: the card's way and the guardian
    needs_photo = BooleanProperty(False)   # the registry has no photo of the person (screens/photo.py)

    def start(self, offer, visit, services, identification, instant: bool) -> None:
        self.title = offer.heading()
        self.visit, self.identification = visit, identification
        self.phone, self.category, self.mailing, self.problem, self.page = "", "", "", "", 1
        self.needs_photo = False
        self.places, self.offices, self.instant = {}, [], instant
        self.minor = needs_guardian(visit.identity)
        self.guardian, self.relation = None, "parent"
        self.guardian_text = _("请监护人将本人身份证放在读卡区") if self.minor else ""
        self._stop = threading.Event()
        self._show_categories()
        threading.Thread(target=self._options, args=(services, visit), name="application-options", daemon=True).start()
        if self.minor:
            threading.Thread(target=self._wait_for_guardian, args=(self._stop,), name="guardian", daemon=True).start()

    # --- on worker threads -------------------------------------------------------------------

    def _options(self, services, visit) -> None:
        try:
            options = services.application_options(visit)
        except BackendError:   # offline: no record to confirm, no office list; mailing still works
            options = {"offices": []}
        needs_photo = services.registry_lacks_photo(visit)
        Clock.schedule_once(lambda _dt: (self._show_options(options), setattr(self, "needs_photo", needs_photo)))

    def _wait_for_guardian(self, stop: threading.Event) -> None:
        found = self.identification.wait_for_other_id_card(
            self.visit.identity.id_number, stop,
            lambda exc: Clock.schedule_once(lambda _dt: setattr(self, "problem", citizen_message(exc))))
        if found is not None:
            Clock.schedule_once(lambda _dt: self._guardian_found(found))

    # --- on the UI thread --------------------------------------------------------------------

    def _show_options(self, options: dict) -> None:
        insured = options.get("insured")
        if insured:
            category = Category(insured["category"])
            place = insured.get(PLACE_OF.get(category, ""), "")
            self.places = {str(category): place}
            self.category = str(category)
        self.offices = options["offices"]
        self._show_categories()
        self._show_mailing()

    def _show_categories(self) -> None:
        box = self.ids.categories
        box.clear_widgets()
        for category in Category:
            button = Factory.ChoiceButton(text=_(CATEGORY_NAMES[category]), chosen=self.category == category,
                                          name=f"category_{category}")
            button.bind(on_release=lambda _b, c=str(category): self.choose_category(c))
            box.add_widget(button)

    def _show_mailing(self) -> None:
        box = self.ids.mailing
        box.clear_widgets()
        if self.instant:
            return
        for number, office in enumerate(self.offices[:OFFICES_SHOWN]):
            button = Factory.ChoiceButton(text=_("到{office}领取").format(office=office), chosen=self.mailing == office,
                                          name=f"office_{number}")
            button.bind(on_release=lambda _b, o=office: self.choose_mailing(o))
            box.add_widget(button)
        button = Factory.ChoiceButton(text=_("邮寄到身份证住址"), chosen=self.mailing == MAIL, name="mail")
        button.bind(on_release=lambda _b: self.choose_mailing(MAIL))
        box.add_widget(button)

    def place_text(self) -> str:
        kind = PLACE_OF.get(Category(self.category)) if self.category else None
        if kind is None:
            return ""
        place = self.places.get(self.category, "")
        return _(PLACE_WORDS[kind]).format(place=place) if place else _(NO_PLACE)

    def choose_category(self, category: str) -> None:
        self.category, self.problem = category, ""
        self._show_categories()

    def choose_mailing(self, choice: str) -> None:
        self.mailing, self.problem = choice, ""
        self._show_mailing()

    def key(self, key: str) -> None:
        """The digit pad: a digit, 删除 (the last one) or 清空 (all)."""
        self.problem = ""
        if key == "back":
            self.phone = self.phone[:-1]
        elif key == "clear":
            self.phone = ""
        elif len(self.phone) < 11:
            self.phone += key

    def phone_text(self) -> str:
        digits = self.phone
        return " ".join(part for part in (digits[:3], digits[3:7], digits[7:]) if part)

    def _guardian_found(self, identity) -> None:
        try:
            self.guardian = Guardian.accept(self.visit.identity, identity, self.relation)
        except VisitError as exc:
            self.problem = citizen_message(exc)
            return
        self.guardian_text = _("监护人：{name}（身份证已读取）").format(name=identity.masked_name)

    def choose_relation(self, relation: str) -> None:
        self.relation = relation
        if self.guardian is not None:
            self.guardian = Guardian(self.guardian.identity, relation)

    def next(self) -> None:
        """The number and the category checked, then (on the second page, where there is one)
        the whole as the backend will check it; on to the confirmation."""
        if not self.category:
            self.problem = _("请选择人员类别。")
            return
        if self.page == 1:
            try:
                ApplicationDetails(self.phone, Category(self.category),
                                   self.places.get(self.category, "")).check_number_and_category()
            except VisitError as exc:
                self.problem = citizen_message(exc)
                return
            if not self.instant or self.minor:
                self.page, self.problem = 2, ""
                return
        mailing = None
        if not self.instant and self.mailing:
            mailing = (Mailing("mail", address=self.visit.identity.address) if self.mailing == MAIL
                       else Mailing("collect", office=self.mailing))
        details = ApplicationDetails(self.phone, Category(self.category), self.places.get(self.category, ""),
                                     mailing, self.guardian, made_here=self.instant)
        try:
            details.payload(self.visit.identity, instant=self.instant)
        except VisitError as exc:
            self.problem = citizen_message(exc)
            return
        self._stop.set()
        from kivy.app import App
        App.get_running_app().flow.application_given(details, self.needs_photo)

    def offer_card_made_later(self) -> None:
        """The flow found no photo of the person to print and no camera to take one: no card can
        be made here, so the second page asks how the card made later reaches them, and says why."""
        self.instant, self.page, self.mailing, self.problem = False, 2, "", NO_PHOTO_HERE
        self._show_mailing()

    def back(self) -> None:
        """上一步 on the second page; 取消办理 on the first."""
        if self.page == 2:
            self.page, self.problem = 1, ""
        else:
            from kivy.app import App
            App.get_running_app().flow.end("citizen cancelled")

    def clear(self) -> None:
        if getattr(self, "_stop", None) is not None:
            self._stop.set()
        self.page = 1
        self.visit = self.guardian = None
        self.title = self.phone = self.category = self.mailing = self.problem = self.guardian_text = ""
        self.places, self.offices = {}, []


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

"""Confirm: what will be done, for whom (masked), and the written commitment (告知承诺) the
citizen accepts instead of bringing proof documents, where the offer takes one."""
from pathlib import Path

from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.card_service import CardSummary
from kiosk.i18n import _


class ConfirmScreen(Screen):
    title = StringProperty("")
    holder = StringProperty("")
    commitment = StringProperty("")
    accepted = BooleanProperty(False)

    def show(self, offer, visit) -> None:
        self.title = offer.heading()
        if visit.has_identity:
            identity = visit.identity
            if identity.resident_id_card:
                self.holder = _("办理人：{name}    身份证号：{id_number}").format(
                    name=identity.masked_name, id_number=identity.masked_id_number)
            else:   # a residence permit or a permanent residence card: named (#14)
                self.holder = _("办理人：{name}    {document}：{id_number}").format(
                    name=identity.masked_name, document=_(identity.document_name),
                    id_number=identity.masked_id_number)
        elif visit.has_card:
            card = CardSummary.of(visit.card)
            self.holder = _("持卡人：{name}    社会保障号码：{number}").format(
                name=card.name, number=card.social_security_number)
        self.commitment = offer.commitment
        self.accepted = not offer.commitment

    def clear(self) -> None:
        self.title = self.holder = self.commitment = ""
        self.accepted = False


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

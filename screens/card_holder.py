"""The holder's card as read, with the ID number masked (3713**********1234)."""
from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.card_service import CardSummary


class CardHolderScreen(Screen):
    holder_name = StringProperty("")
    social_security_number = StringProperty("")
    card_number = StringProperty("")
    expiry = StringProperty("")
    card_version = StringProperty("")
    bank_account = StringProperty("")

    def show(self, summary: CardSummary) -> None:
        self.bank_account = summary.bank_account
        self.holder_name = summary.name
        self.social_security_number = summary.social_security_number
        self.card_number = summary.card_number
        self.expiry = summary.expiry
        self.card_version = summary.card_version

    def clear(self) -> None:
        """Personal data leaves the screen's memory as soon as the card leaves the reader."""
        for prop in ("holder_name", "social_security_number", "card_number", "expiry", "card_version", "bank_account"):
            setattr(self, prop, "")


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

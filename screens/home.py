"""Home: the service offers as large buttons, elder mode, the language, the offline banner,
and the hidden corner that staff tap three times to reach diagnostics."""
from __future__ import annotations

import time
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.i18n import LANGUAGES, _
from kiosk.services import catalog
from screens.menu import OFFERS
from screens.theme import smaller_text_size

# Each offer's icon on its tile (screens/icons.py).
OFFER_ICONS = {"lost_card": "credit_card_off", "first_card": "person_add_alt_1", "report_loss": "report",
               "cancel_loss": "credit_card", "activate": "check_circle", "activate_bank": "account_balance",
               "change_pin": "dialpad", "reset_pin": "lock_reset", "progress": "local_shipping"}
STAFF_TAPS = 3          # taps on the hidden corner ...
STAFF_TAP_WINDOW_S = 2  # ... within this many seconds open the staff sign-in


def offline_banner_text() -> str:
    """In the current language: what still works while the backend cannot be reached."""
    names = dict.fromkeys(_(action.title) for action in catalog.available_offline() if action.is_service_item)
    return _("网络中断，部分业务暂停。仍可办理：{items}（联网后自动报送）").format(items=_("、").join(names))


def other_language(language: str) -> str:
    """The language the switch on the home screen offers (there are two)."""
    return next(code for code in LANGUAGES if code != language)


class StaffCorner(Widget):
    """An unmarked corner: three quick taps open the staff sign-in (a citizen never finds it
    by accident, and it still needs the staff PIN)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._taps: list[float] = []

    def on_touch_down(self, touch):
        if not self.collide_point(*touch.pos):
            return False
        now = time.monotonic()
        self._taps = [t for t in self._taps if now - t < STAFF_TAP_WINDOW_S] + [now]
        if len(self._taps) >= STAFF_TAPS:
            self._taps = []
            App.get_running_app().open_staff_sign_in()
        return True


class ServiceTile(ButtonBehavior, BoxLayout):
    """An offer on the home screen: its icon and its name, one large touch target."""

    name = StringProperty("")
    icon_name = StringProperty("")
    text = StringProperty("")


class HomeScreen(Screen):
    status = StringProperty("")
    offline = BooleanProperty(False)
    banner = StringProperty("")

    def on_kv_post(self, base_widget):
        app = App.get_running_app()
        fit = Clock.create_trigger(lambda _dt: self._fit_offers())
        for offer in OFFERS:
            tile = ServiceTile(name=offer.key, icon_name=OFFER_ICONS[offer.key])
            tile.bind(on_release=lambda _b, key=offer.key: App.get_running_app().flow.begin(key))
            tile.ids.words.bind(size=fit, text=fit)
            self.ids.offers.add_widget(tile)
        app.theme.bind(button_size=fit)
        self._mark_offers()
        app.bind(lang=self._show_language)
        self._show_language(app, app.lang)

    def _fit_offers(self) -> None:
        """An offer whose words (in English, in elder mode's type) are taller than its tile
        are set a little smaller, down to four fifths of the small text, rather than spill out of it."""
        theme = App.get_running_app().theme
        for tile in self.ids.offers.children:
            words = tile.ids.words
            words.font_size = theme.button_size
            words.texture_update()
            while words.texture_size[1] > words.height - dp(8):
                smaller = smaller_text_size(words.font_size)   # down the type scale (theme.py)
                if smaller is None or smaller < theme.small_size * 0.8:
                    break
                words.font_size = smaller
                words.texture_update()

    def _show_language(self, _app, language: str) -> None:
        for button in self.ids.offers.children:
            button.text = _(next(o for o in OFFERS if o.key == button.name).title)
        self.banner = offline_banner_text()
        self.ids.language.text = LANGUAGES[other_language(language)]

    def switch_language(self) -> None:
        app = App.get_running_app()
        app.set_language(other_language(app.lang))

    def on_offline(self, _instance, _offline):
        self._mark_offers()

    def _mark_offers(self) -> None:
        """Offline, the offers that need the backend say so instead of failing later."""
        for button in self.ids.offers.children:
            offer = next(o for o in OFFERS if o.key == button.name)
            button.opacity = 0.45 if self.offline and not offer.works_offline() else 1

    def show_problem(self, citizen_message: str) -> None:
        self.status = citizen_message

    def clear_problem(self) -> None:
        self.status = ""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

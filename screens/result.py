"""Result: each item's outcome in plain words with what to do next, and the receipt: printed,
or, when the printer cannot print it, shown on screen as text and as a QR code that a phone
scans to keep the whole receipt."""
import logging
from pathlib import Path

from kivy.factory import Factory
from kivy.lang import Builder
from kivy.graphics.texture import Texture
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.i18n import N_, _
from kiosk.services import catalog

log = logging.getLogger(__name__)
QUIET_ZONE = 4   # modules of white around the symbol, as the QR standard asks for scanning

OUTCOME_WORDS = {"done": N_("已办结"), "pending": N_("已受理，联网后自动报送"), "refused": N_("未能办理"), "failed": N_("未能办理")}
# What the citizen takes away (with its illustration), said on the result screen.
TAKE_NEW_CARD = N_("请从出卡口取走您的新卡")
TAKE_OWN_CARD = N_("请取回您的社会保障卡")
TAKE_RECEIPT = N_("请从出纸口取走办理凭条")
TAKE_BELONGINGS = N_("请带好您的身份证件和随身物品")
NEXT_STEP = {True: N_("如需其他业务，请返回首页继续办理。"),
             False: N_("如有疑问，请拨打12333或到人工窗口咨询。")}


def qr_texture(text: str) -> Texture | None:
    """The receipt as a QR code, one texel per module (drawn scaled up without smoothing);
    None when the text is too long for any QR symbol (the text stays on screen)."""
    import segno   # only when a receipt cannot be printed: a kiosk that prints never loads it
    try:
        symbol = segno.make(text, error="m", micro=False)
    except segno.DataOverflowError:
        log.warning("receipt of %d characters too long for a QR code: shown as text only", len(text))
        return None
    modules = len(symbol.matrix)
    side = modules + 2 * QUIET_ZONE
    pixels = bytearray(b"\xff" * side * side)
    for row, line in enumerate(reversed(symbol.matrix)):   # textures start at the bottom row
        for column, dark in enumerate(line):
            if dark:
                pixels[(row + QUIET_ZONE) * side + column + QUIET_ZONE] = 0
    texture = Texture.create(size=(side, side), colorfmt="luminance")
    texture.mag_filter = texture.min_filter = "nearest"
    texture.blit_buffer(bytes(pixels), colorfmt="luminance", bufferfmt="ubyte")
    return texture


class ResultScreen(Screen):
    title = StringProperty("")
    receipt_note = StringProperty("")
    receipt_text = StringProperty("")
    receipt_qr = ObjectProperty(None, allownone=True)
    next_step = StringProperty("")
    rated = BooleanProperty(True)   # the citizen may rate what was done
    printed = BooleanProperty(False)   # the receipt came out of the printer

    def show(self, offer, results, receipt_note: str, receipt_text: str, printed: bool = False) -> None:
        self.title = offer.heading()
        self.printed = printed
        self._take_away(offer, results, printed)
        self.rated = catalog.action(offer.actions[0]).rated   # a question answered is not rated
        box = self.ids.results
        box.clear_widgets()
        for result in results:
            line = Factory.BodyLabel(text=_("【{outcome}】{item}：{message}").format(
                outcome=_(OUTCOME_WORDS[result.outcome]), item=_(catalog.ITEMS.get(result.service_item, "")),
                message=result.message(_)))
            line.color = self.theme_colour(result.ok)
            line.outcome = result.outcome
            box.add_widget(line)
        self.next_step = NEXT_STEP[all(result.ok for result in results)]
        self.receipt_note = receipt_note
        self.receipt_text = receipt_text
        self.receipt_qr = qr_texture(receipt_text) if receipt_text else None

    def _take_away(self, offer, results, printed: bool) -> None:
        """Where the new card, the citizen's own card and the receipt are, each with its picture."""
        card_made = any(r.action == "instant_issuance" and r.ok for r in results)
        things = [("credit_card", TAKE_NEW_CARD)] if card_made else []
        if offer.needs_card:
            things.append(("credit_card", TAKE_OWN_CARD))
        if printed:
            things.append(("receipt_long", TAKE_RECEIPT))
        things.append(("badge", TAKE_BELONGINGS))
        box = self.ids.take_away
        box.clear_widgets()
        for icon_name, words in things:   # (the language cannot change before the visit ends)
            box.add_widget(Factory.TakeAway(icon_name=icon_name, words=_(words)))

    @staticmethod
    def theme_colour(ok: bool):
        from kivy.app import App
        theme = App.get_running_app().theme
        return theme.success if ok else theme.warning

    def clear(self) -> None:
        self.ids.results.clear_widgets()
        self.ids.take_away.clear_widgets()
        self.title = self.receipt_note = self.receipt_text = self.next_step = ""
        self.printed = False
        self.receipt_qr = None


Builder.load_file(str(Path(__file__).with_suffix(".kv")))

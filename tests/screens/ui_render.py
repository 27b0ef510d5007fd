"""Every screen in both languages and both modes, filled with its longest real content, checked
for tofu (a character the font has no glyph for, drawn as a box), for labels whose text does
not fit their box, for the typesetting rules (screens/typesetting.py: no wrapped line starting
with closing punctuation, no lone last character, no English word broken), and for the header,
with the longest service's steps and a countdown on the screens of a visit. Canaries, plain
Kivy labels set to fail each typesetting rule, show the check would see it. Run as a subprocess
by test_render.py under Xvfb (Kivy runs one App per process); prints one JSON line with what it
found."""
import json
import sys
import tempfile
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.device_messages import DEVICE_MESSAGES
from simulation import demo
from screens.app import KioskApp, configure_window
from screens.icons import ICON_FONT
from screens.typesetting import faults

from kivy.clock import Clock  # noqa: E402

SETTLE_FRAMES = 3   # layouts that depend on texture sizes settle over a few frames


def contents():
    """(screen, variant, fill) for every screen, with the longest texts each one shows."""
    from drivers.id_card_reader import IdCardError
    from drivers.receipt_printer import PrinterPaperOut
    from kiosk.card_service import CardSummary
    from kiosk.i18n import N_, _
    from kiosk.pin_policy import WeakPin
    from kiosk.services.base import ServiceResult
    from kiosk.services.outcomes import REJECTIONS
    from screens.app import READERS_DOWN_MESSAGE
    from screens.identify import PROMPT_CARD
    from screens.menu import COMMITMENT, OFFERS, OLD, PIN_TITLES

    def home(screen, _app):
        screen.offline = True
        screen.status = READERS_DOWN_MESSAGE

    def card_holder(screen, _app):
        screen.show(CardSummary(name="欧阳*", social_security_number="371302********1234", card_number="M1****678",
                                expiry=_("{year}年{month}月{day}日").format(year=2034, month=12, day=31),
                                card_version=_("{generation}.0 代卡（{spec}）").format(generation=3, spec="3.00")))

    def guide(offer):
        return lambda screen, _app: screen.show(offer, online=False)

    def identify(screen, _app):
        screen.prompt = PROMPT_CARD
        screen.done = _("身份已确认：{name}  {id_number}").format(name="欧阳*", id_number="371302********1234")
        screen.problem = DEVICE_MESSAGES[IdCardError]

    def confirm(screen, _app):
        screen.title = OFFERS[0].title.replace("\n", " · ")
        screen.holder = _("办理人：{name}    身份证号：{id_number}").format(name="欧阳*", id_number="371302********1234")
        screen.commitment = COMMITMENT
        screen.accepted = False

    def application(page):
        def fill(screen, _app):
            from kiosk.application import GuardianRequired, PlaceUnknown
            from reference_backend.store import OFFICES
            from screens.application import NO_PHOTO_HERE
            screen.title = OFFERS[1].title.replace("\n", " · ")
            screen.phone, screen.category, screen.page = "13905356688", "employee", page
            screen.places = {"employee": "聊城市鲁西机械制造有限公司东昌府区第二分公司"} if page == 2 else {}
            screen.offices, screen.instant, screen.minor, screen.mailing = list(OFFICES), False, True, OFFICES[0]
            screen.guardian_text = GuardianRequired.citizen_message
            # The second page's longest words: why a card cannot be made here (#14).
            screen.problem = PlaceUnknown.citizen_message if page == 1 else max(
                (GuardianRequired.citizen_message, NO_PHOTO_HERE), key=lambda words: len(_(words)))
            screen._show_categories()
            screen._show_mailing()
        return fill

    def photo(state):
        def fill(screen, _app):
            from screens.photo import FAILED, KEEP
            screen.state, screen.prompt = state, {"review": KEEP, "failed": FAILED}[state]
        return fill

    def payment(state):
        def fill(screen, _app):
            from kiosk.fees import EXPIRED, TOLD
            from screens.payment import SCAN
            from screens.result import qr_texture
            screen.amount, screen.seconds_left = "¥20.00", 245
            if state == "waiting":
                screen.state, screen.prompt, screen.qr = "waiting", SCAN, qr_texture("REFPAY1:" + "x" * 40)
            else:
                screen.state, screen.problem = "over", TOLD[EXPIRED]
        return fill

    def signature(screen, _app):
        from kiosk.signature import SignatureTooLarge
        pad = screen.ids.pad
        pad.strokes = [[(0.1 + i / 40, 0.3 + 0.3 * (i % 4) / 3) for i in range(30)]]
        pad._redraw()
        screen.problem = SignatureTooLarge.citizen_message

    def pin(screen, _app):
        from screens.menu import PIN_FORGOTTEN, PIN_RULE, PIN_WHICH
        screen.question = PIN_TITLES[OLD]
        screen.problem = WeakPin.citizen_message
        screen.which, screen.rule, screen.forgotten = (max(notes.values(), key=lambda m: len(_(m)))
                                                       for notes in (PIN_WHICH, PIN_RULE, PIN_FORGOTTEN))

    def progress(screen, _app):
        screen.start(OFFERS[0])
        for step in (N_("正在受理制卡申请"), N_("正在获取制卡数据"), N_("正在出卡"), N_("正在写入芯片"),
                     N_("正在设置密码"), N_("正在打印卡面")):
            screen.update(step, 0.6)

    def result(screen, app):
        longest = max(REJECTIONS.values(), key=len)
        results = [ServiceResult("1.10.6", "report_loss_formal", "done", N_("正式挂失已办理，原卡已停止使用。")),
                   ServiceResult("1.10.7", "instant_issuance", "done", N_("新卡已制作完成，但出卡受阻，请联系工作人员为您取卡。")),
                   ServiceResult("1.10.2", "activate", "refused", longest),
                   ServiceResult("1.10.5", "change_pin", "pending", N_("密码已在卡上修改；修改记录将在网络恢复后上报。"))]
        screen.show(OFFERS[0], results, DEVICE_MESSAGES[PrinterPaperOut] + N_("办理凭证如下，请用手机扫码或拍照留存。"),
                    "社会保障卡自助服务 办理凭证\n" * 12)
        from screens.result import qr_texture
        found = app.render_found
        found["take_away"] = [row.icon_name for row in reversed(screen.ids.take_away.children)]
        found["result_qr_size"] = list(screen.receipt_qr.size) if screen.receipt_qr else None
        found["too_long_for_qr"] = qr_texture("凭" * 3000) is None

    def rating(screen, _app):
        screen.title = OFFERS[0].title.replace("\n", " · ")
        screen.thanked = True

    def staff(screen, _app):
        screen.problem = N_("错误次数过多，已暂时锁定")

    def face(screen, _app):
        from screens.face import PROBLEMS
        screen.prompt = max(PROBLEMS.values(), key=len)
        screen.problem = max((N_("未能取得您的登记照片，无法进行人脸核验，请工作人员协助核验身份。"),
                              N_("此业务需先核验是否本人：请完成人脸核验，或请工作人员协助核验。")), key=len)
        screen.can_retry = True

    def staff_assist(screen, _app):
        from screens.staff_assist import CALLED
        screen.prompt = CALLED
        screen.problem = N_("此卡不是登记的工作人员卡")
        screen.asking_pin = True

    def diagnostics(screen, _app):
        """Every device fitted and in trouble with its longest words, a held card, six faults."""
        from kiosk import diagnostics as model
        from kiosk.device_messages import STAFF_MESSAGES
        from kiosk.health import DeviceHealth, Fault, State
        from kiosk.services.issuance_journal import EntryStatus, IssuanceStep, JournalEntry
        from offline_queue.outbox import OutboxStats
        longest = max(STAFF_MESSAGES.values(), key=lambda words: len(_(words)))
        ribbon = {"ribbon_remaining": 12, "ribbon_capacity": 250, "blank_cards": False, "reject_box_full": True}
        found = {device: DeviceHealth(State.FAULT, words=(longest,)) for device in model.DEVICE_NAMES}
        found |= {"card_reader": DeviceHealth(State.OK, words=(N_("正常"), N_("卡座有卡"))),
                  "id_reader": DeviceHealth(State.OK, "SAM 05.01-20261126-0000000001-1234567890",
                                            words=(N_("正常"), N_("读卡区有身份证"))),
                  "receipt_printer": DeviceHealth(State.WARNING, "", {"paper": "near_end"},
                                                  (N_("纸将用尽，请更换纸卷"), N_("打印机正在自动恢复，请稍候重新检测"))),
                  "card_printer": DeviceHealth(State.FAULT, "", ribbon,
                                               (N_("空白卡已用完，请补充空白卡"), N_("废卡箱已满，请清空废卡箱"))),
                  "backend": DeviceHealth(State.OK, "1234 ms", words=(N_("已连接"),))}
        faults = [Fault(1780000000.0 - minute * 600, device, State.FAULT, (longest,))
                  for minute, device in enumerate(list(model.DEVICE_NAMES)[:6])]
        held = JournalEntry(1, "A20260601000123", "visit", "0201", IssuanceStep.REPORTED, EntryStatus.NEEDS_STAFF, True,
                            None, None, "key", 1, "not ejected", "2026-06-01T06:02:00Z")
        screen.show(model.Overview(
            tiles=model.device_tiles(found), supplies=model.supplies(found),
            outbox=model.outbox_counts(OutboxStats(pending=12000, dead=100, done=2000000, oldest_pending_age_s=86400 * 12,
                                                   quarantined=3, leased=50)),
            faults=model.fault_lines(faults), held=[held], card_printer=True,
            system=model.system_line(2**29, 252 * 2**30, 2**30, "0.1.0" + _("；更新：{state}").format(
                state=_(model.UPDATE_STATES["rolled_back"])) + _("（{version}）").format(version="0.2.0-rc.1"))))
        screen.say(_("未能处理：{error}").format(error=_(longest)), "fault")

    return ([("home", "", home), ("card_holder", "", card_holder)]
            + [("guide", offer.key, guide(offer)) for offer in OFFERS]
            + [("identify", "", identify), ("face", "", face), ("staff_assist", "", staff_assist),
               ("application", "number", application(1)), ("application", "delivery", application(2)),
               ("photo", "review", photo("review")), ("photo", "failed", photo("failed")), ("signature", "", signature),
               ("payment", "waiting", payment("waiting")), ("payment", "expired", payment("expired")),
               ("confirm", "", confirm), ("pin", "", pin), ("progress", "", progress),
               ("result", "", result), ("rating", "", rating), ("staff", "", staff),
               ("diagnostics", "", diagnostics), ("idle", "", None)])


class GlyphCheck:
    """Which characters the kiosk's font draws as its 'missing glyph' box."""

    def __init__(self):
        from PIL import ImageFont
        from kivy.core.text import DEFAULT_FONT, LabelBase
        self.path = LabelBase._fonts[DEFAULT_FONT][0]
        self.font = ImageFont.truetype(self.path, 48)
        self.box = self._mask("\U0010fffd")   # a private-use character no font has
        self.known: dict[str, bool] = {}

    def _mask(self, char: str) -> tuple:
        mask = self.font.getmask(char)
        return mask.size, bytes(mask)

    def missing(self, text: str) -> list[str]:
        for char in set(text) - self.known.keys():
            self.known[char] = char.isspace() or self._mask(char) != self.box
        return sorted(char for char in set(text) if not self.known[char])


def labels_of(widget, scrolled: bool = False):
    """(label, whether it is in a scrolling pane) for every visible label, buttons included."""
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView
    if widget.opacity == 0:
        return
    if isinstance(widget, Label):
        yield widget, scrolled
    for child in widget.children:
        yield from labels_of(child, scrolled or isinstance(widget, ScrollView))


def typesetting_faults(label) -> list[str]:
    from screens.widgets import drawn_lines
    return faults(*drawn_lines(label._label), label._label.text)


# Plain Kivy labels (no typesetting) at widths that break each rule, in the normal mode's sizes.
CANARIES = {"lone character": ("挂失·补卡·启用一次办", 30, 280), "broken word": ("English", 40, 120),
            "closing mark": ("工作人员不会询问您的密码。", 20, 250)}


def sing_canaries(found: dict) -> None:
    """Each canary drawn as Kivy would (which the check must catch), then as the screens draw it."""
    from kivy.uix.label import Label
    from screens.widgets import KioskLabel
    for name, (text, size, width) in CANARIES.items():
        for kind in (Label, KioskLabel):
            label = kind(text=text, font_size=size, text_size=(width, None), size=(width, 400))
            label.texture_update()
            found["canaries"][f"{name} ({kind.__name__})"] = typesetting_faults(label)


def inspect_header(screen, app, where: str, found: dict) -> None:
    """The header is on the screen, shown whole; in a visit, with the steps and the countdown."""
    from screens.widgets import ScreenHeader
    header = next((w for w in screen.walk(restrict=True) if isinstance(w, ScreenHeader)), None)
    if header is None or header.opacity == 0 or header.height < 20:
        found["headerless"].append(where)
        return
    found["headers"][where] = {"steps": len(header.steps) if header.ids.steps_row.height > 0 else 0,
                               "current": header.step_index,
                               "countdown": header.ids.countdown.width > 0 and header.ids.countdown.opacity > 0,
                               "hotline": "12333" in header.ids.hotline.text,
                               "terminal": app.kiosk_config.terminal.terminal_number in header.ids.terminal.text}


# The screens of a visit: their header shows the longest service's steps and a countdown (none
# while the service runs).
VISIT_SCREENS = ("guide", "identify", "face", "staff_assist", "application", "photo", "signature", "payment",
                 "confirm", "pin", "progress", "result", "rating")


def show_visit_header(app, name: str) -> None:
    from screens.menu import OFFERS_BY_KEY
    from screens.steps import current_step, service_steps
    offer = OFFERS_BY_KEY["first_card"]
    steps = list(service_steps(offer, charged=True, instant=True))
    app.show_header(service_title=max((o.title for o in OFFERS_BY_KEY.values()), key=len), steps=steps,
                    step_index=current_step(steps, name), seconds_left=-1 if name == "progress" else 120)


def inspect(root, glyphs: GlyphCheck, where: str, found: dict) -> None:
    from kivy.core.window import Window
    for label, scrolled in labels_of(root):
        if not label.text.strip() or label.width <= 1 or label.height <= 1:
            continue
        label.texture_update()
        text = label.text.replace("\n", " ")[:60]
        if label.font_name != ICON_FONT and (missing := glyphs.missing(label.text)):
            found["tofu"].append(f"{where}: {''.join(missing)!r} in {text!r}")
        width, height = label.texture_size
        if width > label.width + 2 or (height > label.height + 2 and not scrolled):
            found["overflow"].append(f"{where}: {text!r} needs {width:.0f}x{height:.0f}, "
                                     f"has {label.width:.0f}x{label.height:.0f}")
        if wrong := typesetting_faults(label):
            found["typesetting"].append(f"{where}: {text!r}: {'; '.join(wrong)}")
        if label.font_name != ICON_FONT:
            found["text_sizes"].setdefault(str(label._label.options["font_size"]), f"{where}: {text!r}")
            if label.bold:
                found["bold"].append(f"{where}: {text!r}")
        x, y = label.to_window(label.x, label.y)
        if x < -1 or x + label.width > Window.width + 1 or (
                not scrolled and (y < -1 or y + label.height > Window.height + 1)):   # a pane scrolls up and down
            found["overflow"].append(f"{where}: {text!r} lies outside the window")
        found["labels"] += 1


def main() -> int:
    from kivy.uix.screenmanager import NoTransition
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        configure_window(KioskConfig())
        found = {"tofu": [], "overflow": [], "typesetting": [], "labels": 0, "checked": [], "error": None,
                 "canaries": {}, "headerless": [], "headers": {}, "text_sizes": {}, "bold": []}
        # No idle timeout while the screens are looked at: it would send the staff screens home.
        # No smart cards: the vpcd slots are for the tests beside this one (its kiosk sees no
        # reader, and its card events, which would send it home, are not heard).
        with demo.simulated_kiosk(out, idle_timeout_s=3600, smart_cards=False) as sim:
            core = sim.kiosk_core().start()
            try:
                app = KioskApp(core)
                app.on_card_event = lambda _event: None
                app.render_found = found
                glyphs = {}   # made once the app has registered its font
                plan = [(lang, elder, *content) for lang in ("zh", "en") for elder in (False, True)
                        for content in contents()]

                def run(index: int, frames_left: int = SETTLE_FRAMES, popup=None) -> None:
                    try:
                        if index == len(plan):
                            app.stop()
                            return
                        lang, elder, name, variant, fill = plan[index]
                        where = f"{name}{'/' + variant if variant else ''} [{lang}{', elder' if elder else ''}]"
                        if frames_left == SETTLE_FRAMES:
                            app.set_language(lang)
                            app.theme.elder = elder
                            if name == "idle":
                                from screens.idle import IdleCountdown
                                popup = IdleCountdown()
                                popup.seconds_left = 9.99
                                popup.open(animation=False)
                            else:
                                app.root.transition = NoTransition()
                                app.root.current = name
                                fill(app.root.get_screen(name), app)
                                if name in VISIT_SCREENS:
                                    show_visit_header(app, name)
                        if frames_left > 0:
                            Clock.schedule_once(lambda _dt: run(index, frames_left - 1, popup), 0)
                            return
                        inspect(popup if popup is not None else app.root.current_screen, glyphs["check"], where, found)
                        if popup is None:
                            inspect_header(app.root.current_screen, app, where, found)
                        found["checked"].append(where)
                        if popup is not None:
                            popup.dismiss(animation=False)
                        Clock.schedule_once(lambda _dt: run(index + 1), 0)
                    except Exception as exc:  # the check itself broke: report it, do not hang
                        found["error"] = f"{type(exc).__name__}: {exc}"
                        app.stop()

                def start(_dt):
                    app._tick.cancel()   # the app's own clock would take the visit's header away: no visit runs
                    glyphs["check"] = GlyphCheck()
                    # The check must see a box where there is one: Tibetan is not in a CJK font.
                    found["box_seen"] = glyphs["check"].missing("ༀ密A") == ["ༀ"]
                    sing_canaries(found)
                    run(0)

                Clock.schedule_once(start, 1.0)
                app.run()
            finally:
                core.close()
        print(json.dumps(found, ensure_ascii=False))
    return 0 if found["error"] is None else 1


if __name__ == "__main__":
    sys.exit(main())

"""The scripted demo for a machine without a display (`./run demo` under Xvfb).

It wires a whole simulated kiosk (the PSAM and the citizen's card on vpcd, the card printer,
receipt printer and ID card reader simulators, the reference backend over TLS) to the real
Kivy app and plays visits against it with real touch events (a `Finger` goes
through the window's input dispatch, like a finger on the screen): the "I lost my card"
bundle with a face check, a PIN change, a first application vouched for by a member of staff,
a PIN change in English, a loss report while offline, an elder-mode visit left to time out,
and a diagnostics session. Each step waits for what the screen should show and saves a
screenshot (real pixels, so under Xvfb, not SDL offscreen); the printed receipts and card faces
are drawn as PNGs by the printer simulators; `summary.txt` lists what was done and `index.html`
(simulation/contact_sheet.py) shows every picture, visit by visit, captioned in both languages
(the screenshots' captions are CAPTIONS below).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from kiosk.config import KioskConfig
from screens.app import KioskApp, configure_window

from kivy.clock import Clock  # noqa: E402  (after screens.app set Kivy's environment)

from screens.menu import AGAIN, NEW, PIN_TITLES  # noqa: E402
from simulation import contact_sheet  # noqa: E402
from simulation.stack import (LI_SI, STAFF_CARD_PIN, STAFF_PIN, ZHANG_SAN, SimulatedKiosk,  # noqa: E402
                              simulated_kiosk)

STEP_TIMEOUT_S = 20
SETTLE_S = 0.05          # after a step without a screenshot
TRANSITION_S = 0.3       # before a screenshot: the cross-fade (0.2 s) has finished
IDLE_TIMEOUT_S = 12      # short, so the demo shows the countdown without a long wait
CARD_PIN, NEW_PIN = "147258", "582936"   # the simulated card's PIN (card_v3.toml) and a new one
LATER_PIN = "730461"                      # the new card's PIN after the demo's PIN change
ENGLISH_PIN = "418203"                    # ... and after the PIN change played in English

# Each screenshot's caption on the contact sheet (index.html): (Chinese, English). The
# language and the mode it was taken in are read from the app when it is taken.
CAPTIONS = {
    "01-home.png": ("首页：各项服务，大按钮", "Home: the services as large buttons"),
    "02-guide-lost-card.png": ("“我的卡丢了”：办事指南", "\"I lost my card\": the service guide"),
    "03-identify.png": ("请放置身份证", "Asked for the ID card"),
    "03b-face-check.png": ("人脸核验：随机两项动作（眨眼、左右转头），此为转头提示",
                           "Face check: two random challenges of a blink and head turns, here a turn asked for"),
    "04-confirm-commitment.png": ("核验通过：确认并签署承诺", "Face matched: confirm and accept the commitment"),
    "05a-payment.png": ("补卡费用：扫码支付", "The replacement's fee: a QR code to pay"),
    "05b-payment-expired.png": ("支付超时，未扣费，可重新支付", "Payment timed out: nothing taken, pay again"),
    "05-pin-pad.png": ("已支付：为新卡设置密码", "Paid: the PIN pad for the new card"),
    "06-progress.png": ("新卡制作中", "The new card being made"),
    "07-result-lost-card.png": ("办理结果：四项均已办结，凭条已打印", "Result: four items done, receipt printed"),
    "08-rating.png": ("好差评", "Rating the service"),
    "09-home-after-visit.png": ("办结后回到首页，个人信息已清除", "Home again, the visit's data cleared"),
    "10-insert-card.png": ("修改密码：请插入社会保障卡", "PIN change: asked for the card"),
    "11-confirm-pin-change.png": ("已读卡：确认修改密码", "Card read: confirm the PIN change"),
    "12-pin-current.png": ("请输入当前密码", "The current PIN asked"),
    "13-result-pin-changed.png": ("密码已修改", "PIN changed on the card"),
    "13a1-en-home.png": ("切换为英文的首页", "Home, switched to English"),
    "13a2-en-guide.png": ("修改密码：办事指南（英文）", "PIN change: the service guide"),
    "13a3-en-insert-card.png": ("请插入社会保障卡（英文）", "Asked for the card"),
    "13a4-en-confirm.png": ("已读卡：确认（英文）", "Card read: confirm"),
    "13a5-en-pin.png": ("请输入当前密码（英文）", "The current PIN asked"),
    "13a6-en-result.png": ("密码已修改（英文）", "Result: PIN changed"),
    "13b-face-not-matched.png": ("人脸核验未通过（登记库无照片）", "The face check cannot vouch (no registry photo)"),
    "13c-staff-called.png": ("已呼叫工作人员", "Staff called"),
    "13d-staff-vouched.png": ("工作人员持工作卡核验完成", "Staff vouched with their staff card"),
    "13e-application.png": ("申领信息：单位来自参保记录，填写手机号", "Application details: employer from the insurance record, mobile number"),
    "13f-photo-taken.png": ("现场拍照", "The kiosk takes his photo"),
    "13g-result-staff-assisted.png": ("首次申领办结，新卡已制作", "First application done, the card made on the spot"),
    "13h-identify-essc.png": ("可用身份证或电子社保卡二维码", "The ID card or the electronic social security card's QR code"),
    "13i-result-essc-progress.png": ("电子社保卡识别后查询制卡进度", "Identified by the e-SSC code: card production progress"),
    "14-home-offline.png": ("网络中断：离线提示", "Backend unreachable: the offline banner"),
    "15-guide-offline.png": ("离线临时挂失：指南说明生效方式", "Temporary loss report offline: the guide says when it takes effect"),
    "16-result-offline-loss.png": ("已受理，联网后自动报送", "Queued: sent when the link is back"),
    "17-elder-home.png": ("长辈模式：大字、高对比", "Elder mode: large text, high contrast"),
    "17b-elder-home-en.png": ("长辈模式，英文", "Elder mode, in English"),
    "18-elder-guide.png": ("长辈模式：办事指南", "Elder mode: the service guide"),
    "18b-elder-identify.png": ("长辈模式：请插入社会保障卡", "Elder mode: asked for the card"),
    "19-idle-countdown.png": ("无人操作：倒计时", "Nobody touches: the countdown"),
    "20-home-after-timeout.png": ("超时回到首页，长辈模式已关闭", "Timed out: home, elder mode off, visit cleared"),
    "21-diagnostics.png": ("维护诊断：设备状态", "Diagnostics: the device report"),
    "22-diagnostics-supplies.png": ("缺纸、色带将尽：诊断刷新", "Paper out, ribbon low: the report refreshed"),
    "failed.png": ("演示失败时的屏幕", "The screen when the demo failed"),
}


class DemoFailed(RuntimeError):
    pass


class Script:
    """Steps run one after another on the UI thread. Each step does its taps (or device
    actions), then polls until the screen shows what it should, then takes its screenshot."""

    def __init__(self, app: KioskApp, out_dir: Path):
        self.app = app
        self.out_dir = out_dir
        self.steps: list[tuple[str, object, object, str | None, float, int]] = []
        self.log: list[str] = []
        self.error: str | None = None
        # What the contact sheet shows: each visit's screenshots, receipts and card faces, in order.
        self.visits: list[contact_sheet.Visit] = []
        self._printouts_seen: set[str] = set()
        self._current = 0   # the step running

    def visit(self, title_zh: str, title_en: str) -> None:
        """The steps declared from here on belong to this visit (on the contact sheet)."""
        self.visits.append(contact_sheet.Visit(title_zh, title_en))

    def step(self, what: str, action, ready, screenshot: str | None = None,
             settle: float | None = None) -> None:
        """`settle`: seconds from `ready` to the screenshot, shorter than a transition for a
        screen that changes by itself (the face check moves on as soon as the face passes)."""
        if screenshot is not None and screenshot not in CAPTIONS:
            raise KeyError(f"screenshot {screenshot} has no caption in CAPTIONS (the contact sheet's table)")
        if settle is None:
            settle = TRANSITION_S if screenshot else SETTLE_S
        if not self.visits:
            self.visit("演示", "Demo")
        self.steps.append((what, action, ready, screenshot, settle, len(self.visits) - 1))

    def start(self) -> None:
        self._run(0)

    def _run(self, index: int) -> None:
        if index == len(self.steps):
            self.app.stop()
            return
        self._current = index
        what, action, ready, screenshot, settle, _visit = self.steps[index]
        try:
            if action is not None:
                action()
        except Exception as exc:  # a tap on a widget that is not there: the demo failed
            self._fail(f"step {index + 1} ({what}): {type(exc).__name__}: {exc}")
            return
        deadline = time.monotonic() + STEP_TIMEOUT_S

        def poll(_dt):
            if ready():
                Clock.schedule_once(lambda _dt: self._finish(index, what, screenshot), settle)
                return False
            if time.monotonic() > deadline:
                self._fail(f"step {index + 1} ({what}) did not happen within {STEP_TIMEOUT_S} s "
                           f"(screen: {self.app.root.current})")
                return False
            return True

        Clock.schedule_interval(poll, 0.03)

    def _fail(self, message: str) -> None:
        self.error = message
        self.screenshot("failed.png")
        visit = self.steps[min(len(self.steps) - 1, self._current)][5] if self.steps else 0
        self.record("failed.png", visit)
        self.app.stop()

    def screenshot(self, name: str) -> None:
        from kivy.core.window import Window  # created by the app, after its size was configured
        saved = Window.screenshot(name=str(self.out_dir / "shot.png"))
        os.replace(saved, self.out_dir / name)

    def record(self, screenshot: str | None, visit: int) -> None:
        """The contact sheet's items for this step: the printouts that came out since the last
        step, then the screenshot with the language and the mode the screen is in."""
        if not self.visits:
            return
        items = self.visits[visit].items
        for kind, folder in (("receipt", "receipts"), ("card-face", "card-faces")):
            for png in sorted((self.out_dir / folder).glob("*.png")):
                path = f"{folder}/{png.name}"
                if path not in self._printouts_seen:
                    self._printouts_seen.add(path)
                    items.append(contact_sheet.Item(path, kind, "", ""))   # captioned at the end
        if screenshot:
            zh, en = CAPTIONS[screenshot]
            items.append(contact_sheet.Item(screenshot, "screen", zh, en, lang=self.app.lang,
                                            elder=bool(self.app.theme.elder)))

    def _finish(self, index, what, screenshot) -> None:
        shown = [w.text for w in self.app.root.walk() if isinstance(getattr(w, "text", None), str)]
        if any(ZHANG_SAN.id_number in text for text in shown):
            self._fail(f"step {index + 1} ({what}): a full ID number is on the screen")
            return
        if screenshot:
            self.screenshot(screenshot)
        self.record(screenshot, self.steps[index][5])
        self.log.append(f"{screenshot or '-'}: {what}")
        self._run(index + 1)


# --- touches ---------------------------------------------------------------------------------

def tap(widget) -> None:
    """A finger down and up on the widget's centre, through the window's input dispatch."""
    x, y = widget.to_window(*widget.center)
    finger = Finger(x, y)
    finger.down()
    finger.up()


class Finger:
    """A touch at window position (x, y), dispatched as the window's input provider dispatches
    one: Kivy's UnitTestTouch does the same, but its module imports pytest (7 MB in a kiosk's
    process, which bench/ui.py measures with the demo's script in it)."""

    def __init__(self, x: float, y: float):
        from kivy.base import EventLoop
        from kivy.input.motionevent import MotionEvent

        class FingerEvent(MotionEvent):
            def depack(self, args):
                self.sx, self.sy = args["x"], args["y"]
                super().depack(args)

        self._loop = EventLoop
        window = EventLoop.window
        self._event = FingerEvent("Finger", 99, {"x": x / (window.width - 1.0), "y": y / (window.height - 1.0)},
                                  is_touch=True, type_id="touch")
        self._event.profile = ["pos"]

    def down(self) -> None:
        self._loop.post_dispatch_input("begin", self._event)

    def up(self) -> None:
        self._loop.post_dispatch_input("end", self._event)


def named(parent, name: str):
    """The widget called `name` (a .kv id or a `name` attribute) under `parent`."""
    if name in getattr(parent, "ids", {}):
        return parent.ids[name]
    for child in parent.walk(restrict=True):
        if getattr(child, "name", None) == name or name in getattr(child, "ids", {}):
            return child if getattr(child, "name", None) == name else child.ids[name]
    raise LookupError(f"no widget {name!r} on {parent}")


class Kiosk:
    """What a citizen (or the demo) sees and touches."""

    def __init__(self, app: KioskApp):
        self.app = app

    @property
    def screen(self):
        return self.app.root.current_screen

    def on(self, name: str) -> bool:
        manager = self.app.root
        return manager.current == name and not manager.transition.is_active

    def tap(self, name: str, screen: str | None = None) -> None:
        tap(named(self.app.root.get_screen(screen) if screen else self.screen, name))

    def asked_for_pin(self, kind: str) -> bool:
        """The PIN pad asks for `kind` (OLD, NEW, AGAIN; the pad lays its keys out anew: taps wait
        for that)."""
        return self.on("pin") and self.app.root.get_screen("pin").question == PIN_TITLES[kind]

    def type_pin(self, digits: str, screen: str = "pin") -> None:
        pad = self.app.root.get_screen(screen).ids.pad
        for digit in digits:
            tap(named(pad, f"digit-{digit}"))
        tap(named(pad, "confirm"))

    def text_of(self, screen: str, name: str) -> str:
        return named(self.app.root.get_screen(screen), name).text

    def result_lines(self) -> list[str]:
        return [line.text for line in reversed(self.app.root.get_screen("result").ids.results.children)]


def add_visits(script: Script, kiosk: Kiosk, sim: SimulatedKiosk, checks: dict) -> None:
    app, step = kiosk.app, script.step
    home = app.root.get_screen("home")

    def lay_id_card():
        sim.id_reader.update(person=ZHANG_SAN)

    def take_id_card():
        sim.id_reader.update(person=None)

    def home_and_cleared() -> bool:
        return kiosk.on("home") and not app.flow.active and not app.theme.elder

    # 1. "I lost my card": formal loss, replacement with a card made on the spot, activation, new PIN.
    script.visit("我的卡丢了：挂失、补卡、启用、设置密码（人脸核验）",
                 "\"I lost my card\": loss report, replacement, activation, new PIN (face check)")
    step("home: the services, large", None, lambda: kiosk.on("home") and app.link_up, "01-home.png")
    step("我的卡丢了: the service guide", lambda: kiosk.tap("lost_card"), lambda: kiosk.on("guide"),
         "02-guide-lost-card.png")
    step("asked for the ID card", lambda: kiosk.tap("start"), lambda: kiosk.on("identify"), "03-identify.png")
    step("ID card laid down: the face check, challenge spoken", lay_id_card,
         lambda: kiosk.on("face") and app.root.get_screen("face").preview is not None
         and app.root.get_screen("face").prompt in ("请缓慢向左转头", "请缓慢向右转头"), "03b-face-check.png",
         settle=0.1)
    step("face matched: confirm with the commitment", None, lambda: kiosk.on("confirm"),
         "04-confirm-commitment.png")
    payment = app.root.get_screen("payment")
    step("commitment accepted: the replacement's fee, a QR code to pay it",
         lambda: (kiosk.tap("accept"), kiosk.tap("confirm")),
         lambda: kiosk.on("payment") and payment.state == "waiting", "05a-payment.png")
    step("he was too slow: the order expired, nothing taken, he may pay again",
         lambda: sim.expire_fee_order(payment.order.order_id),
         lambda: payment.state == "over" and "超时" in payment.problem, "05b-payment-expired.png")
    step("pay again: a new order and its code",
         lambda: (checks.update(fee_expired=payment.problem), kiosk.tap("pay_again")),
         lambda: payment.state == "waiting" and payment.order is not None and payment.order.status == "pending", None)
    step("paid in his payment app: the PIN pad for the new card",
         lambda: checks.update(fee=sim.pay_fee_order(payment.order.order_id)),
         lambda: kiosk.on("pin"), "05-pin-pad.png")
    step("new PIN typed once: asked again", lambda: kiosk.type_pin(NEW_PIN), lambda: kiosk.asked_for_pin(AGAIN), None)
    step("new PIN again: the card is made", lambda: kiosk.type_pin(NEW_PIN),
         lambda: (kiosk.on("progress") and app.root.get_screen("progress").fraction > 0) or kiosk.on("result"),
         "06-progress.png")
    step("result: four items done, receipt printed", None, lambda: kiosk.on("result"), "07-result-lost-card.png")
    step("rating (好差评)", lambda: (checks.update(lost_card=kiosk.result_lines()), kiosk.tap("rate")),
         lambda: kiosk.on("rating"), "08-rating.png")
    step("rated 非常满意: thanks, then home with everything cleared",
         lambda: (kiosk.tap("level_5"), take_id_card()), home_and_cleared, "09-home-after-visit.png")

    # 2. A PIN change on the new card (the old one was cancelled by the replacement): only the
    #    card, its current PIN, the new one twice.
    script.visit("修改密码", "PIN change")
    step("修改密码: the guide", lambda: kiosk.tap("change_pin"), lambda: kiosk.on("guide"), None)
    step("asked for the card", lambda: kiosk.tap("start"), lambda: kiosk.on("identify"), "10-insert-card.png")
    step("new card inserted and read: confirm", sim.insert_made_card, lambda: kiosk.on("confirm"),
         "11-confirm-pin-change.png")
    step("current PIN asked", lambda: kiosk.tap("confirm"), lambda: kiosk.on("pin"), "12-pin-current.png")
    step("current PIN typed: the new one asked", lambda: kiosk.type_pin(NEW_PIN), lambda: kiosk.asked_for_pin(NEW),
         None)
    step("new PIN typed: asked again", lambda: kiosk.type_pin(LATER_PIN), lambda: kiosk.asked_for_pin(AGAIN), None)
    step("PIN changed on the card", lambda: kiosk.type_pin(LATER_PIN), lambda: kiosk.on("result"),
         "13-result-pin-changed.png")
    step("finished, card taken out: home",
         lambda: (checks.update(change_pin=kiosk.result_lines()), kiosk.tap("finish"), sim.card.remove()),
         home_and_cleared, None)

    # 2b. The same card's PIN changed again, by a citizen who reads English: the language chosen
    #     on the home screen lasts for the visit and ends with it.
    script.visit("修改密码（英文界面）", "PIN change, in English")
    step("English chosen on the home screen", lambda: kiosk.tap("language"),
         lambda: kiosk.on("home") and app.lang == "en", "13a1-en-home.png")
    step("Change PIN: the guide", lambda: kiosk.tap("change_pin"), lambda: kiosk.on("guide"), "13a2-en-guide.png")
    step("asked for the card", lambda: kiosk.tap("start"), lambda: kiosk.on("identify"), "13a3-en-insert-card.png")
    step("card inserted and read: confirm", sim.insert_made_card, lambda: kiosk.on("confirm"),
         "13a4-en-confirm.png")
    step("current PIN asked", lambda: kiosk.tap("confirm"), lambda: kiosk.on("pin"), "13a5-en-pin.png")
    step("current PIN typed: the new one asked", lambda: kiosk.type_pin(LATER_PIN),
         lambda: kiosk.asked_for_pin(NEW), None)
    step("new PIN typed: asked again", lambda: kiosk.type_pin(ENGLISH_PIN), lambda: kiosk.asked_for_pin(AGAIN),
         None)
    step("PIN changed, said in English", lambda: kiosk.type_pin(ENGLISH_PIN), lambda: kiosk.on("result"),
         "13a6-en-result.png")
    step("finished, card taken out: home, in Chinese again",
         lambda: (checks.update(change_pin_en=kiosk.result_lines()), kiosk.tap("finish"), sim.card.remove()),
         lambda: home_and_cleared() and app.lang == "zh", None)

    # 3. The face check cannot vouch (the registry holds no photo of Li Si): a member of staff
    #    checks the person and vouches with their staff card, then the visit goes on as any
    #    other (a first application: Li Si has no card yet).
    face = app.root.get_screen("face")
    assist = app.root.get_screen("staff_assist")

    def lay_li_si():
        sim.id_reader.update(person=LI_SI)

    script.visit("首次申领：人脸无法核验，工作人员协助", "First application: the face check cannot vouch, staff do")

    step("首次申领 by someone the face check cannot vouch for", lambda: kiosk.tap("first_card"),
         lambda: kiosk.on("guide"), None)
    step("ID card: the face check does not pass", lambda: (lay_li_si(), kiosk.tap("start")),
         lambda: kiosk.on("face") and face.problem != "", "13b-face-not-matched.png")
    step("请工作人员协助: staff called", lambda: kiosk.tap("staff_help"),
         lambda: kiosk.on("staff_assist") and not assist.asking_pin, "13c-staff-called.png")
    step("staff card inserted: its PIN asked", sim.insert_staff_card, lambda: assist.asking_pin, None)
    step("staff card PIN: vouched, take the card back", lambda: kiosk.type_pin(STAFF_CARD_PIN, "staff_assist"),
         lambda: not assist.asking_pin and assist.prompt.startswith("核验完成"), "13d-staff-vouched.png")
    application = app.root.get_screen("application")

    def type_phone() -> None:
        for digit in APPLICANT_PHONE:
            kiosk.tap(f"digit_{digit}")

    step("staff card out: the application's details, his employer from his insurance record",
         sim.card.remove, lambda: kiosk.on("application") and application.category == "employee", None)
    step("mobile number typed: confirm", type_phone, lambda: application.phone == APPLICANT_PHONE,
         "13e-application.png")
    photo = app.root.get_screen("photo")
    step("details given: the registry has no photo of him, so the kiosk takes one",
         lambda: kiosk.tap("next"), lambda: kiosk.on("photo") and photo.state == "review", "13f-photo-taken.png")
    step("the photo kept: confirm", lambda: (checks.update(kiosk_photo=len(photo.jpeg or b"")), kiosk.tap("keep")),
         lambda: kiosk.on("confirm"), None)
    step("commitment accepted: the PIN pad", lambda: (kiosk.tap("accept"), kiosk.tap("confirm")),
         lambda: kiosk.on("pin"), None)
    step("new PIN", lambda: kiosk.type_pin(NEW_PIN), lambda: kiosk.asked_for_pin(AGAIN), None)
    step("new PIN again", lambda: kiosk.type_pin(NEW_PIN), lambda: kiosk.on("result"), "13g-result-staff-assisted.png")
    step("finished: home", lambda: (checks.update(staff_assisted=kiosk.result_lines()), kiosk.tap("finish"),
                                    take_id_card()), home_and_cleared, None)

    # 3b. Li Si again, with only his phone: the electronic social security card's QR code under
    #     the scanner identifies him (#19), and he asks where his card is.
    identify = app.root.get_screen("identify")
    script.visit("凭电子社保卡查询制卡进度", "Card production progress, identified by the e-SSC code")
    step("制卡进度查询: the guide", lambda: kiosk.tap("progress"), lambda: kiosk.on("guide"), None)
    step("asked for the ID card or the e-SSC code", lambda: kiosk.tap("start"),
         lambda: kiosk.on("identify") and "电子社保卡" in identify.prompt, "13h-identify-essc.png")
    step("a cracked phone screen: the scan is garbled, and he is told", lambda: sim.garble_qr_scan(b"\x00\xfe\r"),
         lambda: "未能识别二维码" in identify.problem, None)
    step("the e-SSC code under the scanner: identified, confirm",
         lambda: (checks.update(essc_garbled=identify.problem), sim.show_essc_code(LI_SI.id_number)),
         lambda: kiosk.on("confirm"), None)
    step("his application's progress", lambda: kiosk.tap("confirm"), lambda: kiosk.on("result"),
         "13i-result-essc-progress.png")
    step("finished: home", lambda: (checks.update(essc_progress=kiosk.result_lines()), kiosk.tap("finish")),
         home_and_cleared, None)

    # 4. Offline: the backend goes away; a temporary loss report is queued as urgent.
    script.visit("离线临时挂失", "Temporary loss report while offline")
    step("backend unreachable: the offline banner", sim.cut_network,
         lambda: kiosk.on("home") and home.offline, "14-home-offline.png")
    step("临时挂失 offline: guide says what happens", lambda: kiosk.tap("report_loss"), lambda: kiosk.on("guide"),
         "15-guide-offline.png")
    step("ID card: confirm", lambda: (lay_id_card(), kiosk.tap("start")), lambda: kiosk.on("confirm"), None)
    step("queued: the citizen is told it takes effect on delivery", lambda: kiosk.tap("confirm"),
         lambda: kiosk.on("result"), "16-result-offline-loss.png")
    step("finished: home", lambda: (checks.update(offline_loss=kiosk.result_lines()), kiosk.tap("finish"),
                                    take_id_card()), home_and_cleared, None)

    # 5. Elder mode, then the citizen walks away: countdown, then home, cleared.
    script.visit("长辈模式，无人操作超时", "Elder mode, then nobody touches: the visit times out")
    step("长辈模式: large text, high contrast", lambda: kiosk.tap("elder"),
         lambda: kiosk.on("home") and app.theme.elder, "17-elder-home.png")
    step("elder mode in English", lambda: kiosk.tap("language"),
         lambda: kiosk.on("home") and app.theme.elder and app.lang == "en", "17b-elder-home-en.png")
    step("back to Chinese, still elder mode", lambda: kiosk.tap("language"),
         lambda: kiosk.on("home") and app.theme.elder and app.lang == "zh", None)
    step("elder mode: the guide", lambda: kiosk.tap("change_pin"), lambda: kiosk.on("guide"), "18-elder-guide.png")
    step("elder mode: asked for the card", lambda: kiosk.tap("start"),
         lambda: kiosk.on("identify") and app.theme.elder, "18b-elder-identify.png")
    step("nobody touches: the countdown", None, lambda: app._countdown is not None, "19-idle-countdown.png")
    step("time out: home, elder mode off, visit cleared", None, home_and_cleared, "20-home-after-timeout.png")

    # 6. Diagnostics: three taps on the hidden corner, the staff PIN, the device report.
    script.visit("维护诊断（工作人员）", "Diagnostics (staff)")
    def staff_corner():
        for _ in range(3):
            tap(named(home, "staff_corner"))

    step("hidden corner: staff sign-in", staff_corner, lambda: kiosk.on("staff"), None)
    diagnostics = app.root.get_screen("diagnostics")
    step("staff PIN: diagnostics", lambda: kiosk.type_pin(STAFF_PIN, "staff"),
         lambda: kiosk.on("diagnostics") and diagnostics.overview is not None and not diagnostics.checking,
         "21-diagnostics.png")
    step("test receipt printed", lambda: kiosk.tap("test_receipt"),
         lambda: "测试页已打印" in kiosk.text_of("diagnostics", "action"), None)

    def run_low() -> None:
        sim.receipt_printer.set_state(paper_out=True, paper_near_end=True)
        sim.card_printer.run_ribbon_down(12)   # of 250
        kiosk.tap("refresh")

    step("the paper runs out, the ribbon runs low: refreshed", run_low,
         lambda: not diagnostics.checking and diagnostics.levels().get("receipt_printer") == "fault"
         and diagnostics.levels().get("card_printer") == "warning", "22-diagnostics-supplies.png")
    step("staff leaves: home", lambda: (checks.update(diagnostics="\n".join(diagnostics.texts()),
                                                      diagnostics_levels=diagnostics.levels()),
                                        kiosk.tap("leave")), lambda: kiosk.on("home"), None)


APPLICANT_PHONE = "13905356688"
DEMO_FEES = "replace:lost=20.00"   # the demo's province charges for a card replaced because it was lost (#19)


def play(out: Path, add_steps, *, idle_timeout_s: int = IDLE_TIMEOUT_S, config_for=None, app_for=None,
         core_done=None, finish=None, smart_cards: bool = True) -> Script:
    """Plays `add_steps(script, kiosk, sim)` through the real app against a simulated kiosk and
    returns the script once the app has stopped. `config_for(sim)` and `app_for(core, sim)`
    change the configuration or the app; `core_done(core, sim)` runs once the app has stopped,
    before the kiosk's core closes; `finish(sim)` runs before the simulators stop. The window
    must be configured first (configure_window)."""
    with simulated_kiosk(out, idle_timeout_s=idle_timeout_s, smart_cards=smart_cards) as sim:
        core = sim.kiosk_core(config_for(sim) if config_for else None).start()
        try:
            app = app_for(core, sim) if app_for else KioskApp(core)
            script = Script(app, out)
            # The screens exist once the app has built them: script the visits then.
            Clock.schedule_once(lambda _dt: (add_steps(script, Kiosk(app), sim), script.start()), 1.0)
            app.run()
            if core_done is not None:
                core_done(core, sim)
        finally:
            core.close()
        if finish is not None:
            finish(sim)
    return script


def write_fleet_status(sim, path: Path) -> list[str]:
    """What the province's operations team sees (`kiosk fleet status`) after the demo: this
    kiosk, out of paper with its ribbon low, and another that went silent an hour ago."""
    from kiosk.cli.fleet import fleet_status, table
    from reference_backend.pki import PkiFiles
    sim.backend.store.seed_heartbeat("KIOSK-0002", at=time.time() - 3600, software_version="0.9.0")
    pki = PkiFiles(Path(sim.config.backend.ca_file).parent)
    lines = table(fleet_status(sim.backend.url, str(pki.ca_cert), str(pki.operations_cert), str(pki.operations_key)),
                  time.time())
    path.write_text("$ kiosk fleet status\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return lines


def caption_printouts(script: Script, sim) -> dict[str, str]:
    """Captions the receipts and card faces on the contact sheet from what printed them: the
    receipt's number and the code it carries, the card face's card number (masked); returns
    each receipt's QR payload by its path."""
    from drivers.escpos import QrCode
    from kiosk.masking import mask_card_number
    codes: dict[str, str] = {}
    printed = sim.receipt_printer.receipts if sim.receipt_printer else []
    for visit in script.visits:
        for item in visit.items:
            name = Path(item.path).stem
            if item.kind == "receipt":
                number = int(name.rsplit("-", 1)[1])   # receipt-003: the third to come out
                receipt = printed[number - 1] if number <= len(printed) else None
                payload = next((b.payload for b in receipt.blocks if isinstance(b, QrCode)), "") if receipt else ""
                codes[item.path] = payload
                torn = receipt is not None and not receipt.complete
                item.caption_zh = (f"凭条 {number}（{visit.title_zh}）" + (f"，二维码：{payload}" if payload else "")
                                   + ("，缺纸未打完" if torn else ""))
                item.caption_en = (f"Receipt {number} ({visit.title_en})" + (f", QR code: {payload}" if payload else "")
                                   + (", cut short: paper out" if torn else ""))
            elif item.kind == "card-face":
                card_id = name.split("-")[1]   # face-<card identifier>-<face number>
                row = sim.backend.store.read(lambda conn, card_id=card_id: conn.execute(
                    "SELECT card_number FROM cards WHERE upper(card_id) = ?", (card_id.upper(),)).fetchone()).body
                masked = mask_card_number(row[0]) if row else "?"
                item.caption_zh = f"卡面：社会保障卡号 {masked}（{visit.title_zh}）"
                item.caption_en = f"Card face: card number {masked} ({visit.title_en})"
    return codes


def run_demo(config: KioskConfig, out_dir: str) -> int:
    """`config` is the command line's; the demo replaces every device and the backend with
    simulators and keeps the window settings."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    configure_window(config)
    checks: dict = {}

    def demo_app(core, _sim) -> KioskApp:
        app = KioskApp(core)
        app.link_probe_s = 1.0
        return app

    played: dict = {}

    def finish(sim) -> None:
        checks.update(receipts=len(sim.receipt_printer.receipts))
        checks.update(fleet=write_fleet_status(sim, out / "fleet-status.txt"))
        script = played["script"]
        script.record(None, len(script.visits) - 1)   # printouts that came out after the last step
        checks.update(receipt_codes=caption_printouts(script, sim))
        contact_sheet.write(out, script.visits)

    def add_steps(script, kiosk, sim) -> None:
        played.update(script=script)
        add_visits(script, kiosk, sim, checks)

    script = play(out, add_steps, app_for=demo_app,
                  config_for=lambda sim: sim.config.changed(fees={"charges": DEMO_FEES}),
                  core_done=lambda core, sim: (sim.restore_network(), core.send_heartbeat()), finish=finish)
    summary = "\n".join(script.log + ([f"FAILED: {script.error}"] if script.error else []))
    (out / "summary.txt").write_text(summary + "\n\n" + json.dumps(checks, ensure_ascii=False, indent=2) + "\n",
                                     encoding="utf-8")
    print(summary)
    print(json.dumps(checks, ensure_ascii=False))
    if script.error:
        print(f"demo failed: {script.error}")
        return 1
    print(f"demo: {len(script.log)} steps, screenshots and receipts in {out}, all of them on {out / 'index.html'}")
    return 0

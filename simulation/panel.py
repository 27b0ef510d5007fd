"""The simulator panel beside the kiosk window (`kiosk demo --panel`, what `./run demo` opens
on a machine with a display): a person plays the citizen and the faults with it. Insert or
take out the social security card, lay an ID card on the reader, run the receipt printer out
of paper, open the card printer's cover, cut the network, change who stands in front of the
camera (the right person, another, a photo held up, nobody), hold Zhang San's electronic social
security card under the QR scanner, and pay, fail or let expire the fee order the kiosk shows
(the demo's province charges for a lost card's replacement); each switch acts on the same
simulators the scripted demo uses, and the kiosk beside it reacts as it would to the real
device. Device actions that wait (a card taken out waits for the reader to see it) run off the
UI thread.
"""
from __future__ import annotations

import threading
from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.config import KioskConfig
from kiosk.i18n import N_, _
from screens.app import KioskApp, configure_window

PANEL_WIDTH = 360

# (switch name, label when off, label when on): the panel is for the person running the demo.
SWITCHES = (
    ("card", N_("插入社会保障卡"), N_("取出社会保障卡")),
    ("id_card", N_("放上身份证"), N_("拿走身份证")),
    ("paper", N_("凭条打印机缺纸"), N_("装入凭条纸")),
    ("cover", N_("打开制卡机机盖"), N_("关上制卡机机盖")),
    ("network", N_("断开网络"), N_("恢复网络")),
)


FEE_ACTIONS = {"pay": N_("支付成功"), "fail": N_("支付失败"), "expire": N_("订单过期")}

# Who stands in front of the simulated camera, in the order the panel's button goes through.
SCENES = (("right_person", N_("摄像头前：本人")), ("other_person", N_("摄像头前：他人")),
          ("photo_held_up", N_("摄像头前：举着本人照片")), ("video_replayed", N_("摄像头前：播放本人视频")),
          ("nobody", N_("摄像头前：无人")))


class SimulatorPanel(BoxLayout):
    last_action = StringProperty("")
    staff_pin = StringProperty("")
    scene = StringProperty(SCENES[0][1])

    def __init__(self, sim, **kwargs):
        self.sim = sim
        super().__init__(**kwargs)

    def on_kv_post(self, base_widget):
        from kivy.factory import Factory
        from kivy.app import App
        from simulation.stack import STAFF_PIN
        self.staff_pin = STAFF_PIN
        for name, off, on in SWITCHES:
            switch = Factory.PanelSwitch()
            switch.name = name
            switch.bind(state=lambda button, state, off=off, on=on: self._switched(button, state == "down", off, on))
            self.ids.switches.add_widget(switch)
        App.get_running_app().bind(lang=lambda _app, _lang: self._label_switches())
        self._label_switches()

    def _label_switches(self) -> None:
        for switch in self.ids.switches.children:
            _name, off, on = next(s for s in SWITCHES if s[0] == switch.name)
            switch.text = _(on if switch.state == "down" else off)

    def _switched(self, button, down: bool, off: str, on: str) -> None:
        self._label_switches()
        action = getattr(self, f"_{button.name}")
        self.last_action = _(off if down else on) + " …"

        def work() -> None:
            try:
                action(down)
                done = _("已完成：{action}").format(action=_(off if down else on))
            except Exception as exc:  # a simulator refusing: say so on the panel, keep the demo going
                done = f"{type(exc).__name__}: {exc}"
            Clock.schedule_once(lambda _dt: setattr(self, "last_action", done))

        threading.Thread(target=work, name=f"panel-{button.name}", daemon=True).start()

    def next_scene(self) -> None:
        """The next person (or photo, or nobody) in front of the camera."""
        names = [name for name, _label in SCENES]
        following = SCENES[(names.index(str(self.sim.camera.scene)) + 1) % len(SCENES)]
        self.sim.camera.scene = following[0]
        self.scene = following[1]

    def _card(self, insert: bool) -> None:
        self.sim.card.insert() if insert else self.sim.card.remove()

    def _id_card(self, lay: bool) -> None:
        from simulation.stack import ZHANG_SAN
        self.sim.id_reader.update(person=ZHANG_SAN if lay else None)

    def _paper(self, out: bool) -> None:
        self.sim.receipt_printer.set_state(paper_out=True) if out else self.sim.receipt_printer.load_paper()

    def _cover(self, open_: bool) -> None:
        self.sim.card_printer.cover_open = open_

    def _network(self, cut: bool) -> None:
        self.sim.cut_network() if cut else self.sim.restore_network()

    def show_essc_code(self) -> None:
        from simulation.stack import ZHANG_SAN
        self._act(N_("出示电子社保卡"), lambda: self.sim.show_essc_code(ZHANG_SAN.id_number))

    def settle_fee_order(self, how: str) -> None:
        """The citizen's payment app pays (or fails), or the order runs out (`how`)."""
        from kivy.app import App
        order = App.get_running_app().root.get_screen("payment").order
        if order is None:
            self.last_action = _("没有待支付的订单")
            return
        settle = {"pay": self.sim.pay_fee_order, "fail": self.sim.fail_fee_order,
                  "expire": self.sim.expire_fee_order}[how]
        self._act(FEE_ACTIONS[how], lambda: settle(order.order_id))

    def _act(self, what: str, action) -> None:
        self.last_action = _(what) + " …"

        def work() -> None:
            try:
                action()
                done = _("已完成：{action}").format(action=_(what))
            except Exception as exc:  # a simulator refusing: say so on the panel, keep the demo going
                done = f"{type(exc).__name__}: {exc}"
            Clock.schedule_once(lambda _dt: setattr(self, "last_action", done))

        threading.Thread(target=work, name="panel-action", daemon=True).start()


class PanelKioskApp(KioskApp):
    """The kiosk app with the panel to the right of its screens, in one window."""

    def __init__(self, core, sim, kiosk_width: int, **kwargs):
        super().__init__(core, **kwargs)
        self.sim = sim
        self.kiosk_width = kiosk_width
        self.panel: SimulatorPanel | None = None

    def build(self):
        manager = super().build()
        # The screens keep the kiosk's own size; the window is wider by the panel.
        manager.size_hint_x = None
        manager.width = dp(self.kiosk_width)
        return manager

    def on_start(self):
        from kivy.core.window import Window
        super().on_start()
        Builder.load_file(str(Path(__file__).with_suffix(".kv")))
        self.panel = SimulatorPanel(self.sim, size_hint=(None, 1), width=dp(PANEL_WIDTH))
        self.panel.x = Window.width - self.panel.width
        Window.bind(width=lambda _w, width: setattr(self.panel, "x", width - self.panel.width))
        Window.add_widget(self.panel)


def run_with_panel(config: KioskConfig, out_dir: str) -> int:
    from simulation.stack import simulated_kiosk
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kiosk_width = config.ui.width
    configure_window(config)
    from kivy.config import Config
    Config.set("graphics", "width", str(kiosk_width + PANEL_WIDTH))
    with simulated_kiosk(out, idle_timeout_s=config.ui.idle_timeout_s) as sim:
        from simulation.demo import DEMO_FEES
        core = sim.kiosk_core(sim.config.changed(fees={"charges": DEMO_FEES})).start()
        try:
            PanelKioskApp(core, sim, kiosk_width).run()
        finally:
            core.close()
    return 0

"""The scripted demo visit for a machine without a display (`./run demo` under Xvfb).

It runs the real kiosk app and plays a visit against it with simulated devices: the PSAM in
its slot, a 3.0 card inserted, read and shown, then taken out. Each step waits for the screen
the kiosk should reach and saves a screenshot (real pixels, so under Xvfb, not SDL offscreen).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from kiosk.config import KioskConfig
from screens.app import KioskApp, configure_window

from kivy.clock import Clock  # noqa: E402  (after screens.app set Kivy's environment)

from drivers.sim.pcscd import VPCD_CARD_PORT, VPCD_PSAM_PORT  # noqa: E402
from drivers.sim.psam import SimulatedPsam  # noqa: E402
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard  # noqa: E402
from drivers.sim.vpcd import VpcdLink  # noqa: E402

STEP_TIMEOUT_S = 15


class DemoFailed(RuntimeError):
    pass


class ScriptedVisit:
    """Steps run one after another on the UI thread; each waits for its condition by polling."""

    def __init__(self, app: KioskApp, out_dir: Path):
        self.app = app
        self.out_dir = out_dir
        self.card = VpcdLink(SimulatedSocialSecurityCard(CardProfile.load("card_v3.toml")), port=VPCD_CARD_PORT)
        self.psam = VpcdLink(SimulatedPsam(), port=VPCD_PSAM_PORT)
        self.steps = [
            ("home screen asks for the card", lambda: self.on_screen("home"), "01-home.png", self.insert_card),
            ("card read, holder shown masked", self.holder_shown_masked, "02-card-holder.png", self.remove_card),
            ("card removed, back home, holder cleared", self.home_and_cleared, "03-home-again.png", None),
        ]
        self.log: list[str] = []
        self.error: str | None = None

    def on_screen(self, name: str) -> bool:
        manager = self.app.root
        return manager.current == name and not manager.transition.is_active

    def holder_shown_masked(self) -> bool:
        holder = self.app.root.get_screen("card_holder")
        return self.on_screen("card_holder") and holder.social_security_number == "3713**********1239"

    def home_and_cleared(self) -> bool:
        holder = self.app.root.get_screen("card_holder")
        return self.on_screen("home") and not (holder.holder_name or holder.social_security_number)

    def insert_card(self) -> None:
        self.card.insert()

    def remove_card(self) -> None:
        self.card.remove()

    def start(self) -> None:
        self.psam.insert()
        self._run_step(0)

    def _run_step(self, index: int) -> None:
        if index == len(self.steps):
            self.app.stop()
            return
        what, ready, screenshot, then = self.steps[index]
        deadline = time.monotonic() + STEP_TIMEOUT_S

        def poll(_dt):
            if ready():
                # One more frame so the screen is fully drawn before the picture is taken.
                Clock.schedule_once(lambda _dt: self._finish_step(index, what, screenshot, then), 0.5)
                return False
            if time.monotonic() > deadline:
                self.error = f"step {index + 1} ({what}) did not happen within {STEP_TIMEOUT_S} s"
                self.app.stop()
                return False
            return True

        Clock.schedule_interval(poll, 0.1)

    def _finish_step(self, index, what, screenshot, then) -> None:
        from kivy.core.window import Window  # created by the app, after its size was configured
        saved = Window.screenshot(name=str(self.out_dir / "shot.png"))
        os.replace(saved, self.out_dir / screenshot)
        self.log.append(f"{screenshot}: {what}")
        if then is not None:
            then()
        self._run_step(index + 1)

    def close(self) -> None:
        self.card.remove()
        self.psam.remove()


def run_demo(config: KioskConfig, out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    configure_window(config)
    app = KioskApp(config)
    visit = ScriptedVisit(app, out)
    Clock.schedule_once(lambda _dt: visit.start(), 1.0)
    try:
        app.run()
    finally:
        visit.close()
    for line in visit.log:
        print(line)
    if visit.error:
        print(f"demo failed: {visit.error}")
        return 1
    print(f"demo: {len(visit.log)} screenshots in {out}")
    return 0

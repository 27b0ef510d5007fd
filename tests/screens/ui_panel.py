"""The simulator panel of `kiosk demo --panel`, by touch (run as a subprocess by
test_panel.py): each switch acts on its simulator and the kiosk beside it reacts; the card it
inserts is read onto the card-holder screen, whose texts are kept. Prints one JSON line with
what was seen."""
import json
import sys
import tempfile
from pathlib import Path

from kiosk.config import KioskConfig
from simulation import demo
from simulation.panel import PanelKioskApp


def add_steps(script, kiosk, sim, seen):
    app, step = kiosk.app, script.step
    home, holder = app.root.get_screen("home"), app.root.get_screen("card_holder")

    def flip(name):
        return lambda: demo.tap(demo.named(app.panel, name))

    step("panel beside home", None, lambda: app.panel is not None and kiosk.on("home")
         and app.panel.right <= app.root.parent.width + 1 and app.root.right <= app.panel.x + 1)
    step("card inserted from the panel: the kiosk reads it", flip("card"), lambda: kiosk.on("card_holder"))
    step("the card's lines read", lambda: seen.update(
        card_holder=[w.text for w in holder.walk() if isinstance(getattr(w, "text", None), str)]), lambda: True)
    step("card taken out: home again", flip("card"), lambda: kiosk.on("home"))
    step("ID card laid on the reader", flip("id_card"), lambda: sim.id_reader.profile.person is not None)
    step("ID card taken away", flip("id_card"), lambda: sim.id_reader.profile.person is None)
    step("printer out of paper", flip("paper"), lambda: sim.receipt_printer.state.paper_out)
    step("paper loaded", flip("paper"), lambda: not sim.receipt_printer.state.paper_out)
    step("card printer cover opened", flip("cover"), lambda: sim.card_printer.cover_open)
    step("cover closed", flip("cover"), lambda: not sim.card_printer.cover_open)
    step("network cut: the offline banner", flip("network"), lambda: home.offline)
    step("network back: the banner goes", (lambda: (seen.update(panel_said=app.panel.last_action), flip("network")())),
         lambda: not home.offline)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        config = KioskConfig()
        from simulation.panel import PANEL_WIDTH
        from screens.app import configure_window
        from kivy.config import Config
        configure_window(config)
        Config.set("graphics", "width", str(config.ui.width + PANEL_WIDTH))
        seen = {}

        def panel_app(core, sim):
            app = PanelKioskApp(core, sim, config.ui.width)
            app.link_probe_s = 0.5
            return app

        script = demo.play(out, lambda script, kiosk, sim: add_steps(script, kiosk, sim, seen), app_for=panel_app)
        seen["error"] = script.error
        print(json.dumps(seen, ensure_ascii=False))
    return 0 if script.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

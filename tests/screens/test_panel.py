"""`kiosk demo --panel`: the simulator panel beside the kiosk plays the citizen and the faults."""
from pathlib import Path

from tests.ui_script import run_ui_script


def test_each_panel_switch_acts_on_its_simulator_and_the_kiosk_reacts(pcscd):
    seen = run_ui_script(Path(__file__).with_name("ui_panel.py"))
    assert seen["panel_said"] == "已完成：断开网络"

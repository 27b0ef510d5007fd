"""The touchscreen, end to end: the scripted demo drives the real app under Xvfb (./run test
provides the display) with the simulated card and PSAM, and must leave real pixels behind."""
import os
import subprocess
import sys

from PIL import Image, ImageChops

from drivers.pcsc import wait_for_card
from drivers.sim.pcscd import CARD_READER, PSAM_READER


def test_demo_visit_shows_the_masked_holder_and_returns_home(pcscd, tmp_path):
    assert os.environ.get("DISPLAY"), "./run test starts Xvfb; run the suite through it"
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    for reader in (CARD_READER, PSAM_READER):  # the demo took its cards out: leave the slots empty
        wait_for_card(reader, timeout=5, present=False)
    home, holder, home_again = (Image.open(tmp_path / name).convert("RGB") for name in
                                ("01-home.png", "02-card-holder.png", "03-home-again.png"))
    assert home.size == (1280, 800)
    # Real pixels: not one flat colour (SDL's offscreen driver would give black frames).
    assert len(home.getcolors(maxcolors=100000) or ()) > 10
    assert ImageChops.difference(home, holder).getbbox() is not None
    assert "card removed, back home, holder cleared" in result.stdout


def test_cjk_font_is_registered_as_the_default():
    code = ("from screens.fonts import register_cjk_font; from kivy.core.text import LabelBase, DEFAULT_FONT;"
            "path = register_cjk_font(); print(path);"
            "assert LabelBase._fonts[DEFAULT_FONT][0] == path")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "KIVY_NO_ARGS": "1"})
    assert result.returncode == 0, result.stderr
    assert "wqy" in result.stdout

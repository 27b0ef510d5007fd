"""The touchscreen end to end: `kiosk demo` plays five visits through the real app under Xvfb
(./run test provides the display) with every device simulated, by touch events, and must
leave real pixels, printed receipts and the right words on each screen behind."""
import json
import re
import os
import subprocess
import sys

import pytest
from PIL import Image, ImageChops

from drivers.pcsc import wait_for_card
from drivers.sim.pcscd import CARD_READER, PSAM_READER


@pytest.fixture(scope="module")
def demo(pcscd, tmp_path_factory):
    assert os.environ.get("DISPLAY"), "./run test starts Xvfb; run the suite through it"
    out = tmp_path_factory.mktemp("demo")
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", "--out", str(out)],
                            capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for reader in (CARD_READER, PSAM_READER):  # the demo took its cards out: leave the slots empty
        wait_for_card(reader, timeout=5, present=False)
    checks = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    return out, checks


def shot(out, name):
    return Image.open(out / name).convert("RGB")


def test_lost_card_bundle_through_the_screens_does_all_four_items(demo):
    out, checks = demo
    assert [line.split("】")[0] for line in checks["lost_card"]] == ["【已办结"] * 4
    # The demo's province charges 20 yuan for a lost card's replacement (#19): paid before the card was made.
    assert (checks["fee"]["status"], checks["fee"]["amount_fen"]) == ("paid", 2000) and (out / "05a-payment.png").exists()
    assert "支付已超时，未扣费" in checks["fee_expired"]   # the first order ran out: told, and paid again
    assert "正式挂失已办理" in checks["lost_card"][0] and "新卡已制作完成" in checks["lost_card"][1]


def test_the_face_check_shows_the_camera_and_staff_vouch_when_it_cannot(demo):
    out, checks = demo
    face = shot(out, "03b-face-check.png")
    assert len(face.crop((100, 200, 600, 600)).getcolors(1 << 24)) > 1000   # a camera picture, not a flat panel
    assert [line.split("】")[0] for line in checks["staff_assisted"]] == ["【已办结"] * 3
    assert (out / "13c-staff-called.png").exists() and (out / "13d-staff-vouched.png").exists()
    # His registry had no photo: the kiosk took one (#14), and his card made on the spot carries it.
    assert checks["kiosk_photo"] > 5000 and (out / "13e-application.png").exists()
    photo = shot(out, "13f-photo-taken.png")
    assert len(photo.crop((100, 200, 600, 600)).getcolors(1 << 24)) > 1000   # a photo, not a flat panel
    from kiosk.card_face import PHOTO_BOX
    li_si_face = sorted((out / "card-faces").glob("*.png"))[-1]   # the second card the demo made
    box = Image.open(li_si_face).convert("RGB").crop(PHOTO_BOX)
    assert len(box.getcolors(1 << 24)) > 500   # a photo in the box, not the grey silhouette


def test_the_electronic_social_security_card_identifies_without_a_document(demo):
    out, checks = demo
    assert (out / "13h-identify-essc.png").exists() and (out / "13i-result-essc-progress.png").exists()
    assert checks["essc_progress"] and all("】" in line for line in checks["essc_progress"])
    assert "未能识别二维码" in checks["essc_garbled"]   # a damaged code first: told in plain words


def test_pin_change_and_offline_loss_report_say_what_happened(demo):
    _out, checks = demo
    assert checks["change_pin"] == ["【已办结】社会保障卡密码修改与重置：密码已修改成功，请牢记新密码。"]
    [offline] = checks["offline_loss"]
    assert offline.startswith("【已受理，联网后自动报送】") and "送达后生效" in offline


def test_receipts_are_printed_and_diagnostics_see_every_device(demo):
    out, checks = demo
    # lost card, PIN change, offline loss report, the staff-assisted application, and the staff's test page
    assert checks["receipts"] == 5 and len(list((out / "receipts").glob("*.png"))) == 5
    report, levels = checks["diagnostics"], checks["diagnostics_levels"]   # what the screen showed, its tiles
    assert levels["psam"] == "ok" and "PSAM卡在位" in report and "有卡" in report   # blank cards
    assert levels["backend"] == "fault" and "无法连接业务系统" in report   # the demo cut the network before
    assert "待发送" in report and "死信 0" in report   # nothing the backend refused
    assert not re.search(r"[A-Z][a-z]+[A-Z]\w*(Error|Unavailable|Rejected|Exception)", report)
    # The paper ran out and the ribbon ran low before staff left: diagnostics and the fleet see both,
    # and the fleet sees the other kiosk that went silent an hour ago.
    assert levels["receipt_printer"] == "fault" and "缺纸，请装入新纸卷" in report
    assert levels["card_printer"] == "warning" and "剩余 12/250，请准备新色带" in report
    assert (out / "22-diagnostics-supplies.png").exists()
    this_kiosk, silent = (next(line for line in checks["fleet"] if line.startswith(name))
                          for name in ("KIOSK-0001", "KIOSK-0002"))
    assert "receipt printer FAULT (paper out)" in this_kiosk and "card printer WARNING (ribbon 12/250)" in this_kiosk
    assert "SILENT 1h0m" in silent and "fleet status" in (out / "fleet-status.txt").read_text(encoding="utf-8")


def test_screens_have_real_pixels_elder_mode_is_dark_and_the_countdown_shows(demo):
    out, _checks = demo
    home = shot(out, "01-home.png")
    assert home.size == (1280, 800)
    assert len(home.getcolors(maxcolors=100000) or ()) > 10  # not one flat colour (SDL offscreen)
    assert home.getpixel((5, 5)) == (245, 247, 252)   # the normal background
    elder = shot(out, "17-elder-home.png")
    assert elder.getpixel((5, 5)) == (0, 0, 0)         # high contrast: black
    assert ImageChops.difference(home, shot(out, "14-home-offline.png")).getbbox() is not None  # the banner
    countdown, after = shot(out, "19-idle-countdown.png"), shot(out, "20-home-after-timeout.png")
    assert ImageChops.difference(countdown, after).getbbox() is not None
    assert after.getpixel((5, 5)) == (245, 247, 252)  # elder mode ended with the visit


def test_cjk_font_is_registered_as_the_default():
    code = ("from screens.fonts import register_cjk_font; from kivy.core.text import LabelBase, DEFAULT_FONT;"
            "path = register_cjk_font(); print(path);"
            "assert LabelBase._fonts[DEFAULT_FONT][0] == path")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "KIVY_NO_ARGS": "1"})
    assert result.returncode == 0, result.stderr
    assert "wqy" in result.stdout

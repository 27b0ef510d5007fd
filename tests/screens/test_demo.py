"""The touchscreen end to end: `kiosk demo` plays its visits through the real app under Xvfb
(./run test provides the display) with every device simulated, by touch events, and must
leave real pixels, printed receipts and the right words on each screen behind."""
import io
import json
import os
import re
import subprocess
import sys

from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image, ImageChops

from drivers.pcsc import wait_for_card
from drivers.sim.camera import face_test_images
from drivers.sim.pcscd import CARD_READER, PSAM_READER
from kiosk.card_face import PHOTO_BOX, _fit_photo
from simulation.stack import REGISTERED_PHOTO, registry_photo


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
    # His new card's face carries his registry photo, fitted into its box (#14).
    faces = sorted((out / "card-faces").glob("*.png"))   # face-<card identifier>-1.png, identifiers counting up
    assert len(faces) == 2, faces   # his card, then Li Si's
    box = Image.open(faces[0]).convert("RGB").crop(PHOTO_BOX)
    with Image.open(io.BytesIO(registry_photo(face_test_images() / REGISTERED_PHOTO))) as photo:
        expected = _fit_photo(photo, box.size)
    assert np.abs(np.asarray(box, dtype=float) - np.asarray(expected, dtype=float)).mean() < 12


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
    li_si_face = sorted((out / "card-faces").glob("*.png"))[-1]   # the second card the demo made
    box = Image.open(li_si_face).convert("RGB").crop(PHOTO_BOX)
    assert len(box.getcolors(1 << 24)) > 500   # a photo in the box, not a flat colour


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
    # lost card, PIN change (in Chinese, then in English), offline loss report, the staff-assisted
    # application, and the staff's test page
    assert checks["receipts"] == 6 and len(list((out / "receipts").glob("*.png"))) == 6
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
    assert home.getpixel((5, 400)) == (245, 247, 252)   # the normal background ...
    assert home.getpixel((5, 5)) == (13, 64, 140)       # ... under the header's band
    elder = shot(out, "17-elder-home.png")
    assert elder.getpixel((5, 400)) == (0, 0, 0)         # high contrast: black
    assert ImageChops.difference(home, shot(out, "14-home-offline.png")).getbbox() is not None  # the banner
    countdown, after = shot(out, "19-idle-countdown.png"), shot(out, "20-home-after-timeout.png")
    assert ImageChops.difference(countdown, after).getbbox() is not None
    assert after.getpixel((5, 400)) == (245, 247, 252)  # elder mode ended with the visit


def test_a_pin_change_in_english_ends_in_chinese(demo):
    out, checks = demo
    [done] = checks["change_pin_en"]
    assert done.isascii() and "PIN" in done, done   # the result said in English
    assert (out / "13a1-en-home.png").exists() and (out / "13a6-en-result.png").exists()


class ContactSheet(HTMLParser):
    """index.html read back: each figure's image, link, labels and captions."""

    def __init__(self):
        super().__init__()
        self.figures: list[dict] = []
        self.links: set[str] = set()
        self.external: list[str] = []
        self._span: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure":
            self.figures.append({**attrs, "zh": "", "en": "", "src": None})
        elif tag in ("img", "a", "link", "script"):
            target = attrs.get("src") or attrs.get("href")
            if tag in ("link", "script") or (target and ("//" in target or target.startswith("/"))):
                self.external.append(f"{tag} {target}")
            if target:
                self.links.add(target)
            if tag == "img":
                self.figures[-1]["src"] = target
        elif tag == "span" and attrs.get("class") in ("zh", "en"):
            self._span = attrs["class"]

    def handle_endtag(self, tag):
        if tag == "span":
            self._span = None

    def handle_data(self, data):
        if self._span:
            self.figures[-1][self._span] += data


def test_index_html_shows_every_picture_captioned_in_both_languages(demo):
    out, checks = demo
    text = (out / "index.html").read_text(encoding="utf-8")
    sheet = ContactSheet()
    sheet.feed(text)
    pictures = {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert sheet.links == pictures   # every PNG, nothing missing, nothing else
    assert {f["src"] for f in sheet.figures} == pictures and len(sheet.figures) == len(pictures)
    assert not sheet.external and "<script" not in text
    for figure in sheet.figures:
        assert re.search(r"[\u4e00-\u9fff]", figure["zh"]) and re.search("[A-Za-z]{3}", figure["en"]), figure
    kinds = {f["src"].split("/")[0]: f["data-kind"] for f in sheet.figures if "/" in f["src"]}
    assert kinds == {"receipts": "receipt", "card-faces": "card-face"}
    screens = [f for f in sheet.figures if f["data-kind"] == "screen"]
    assert {(f["data-lang"], f["data-mode"]) for f in screens} == {(lang, mode) for lang in ("zh", "en")
                                                                  for mode in ("normal", "elder")}
    by_name = {f["src"]: f for f in screens}
    assert (by_name["13a1-en-home.png"]["data-lang"], by_name["17-elder-home.png"]["data-mode"]) == ("en", "elder")
    assert (by_name["17b-elder-home-en.png"]["data-lang"], by_name["17b-elder-home-en.png"]["data-mode"]) == ("en", "elder")
    elder = [f for f in screens if f["data-mode"] == "elder"]
    assert len(elder) >= 4 and "18b-elder-identify.png" in by_name   # home, guide and a step beyond
    assert by_name["01-home.png"]["data-lang"] == "zh" and by_name["01-home.png"]["data-mode"] == "normal"
    # In the order of the visits: the first visit's home before its result, the English visit
    # after the Chinese PIN change, diagnostics last.
    order = [f["src"] for f in sheet.figures]
    assert order.index("01-home.png") < order.index("07-result-lost-card.png") < order.index("13a1-en-home.png") \
        < order.index("17-elder-home.png") < order.index("21-diagnostics.png")
    # No full ID number or card number on the sheet: card faces' numbers are masked.
    from simulation.stack import LI_SI, ZHANG_SAN
    assert ZHANG_SAN.id_number not in text and LI_SI.id_number not in text
    assert all("****" in f["zh"] for f in sheet.figures if f["data-kind"] == "card-face")
    assert set(checks["receipt_codes"]) == {p for p in pictures if p.startswith("receipts/")}


def test_each_receipt_png_carries_a_qr_code_that_reads_back_as_its_payload(demo):
    import numpy as np
    import zxingcpp
    out, checks = demo
    assert checks["receipt_codes"]
    for path, payload in checks["receipt_codes"].items():
        pixels = np.asarray(Image.open(out / path).convert("L"))
        found = zxingcpp.read_barcodes(pixels, formats=zxingcpp.BarcodeFormat.QRCode, text_mode=zxingcpp.TextMode.Plain)
        assert [code.text for code in found] == [payload], path
    assert any(payload.startswith("KIOSK-0001-") for payload in checks["receipt_codes"].values())


def test_cjk_font_is_registered_as_the_default():
    code = ("from screens.fonts import register_cjk_font; from kivy.core.text import LabelBase, DEFAULT_FONT;"
            "path = register_cjk_font(); print(path);"
            "assert LabelBase._fonts[DEFAULT_FONT][0] == path")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "KIVY_NO_ARGS": "1"})
    assert result.returncode == 0, result.stderr
    assert "wqy" in result.stdout

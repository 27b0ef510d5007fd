"""The application's details through the screens (#14): the person's school from the insurance
record, the mobile number on the kiosk's digit pad, an office to collect the card at, and a
minor's guardian, whose own ID card the kiosk reads before the application goes on, and her
photo taken at the kiosk; without a photo or a camera, the card made later instead of here."""
from pathlib import Path

import pytest

from screens.steps import MAKE_CARD, SERVICE
from tests.ui_script import run_ui_script


@pytest.fixture(scope="module")
def seen(pcscd):
    return run_ui_script(Path(__file__).with_name("ui_application.py"), timeout=180)


def test_a_minor_applies_with_her_guardian_her_school_and_an_office(seen):
    assert seen["place"] == "学校：聊城市东昌府区实验小学"
    assert seen["guardian_asked"] == "请监护人将本人身份证放在读卡区"
    assert seen["without_guardian"].startswith("未满16周岁的申领人，须由监护人")
    assert seen["guardian"].startswith("监护人：张")
    application = seen["application"]
    assert application["phone"] == "13905356688" and application["school"] == "聊城市东昌府区实验小学"
    assert seen["signature_problem"] == "请用手指在框内签写您的姓名。" and application["signature"] > 100
    assert application["mailing"] == {"method": "collect", "office": "聊城市社会保障卡服务中心"}
    assert application["guardian"]["relation"] == "parent" and application["guardian"]["name"] == "张三"
    assert application["photo"] > 5000   # her photo, taken at the kiosk, travels with it (base64)
    # Retaken while nobody stood there: the screen took frames again and said what they lacked.
    assert seen["retake"] == {"state": "taking", "prompt": "未检测到人脸，请正对摄像头。"}


def test_with_no_photo_to_print_and_no_camera_the_card_made_later_is_offered(seen):
    """#14: no card is made here without its holder's photo; the citizen is told why and applies
    for the card made later, and the header no longer promises one made here."""
    made_later = seen["made_later"]
    assert made_later["offer"].startswith("社保系统中没有您的照片，本机无法拍照，新卡不能当场制作。")
    assert made_later["made_here"] is False
    assert made_later["mailing"] == {"method": "mail", "address": "山东省临沂市兰山区沂蒙路2号"}
    assert SERVICE in made_later["steps"] and MAKE_CARD not in made_later["steps"]

"""The applicant's signature (#19): strokes drawn again as a small 1-bit PNG in memory, and
what is not a signature refused in plain words."""
from __future__ import annotations

import base64
import datetime
import io
import math

import pytest
from PIL import Image

from kiosk.application import ApplicationDetails, Category
from kiosk.signature import MAX_PNG_BYTES, Signature, SignatureEmpty, SignatureTooLarge
from kiosk.visit import CitizenIdentity


def handwriting() -> list[list[tuple[float, float]]]:
    """Three strokes across the pad, as a finger writes a short name."""
    return [[(0.08 + 0.25 * i / 40, 0.45 + 0.2 * math.sin(i / 3)) for i in range(40)],
            [(0.4 + 0.2 * i / 30, 0.3 + 0.3 * i / 30) for i in range(30)],
            [(0.7 + 0.2 * i / 30, 0.6 - 0.25 * math.cos(i / 4)) for i in range(30)]]


def test_a_signature_becomes_a_small_black_on_white_png():
    signature = Signature.from_strokes(handwriting())
    image = Image.open(io.BytesIO(signature.png))
    assert (image.format, image.mode, image.size) == ("PNG", "1", (600, 200))
    assert 0 < image.histogram()[0] < 600 * 200 * 0.2 and len(signature.png) < MAX_PNG_BYTES
    assert "bytes" in repr(signature) and "PNG" not in repr(signature)   # handwriting never in a log


@pytest.mark.parametrize("strokes", [[], [[(0.5, 0.5)]], [[(0.5 + i / 1000, 0.5) for i in range(20)]],
                                     [[(1.5, 0.5)] * 10]], ids=["nothing", "a tap", "a dot", "off the pad"])
def test_what_is_not_a_signature_is_refused_in_plain_words(strokes):
    with pytest.raises(SignatureEmpty) as refused:
        Signature.from_strokes(strokes)
    assert "签" in refused.value.citizen_message


def test_a_scribble_over_the_whole_pad_is_no_signature():
    scribble = [[(x / 60, y / 40) for x in range(61)] for y in range(41)]
    with pytest.raises(SignatureTooLarge):
        Signature.from_strokes(scribble)


def test_the_application_carries_the_signature_as_base64():
    png = Signature.from_strokes(handwriting()).png
    holder = CitizenIdentity("37130219800101001X", "张三", "1", 1, datetime.date(1980, 1, 1))
    details = ApplicationDetails(phone="13905356688", category=Category.RETIREE, signature=png)
    assert base64.b64decode(details.payload(holder, instant=True)["signature"]) == png
    assert "signed" in repr(details) and "13905356688" not in repr(details)

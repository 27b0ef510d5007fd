"""The printed face of a social security card, composed as an image for the card printer.

The card is 85.6 x 54 mm (ISO/IEC 7810 ID-1); at the printers' 300 dpi that is 1011 x 638 px.
The chip sits where ISO/IEC 7816-2 puts the contacts, on the left; that area is left unprinted,
because a printer's ribbon must not cover the contacts. The face carries the holder's full social
security number, as the physical card does: this image is personal data and is never logged.
"""
from __future__ import annotations

import datetime

from PIL import Image, ImageDraw, ImageFont

from drivers.card_printer import FACE_SIZE

DPI = 300
FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"  # Debian fonts-wqy-microhei
TITLE = "中华人民共和国社会保障卡"

BACKGROUND = (226, 238, 250)
TITLE_RED = (196, 30, 36)
TEXT = (20, 20, 20)
LABEL = (60, 70, 90)


def mm(value: float) -> int:
    return round(value * DPI / 25.4)


# ISO/IEC 7816-2: the contacts start 10.25 mm from the left edge and 19.23 mm from the top; the
# module around them is about 12 x 11 mm.
CHIP_BOX = (mm(9.0), mm(17.5), mm(21.5), mm(29.0))
PHOTO_BOX = (mm(58.5), mm(14.0), mm(58.5) + mm(22.0), mm(14.0) + mm(28.0))  # 22 x 28 mm, portrait


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_PATH, size)


def _fit_photo(photo: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale and centre-crop the photo to fill the photo box without distorting the face."""
    photo = photo.convert("RGB")
    scale = max(size[0] / photo.width, size[1] / photo.height)
    scaled = photo.resize((max(size[0], round(photo.width * scale)), max(size[1], round(photo.height * scale))),
                          Image.LANCZOS)
    left, top = (scaled.width - size[0]) // 2, (scaled.height - size[1]) // 2
    return scaled.crop((left, top, left + size[0], top + size[1]))


def _compose(fields: list[tuple[str, str]], photo: Image.Image | None) -> Image.Image:
    image = Image.new("RGB", FACE_SIZE, BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((FACE_SIZE[0] // 2, mm(7.0)), TITLE, font=_font(mm(4.6)), fill=TITLE_RED, anchor="mm")
    draw.line((mm(4), mm(11.5), FACE_SIZE[0] - mm(4), mm(11.5)), fill=TITLE_RED, width=3)
    draw.rectangle(CHIP_BOX, fill=(255, 255, 255))  # left blank: the ribbon must not cover the chip

    if photo is None:   # the test face: the photo box outlined, to see where the printer puts it
        draw.rectangle(PHOTO_BOX, outline=LABEL, width=3)
    else:
        image.paste(_fit_photo(photo, (PHOTO_BOX[2] - PHOTO_BOX[0], PHOTO_BOX[3] - PHOTO_BOX[1])), PHOTO_BOX[:2])

    label_font, value_font = _font(mm(2.6)), _font(mm(3.3))
    y = mm(31.5)
    for label, value in fields:
        draw.text((mm(6.0), y), label, font=label_font, fill=LABEL, anchor="lm")
        draw.text((mm(24.0), y), value, font=value_font, fill=TEXT, anchor="lm")
        y += mm(5.4)
    return image


def _issue_date(day: datetime.date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def compose_face(name: str, social_security_number: str, card_number: str, issue_date: datetime.date,
                 photo: Image.Image) -> Image.Image:
    """The holder's card face, FACE_SIZE px at 300 dpi, with their photo: a card-management
    system takes no card without it (#14), so there is no face without one."""
    return _compose([("姓名", name), ("社会保障号码", social_security_number),
                     ("社会保障卡号", card_number), ("发卡日期", _issue_date(issue_date))], photo)


def compose_test_face(day: datetime.date) -> Image.Image:
    """A face with no personal data, for staff checking the printer; such a card is retained."""
    return _compose([("测试卡", "TEST"), ("打印日期", _issue_date(day))], None)

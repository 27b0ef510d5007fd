import datetime

from PIL import Image

from kiosk.card_face import BACKGROUND, CHIP_BOX, LABEL, PHOTO_BOX, compose_face, compose_test_face

DAY = datetime.date(2026, 11, 26)
PHOTO = Image.new("RGB", (358, 441), (120, 140, 160))

def face(photo=PHOTO):
    return compose_face("张三", "371302198001011239", "M12345678", DAY, photo)

def test_real_card_size_at_300_dpi():
    assert face().size == (1011, 638) and face().mode == "RGB"

def test_the_photo_fills_its_box():
    red = Image.new("RGB", (400, 600), (200, 0, 0))
    centre = ((PHOTO_BOX[0] + PHOTO_BOX[2]) // 2, (PHOTO_BOX[1] + PHOTO_BOX[3]) // 2)
    corner = (PHOTO_BOX[0] + 2, PHOTO_BOX[3] - 3)
    assert face(red).getpixel(centre) == (200, 0, 0) and face(red).getpixel(corner) == (200, 0, 0)
    assert face().getpixel(centre) == (120, 140, 160)

def test_chip_area_stays_unprinted():
    region = face().crop(CHIP_BOX)
    assert region.getcolors() == [(region.width * region.height, (255, 255, 255))]

def test_the_data_is_drawn():
    # Different people give different text pixels; the same data gives the same face.
    other = compose_face("李四", "110101199003077777", "X00000019", DAY, PHOTO)
    assert face().tobytes() == face().tobytes() and face().tobytes() != other.tobytes()

def test_test_face_differs_from_any_holder_face_and_outlines_the_photo_box():
    test_face = compose_test_face(DAY)
    assert test_face.size == (1011, 638)
    assert test_face.tobytes() != face().tobytes()
    centre = ((PHOTO_BOX[0] + PHOTO_BOX[2]) // 2, (PHOTO_BOX[1] + PHOTO_BOX[3]) // 2)
    assert test_face.getpixel(PHOTO_BOX[:2]) == LABEL and test_face.getpixel(centre) == BACKGROUND

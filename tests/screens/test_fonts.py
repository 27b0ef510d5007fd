"""Kivy's SDL2 text made to let go of the surface a label was drawn on (screens/fonts.py): its
pixels live on in the label's texture, and a kept surface doubled every label's memory."""
from kivy.core.text.text_sdl2 import LabelSDL2

from screens.fonts import register_cjk_font, release_drawn_text_surfaces


def draw(label: LabelSDL2):
    """What Kivy does to draw a label's text, short of the texture (which needs a window)."""
    label.resolve_font_name()
    label._size = label.get_extents(label.text)
    label._render_begin()
    label._render_text(label.text, 0, 0)
    return label._render_end()


def test_a_label_drawn_keeps_its_pixels_and_not_the_surface():
    font = register_cjk_font()
    release_drawn_text_surfaces()
    label = LabelSDL2(text="您好 English", font_size=26, font_name=font)
    pixels = draw(label)
    assert label._surface is None
    width, height = label._size
    assert (pixels.width, pixels.height, pixels.fmt) == (width, height, "rgba")
    assert len(pixels.data) == width * height * 4 and any(pixels.data)   # the text is drawn, not blank

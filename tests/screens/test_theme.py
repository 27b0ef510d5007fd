"""The theme's colour pairs meet WCAG contrast: AA (4.5:1) in normal mode, AAA (7:1) in elder
mode, computed from the tokens themselves (screens/theme.py)."""
import pytest

from screens import theme


@pytest.mark.parametrize("mode, tokens, floor", [("normal", theme.NORMAL, theme.AA), ("elder", theme.ELDER, theme.AAA)])
def test_every_text_colour_pair_meets_wcag(mode, tokens, floor):
    weak = [f"{fg} on {bg}: {theme.contrast_ratio(tokens[fg], tokens[bg]):.2f}"
            for fg, bg in theme.TEXT_PAIRS if theme.contrast_ratio(tokens[fg], tokens[bg]) < floor]
    assert not weak, f"{mode} mode below {floor}:1: " + "; ".join(weak)


def test_the_ratio_is_wcag_s_own():
    # WCAG's reference points: black on white is 21:1, a colour on itself 1:1, #767676 on white 4.54:1.
    assert theme.contrast_ratio((0, 0, 0, 1), (1, 1, 1, 1)) == pytest.approx(21.0)
    assert theme.contrast_ratio((0.3, 0.5, 0.7, 1), (0.3, 0.5, 0.7, 1)) == pytest.approx(1.0)
    grey = 0x76 / 255
    assert theme.contrast_ratio((grey, grey, grey, 1), (1, 1, 1, 1)) == pytest.approx(4.54, abs=0.01)


def test_a_weak_pair_would_be_caught():
    # The pale blue-grey the screens once drew hints in, on their pale page, fails AA.
    assert theme.contrast_ratio((0.6, 0.62, 0.68, 1), theme.NORMAL["background"]) < theme.AA


def test_both_modes_define_the_same_tokens():
    assert theme.NORMAL.keys() == theme.ELDER.keys()
    assert {name for pair in theme.TEXT_PAIRS for name in pair} <= theme.NORMAL.keys()


def test_the_type_scale_is_a_few_whole_pixel_sizes_and_shrinks_down_itself():
    # Every text size is a font Kivy's SDL2 text opens and keeps (up to 64, about 1 MB each).
    assert all(isinstance(size, int) for size in theme.TEXT_SIZES)
    assert len(theme.TEXT_SIZES) <= 16
    for mode in (theme.NORMAL, theme.ELDER):
        assert [mode[token] for token in theme.TEXT_SIZE_TOKENS] == sorted(mode[token] for token in theme.TEXT_SIZE_TOKENS)
    assert theme.smaller_text_size(theme.NORMAL["button_size"]) in theme.TEXT_SIZES
    assert theme.smaller_text_size(theme.NORMAL["button_size"]) < theme.NORMAL["button_size"]
    assert theme.smaller_text_size(31.5) == max(size for size in theme.TEXT_SIZES if size < 31.5)
    assert theme.smaller_text_size(min(theme.TEXT_SIZES)) is None

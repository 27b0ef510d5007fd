"""The demo's contact sheet (simulation/contact_sheet.py) on its own: escaped, self-contained,
and refusing to link to a picture that is not there. The demo's own sheet is checked in
test_demo.py."""
import pytest

from simulation import contact_sheet
from simulation.contact_sheet import Item, Visit


def test_captions_and_paths_are_escaped_and_nothing_external_is_loaded(tmp_path):
    (tmp_path / "a&b.png").write_bytes(b"png")
    visits = [Visit("访客<1>", "Visit \"1\"", [Item("a&b.png", "screen", "首页<script>", "Home & <b>", "en", True)]),
              Visit("空", "empty")]
    text = contact_sheet.write(tmp_path, visits).read_text(encoding="utf-8")
    assert "<script" not in text and "&lt;script&gt;" in text and "Home &amp; &lt;b&gt;" in text
    assert 'src="a&amp;b.png"' in text and 'data-lang="en" data-mode="elder"' in text
    assert "访客&lt;1&gt;" in text and "empty" not in text   # a visit without pictures is left out
    assert "http" not in text and "<link" not in text


def test_a_missing_picture_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.png"):
        contact_sheet.write(tmp_path, [Visit("a", "a", [Item("gone.png", "receipt", "凭条", "receipt")])])

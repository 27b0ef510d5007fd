"""The catalogues: every string the screens show is marked, has English, and keeps its
placeholders; the translator falls back to Chinese rather than failing."""
import ast
import re
import string
from pathlib import Path

import pytest

from kiosk import catalogue, i18n
from kiosk.i18n import Translator

HAN = re.compile(r"[\u4e00-\u9fff]")
# Modules whose Chinese reaches the screen. Receipts, card faces, office statistics, the staff
# command line and the backend are Chinese records by design (see kiosk/i18n.py).
SCREEN_FACING = sorted([*Path("screens").glob("*.py"), *Path("screens").glob("*.kv"),
                        *Path("kiosk/services").glob("*.py"), Path("kiosk/card_service.py"),
                        Path("kiosk/visit.py"), Path("kiosk/pin_policy.py"), Path("kiosk/device_messages.py"),
                        *Path("drivers").glob("*.py"), Path("simulation/panel.py"), Path("simulation/panel.kv")])
NOT_SHOWN = {Path("drivers/escpos.py")}   # the receipt's text, a Chinese record even on screen


def english():
    from babel.messages.pofile import read_po
    with i18n.catalogue_path("en").open("rb") as po:
        return {m.id: m.string for m in read_po(po, locale="en") if m.id}


def placeholders(text: str) -> set[str]:
    return {field for _lit, field, _spec, _conv in string.Formatter().parse(text) if field is not None}


def unmarked_chinese(path: Path) -> list[str]:
    if path.suffix == ".kv":
        return [f"{path}:{n}: {literal}" for n, line in enumerate(path.read_text().splitlines(), 1)
                for literal in re.findall(r'"[^"]*"', line)
                if HAN.search(literal) and not re.search(r"\b_\(\s*" + re.escape(literal), line)]
    tree = ast.parse(path.read_text())
    marked = {id(node) for node in catalogue.marked_nodes(tree)}
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [f"{path}:{node.lineno}: {node.value[:40]}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and HAN.search(node.value)
            and id(node) not in marked | docstrings]


def test_every_marked_string_has_english_with_the_same_placeholders():
    translations = english()
    marked = catalogue.marked_strings()
    missing = [f"{m!r} ({places[0]})" for m, places in marked.items() if not translations.get(m)]
    assert not missing, "no English yet; run `python -m kiosk.catalogue` and translate: " + "; ".join(missing)
    wrong = [m for m in marked if placeholders(m) != placeholders(translations[m])]
    assert not wrong, f"placeholders differ: {wrong}"
    assert not [t for t in translations.values() if HAN.search(t)], "Chinese left in the English catalogue"


def test_the_catalogue_holds_nothing_the_code_no_longer_marks():
    assert set(english()) == set(catalogue.marked_strings())


def test_the_compiled_catalogue_the_kiosk_reads_is_the_one_translators_edit():
    assert i18n.compiled_path("en").read_bytes() == catalogue.compile_catalogue("en"), \
        "en.mo is stale: run `python -m kiosk.catalogue`"


def test_no_chinese_reaches_the_screen_unmarked():
    found = [line for path in SCREEN_FACING if path not in NOT_SHOWN for line in unmarked_chinese(path)]
    # Drivers name ID-card fields (民族, 性别) the screens never show; those files are data tables.
    found = [line for line in found if not line.startswith("drivers/id_card_reader.py")]
    assert not found, "mark these with N_()/_() or move them out of the screen's way:\n" + "\n".join(found)


def test_english_is_served_whole_and_sentence_by_sentence():
    english_translator = Translator("en")
    assert english_translator.translate("密码错误。") == "Wrong PIN."
    joined = "密码已修改成功，请牢记新密码。密码已在卡上修改；修改记录将在网络恢复后上报。"
    assert english_translator.translate(joined) == (
        "Your PIN has been changed. Please remember the new PIN. "
        "The PIN has been changed on the card; the change will be reported when the network is back.")
    assert english_translator.translate("张*") == "张*"          # data, not a message: left as it is
    assert Translator("zh").translate("密码错误。") == "密码错误。"


def test_an_unknown_language_is_refused_by_name():
    with pytest.raises(ValueError, match="'fr'.*zh, en"):
        Translator("fr")


@pytest.mark.parametrize("content", [b"\xde\x12\x04\x95\x00\x00", b"\xff\xfe\x00garbage", None])
def test_a_broken_or_missing_catalogue_leaves_the_kiosk_in_chinese(tmp_path, monkeypatch, caplog, content):
    if content is not None:
        (tmp_path / "en.mo").write_bytes(content)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    translator = Translator("en")
    assert translator.translate("密码错误。") == "密码错误。"
    assert translator.language == "en"
    assert "catalogue for en unusable" in caplog.text


def test_the_catalogue_tool_adds_new_strings_and_drops_old_ones(tmp_path, monkeypatch):
    (tmp_path / "en.po").write_text('msgid "旧的"\nmsgstr "old"\n\nmsgid "密码错误。"\nmsgstr "Wrong PIN."\n',
                                    encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(catalogue, "catalogue_path", i18n.catalogue_path)
    monkeypatch.setattr(catalogue, "marked_strings", lambda: {"密码错误。": ["x.py:1"], "新的": ["y.py:2"]})
    assert catalogue.update_catalogue("en") == (1, 1)
    text = (tmp_path / "en.po").read_text(encoding="utf-8")
    assert 'msgstr "Wrong PIN."' in text and 'msgid "新的"' in text and "旧的" not in text


def test_a_wrong_pin_says_how_many_tries_are_left_in_either_language():
    from drivers.ssse import WrongPin
    from kiosk.device_messages import citizen_message, citizen_words
    from kiosk.outcome import Outcome
    from kiosk.services.base import ServiceResult
    words, fields = citizen_words(WrongPin(0x63C4, "VERIFY"))
    result = ServiceResult("1.10.5", "change_pin", Outcome.FAILED, words, message_args=fields)
    assert result.message() == "密码错误，还可以再试 4 次。"
    assert result.message(Translator("en").translate) == "Wrong PIN. Tries left before the card locks: 4."
    assert citizen_words(KeyError("x")) == (citizen_message(KeyError("x")), {})

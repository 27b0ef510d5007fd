"""Keeps the translation catalogues in step with the code: `python -m kiosk.catalogue` finds
every marked string (`_("…")`, `N_("…")` in .py files, `_("…", app.lang)` in .kv rules, and
the `citizen_message` of the kiosk's own error classes) and
adds the new ones to each catalogue with an empty translation for a translator to fill in;
strings no longer in the code are dropped. `tests/kiosk/test_i18n.py` uses `marked_strings()` to
check that every one has a translation.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from kiosk.i18n import LANGUAGES, SOURCE_LANGUAGE, catalogue_path, compiled_path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("kiosk", "drivers", "screens", "offline_queue", "simulation")
MARKERS = {"_", "N_"}
CITIZEN_MESSAGE = "citizen_message"
# In kv a marked string is a literal first argument of _( … ); kv rules hold no other calls named _.
KV_MARKED = re.compile(r"""\b_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")


def source_files() -> list[Path]:
    return sorted(p for folder in SOURCE_DIRS for p in (ROOT / folder).rglob("*")
                  if p.suffix in (".py", ".kv") and "sim" not in p.relative_to(ROOT).parts)


def _text(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def marked_nodes(tree: ast.AST) -> list[ast.Constant]:
    """The string constants a .py file marks for translation."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS
                and node.args and _text(node.args[0]) is not None):
            found.append(node.args[0])
        elif (isinstance(node, ast.Assign) and _text(node.value) is not None
              and any(isinstance(t, ast.Name) and t.id == CITIZEN_MESSAGE for t in node.targets)):
            found.append(node.value)
    return found


def marked_in_python(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [(node.value, node.lineno) for node in marked_nodes(tree)]


def marked_in_kv(path: Path) -> list[tuple[str, int]]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for literal in KV_MARKED.findall(line):
            found.append((ast.literal_eval(literal), number))
    return found


def marked_strings() -> dict[str, list[str]]:
    """Each marked string and where it is marked ("path:line")."""
    strings: dict[str, list[str]] = {}
    for path in source_files():
        finder = marked_in_kv if path.suffix == ".kv" else marked_in_python
        for message, line in finder(path):
            strings.setdefault(message, []).append(f"{path.relative_to(ROOT)}:{line}")
    return strings


def update_catalogue(language: str) -> tuple[int, int]:
    """Adds what is new, drops what is gone; returns (added, dropped)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    path = catalogue_path(language)
    if path.exists():
        with path.open("rb") as po:
            old = read_po(po, locale=language)
    else:
        old = Catalog(locale=language)
    new = Catalog(locale=language, project="sscard-kiosk", charset="utf-8", fuzzy=False,
                  header_comment=f"# {LANGUAGES[language]} for the sscard-kiosk screens. "
                                 "Update with `python -m kiosk.catalogue`.",
                  last_translator="sscard-kiosk contributors", language_team=LANGUAGES[language],
                  creation_date=old.creation_date, revision_date=old.revision_date)
    wanted = marked_strings()
    for message, places in sorted(wanted.items()):
        previous = old.get(message)
        new.add(message, previous.string if previous else "",
                locations=[(place.rsplit(":", 1)[0], int(place.rsplit(":", 1)[1])) for place in places])
    dropped = sum(1 for m in old if m.id and m.id not in wanted)
    added = sum(1 for message in wanted if old.get(message) is None)
    with path.open("wb") as po:
        write_po(po, new, width=100, sort_output=True, include_lineno=False)   # no churn when code moves
    return added, dropped


def compile_catalogue(language: str) -> bytes:
    """The .mo the kiosk reads, made from the .po (untranslated strings left out)."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    with catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    return compiled.getvalue()


def main() -> int:
    for language in LANGUAGES:
        if language != SOURCE_LANGUAGE:
            added, dropped = update_catalogue(language)
            compiled_path(language).write_bytes(compile_catalogue(language))
            print(f"{catalogue_path(language).relative_to(ROOT)}: {added} new, {dropped} dropped; "
                  f"{compiled_path(language).name} compiled")
    return 0


if __name__ == "__main__":
    sys.exit(main())

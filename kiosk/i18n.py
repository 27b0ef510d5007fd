"""The kiosk's languages: Chinese by default, English selectable for a visit.

Chinese is the source language. Every string a citizen or staff member reads on the screen is
written in Chinese in the code and marked: `N_("…")` where it is defined (a message, a label in a
table), `_("…")` where it is shown. `kiosk/locale/en.po` is the English catalogue a translator
edits; `python -m kiosk.catalogue` compiles it to `en.mo`, which the kiosk reads with the
standard `gettext` module (Babel, which compiles it, stays out of the running kiosk: it costs
some 6 MB). `tests/kiosk/test_i18n.py` fails when a marked string has no English or `en.mo` is
older than `en.po`.

Receipts and card faces stay Chinese whatever the screen shows: they are official records.
"""
from __future__ import annotations

import gettext
import logging
import struct
from pathlib import Path

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).parent / "locale"
SOURCE_LANGUAGE = "zh"
LANGUAGES = {"zh": "中文", "en": "English"}   # each in its own language, as the switch shows it


def N_(message: str) -> str:
    """Marks a string for the catalogue where it is defined; `_()` translates it where shown."""
    return message


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / f"{language}.po"


def compiled_path(language: str) -> Path:
    return LOCALE_DIR / f"{language}.mo"


def load_catalogue(language: str) -> gettext.NullTranslations:
    """The translations of one language; a missing or broken catalogue falls back to Chinese
    (the kiosk keeps working) and says so in the log for staff."""
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    try:
        with compiled_path(language).open("rb") as mo:
            return gettext.GNUTranslations(mo)
    except (OSError, ValueError, struct.error, IndexError) as exc:   # not a catalogue, or cut short
        log.error("catalogue for %s unusable, showing Chinese: %s", language, exc)
        return gettext.NullTranslations()


class Translator:
    """The language of the visit in progress. Messages made by the core are Chinese msgids;
    the screens translate them as they show them."""

    def __init__(self, language: str = SOURCE_LANGUAGE):
        self._catalogues: dict[str, gettext.NullTranslations] = {}
        self.language = SOURCE_LANGUAGE
        self.set_language(language)

    def set_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}; known: {', '.join(LANGUAGES)}")
        if language not in self._catalogues:
            self._catalogues[language] = load_catalogue(language)
        self.language = language

    def translate(self, message: str) -> str:
        """`message` in the current language. A message the core joined from whole sentences
        (a result and what happens offline) is translated sentence by sentence."""
        if not message or self.language == SOURCE_LANGUAGE:
            return message
        catalogue = self._catalogues[self.language]
        whole = catalogue.gettext(message)
        if whole != message or "。" not in message.rstrip("。"):
            return whole
        sentences = [s + "。" for s in message.split("。") if s]
        if not message.endswith("。"):
            sentences[-1] = sentences[-1][:-1]
        return " ".join(catalogue.gettext(s) for s in sentences)


translator = Translator()


def _(message: str, *_redraw_on) -> str:
    """`message` in the visit's language. Extra arguments are ignored: a .kv rule passes
    `app.lang` so that Kivy redraws the text when the language changes."""
    return translator.translate(message)

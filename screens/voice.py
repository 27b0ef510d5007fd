"""Spoken prompts: each screen says in one plain sentence what to do, in the visit's language.
Many of the kiosk's citizens are elderly; a voice helps those who read the screen slowly.

The prompts are recorded at build time, not spoken live: `python -m screens.voice build` (run
by `./run`'s set-up) has espeak-ng (Mandarin voice `cmn`, English `en`) write
`screens/prompts/<language>/<prompt>.wav`. The English text comes from the gettext catalogue
like every other string; a prompt with no English yet is recorded in Chinese in the English
folder too, and the build says which. The files are not in git; a stamp on a hash of the texts
and the voice settings rebuilds them only when something changed.

At run time `VoicePrompts` plays the prompt of a screen when it becomes current, through
Kivy's SoundLoader, stopping the one before; the PIN screen speaks again for each PIN it asks
(current, new, new again, and why it asks again), and the idle countdown asks whether anyone is
still there. The staff screens (sign-in, diagnostics) are
silent: staff need no guidance, and a kiosk announcing its maintenance mode to the lobby would
only draw eyes to the staff PIN being typed. A missing file or no audio output is logged once
for staff and never gets in the screen's way: the screen works the same without its voice.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.i18n import LANGUAGES, N_, SOURCE_LANGUAGE, Translator, translator

log = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).parent / "prompts"
STAMP = ".stamp"

# Prompt name -> what the voice says. A screen's own prompt has the screen's name (as
# screens/app.py names them) and plays when it becomes current; a screen that asks more than
# one thing names the prompt of each (its `voice_prompt`), and the idle countdown has its own.
PROMPTS = {
    "home": N_("请选择要办理的业务，或插入社会保障卡。"),
    "card_holder": N_("已读取您的社会保障卡。取出卡片即可结束。"),
    "guide": N_("请阅读办理须知，然后点击开始办理。"),
    "identify": N_("请按屏幕提示，放好身份证或插入社会保障卡。"),
    "face": N_("请正对摄像头，按语音提示转头或眨眼。"),
    "turn_left": N_("请缓慢向左转头。"),
    "turn_right": N_("请缓慢向右转头。"),
    "blink": N_("请慢慢眨一下眼睛。"),
    "staff_assist": N_("已呼叫工作人员，请稍候。"),
    "application": N_("请输入手机号码，核对人员类别和领卡方式。"),
    "photo": N_("请正对摄像头，保持不动，为您拍摄照片。"),
    "signature": N_("请用手指在框内签写您的姓名。"),
    "confirm": N_("请核对办理信息，无误后点击确认办理。"),
    "payment": N_("请用手机扫描屏幕上的二维码，缴纳工本费。"),
    "pin": N_("请输入六位数字密码，输入时请用手遮挡。"),
    "pin_new": N_("请设置六位数字新密码，输入时请用手遮挡。"),
    "pin_again": N_("请再次输入新密码。"),
    "pin_differ": N_("两次输入的新密码不一致，请重新设置。"),
    "progress": N_("正在办理，请稍候，不要取走证件和卡片。"),
    # the bank PIN, on the encrypting pad (screens/menu.py BANK_PIN_STEPS)
    "bank_pin_issued": N_("请在密码键盘上输入密码函中的初始交易密码，按确认键结束。"),
    "bank_pin": N_("请在密码键盘上输入六位交易密码，按确认键结束。"),
    "bank_pin_again": N_("请在密码键盘上再次输入银行交易密码，按确认键结束。"),
    "result": N_("办理结果已显示在屏幕上，请查看。"),
    "rating": N_("请您评价本次服务。离开时请带好证件和卡片。"),
    "idle": N_("还在办理吗？请点击屏幕继续。"),
}
SILENT = frozenset({"staff", "diagnostics"})   # see the module's docstring

# espeak-ng voice and speed (words per minute; its default is 175) per language. Its Mandarin
# is already unhurried at the default (about 2.5 syllables a second); English is set a little
# slower than usual, for elderly listeners.
VOICES = {"zh": ("cmn", 175), "en": ("en", 145)}
HAN = re.compile(r"[\u3400-\u9fff]")
ESPEAK = "espeak-ng"
# A citizen who changes the language on the home screen hears the prompt again in the new one;
# the idle timeout setting Chinese back (nobody there) does not: a language changed this soon
# after a touch was changed by a person.
CHOSEN_BY_TOUCH_S = 5.0


def prompt_path(prompt: str, language: str, folder: Path = PROMPTS_DIR) -> Path:
    return Path(folder) / language / f"{prompt}.wav"


# --- build time ----------------------------------------------------------------------------------

@dataclass
class BuildReport:
    built: bool                      # False: everything was up to date
    folder: Path
    files: list[Path] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)   # prompts recorded in Chinese for English


Spoken = tuple[str, str]   # (text, the language of the voice that reads it)


def spoken_texts(prompts: dict[str, str] = PROMPTS) -> tuple[dict[tuple[str, str], Spoken], list[str]]:
    """(prompt, language) -> what to record, and the prompts that have no translation yet.
    A prompt not (wholly) translated is recorded in Chinese, by the Mandarin voice: an English
    voice reading Chinese characters says nothing a listener could use."""
    texts, untranslated = {}, []
    for language in LANGUAGES:
        catalogue = Translator(language)
        for prompt, message in prompts.items():
            text = catalogue.translate(message)
            if language != SOURCE_LANGUAGE and HAN.search(text):
                untranslated.append(message)
                texts[prompt, language] = (message, SOURCE_LANGUAGE)
            else:
                texts[prompt, language] = (text, language)
    return texts, untranslated


def texts_hash(texts: dict[tuple[str, str], Spoken]) -> str:
    """Changes when a text, a voice or a speed changes: the stamp of a build."""
    material = json.dumps({"texts": sorted([*key, *spoken] for key, spoken in texts.items()),
                           "voices": VOICES}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def up_to_date(folder: Path = PROMPTS_DIR, prompts: dict[str, str] = PROMPTS) -> bool:
    texts, _untranslated = spoken_texts(prompts)
    return _up_to_date(Path(folder), texts)


def _up_to_date(folder: Path, texts: dict[tuple[str, str], Spoken]) -> bool:
    try:
        stamp = (folder / STAMP).read_text(encoding="ascii").strip()
    except OSError:
        return False
    return stamp == texts_hash(texts) and all(prompt_path(s, lang, folder).is_file() for s, lang in texts)


def record(text: str, voice_language: str, path: Path) -> None:
    """One prompt read by the voice of `voice_language` into `path` (written whole or not at all)."""
    voice, speed = VOICES[voice_language]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".wav")
    os.close(fd)
    try:
        subprocess.run([ESPEAK, "-v", voice, "-s", str(speed), "-w", partial, "--stdin"],
                       input=text.encode("utf-8"), check=True, capture_output=True, timeout=60)
        if os.path.getsize(partial) <= 44:   # a WAV header and no sound
            raise RuntimeError(f"espeak-ng wrote no sound for {text!r} ({voice})")
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def build(folder: Path = PROMPTS_DIR, prompts: dict[str, str] = PROMPTS, force: bool = False) -> BuildReport:
    """Records every prompt in every language into `folder`, unless the stamp says they are
    already there for these texts. Files of prompts no longer in `prompts` are removed."""
    folder = Path(folder)
    texts, untranslated = spoken_texts(prompts)
    if not force and _up_to_date(folder, texts):
        return BuildReport(False, folder, untranslated=untranslated)
    if shutil.which(ESPEAK) is None:
        raise RuntimeError(f"{ESPEAK} is not installed (apt-get install espeak-ng; ./run installs it)")
    (folder / STAMP).unlink(missing_ok=True)    # a build cut short is rebuilt next time
    files = []
    for (prompt, language), (text, voice_language) in texts.items():
        path = prompt_path(prompt, language, folder)
        record(text, voice_language, path)
        files.append(path)
    for stale in folder.glob("*/[!.]*.wav"):    # not another build's file in the making
        if stale not in files:
            stale.unlink()
    (folder / STAMP).write_text(texts_hash(texts) + "\n", encoding="ascii")
    return BuildReport(True, folder, files, untranslated)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m screens.voice", description="The screens' spoken prompts.")
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser("build", help="record the prompts with espeak-ng (only when changed)")
    build_command.add_argument("--out", type=Path, default=PROMPTS_DIR, help="default: screens/prompts")
    build_command.add_argument("--force", action="store_true", help="record again even when up to date")
    args = parser.parse_args(argv)
    try:
        report = build(args.out, force=args.force)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"voice prompts not built: {exc}", file=sys.stderr)
        return 1
    if report.built:
        print(f"voice prompts: recorded {len(report.files)} files in {report.folder}", file=sys.stderr)
        for message in report.untranslated:
            print(f"voice prompts: no English yet for {message!r}: recorded in Chinese; "
                  f"add it to kiosk/locale/en.po", file=sys.stderr)
    return 0


# --- run time ------------------------------------------------------------------------------------

class VoicePrompts:
    """Plays the prompt of each screen as it becomes current. `attach()` binds it to the
    ScreenManager, to the `voice_prompt` of the screens that ask more than one thing, and to
    the app's language, for the home screen's switch."""

    def __init__(self, enabled: bool = True, volume: float = 1.0, folder: Path = PROMPTS_DIR):
        self.enabled = enabled
        self.volume = volume
        self.folder = Path(folder)
        self.sound = None              # the prompt playing (or last played), a kivy Sound
        self.playing: tuple[str, str] | None = None   # its (prompt, language)
        self._unplayable: set[Path] = set()
        self._told: set[str] = set()

    @classmethod
    def from_config(cls, ui) -> "VoicePrompts":
        return cls(enabled=ui.voice_prompts, volume=ui.voice_volume)

    def attach(self, manager, app=None) -> "VoicePrompts":
        manager.bind(current=lambda _manager, name: self.play_screen(manager.get_screen(name)))
        for screen in manager.screens:
            if hasattr(screen, "voice_prompt"):
                # A new question on the screen already shown (a screen about to be shown is
                # spoken for by `current`).
                screen.bind(voice_prompt=lambda screen, _prompt: (
                    manager.current_screen is screen and self.play_screen(screen)))
        if app is not None:
            from kivy.clock import Clock
            # On the next frame: a visit that ends sets Chinese back and then goes home, and the
            # home prompt is then the one already playing.
            replay = Clock.create_trigger(lambda _dt: self._language_changed(app, manager))
            app.bind(lang=lambda _app, _lang: replay())
        return self

    @staticmethod
    def prompt_of(screen) -> str:
        return getattr(screen, "voice_prompt", "") or screen.name

    def play_screen(self, screen) -> None:
        if screen.name in SILENT:
            self.stop()
        else:
            self.play(self.prompt_of(screen))

    def _language_changed(self, app, manager) -> None:
        if app.idle_seconds() >= CHOSEN_BY_TOUCH_S:   # the idle timeout, nobody there
            return
        if self.playing != (self.prompt_of(manager.current_screen), translator.language):
            self.play_screen(manager.current_screen)

    def play(self, prompt: str, language: str | None = None) -> None:
        """`prompt` in `language` (default: the visit's), instead of any other."""
        self.stop()
        if not self.enabled:
            return
        if prompt not in PROMPTS:
            self._tell_once(f"prompt:{prompt}", "no voice prompt %r (add it to screens/voice.py)", prompt)
            return
        language = language or translator.language
        path = prompt_path(prompt, language, self.folder)
        if path in self._unplayable:
            return
        if not path.is_file():
            self._tell_once(f"missing:{path}", "voice prompt %s is missing (python -m screens.voice build); "
                            "the screen goes on without it", path)
            return
        try:
            from kivy.core.audio import SoundLoader
            sound = SoundLoader.load(str(path))
            if sound is None or not sound.length:
                # No audio provider, no audio device (SDL could not open one), or a broken file:
                # Kivy says which in its own log line.
                self._unplayable.add(path)
                self._tell_once("unplayable", "voice prompts cannot be played (no audio output, or a broken "
                                "file: %s); the screens go on without them", path)
                return
            sound.volume = self.volume
            sound.play()
        except Exception:  # noqa: BLE001  the voice must never break the screen it speaks for
            self._unplayable.add(path)
            if "error" not in self._told:
                self._told.add("error")
                log.exception("voice prompt %s failed; the screens go on without it", path)
            return
        self.sound, self.playing = sound, (prompt, language)

    def stop(self) -> None:
        sound, self.sound, self.playing = self.sound, None, None
        if sound is None:
            return
        try:
            sound.stop()
            sound.unload()
        except Exception:  # noqa: BLE001
            if "stop" not in self._told:
                self._told.add("stop")
                log.exception("stopping a voice prompt failed")

    def _tell_once(self, key: str, message: str, *args) -> None:
        if key not in self._told:
            self._told.add(key)
            log.warning(message, *args)


if __name__ == "__main__":
    sys.exit(main())

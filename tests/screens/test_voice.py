"""Spoken prompts: recorded for every screen in both languages, played through Kivy's real
SoundLoader as each screen becomes current (ui_voice.py runs the app under Xvfb with SDL's dummy
audio driver, and again with no audio output), and never in the screen's way when a file or the
audio output is missing. And the two [ui] settings that govern them."""
import shutil
import subprocess
import sys
import wave
from pathlib import Path
from types import SimpleNamespace

import pytest

from kiosk.config import ConfigError, KioskConfig, parse_config
from kiosk.face_check import Challenge
from screens import voice
from screens.menu import BANK_PIN_STEPS, PIN_VOICE
from tests.ui_script import run_ui_script

ROOT = Path(__file__).parents[2]
SCREENS = ("home", "card_holder", "guide", "identify", "face", "staff_assist", "application", "photo", "signature", "confirm", "payment", "pin",
           "progress", "result", "rating",
           "staff", "diagnostics")   # as screens/app.py build() names them
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="./run installs espeak-ng")


def seconds(path: Path) -> float:
    with wave.open(str(path)) as recording:
        return recording.getnframes() / recording.getframerate()


# --- the build ---------------------------------------------------------------------------------

def test_every_screen_has_a_prompt_or_is_silent_on_purpose():
    assert set(SCREENS) - voice.SILENT <= set(voice.PROMPTS)
    assert not set(voice.PROMPTS) & voice.SILENT
    assert voice.SILENT == {"staff", "diagnostics"}
    # Besides the screens': one per PIN the PIN screen asks for (and why it asks again), the
    # idle countdown's, the face check's challenges and the bank PIN pad's steps. Each is spoken
    # somewhere (test_the_pin_screen_speaks_each_question..., screens/face.py, test_bank_screens.py).
    challenges = {str(challenge) for challenge in Challenge}
    assert set(voice.PROMPTS) - set(SCREENS) == (set(PIN_VOICE.values()) - {"pin"} | {"idle"} | challenges
                                                 | set(BANK_PIN_STEPS))
    assert all(text.endswith("。") and len(text) <= 30 for text in voice.PROMPTS.values())   # short, plain


@needs_espeak
def test_after_the_build_every_prompt_is_there_in_both_languages():
    """The build ./run makes (a no-op when it is up to date): a real recording per screen and language."""
    result = subprocess.run([sys.executable, "-m", "screens.voice", "build"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert voice.up_to_date()
    for screen in voice.PROMPTS:
        for language in ("zh", "en"):
            path = voice.prompt_path(screen, language)
            assert path.is_file(), path
            assert 1.0 < seconds(path) < 15.0, path


@needs_espeak
def test_a_build_records_once_and_again_only_when_a_text_changes(tmp_path):
    prompts = {"home": voice.PROMPTS["home"], "result": voice.PROMPTS["result"]}
    first = voice.build(tmp_path, prompts)
    assert first.built and sorted(p.relative_to(tmp_path).as_posix() for p in first.files) == [
        "en/home.wav", "en/result.wav", "zh/home.wav", "zh/result.wav"]
    stamp = (tmp_path / voice.STAMP).read_text()
    assert not voice.build(tmp_path, prompts).built          # ./run a second time: nothing to do
    (tmp_path / "zh" / "home.wav").unlink()
    assert voice.build(tmp_path, prompts).built              # a file gone: recorded again
    changed = voice.build(tmp_path, {"home": "请选择业务。"})
    assert changed.built and (tmp_path / voice.STAMP).read_text() != stamp
    assert sorted(p.name for p in tmp_path.glob("*/*.wav")) == ["home.wav", "home.wav"]   # result's gone


def test_english_comes_from_the_catalogue_and_a_missing_one_falls_back_to_chinese_and_is_reported():
    texts, untranslated = voice.spoken_texts({"home": voice.PROMPTS["home"], "error": "密码错误。",
                                              "new": "这句还没有英文。"})
    assert texts["error", "en"] == ("Wrong PIN.", "en")        # in kiosk/locale/en.po
    assert texts["new", "en"] == ("这句还没有英文。", "zh")      # read by the Mandarin voice, not the English one
    assert texts["new", "zh"] == ("这句还没有英文。", "zh")
    assert "这句还没有英文。" in untranslated and "密码错误。" not in untranslated


def test_a_build_without_espeak_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(voice, "ESPEAK", "espeak-ng-not-installed")
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        voice.build(tmp_path, {"home": voice.PROMPTS["home"]})


# --- playing them in the app -------------------------------------------------------------------

def run_app(audio_driver: str) -> dict:
    seen = run_ui_script(Path(__file__).with_name("ui_voice.py"), env={"SDL_AUDIODRIVER": audio_driver})
    return {"steps": {step.pop("step"): step for step in seen["steps"]}, "warnings": seen["warnings"]}


@pytest.fixture(scope="module")
def with_audio(pcscd):
    assert voice.up_to_date(), "the prompts are built by ./run (python -m screens.voice build)"
    return run_app("dummy")


@pytest.fixture(scope="module")
def without_audio(pcscd):
    return run_app("no-such-audio-driver")


def test_the_prompt_of_each_screen_plays_as_it_becomes_current_in_the_visits_language(with_audio):
    steps = with_audio["steps"]
    assert steps["home at start"]["playing"] is None            # nobody is there yet: silence at start-up
    played = {what: (step["screen"], step["lang"], step["playing"], step["file"])
              for what, step in steps.items() if step["playing"]}
    assert played == {
        "English chosen": ("home", "en", ["home", "en"], "en/home.wav"),   # the switch speaks again, in English
        "change PIN: guide": ("guide", "en", ["guide", "en"], "en/guide.wav"),
        "card read: confirm": ("confirm", "en", ["confirm", "en"], "en/confirm.wav"),
        "current PIN asked": ("pin", "en", ["pin", "en"], "en/pin.wav"),
        "new PIN asked": ("pin", "en", ["pin_new", "en"], "en/pin_new.wav"),     # same screen, new question
        "new PIN asked again": ("pin", "en", ["pin_again", "en"], "en/pin_again.wav"),
        "the two differ: new PIN asked anew": ("pin", "en", ["pin_differ", "en"], "en/pin_differ.wav"),
        "cancelled: home, Chinese again": ("home", "zh", ["home", "zh"], "zh/home.wav"),
        "card out": ("home", "zh", ["home", "zh"], "zh/home.wav"),
        "report loss: guide": ("guide", "zh", ["guide", "zh"], "zh/guide.wav"),
        "nobody touches: the countdown": ("guide", "zh", ["idle", "zh"], "zh/idle.wav"),
        "cancelled: home": ("home", "zh", ["home", "zh"], "zh/home.wav"),
    }
    assert steps["card out"]["sounds"] == steps["cancelled: home, Chinese again"]["sounds"] == 8   # home stayed
    for what in played:
        if what not in ("card out", "nobody touches: the countdown"):   # a prompt ends; these are seconds on
            assert steps[what]["state"] == "play" and steps[what]["length"] > 1, what   # really playing
        assert steps[what]["earlier_stopped"], what                               # the one before stopped
    # A touch during the countdown closes it and silences its question; the screen says nothing new.
    touched = steps["touched: the countdown and its prompt stop"]
    assert touched["playing"] is None and touched["earlier_stopped"] and touched["screen"] == "guide"


def test_a_missing_prompt_file_leaves_its_screen_working_and_is_logged_once(with_audio):
    steps, warnings = with_audio["steps"], with_audio["warnings"]
    assert steps["identify, its prompt file missing"]["screen"] == "identify"
    assert steps["identify, its prompt file missing"]["playing"] is None
    assert steps["identify, its prompt file missing"]["earlier_stopped"]      # the guide's prompt stopped
    assert steps["card read: confirm"]["playing"] == ["confirm", "en"]         # the next screen speaks again
    assert [w for w in warnings if "identify.wav is missing" in w] == [warnings[0]] and len(warnings) == 1


def test_without_audio_output_every_screen_works_and_staff_are_told_once(without_audio):
    steps, warnings = without_audio["steps"], without_audio["warnings"]
    assert [step["screen"] for step in steps.values()] == ["home", "home", "guide", "identify", "confirm", "pin",
                                                           "pin", "pin", "pin", "home", "home", "guide", "guide",
                                                           "guide", "home"]
    assert all(step["playing"] is None for step in steps.values())
    unplayable = [w for w in warnings if "cannot be played" in w]
    assert len(unplayable) == 1 and "no audio output" in unplayable[0]


# --- configuration -----------------------------------------------------------------------------

def test_voice_settings_default_on_and_are_read():
    assert KioskConfig().ui.voice_prompts is True and KioskConfig().ui.voice_volume == 0.8
    config = parse_config({"ui": {"voice_prompts": False, "voice_volume": 1}})
    assert config.ui.voice_prompts is False and config.ui.voice_volume == 1.0
    prompts = voice.VoicePrompts.from_config(config.ui)
    assert prompts.enabled is False and prompts.volume == 1.0


@pytest.mark.parametrize("values, problem", [
    ({"voice_prompts": "yes"}, "[ui] voice_prompts: expected true or false, got 'yes'"),
    ({"voice_prompts": 1}, "[ui] voice_prompts: expected true or false, got 1"),
    ({"voice_volume": 1.5}, "[ui] voice_volume: must be from 0.0 to 1.0 (got 1.5)"),
    ({"voice_volume": -0.1}, "[ui] voice_volume: must be from 0.0 to 1.0 (got -0.1)"),
    ({"voice_volume": float("nan")}, "[ui] voice_volume: must be from 0.0 to 1.0"),
    ({"voice_volume": "loud"}, "[ui] voice_volume: expected a number, got 'loud'"),
    ({"voice_volume": True}, "[ui] voice_volume: expected a number, got True"),
    ({"voice_prompt": True}, "[ui] voice_prompt: unknown key"),
])
def test_bad_voice_settings_are_refused_with_key_and_reason(values, problem):
    with pytest.raises(ConfigError) as refused:
        parse_config({"ui": values})
    assert any(problem in p for p in refused.value.problems), refused.value.problems


# --- the voice without the app -----------------------------------------------------------------

def test_switched_off_silent_screens_and_missing_files_play_nothing_and_raise_nothing(tmp_path, caplog):
    """None of these reaches Kivy: no window or audio device is needed."""
    off = voice.VoicePrompts(enabled=False, folder=tmp_path)
    off.play("home")
    prompts = voice.VoicePrompts(folder=tmp_path)      # an empty folder: every file missing
    for screen in ("staff", "diagnostics"):
        prompts.play_screen(SimpleNamespace(name=screen))
        assert prompts.playing is None and prompts.sound is None
    for prompt in ("home", "home", "no_such_screen", "no_such_screen"):
        prompts.play(prompt, "zh")
        assert prompts.playing is None and prompts.sound is None
    logged = [r.getMessage() for r in caplog.records if r.name == "screens.voice"]
    assert len(logged) == 2       # each problem once: the missing home.wav, the screen with no prompt
    assert "home.wav is missing" in logged[0] and "no_such_screen" in logged[1]

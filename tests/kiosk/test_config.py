"""Every bad key or value is refused with the key and the reason."""
import pytest

from kiosk.config import ConfigError, KioskConfig, describe_defaults, load_config, parse_config


def test_defaults_run_the_demo():
    config = load_config(None)
    assert config == KioskConfig()
    assert config.readers.card == "Virtual PCD 00 00"


def test_a_valid_file(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[readers]\ncard = "ACS ACR39U"\npsam = "ACS ACR39U SAM"\n[ui]\nidle_timeout_s = 90\n'
                    "card_read_timeout_s = 5\n", encoding="utf-8")
    path.chmod(0o600)
    config = load_config(path)
    assert config.readers.card == "ACS ACR39U" and config.ui.idle_timeout_s == 90
    assert config.ui.card_read_timeout_s == 5.0 and config.terminal.office_phone == "12333"


@pytest.mark.parametrize("text, problem", [
    ("[readerz]\ncard = 'x'", "[readerz]: unknown section"),
    ("[readers]\ncrad = 'x'", "[readers] crad: unknown key"),
    ("[ui]\nidle_timeout_s = 'long'", "[ui] idle_timeout_s: expected an integer, got 'long'"),
    ("[ui]\nidle_timeout_s = 3", "[ui] idle_timeout_s: must be at least 10 (got 3)"),
    ("[ui]\nfullscreen = 1", "[ui] fullscreen: expected true or false, got 1"),
    ("[ui]\nwidth = true", "[ui] width: expected an integer, got True"),
    ("[security]\nmodule = 'hsm9'", "[security] module: must be one of 'psam', 'hsm', 'none'"),
    ("[backend]\nurl = 'http://backend'", "[backend] url: must be an https:// URL"),
    ("[terminal]\nterminal_number = '  '", "[terminal] terminal_number: must not be empty"),
    ("readers = 5", "readers: must be a [section] table"),
    ("[security]\nmodule = 'psam'\n[readers]\npsam = ''", "'psam' needs [readers] psam"),
    ("[pin_entry]\ndevice = 'pad'", "[pin_entry] device: 'pad' needs [pin_pad] port"),
    ("[security]\nhsm_regions = '440300, 4403'", "'4403' is not a 6-digit administrative region code"),
    ("[bank]\nbins = '62=short'", "[bank] bins: must be BIN=bank entries"),
    ("[pin_pad]\nkey_set = 9", "[pin_pad] key_set: must be from 0 to 7"),
    ("[ui\n", "is not valid TOML"),
])
def test_bad_values_are_refused_with_key_and_reason(tmp_path, text, problem):
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert any(problem in p for p in refused.value.problems), refused.value.problems


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as refused:
        parse_config({"ui": {"width": 1, "height": "x"}, "nope": {}})
    assert len(refused.value.problems) == 3


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.toml")


def test_printed_defaults_load_back(tmp_path):
    path = tmp_path / "defaults.toml"
    path.write_text(describe_defaults(), encoding="utf-8")
    path.chmod(0o600)
    assert load_config(path) == KioskConfig(source=str(path))


def test_a_config_file_other_users_can_read_is_refused(tmp_path):
    from kiosk.file_safety import UnsafeFileError
    path = tmp_path / "kiosk.toml"
    path.write_text("[ui]\nidle_timeout_s = 90\n", encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(UnsafeFileError, match="chmod o-rwx"):
        load_config(path)

"""The config file is outside input too (a technician's editor, a broken deployment): any bytes
give a KioskConfig or a ConfigError naming the problem, and a config that loads can run."""
from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import example, given, strategies as st

from kiosk.config import ConfigError, KioskConfig, load_config, parse_config

SECTIONS = {f.name: getattr(KioskConfig(), f.name) for f in dataclasses.fields(KioskConfig) if f.name != "source"}
KEYS = [(section, f.name) for section, value in SECTIONS.items() for f in dataclasses.fields(value)]

toml_scalars = st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(),
                         st.text(max_size=30), st.lists(st.integers(), max_size=3))


def toml_literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return str(value)


@given(st.binary(max_size=300))
def test_any_bytes_load_or_are_refused_with_a_reason(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("cfg") / "kiosk.toml"
    path.write_bytes(raw)
    path.chmod(0o600)  # the kiosk refuses a config others can read
    try:
        load_config(path)
    except ConfigError as error:
        assert error.problems and all(problem for problem in error.problems)


@given(st.lists(st.tuples(st.sampled_from(KEYS), toml_scalars), max_size=6, unique_by=lambda kv: kv[0]))
@example([(("backend", "read_timeout_s"), math.nan)])
@example([(("outbox", "poll_s"), math.inf)])
@example([(("card_printer", "initial_pin"), "١٢٣٤٥٦")])   # Arabic-Indic digits: isdigit() but not BCD
@example([(("terminal", "region_code"), "３７１３００")])   # full-width digits
def test_known_keys_with_any_values_give_a_usable_config_or_name_the_key(tmp_path_factory, settings):
    lines = []
    for section in sorted({s for (s, _), _ in settings}):
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_literal(value)}" for (s, key), value in settings if s == section]
    path = tmp_path_factory.mktemp("cfg") / "kiosk.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    try:
        config = load_config(path)
    except ConfigError as error:
        named = {f"[{section}] {key}" for (section, key), _ in settings}
        assert all(any(problem.startswith(n) for n in named) or problem.startswith("[security]")
                   for problem in error.problems)
        return
    assert_usable(config)


def assert_usable(config: KioskConfig) -> None:
    """What the kiosk relies on without checking again: finite numbers, ASCII digits."""
    for section in SECTIONS:
        for f in dataclasses.fields(getattr(config, section)):
            value = getattr(getattr(config, section), f.name)
            if isinstance(value, float):
                assert math.isfinite(value), f"[{section}] {f.name} = {value}"
    assert config.card_printer.initial_pin.isascii() and config.terminal.region_code.isascii()
    bytes.fromhex(config.card_printer.initial_pin)  # it becomes BCD on the card


@given(st.dictionaries(st.text(max_size=12), st.one_of(toml_scalars, st.dictionaries(st.text(max_size=12),
                                                                                       toml_scalars, max_size=3)),
                       max_size=4))
def test_any_document_shape_is_parsed_or_refused(document):
    try:
        parse_config(document)
    except ConfigError as error:
        assert error.problems


@pytest.mark.parametrize("text", ["[backend]\nread_timeout_s = nan\n", "[outbox]\nlease_s = inf\n"])
def test_non_finite_numbers_are_refused_by_key(tmp_path, text):
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="must be a finite number"):
        load_config(path)

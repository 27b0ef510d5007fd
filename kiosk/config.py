"""The kiosk's configuration: one TOML file, with defaults that run the demo.

Every section is a frozen dataclass; each field's type is checked and its `check` (if any)
validates the value. Every problem is collected and reported with its key and the reason, and
the kiosk refuses to start rather than guess (an unknown key is a typo until proven otherwise).
"""
from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists each bad key with its reason."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _one_of(*choices):
    def check(value):
        if value not in choices:
            return "must be one of " + ", ".join(repr(c) for c in choices)
    return check


def _at_least(minimum):
    def check(value):
        if value < minimum:
            return f"must be at least {minimum}"
    return check


def _non_empty(value):
    if not value.strip():
        return "must not be empty"


def _setting(default, check=None, doc=""):
    return field(default=default, metadata={"check": check, "doc": doc})


@dataclass(frozen=True)
class TerminalSection:
    terminal_number: str = _setting("KIOSK-0001", _non_empty, "terminal no. in iReadCardBas lines")
    terminal_device_number: str = _setting("371300-0001", _non_empty, "terminal device no.")
    office_phone: str = _setting("12333", _non_empty, "service phone printed on receipts")


@dataclass(frozen=True)
class ReadersSection:
    card: str = _setting("Virtual PCD 00 00", _non_empty, "reader of the citizen's card (name or prefix)")
    psam: str = _setting("Virtual PCD 00 01", None, "reader holding the PSAM; empty for none")


@dataclass(frozen=True)
class SecuritySection:
    module: str = _setting("psam", _one_of("psam", "none"), "who computes card cryptograms")
    external_auth_key_id: int = _setting(1, _at_least(1), "key id for EXTERNAL AUTHENTICATE")


@dataclass(frozen=True)
class UiSection:
    fullscreen: bool = _setting(False)
    width: int = _setting(1280, _at_least(320))
    height: int = _setting(800, _at_least(240))
    idle_timeout_s: int = _setting(60, _at_least(10), "seconds without a touch before a visit ends")
    card_read_timeout_s: float = _setting(10.0, _at_least(1.0))


@dataclass(frozen=True)
class KioskConfig:
    terminal: TerminalSection = field(default_factory=TerminalSection)
    readers: ReadersSection = field(default_factory=ReadersSection)
    security: SecuritySection = field(default_factory=SecuritySection)
    ui: UiSection = field(default_factory=UiSection)
    source: str = "defaults"

    def __post_init__(self):
        if self.security.module == "psam" and not self.readers.psam:
            raise ConfigError(self.source, ["[security] module: 'psam' needs [readers] psam"])


_SECTIONS = {f.name: f.type for f in dataclasses.fields(KioskConfig) if f.name != "source"}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _section_class(name: str) -> type:
    return typing.get_type_hints(KioskConfig)[name]


def _check_value(section: str, key: str, expected: type, value, check) -> str | None:
    # TOML's bool is an int in Python, and an int is a fine float: be exact about both.
    ok = (isinstance(value, bool) if expected is bool else
          isinstance(value, (int, float)) and not isinstance(value, bool) if expected is float else
          isinstance(value, expected) and not isinstance(value, bool))
    if not ok:
        return f"[{section}] {key}: expected {_TYPE_NAMES[expected]}, got {value!r}"
    reason = check(value) if check else None
    return f"[{section}] {key}: {reason} (got {value!r})" if reason else None


def parse_config(data: dict, source: str = "config") -> KioskConfig:
    problems: list[str] = []
    sections = {}
    for name, values in data.items():
        if name not in _SECTIONS:
            problems.append(f"[{name}]: unknown section (known: {', '.join(_SECTIONS)})")
            continue
        if not isinstance(values, dict):
            problems.append(f"{name}: must be a [section] table")
            continue
        cls = _section_class(name)
        hints = typing.get_type_hints(cls)
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in values.items():
            if key not in known:
                problems.append(f"[{name}] {key}: unknown key (known: {', '.join(known)})")
                continue
            problem = _check_value(name, key, hints[key], value, known[key].metadata.get("check"))
            if problem:
                problems.append(problem)
            else:
                kwargs[key] = float(value) if hints[key] is float else value
        sections[name] = cls(**kwargs)
    if problems:
        raise ConfigError(source, problems)
    return KioskConfig(**sections, source=source)


def load_config(path: str | Path | None) -> KioskConfig:
    """The configuration in `path`, or the defaults when path is None."""
    if path is None:
        return KioskConfig()
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot be read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"is not valid TOML: {exc}"]) from None
    return parse_config(data, str(path))


def describe_defaults() -> str:
    """The default configuration as TOML with comments: `kiosk config defaults`."""
    lines = []
    defaults = KioskConfig()
    for name in _SECTIONS:
        lines.append(f"[{name}]")
        section = getattr(defaults, name)
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            rendered = ("true" if value else "false") if isinstance(value, bool) else (
                f'"{value}"' if isinstance(value, str) else str(value))
            doc = f.metadata.get("doc")
            lines.append(f"{f.name} = {rendered}" + (f"  # {doc}" if doc else ""))
        lines.append("")
    return "\n".join(lines)

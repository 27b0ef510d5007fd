"""The kiosk's configuration: one TOML file, with defaults that run the demo.

Every section is a frozen dataclass; each field's type is checked and its `check` (if any)
validates the value. Every problem is collected and reported with its key and the reason, and
the kiosk refuses to start rather than guess (an unknown key is a typo until proven otherwise).
"""
from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.file_safety import refuse_if_readable_by_others, refuse_unless_private
from kiosk.staff_pin import parse_staff_cards, well_formed


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
        if not math.isfinite(value):  # TOML has nan and inf; neither is a usable timeout or count
            return "must be a finite number"
        if value < minimum:
            return f"must be at least {minimum}"
    return check


def _non_empty(value):
    if not value.strip():
        return "must not be empty"


def _six_digits(value):
    if not (len(value) == 6 and value.isascii() and value.isdigit()):  # isdigit() alone takes "１２３"
        return "must be 6 digits"


def _hex_bytes(size):
    def check(value):
        try:
            if len(bytes.fromhex(value)) == size:
                return None
        except ValueError:
            pass
        return f"must be {size} bytes in hex"
    return check


def _staff_pin_hash(value):
    if value and not well_formed(value):
        return "must be empty or scrypt$N$r$p$salt$hash as `kiosk config hash-staff-pin` prints it"


def _staff_cards(value):
    try:
        parse_staff_cards(value)
    except ValueError as exc:
        return f"must be SHA-256 digests separated by commas, as `kiosk config hash-staff-card` prints them: {exc}"


def _action_names(value):
    from kiosk.services import catalog
    unknown = [name.strip() for name in value.split(",") if name.strip() and not _is_action(catalog, name.strip())]
    if unknown:
        return f"not actions of the catalogue: {', '.join(unknown)}"


def _is_action(catalog, name: str) -> bool:
    try:
        catalog.action(name)
    except KeyError:
        return False
    return True


def _fee_charges(value):
    try:
        parse_fee_charges(value)
    except ValueError as exc:
        return str(exc)


def parse_fee_charges(value: str) -> dict[tuple[str, str], int]:
    """`replace:lost=20.00, replace:damaged=20.00` -> {("replace", "lost"): 2000, ...}: an action
    of the catalogue, one of its reasons, and the fee in yuan (fen from here on)."""
    from kiosk.services import catalog
    charges = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        what, _, amount = part.partition("=")
        action, _, reason = what.strip().partition(":")
        if not _is_action(catalog, action) or f"{action}_{reason}" not in catalog.action(action).results:
            raise ValueError(f"{what.strip()!r} is not an action and one of its reasons (replace:lost ...)")
        try:
            fen = round(float(amount) * 100)
        except (ValueError, OverflowError):   # not a number, NaN, infinity
            raise ValueError(f"{part!r}: the fee is not a number of yuan") from None
        if not 1 <= fen <= 100000 or abs(float(amount) * 100 - fen) > 1e-6:
            raise ValueError(f"{part!r}: the fee must be 0.01 to 1000.00 yuan, in fen")
        charges[(action, reason)] = fen
    return charges


def _between(low, high):
    def check(value):
        if not (math.isfinite(value) and low <= value <= high):
            return f"must be from {low} to {high}"
    return check


def _region_code(value):
    if not (len(value) == 6 and value.isascii() and value.isdigit()):
        return "must be a 6-digit administrative region code"


def parse_bin_table(value: str) -> dict[str, str]:
    """`621999=模拟银行, 622848=...`: the banks of the province's card accounts, by BIN (the
    account's first 6 to 8 digits). ValueError names the entry that is not one."""
    table = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        prefix, _, bank = (part.strip() for part in entry.partition("="))
        if not (prefix.isascii() and prefix.isdigit() and 6 <= len(prefix) <= 8) or not bank:
            raise ValueError(f"{entry!r} is not BIN=bank")
        table[prefix] = bank
    return table


def _bin_table(value):
    try:
        parse_bin_table(value)
    except ValueError as exc:
        return f"must be BIN=bank entries separated by commas: {exc}"


def _region_codes(value):
    for code in (part.strip() for part in value.split(",")):
        if code and _region_code(code):
            return f"{code!r} is not a 6-digit administrative region code"


def _setting(default, check=None, doc=""):
    return field(default=default, metadata={"check": check, "doc": doc})


@dataclass(frozen=True)
class TerminalSection:
    terminal_number: str = _setting("KIOSK-0001", _non_empty, "terminal no. in iReadCardBas lines")
    terminal_device_number: str = _setting("371300-0001", _non_empty, "terminal device no.")
    office_phone: str = _setting("12333", _non_empty, "service phone printed on receipts")
    region_code: str = _setting("371300", _region_code, "the region (行政区划代码) this kiosk applies for cards in")


@dataclass(frozen=True)
class ReadersSection:
    card: str = _setting("Virtual PCD 00 00", _non_empty, "reader of the citizen's card (name or prefix)")
    psam: str = _setting("Virtual PCD 00 01", None, "reader holding the PSAM; empty for none")


def _https_url(value):
    if not value.startswith("https://"):
        return "must be an https:// URL (the backend link is always TLS)"


@dataclass(frozen=True)
class SecuritySection:
    module: str = _setting("psam", _one_of("psam", "hsm", "none"),
                           "who computes card cryptograms: the PSAM, the backend's HSM, or nobody")
    hsm_regions: str = _setting("", _region_codes, "with module = 'psam': the regions (6-digit codes, separated by "
                                "commas) whose cards' keys the PSAM lacks; their cards go to the backend's HSM")
    hsm_pin_key_file: str = _setting("", None, "with module = 'hsm' or hsm_regions: the terminal's PIN key shared "
                                     "with the HSM (32 hex digits, SM4; a file only the kiosk's user reads): a new "
                                     "PIN goes to the HSM as a PIN block under it, never as digits")

    @property
    def hsm_region_codes(self) -> frozenset[str]:
        return frozenset(code.strip() for code in self.hsm_regions.split(",") if code.strip())


@dataclass(frozen=True)
class BackendSection:
    url: str = _setting("https://127.0.0.1:8443", _https_url, "the card management backend")
    ca_file: str = _setting(".run/certs/ca.pem", _non_empty, "the only CA trusted for the backend")
    cert_file: str = _setting(".run/certs/kiosk.pem", _non_empty, "this kiosk's client certificate")
    key_file: str = _setting(".run/certs/kiosk.key", _non_empty, "its private key")
    connect_timeout_s: float = _setting(3.0, _at_least(0.1))
    read_timeout_s: float = _setting(10.0, _at_least(0.1), "the longest wait for each read of a reply")
    call_deadline_s: float = _setting(20.0, _at_least(1.0), "the longest a whole call may take, however its "
                                      "reply trickles in")
    max_reply_bytes: int = _setting(1048576, _at_least(1024), "larger replies are refused unread")
    heartbeat_interval_s: float = _setting(300.0, _at_least(1.0), "how often the kiosk tells the backend it is alive")


@dataclass(frozen=True)
class OutboxSection:
    db: str = _setting(".run/kiosk/kiosk.db", _non_empty, "the kiosk's SQLite database (outbox and records)")
    key_file: str = _setting(".run/kiosk/kiosk.key", _non_empty, "SM4 keys sealing personal data at rest")
    senders: int = _setting(4, _at_least(1), "deliveries in flight at once")
    batch_size: int = _setting(32, _at_least(1))
    lease_s: float = _setting(60.0, _at_least(5.0), "how long a claimed job is held before it is re-queued")
    poll_s: float = _setting(2.0, _at_least(0.05))
    probe_interval_s: float = _setting(5.0, _at_least(0.5), "health probe while the link is down")
    reconnect_spread_s: float = _setting(10.0, _at_least(0.0), "when the link comes back, queued jobs start at a "
                                         "random point within this many seconds, so that a province's kiosks do "
                                         "not all send at once when an outage ends")
    backoff_base_s: float = _setting(2.0, _at_least(0.1))
    backoff_cap_s: float = _setting(600.0, _at_least(1.0))
    delivery_wait_s: float = _setting(3.0, _at_least(0.0), "how long a citizen waits for a queued job to land")
    give_up_attempts: int = _setting(50, _at_least(1), "a job failing this often while the backend answers "
                                     "becomes a dead letter for staff (never while the link is down)")
    give_up_days: float = _setting(7.0, _at_least(0.1), "likewise, a job failing for this long")
    audit_secret_file: str = _setting("", None, "the second secret of the audit trail's MAC key, kept apart from "
                                      "the database (e.g. /etc/sscard-kiosk/audit.secret); empty: the systemd "
                                      "credential 'audit-secret' (LoadCredential=)")


@dataclass(frozen=True)
class CardPrinterSection:
    enabled: bool = _setting(True, None, "instant issuance (立等可取) on this kiosk's card printer")
    host: str = _setting("127.0.0.1", _non_empty, "the card printer's network address")
    port: int = _setting(9100, _at_least(1))
    encoder_reader: str = _setting("Virtual PCD 00 00", _non_empty,
                                   "the PC/SC reader of its contact station (the simulation shares "
                                   "vpcd slot 0 with the card reader: Debian's vpcd has two slots)")
    reply_timeout_s: float = _setting(3.0, _at_least(0.1))
    movement_timeout_s: float = _setting(30.0, _at_least(1.0))
    encoder_timeout_s: float = _setting(5.0, _at_least(0.5))
    initial_pin: str = _setting("123456", _six_digits, "the PIN the blank stock leaves the factory with")
    spec_version: str = _setting("3.00", _one_of("1.00", "2.00", "3.00"), "the blank stock's card generation")
    initialising_org: str = _setting("D15600000537130000000100", _hex_bytes(12), "EF05 tag 04, 12 bytes hex")


@dataclass(frozen=True)
class ReceiptPrinterSection:
    port: str = _setting("", None, "serial device of the ESC/POS printer; empty: no printer (receipt on screen)")
    baud: int = _setting(9600, _one_of(9600, 19200, 38400, 57600, 115200))
    encoding: str = _setting("gb18030", _one_of("gb18030", "gbk"), "the printer model's Chinese encoding")
    paper_mm: int = _setting(80, _one_of(58, 80))
    read_timeout_s: float = _setting(3.0, _at_least(0.05),
                                     "wait for a status answer; after a long job the printer answers "
                                     "only once it has taken every byte")
    write_timeout_s: float = _setting(2.0, _at_least(0.05), "a stalled printer fails the job after this")


@dataclass(frozen=True)
class IdReaderSection:
    port: str = _setting("", None, "serial device of the GA 467 resident ID card reader; empty: none")
    baud: int = _setting(115200, _one_of(9600, 19200, 38400, 57600, 115200))
    read_timeout_s: float = _setting(2.0, _at_least(0.05))
    write_timeout_s: float = _setting(1.0, _at_least(0.05))
    retries: int = _setting(2, _at_least(0), "re-reads after a broken frame")


@dataclass(frozen=True)
class QrScannerSection:
    port: str = _setting("", None, "serial device of the 2D code scanner (the electronic social security card's "
                         "QR code, #19); empty: none")
    baud: int = _setting(9600, _one_of(9600, 19200, 38400, 57600, 115200))
    read_timeout_s: float = _setting(0.2, _at_least(0.05))
    write_timeout_s: float = _setting(1.0, _at_least(0.05))
    input_device: str = _setting("", None, "a keyboard-wedge scanner's input device (/dev/input/by-id/...), taken "
                                 "through evdev, when there is no serial one; empty: none")
    camera_fallback: bool = _setting(True, None, "without a scanner, read QR codes from the face check's camera")


@dataclass(frozen=True)
class UiSection:
    fullscreen: bool = _setting(False)
    width: int = _setting(1280, _at_least(320))
    height: int = _setting(800, _at_least(240))
    idle_timeout_s: int = _setting(60, _at_least(10), "seconds without a touch before a visit ends")
    card_read_timeout_s: float = _setting(10.0, _at_least(1.0))
    service_deadline_s: float = _setting(300.0, _at_least(30.0), "a service running longer is given up: the "
                                         "citizen is told to have staff check its outcome and the visit ends")
    pin_pad_random_order: bool = _setting(True, None, "the PIN pad lays its digits out afresh for every entry")
    staff_pin_scrypt: str = _setting("", _staff_pin_hash,
                                     "scrypt hash of the diagnostics PIN (kiosk config hash-staff-pin); "
                                     "empty: diagnostics cannot be entered")
    staff_cards: str = _setting("", _staff_cards, "staff cards that open diagnostics with their card PIN, as "
                                "SHA-256 digests of their card identifiers (kiosk config hash-staff-card), "
                                "separated by commas; empty: none")
    usb_mount_root: str = _setting("/media", _non_empty, "where USB sticks are mounted; diagnostics export "
                                   "logs to the first writable one found at most two levels below")
    voice_prompts: bool = _setting(True, None, "each screen speaks its prompt (screens/prompts, built by "
                                   "python -m screens.voice build)")
    voice_volume: float = _setting(0.8, _between(0.0, 1.0), "loudness of the spoken prompts, 0 to 1")


@dataclass(frozen=True)
class CameraSection:
    device: str = _setting("", None, "the V4L2 camera of the face check (/dev/video0 or its index); empty: "
                           "none (face checks go the staff-assisted way)")
    width: int = _setting(640, _at_least(160))
    height: int = _setting(480, _at_least(120))
    fps: int = _setting(15, _at_least(5))


@dataclass(frozen=True)
class IdentitySection:
    face_required_for: str = _setting("", _action_names, "actions that need a face check beyond the catalogue's "
                                      "own (which a configuration cannot lower), separated by commas")
    match_threshold: float = _setting(0.5, _between(0.2, 0.6), "face embedding distance under which the live "
                                      "face is the registered photo's (0.6 is dlib's own, lower is stricter)")
    attempts: int = _setting(2, _at_least(1), "face checks a citizen may try; after the last fails, the kiosk "
                             "calls staff")


@dataclass(frozen=True)
class PinPadSection:
    port: str = _setting("", None, "serial device of the encrypting PIN pad (bank PINs); empty: none, and no "
                         "bank activation at this kiosk")
    baud: int = _setting(9600, _one_of(9600, 19200, 38400, 57600, 115200))
    key_set: int = _setting(0, _between(0, 7), "the pad's PIN key set that the bank's gateway shares")
    read_timeout_s: float = _setting(1.0, _at_least(0.05))
    write_timeout_s: float = _setting(1.0, _at_least(0.05))
    entry_timeout_s: float = _setting(60.0, _at_least(5.0), "the citizen's time to type a PIN on the pad")


@dataclass(frozen=True)
class PinEntrySection:
    device: str = _setting("touchscreen", _one_of("touchscreen", "pad"),
                           "where the citizen types the social security card's PIN: the touchscreen's own pad, "
                           "or the encrypting PIN pad ([pin_pad] port)")


@dataclass(frozen=True)
class BankSection:
    bins: str = _setting("", _bin_table, "the banks of the cards' financial accounts, by BIN: "
                         "'621999=某银行, 622848=...'; an account whose BIN is not listed shows no bank name")


def _hex_colour(value):
    if not re.fullmatch(r"#[0-9A-Fa-f]{6}", value):
        return "must be a colour like #EEF2F7"


@dataclass(frozen=True)
class PhotoSection:
    width: int = _setting(358, _between(100, 2000), "the card photo's width in pixels (the province's specification)")
    height: int = _setting(441, _between(100, 2000), "its height")
    background: str = _setting("#EEF2F7", _hex_colour, "the plain background the photo's is cleaned to")
    quality: int = _setting(88, _between(50, 100), "JPEG quality")


@dataclass(frozen=True)
class FeesSection:
    charges: str = _setting("", _fee_charges, "the fees (工本费) the kiosk takes by QR payment before it makes a card, "
                            "as action:reason=yuan separated by commas (replace:lost=20.00); empty: none (#19)")
    order_poll_s: float = _setting(1.0, _between(0.2, 10.0), "how often the kiosk asks whether an order was paid")


@dataclass(frozen=True)
class SignatureSection:
    required: bool = _setting(False, None, "an application carries the applicant's handwritten signature, drawn on "
                              "the screen (#19)")


@dataclass(frozen=True)
class MetricsSection:
    exporter: str = _setting("off", _one_of("off", "http", "textfile"),
                             "how Prometheus gets the kiosk's metrics (kiosk/metrics.py): served on listen:port, or "
                             "written to `textfile` for node_exporter's textfile collector")
    listen: str = _setting("127.0.0.1", _non_empty, "with exporter = 'http': the address served on")
    port: int = _setting(9464, _between(0, 65535), "with exporter = 'http': the port (0: any free one)")
    textfile: str = _setting("/var/lib/prometheus/node-exporter/sscard_kiosk.prom", _non_empty,
                             "with exporter = 'textfile': the file, rewritten whole every interval_s")
    interval_s: float = _setting(60.0, _at_least(1.0), "how often the textfile is written; devices are probed at "
                                 "most this often for the metrics")
    disk_low_bytes: int = _setting(1073741824, _at_least(0), "free disk under this is the disk-low alert "
                                   "(deploy/prometheus)")


@dataclass(frozen=True)
class UpdateSection:
    repository_url: str = _setting("", None, "the province's TUF repository (https://...; metadata/ and targets/ "
                                   "below it); empty: updates come from a USB stick only")
    usb_path: str = _setting("/media/sscard-update", _non_empty, "where a stick's copy of the repository is mounted")
    trusted_root: str = _setting("/etc/sscard-kiosk/update-root.json", _non_empty,
                                 "the province's root metadata: the keys every update must be signed with")
    root: str = _setting("/opt/sscard-kiosk", _non_empty, "holds releases/a, releases/b and the `current` symlink")
    state_dir: str = _setting("/var/lib/sscard-kiosk/update", _non_empty, "TUF's metadata cache, downloads, state.json")
    health_check_timeout_s: float = _setting(120.0, _at_least(1.0), "a release's install or health check longer "
                                             "than this fails it")
    restart_command: str = _setting("systemctl restart sscard-kiosk.service", None,
                                    "run after each switch of `current`, before the health check (empty: none)")


@dataclass(frozen=True)
class KioskConfig:
    terminal: TerminalSection = field(default_factory=TerminalSection)
    readers: ReadersSection = field(default_factory=ReadersSection)
    security: SecuritySection = field(default_factory=SecuritySection)
    backend: BackendSection = field(default_factory=BackendSection)
    outbox: OutboxSection = field(default_factory=OutboxSection)
    card_printer: CardPrinterSection = field(default_factory=CardPrinterSection)
    receipt_printer: ReceiptPrinterSection = field(default_factory=ReceiptPrinterSection)
    id_reader: IdReaderSection = field(default_factory=IdReaderSection)
    qr_scanner: QrScannerSection = field(default_factory=QrScannerSection)
    ui: UiSection = field(default_factory=UiSection)
    camera: CameraSection = field(default_factory=CameraSection)
    identity: IdentitySection = field(default_factory=IdentitySection)
    bank: BankSection = field(default_factory=BankSection)
    pin_pad: PinPadSection = field(default_factory=PinPadSection)
    pin_entry: PinEntrySection = field(default_factory=PinEntrySection)
    metrics: MetricsSection = field(default_factory=MetricsSection)
    photo: PhotoSection = field(default_factory=PhotoSection)
    signature: SignatureSection = field(default_factory=SignatureSection)
    fees: FeesSection = field(default_factory=FeesSection)
    update: UpdateSection = field(default_factory=UpdateSection)
    source: str = "defaults"

    def __post_init__(self):
        if self.security.module == "psam" and not self.readers.psam:
            raise ConfigError(self.source, ["[security] module: 'psam' needs [readers] psam"])
        if self.pin_entry.device == "pad" and not self.pin_pad.port:
            raise ConfigError(self.source, ["[pin_entry] device: 'pad' needs [pin_pad] port"])
        if self.qr_scanner.port and self.qr_scanner.input_device:
            raise ConfigError(self.source, ["[qr_scanner] port and input_device: one scanner, serial or keyboard"])

    def changed(self, **sections: dict) -> "KioskConfig":
        """A copy with some settings changed, section by section: changed(id_reader={"port": p})."""
        return dataclasses.replace(self, **{name: dataclasses.replace(getattr(self, name), **values)
                                            for name, values in sections.items()})


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
    if path.exists():
        # A configuration other users can read or change would hand them the backend link and
        # the keys sealing personal data: refused like ssh refuses an open private key.
        refuse_if_readable_by_others(path, "config")
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot be read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"is not valid TOML: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"is not UTF-8 text (byte {exc.start})"]) from None
    return parse_config(data, str(path))


def refuse_open_secrets(config: KioskConfig) -> None:
    """The files a configuration file names that must be the kiosk's alone, checked before they
    are used. (The key ring is made with mode 600 on first start, so only an existing one.)"""
    refuse_unless_private(config.backend.key_file, "[backend] key_file")
    if Path(config.outbox.key_file).exists():
        refuse_unless_private(config.outbox.key_file, "[outbox] key_file")


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

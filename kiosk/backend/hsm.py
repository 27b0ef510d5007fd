"""The backend's HSM as the card application's security module, for kiosks without a PSAM
(drivers/security_module.py's SecurityModule protocol)."""
from __future__ import annotations

from pathlib import Path

from drivers import pin_block
from drivers.security_module import SecurityModuleRequired
from kiosk.backend.client import BackendClient
from kiosk.backend.errors import BackendError
from kiosk.config import KioskConfig
from kiosk.file_safety import UnsafeFileError, refuse_unless_private


WHAT = "[security] hsm_pin_key_file"


def load_terminal_pin_key(config: KioskConfig) -> bytes | None:
    """The terminal's PIN key for the HSM, or None when none is configured (then the HSM can
    authenticate cards but not MAC a new PIN). UnsafeFileError for a file others can read or
    that does not hold 32 hex digits."""
    path = config.security.hsm_pin_key_file
    if not path:
        return None
    if config.source != "defaults":
        refuse_unless_private(path, WHAT)
    try:
        key = bytes.fromhex(Path(path).read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UnsafeFileError(WHAT, path, f"cannot be read as hex: {exc}") from None
    if len(key) != 16:
        raise UnsafeFileError(WHAT, path, f"holds {len(key)} bytes; an SM4 key is 16")
    return key


class BackendHsmSecurityModule:
    """`pin_key`: the terminal's PIN key, which the HSM shares ([security] hsm_pin_key_file). The
    only command data the HSM MACs is PIN RELOAD's new PIN: it leaves as an SM4 PIN block (#15)."""

    def __init__(self, client: BackendClient, pin_key: bytes | None = None):
        self.client = client
        self.pin_key = pin_key

    def external_auth_cryptogram(self, card_identifier: bytes, challenge: bytes, key_id: int) -> bytes:
        try:
            return self.client.hsm_external_auth(card_identifier.hex().upper(), challenge, key_id)
        except BackendError as exc:
            # Without the backend this kiosk cannot authenticate to the card: say so plainly.
            raise SecurityModuleRequired(f"backend HSM unavailable: {exc}") from None

    def internal_auth_genuine(self, card_identifier: bytes, challenge: bytes, response: bytes, key_id: int,
                              cipher: str) -> bool:
        try:
            return self.client.hsm_internal_auth(card_identifier.hex().upper(), challenge, response, key_id, cipher)
        except BackendError as exc:
            raise SecurityModuleRequired(f"backend HSM unavailable: {exc}") from None

    def command_mac(self, card_identifier: bytes, challenge: bytes, header: bytes, data: bytes,
                    key_id: int) -> bytes:
        if self.pin_key is None:
            raise SecurityModuleRequired("no terminal PIN key for the HSM ([security] hsm_pin_key_file)")
        block = pin_block.seal_card_pin(self.pin_key, bytes(data))
        try:
            return self.client.hsm_command_mac(card_identifier.hex().upper(), challenge, header, block, key_id)
        except BackendError as exc:
            raise SecurityModuleRequired(f"backend HSM unavailable: {exc}") from None

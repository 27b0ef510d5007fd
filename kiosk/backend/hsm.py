"""The backend's HSM as the card application's security module, for kiosks without a PSAM
(drivers/security_module.py's SecurityModule protocol)."""
from __future__ import annotations

from drivers.security_module import SecurityModuleRequired
from kiosk.backend.client import BackendClient
from kiosk.backend.errors import BackendError


class BackendHsmSecurityModule:
    def __init__(self, client: BackendClient):
        self.client = client

    def external_auth_cryptogram(self, card_identifier: bytes, challenge: bytes, key_id: int) -> bytes:
        try:
            return self.client.hsm_external_auth(card_identifier.hex().upper(), challenge, key_id)
        except BackendError as exc:
            # Without the backend this kiosk cannot authenticate to the card: say so plainly.
            raise SecurityModuleRequired(f"backend HSM unavailable: {exc}") from None

    def internal_auth_genuine(self, card_identifier: bytes, challenge: bytes, response: bytes, key_id: int) -> bool:
        try:
            return self.client.hsm_internal_auth(card_identifier.hex().upper(), challenge, response, key_id)
        except BackendError as exc:
            raise SecurityModuleRequired(f"backend HSM unavailable: {exc}") from None

    def command_mac(self, card_identifier: bytes, challenge: bytes, header: bytes, data: bytes,
                    key_id: int) -> bytes:
        try:
            return self.client.hsm_command_mac(card_identifier.hex().upper(), challenge, header, bytes(data), key_id)
        except BackendError as exc:
            raise SecurityModuleRequired(f"backend HSM unavailable: {exc}") from None

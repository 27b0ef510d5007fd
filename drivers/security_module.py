"""The security module: whatever computes the terminal's cryptograms for the card.

In the field it is a PSAM in a second reader slot or, for kiosks without one, the backend's
HSM. The card application sees only this interface, so either can be plugged in.
"""
from __future__ import annotations

import hmac
from typing import Protocol

from drivers.apdu import ApduChannel, CardError, CommandApdu
from drivers.keyscheme import SM4, pad_iso9797_method2


class SecurityModuleRequired(CardError):
    pass


class SecurityModule(Protocol):
    def external_auth_cryptogram(self, card_identifier: bytes, challenge: bytes, key_id: int) -> bytes:
        """The 16-byte EXTERNAL AUTHENTICATE cryptogram for this card's challenge."""

    def command_mac(self, card_identifier: bytes, challenge: bytes, header: bytes, data: bytes,
                    key_id: int) -> bytes:
        """The 4-byte MAC of a PIN RELOAD / UNBLOCK command (drivers/keyscheme.py)."""

    def internal_auth_genuine(self, card_identifier: bytes, challenge: bytes, response: bytes, key_id: int,
                              cipher: str) -> bool:
        """Whether `response` is this card's answer to INTERNAL AUTHENTICATE of `challenge` in
        `cipher` (keyscheme.SM4 or TDES)."""


PSAM_TDES = 0x01   # CIPHER DATA's P2 for 3DES (00: SM4)


class PsamSecurityModule:
    """A PSAM answering DELIVER KEY (80 1A: diversify a master key by the card identifier)
    and CIPHER DATA (80 FA, P1=00 encrypt, P1=05 MAC, with the diversified key; P2=01 encrypts
    with it as a two-key 3DES key), as in drivers/keyscheme.py."""

    def __init__(self, channel: ApduChannel):
        self.channel = channel

    def external_auth_cryptogram(self, card_identifier: bytes, challenge: bytes, key_id: int) -> bytes:
        self.channel.send(CommandApdu(0x80, 0x1A, 0x00, key_id, card_identifier, name="PSAM DELIVER KEY"))
        padded = pad_iso9797_method2(challenge)
        cryptogram = self.channel.send(CommandApdu(0x80, 0xFA, 0x00, 0x00, padded, le=len(padded),
                                                   name="PSAM CIPHER DATA"))
        if len(cryptogram) != len(padded):
            raise CardError(f"PSAM returned a {len(cryptogram)}-byte cryptogram, expected {len(padded)}")
        return cryptogram

    def internal_auth_genuine(self, card_identifier: bytes, challenge: bytes, response: bytes, key_id: int,
                              cipher: str) -> bool:
        # The PSAM enciphers the challenge with the card's diversified key, as the card must have:
        # SM4 over the padded challenge, or (P2 = 01) two-key 3DES over the challenge alone.
        if cipher == SM4:
            expected = self.external_auth_cryptogram(card_identifier, challenge, key_id)
        else:
            self.channel.send(CommandApdu(0x80, 0x1A, 0x00, key_id, card_identifier, name="PSAM DELIVER KEY"))
            expected = self.channel.send(CommandApdu(0x80, 0xFA, 0x00, PSAM_TDES, challenge, le=len(challenge),
                                                     name="PSAM CIPHER DATA 3DES"))
        return hmac.compare_digest(expected, bytes(response))

    def command_mac(self, card_identifier: bytes, challenge: bytes, header: bytes, data: bytes,
                    key_id: int) -> bytes:
        self.channel.send(CommandApdu(0x80, 0x1A, 0x00, key_id, card_identifier, name="PSAM DELIVER KEY"))
        mac_input = bytearray(challenge) + header + data
        try:
            mac = self.channel.send(CommandApdu(0x80, 0xFA, 0x05, 0x00, mac_input, le=4, name="PSAM MAC"))
        finally:
            mac_input[:] = bytes(len(mac_input))  # it may hold a new PIN
        if len(mac) != 4:
            raise CardError(f"PSAM returned a {len(mac)}-byte MAC, expected 4")
        return mac

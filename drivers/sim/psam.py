"""A simulated PSAM (the terminal's security module card) for the second vpcd slot.

It answers DELIVER KEY (80 1A 00 <key id> 10 <card identifier>), which diversifies a master
key by the card identifier into a session key, and CIPHER DATA, which with P1=00 encrypts
whole SM4 blocks with it and with P1=05 returns their 4-byte CBC-MAC: the key scheme of
drivers/keyscheme.py.

`pull_out_after_apdus` = n takes the PSAM out of its reader as its (n+1)-th APDU arrives, so
tests can remove it at each step of a command that needs it.
"""
from __future__ import annotations

from drivers import keyscheme
from drivers.sim.iso7816 import (SW_CONDITIONS_NOT_SATISFIED, SW_OK, SW_WRONG_DATA,
                                 SW_WRONG_LENGTH, SW_WRONG_P1P2, Command, SimulatedCard)
from drivers.sim.vpcd import CardPulledOut

PSAM_ATR = bytes.fromhex("3B6800000073C84013009000")


class SimulatedPsam(SimulatedCard):
    atr = PSAM_ATR
    instructions = {0xA4: "select", 0x1A: "deliver_key", 0xFA: "cipher_data"}

    def __init__(self, master_keys: dict[int, bytes] | None = None, t0_get_response: bool = False):
        super().__init__(t0_get_response=t0_get_response)
        self.master_keys = dict(master_keys or keyscheme.TEST_MASTER_KEYS)
        self.session_key: bytes | None = None
        self.apdus_seen = 0
        self.pull_out_after_apdus: int | None = None

    def process_apdu(self, apdu: bytes) -> bytes:
        self.apdus_seen += 1
        if self.pull_out_after_apdus is not None and self.apdus_seen > self.pull_out_after_apdus:
            raise CardPulledOut()
        return super().process_apdu(apdu)

    def power_on(self) -> None:
        super().power_on()
        self.session_key = None

    def select(self, command: Command) -> bytes:
        return SW_OK if command.p1 == 0x00 and command.data in (b"", b"\x3f\x00") else b"\x6A\x82"

    def deliver_key(self, command: Command) -> bytes:
        master = self.master_keys.get(command.p2)
        if master is None:
            return SW_WRONG_P1P2
        if len(command.data) != keyscheme.BLOCK:
            return SW_WRONG_LENGTH
        self.session_key = keyscheme.diversify(master, command.data)
        return SW_OK

    def cipher_data(self, command: Command) -> bytes:
        if self.session_key is None:
            return SW_CONDITIONS_NOT_SATISFIED
        if command.p1 == 0x05:  # MAC mode: the PSAM pads, the caller gets 4 bytes
            return keyscheme.cbc_mac4(self.session_key, command.data) + SW_OK
        if command.p2 == 0x01:  # the card's key as two-key 3DES, over one 8-byte block
            if len(command.data) != 8:
                return SW_WRONG_DATA
            return keyscheme.internal_auth_response(self.session_key, command.data, keyscheme.TDES) + SW_OK
        if not command.data or len(command.data) % keyscheme.BLOCK:
            return SW_WRONG_DATA
        return keyscheme.sm4_ecb_encrypt(self.session_key, command.data) + SW_OK

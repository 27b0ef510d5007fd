"""The key scheme shared by the simulated card, the simulated PSAM and (later) the reference
backend's HSM. Real provincial schemes are not public, so this one is ours and documented:

* A master key is a 16-byte SM4 key named by a one-byte key id:
  0x01 external authentication (needed before reading EF06 on 3.0 cards and before writing),
  0x02 PIN reload/unblock MAC.
* A card's own key is the master key diversified by the card identifier, which is exactly one
  SM4 block:  K_card = SM4-ECB-Encrypt(master, card_identifier).
* The EXTERNAL AUTHENTICATE cryptogram for an 8-byte challenge is
  SM4-ECB-Encrypt(K_card, challenge || 80 00 00 00 00 00 00 00)  (ISO/IEC 9797-1 padding 2).
* INTERNAL AUTHENTICATE (00 88 00 03, 8-byte challenge from the terminal) is answered under key
  0x03 in the cipher the card declares by its specification version (EF05 record 3): a
  third-generation card (3.00) uses the national SM4 and answers
  SM4-ECB-Encrypt(K_card, challenge || 80 00 .. 00), 16 bytes; a 1.00 or 2.00 card uses two-key
  3DES with the same 16-byte K_card and answers 3DES-ECB-Encrypt(K_card, challenge), 8 bytes.
  The card proves it holds its own key, which a copy of its files does not. (External
  authentication and the PIN MAC stay SM4 on every generation here: only the PSAM or the HSM
  computes them, while the kiosk must know how to ask for the card's own proof.)
* PIN RELOAD (80 5E 00 00) and UNBLOCK (00 2C 03 00) carry a 4-byte MAC made with the card's
  key 0x02: the first 4 bytes of SM4 CBC-MAC (zero IV, padding 2) over
  challenge (8 bytes from GET CHALLENGE) || CLA INS P1 P2 || command data without the MAC.

The test master keys below are published on purpose: they are for simulators and tests only.
"""
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
KEY_EXTERNAL_AUTH = 0x01
KEY_PIN_RELOAD = 0x02
KEY_INTERNAL_AUTH = 0x03

TEST_MASTER_KEYS = {
    KEY_EXTERNAL_AUTH: bytes.fromhex("6B696F736B2D73696D2D6578742D3031"),  # "kiosk-sim-ext-01"
    KEY_PIN_RELOAD: bytes.fromhex("6B696F736B2D73696D2D70696E2D3032"),     # "kiosk-sim-pin-02"
    KEY_INTERNAL_AUTH: bytes.fromhex("6B696F736B2D73696D2D696E742D3033"),  # "kiosk-sim-int-03"
}

# Another province's test keys (Shenzhen's cards, region 440300): the simulated PSAM does not
# hold them; the reference backend's HSM does, as a national platform holds every region's.
OTHER_REGION = "440300"
OTHER_REGION_TEST_MASTER_KEYS = {key_id: bytes(b ^ 0x5A for b in key) for key_id, key in TEST_MASTER_KEYS.items()}


def sm4_ecb_encrypt(key: bytes, data: bytes) -> bytes:
    if len(key) != BLOCK or len(data) % BLOCK:
        raise ValueError("SM4-ECB needs a 16-byte key and whole 16-byte blocks")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def sm4_ecb_decrypt(key: bytes, data: bytes) -> bytes:
    if len(key) != BLOCK or len(data) % BLOCK:
        raise ValueError("SM4-ECB needs a 16-byte key and whole 16-byte blocks")
    decryptor = Cipher(algorithms.SM4(key), modes.ECB()).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def check_value(key: bytes) -> str:
    """A key's check value (KCV): the first 4 bytes of SM4 over zeros, in hex. Staff and the
    pad compare it; it tells nothing of the key."""
    return sm4_ecb_encrypt(key, bytes(BLOCK))[:4].hex().upper()


def pad_iso9797_method2(data: bytes) -> bytes:
    padded = data + b"\x80"
    return padded + b"\x00" * (-len(padded) % BLOCK)


def diversify(master_key: bytes, card_identifier: bytes) -> bytes:
    if len(card_identifier) != BLOCK:
        raise ValueError("a card identifier is 16 bytes")
    return sm4_ecb_encrypt(master_key, card_identifier)


def external_auth_cryptogram(card_key: bytes, challenge: bytes) -> bytes:
    return sm4_ecb_encrypt(card_key, pad_iso9797_method2(challenge))


# The ciphers a card may declare for its own keys, and the length of its INTERNAL AUTHENTICATE
# answer in each.
SM4 = "SM4"
TDES = "3DES"
ANSWER_LENGTHS = {SM4: 16, TDES: 8}


def declared_cipher(generation: int) -> str:
    """The cipher of a card's own keys, as its specification version declares it: the third
    generation's national SM4, two-key 3DES before it."""
    return SM4 if generation >= 3 else TDES


def internal_auth_response(card_key: bytes, challenge: bytes, cipher: str = SM4) -> bytes:
    """The card's answer to INTERNAL AUTHENTICATE of an 8-byte `challenge`, under its own key 0x03."""
    if cipher == SM4:
        return external_auth_cryptogram(card_key, challenge)
    if cipher == TDES:
        if len(card_key) != BLOCK or len(challenge) != 8:
            raise ValueError("3DES here takes a 16-byte (two-key) key and one 8-byte block")
        # Two-key 3DES is K1 K2 K1: written out as three keys, the form `cryptography` keeps.
        encryptor = Cipher(TripleDES(card_key + card_key[:8]), modes.ECB()).encryptor()
        return encryptor.update(challenge) + encryptor.finalize()
    raise ValueError(f"no cipher {cipher!r}: {SM4} or {TDES}")


def cbc_mac4(key: bytes, data: bytes) -> bytes:
    """SM4 CBC-MAC (zero IV) over the ISO 9797-1 method 2 padded data, first 4 bytes."""
    encryptor = Cipher(algorithms.SM4(key), modes.CBC(bytes(BLOCK))).encryptor()
    return (encryptor.update(pad_iso9797_method2(data)) + encryptor.finalize())[-BLOCK:][:4]


def command_mac(card_key: bytes, challenge: bytes, header: bytes, data: bytes = b"") -> bytes:
    """The MAC of a PIN reload/unblock command: over the card's challenge, the command header
    (CLA INS P1 P2) and its data, so it is good for that one command on that one card once."""
    return cbc_mac4(card_key, challenge + header + data)

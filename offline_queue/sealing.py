"""Sealing personal data at rest: SM4-GCM with keys from the kiosk's key file.

The key file is JSON, readable by the kiosk user only:
    {"current": "k1", "keys": {"k1": "<32 hex digits>", ...}}
New rows are sealed with the current key; the key id is stored beside each row so that
rows sealed before a key change can still be opened. Each sealed blob is
nonce (12 bytes) || ciphertext || tag (16 bytes), and the caller's associated data (e.g. the
job's idempotency key) binds a blob to its row: a blob copied to another row does not open.

`subject_token` turns a card or person identifier into a keyed SM3 MAC, so the outbox can
keep a card's jobs in order without the identifier itself ever being written down.
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16


class SealingError(Exception):
    """A key file cannot be used or a sealed blob does not open (wrong key or tampered)."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    blob: bytes


class KeyRing:
    def __init__(self, keys: dict[str, bytes], current: str):
        if current not in keys:
            raise SealingError(f"the current key id {current!r} is not among the keys")
        for key_id, key in keys.items():
            if len(key) != KEY_BYTES:
                raise SealingError(f"key {key_id!r} must be {KEY_BYTES} bytes, not {len(key)}")
        self._keys = dict(keys)
        self._algorithms = {key_id: algorithms.SM4(key) for key_id, key in keys.items()}
        self.current = current
        self._mac_key = self._derive(b"outbox subject token")

    @classmethod
    def generate(cls) -> "KeyRing":
        return cls({"k1": secrets.token_bytes(KEY_BYTES)}, "k1")

    @classmethod
    def load(cls, path: str | Path) -> "KeyRing":
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
            keys = {key_id: bytes.fromhex(hex_key) for key_id, hex_key in document["keys"].items()}
            current = document["current"]
        except FileNotFoundError:
            raise SealingError(f"key file {path} does not exist") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SealingError(f"key file {path} is malformed ({type(exc).__name__})") from None
        return cls(keys, current)

    @classmethod
    def load_or_create(cls, path: str | Path) -> "KeyRing":
        """The demo and a fresh kiosk make their key on first start; an existing file is kept."""
        path = Path(path)
        if path.exists():
            return cls.load(path)
        ring = cls.generate()
        ring.save(path)
        return ring

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"current": self.current, "keys": {k: v.hex() for k, v in self._keys.items()}}
        # O_EXCL: never overwrite a key that sealed rows may still need.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out)
            out.flush()
            os.fsync(out.fileno())

    def seal(self, plaintext: bytes, associated_data: bytes) -> Sealed:
        nonce = secrets.token_bytes(NONCE_BYTES)
        encryptor = Cipher(self._algorithms[self.current], modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(associated_data)
        ciphertext = encryptor.update(plaintext) + encryptor.finalize()
        return Sealed(self.current, nonce + ciphertext + encryptor.tag)

    def open(self, sealed: Sealed, associated_data: bytes) -> bytes:
        algorithm = self._algorithms.get(sealed.key_id)
        if algorithm is None:
            raise SealingError(f"no key {sealed.key_id!r} in the key file")
        blob = sealed.blob
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise SealingError("sealed blob too short")
        nonce, ciphertext, tag = blob[:NONCE_BYTES], blob[NONCE_BYTES:-TAG_BYTES], blob[-TAG_BYTES:]
        decryptor = Cipher(algorithm, modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(associated_data)
        try:
            return decryptor.update(ciphertext) + decryptor.finalize()
        except InvalidTag:
            raise SealingError("sealed blob does not open: wrong key or tampered") from None

    def subject_token(self, subject: str) -> str:
        mac = hmac.HMAC(self._mac_key, hashes.SM3())
        mac.update(subject.encode("utf-8"))
        return mac.finalize()[:16].hex()

    def _derive(self, label: bytes) -> bytes:
        # Derived from the first key ever made (sorted ids), not the current one, so that a
        # card's token, and with it the order of its jobs, survives a change of key.
        first = self._keys[sorted(self._keys)[0]]
        mac = hmac.HMAC(first, hashes.SM3())
        mac.update(label)
        return mac.finalize()

"""The audit secret: the second half of the audit trail's MAC key (kiosk/audit.py).

The MAC key comes from the key ring, which lives beside the database, and from this secret,
which does not: a file root provisions outside the kiosk's state directory (the kiosk cannot
write /etc under its systemd unit), or a systemd credential (`LoadCredential=audit-secret:...`,
or `LoadCredentialEncrypted=`, bound to the machine's TPM). A copy of the state directory, or
someone who can write it, cannot compute a MAC, so cannot forge or re-chain entries unseen.

The built-in demo settings keep their secret beside the key file: a demo has nothing to hide.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.file_safety import UnsafeFileError, refuse_a_lost_key_file, refuse_unless_private

SECRET_BYTES = 32
CREDENTIAL = "audit-secret"
WHAT = "[outbox] audit_secret_file"


def audit_secret_path(config: KioskConfig) -> Path:
    if config.outbox.audit_secret_file:
        return Path(config.outbox.audit_secret_file)
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials:
        return Path(credentials) / CREDENTIAL
    if config.source == "defaults":
        return Path(config.outbox.key_file).with_name("audit.secret")
    raise UnsafeFileError(WHAT, "", "is not set and systemd provides no 'audit-secret' credential: name a file "
                                    "outside the database's directory (see deploy/README.md)")


def load_audit_secret(config: KioskConfig, *, create: bool = True) -> bytes:
    """The secret, made on a first start (`create`, and no audit entry chained yet). A deployed
    kiosk's secret must be its user's alone and not in the database's directory."""
    path = audit_secret_path(config)
    deployed = config.source != "defaults"
    if deployed and path.resolve().parent == Path(config.outbox.db).resolve().parent:
        raise UnsafeFileError(WHAT, path, "is in the database's directory: keep it apart (a systemd credential, "
                                          "or a file under /etc/sscard-kiosk)")
    if not path.exists():
        if not create:
            raise UnsafeFileError(WHAT, path, "does not exist")
        refuse_a_lost_key_file(path, config.outbox.db, what=WHAT, tables=("audit_entries",))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise UnsafeFileError(WHAT, path, f"does not exist and cannot be made: {exc.strerror}") from None
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(SECRET_BYTES) + "\n")
            file.flush()
            os.fsync(file.fileno())
    if deployed:
        refuse_unless_private(path, WHAT)
    try:
        secret = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UnsafeFileError(WHAT, path, f"cannot be read as hex: {exc}") from None
    if len(secret) < SECRET_BYTES:
        raise UnsafeFileError(WHAT, path, f"holds {len(secret)} bytes; {SECRET_BYTES} or more are needed")
    return secret

"""Refusing config and key files that other users of the machine can read or change.

The config names the backend's client key and the key ring that seals personal data at rest; a
copy readable by any local account (a technician's shell, a browser on the same box) would undo
both, and a config others can write could point the kiosk at another backend. Like ssh with a
private key, the kiosk refuses to start instead, and says which file, why, and the fix.
"""
from __future__ import annotations

import os
import sqlite3
import stat


class UnsafeFileError(Exception):
    """A file the kiosk will not use; `what` names its role (e.g. "[backend] key_file")."""

    def __init__(self, what: str, path: str | os.PathLike, reason: str):
        self.what = what
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{what} {self.path}: {reason}")


def refuse_a_lost_key_file(key_file: str | os.PathLike, db: str | os.PathLike, *, what: str = "[outbox] key_file",
                           tables: tuple[str, ...] = ("outbox_jobs", "audit_entries")) -> None:
    """A kiosk whose key file is gone while its database holds rows sealed or chained with it
    refuses to start: a new key would open none of them, and the outbox would hold work it can
    never send. Staff restore the key file (or move the database aside, knowingly)."""
    if os.path.exists(key_file) or not os.path.exists(db):
        return
    try:
        with sqlite3.connect(f"file:{os.fspath(db)}?mode=ro", uri=True) as connection:
            present = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            rows = sum(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                       for table in tables if table in present)
    except sqlite3.Error as exc:
        raise UnsafeFileError("[outbox] db", db, f"cannot be read to check it against the missing key file: {exc}") \
            from None
    if rows:
        raise UnsafeFileError(what, key_file,
                              f"is missing, and {db} holds {rows} rows sealed or chained with it; restore the "
                              "key file (a new key would open none of them)")


def _checked_mode(path: str | os.PathLike, what: str) -> int:
    """The permission bits of the regular file `path` (symlinks followed: what matters is the
    file the kiosk opens), after checking that the kiosk's user or root owns it."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UnsafeFileError(what, path, "does not exist") from None
    except OSError as exc:
        raise UnsafeFileError(what, path, f"cannot be checked: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFileError(what, path, "is not a regular file")
    if info.st_uid not in (os.geteuid(), 0):
        # Its owner could change its mode or content whenever they like.
        raise UnsafeFileError(what, path, f"belongs to user id {info.st_uid}, not to the kiosk's user or root")
    return stat.S_IMODE(info.st_mode)


def refuse_if_readable_by_others(path: str | os.PathLike, what: str) -> None:
    """For the config file: no access at all for other users, no writing for the group."""
    mode = _checked_mode(path, what)
    if mode & stat.S_IRWXO:
        raise UnsafeFileError(what, path, f"is open to other users (mode {mode:04o}); run: chmod o-rwx {path}")
    if mode & stat.S_IWGRP:
        raise UnsafeFileError(what, path, f"is writable by its group (mode {mode:04o}); run: chmod g-w {path}")


def refuse_unless_private(path: str | os.PathLike, what: str) -> None:
    """For keys: readable by the owner only (mode 0600 or 0400), as ssh demands of its keys."""
    mode = _checked_mode(path, what)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UnsafeFileError(what, path, f"is readable by other users (mode {mode:04o}); run: chmod 600 {path}")

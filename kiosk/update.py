"""Signed software updates (#18) with The Update Framework (python-tuf's ngclient), from the
province's HTTPS repository or, for field offices without a network, from a USB stick carrying
a copy of it (its `metadata/` and `targets/` folders).

Trust: the province's root metadata (`[update] trusted_root`, installed with the kiosk) signs
who may sign the rest; TUF refuses metadata not signed by those keys, older than what this kiosk
has seen (a rollback), expired (a freeze), and a target whose length or hashes differ from the
signed ones, wherever the files came from. The release is one target, `sscard-kiosk.tar.gz`,
whose signed custom field `version` names it; a version older than the installed one is refused
too, and the same one is no update.

A release is a tarball holding `release.json` ({"version": ...}), an `install` program (it
prepares the slot, e.g. its virtual environment from bundled wheels, offline) and a
`health-check` program (exit 0 when the release works here); both are signed with it.

Slots: `[update] root` holds `releases/a` and `releases/b` and `current`, a symlink to one of
them (the service runs `current/`). A release is installed into the slot not in use, then
`current` is switched by renaming a new symlink over it (atomic), the kiosk is restarted onto it
(`[update] restart_command`), and the new release's health check runs; when the restart or the
check fails, `current` is switched back at once, the kiosk restarted again, and the state says
why. Staff may switch back by hand (`kiosk update rollback`), which restarts the kiosk too.
`state.json` records what happened, for diagnostics and the command line, and the releases
rolled back here: the nightly `apply` skips them (it would otherwise install a failing release
again every night) until a newer one comes.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import shlex
import shutil
import subprocess
import tarfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from kiosk.version import SOFTWARE_VERSION

log = logging.getLogger(__name__)

TARGET = "sscard-kiosk.tar.gz"
SLOTS = ("a", "b")
CHUNK = 64 * 1024


class UpdateError(Exception):
    """Why no update was installed, in words for staff."""


class UpdateRefused(UpdateError):
    """The repository (or the stick) offered something this kiosk must not install: metadata
    not signed by the keys the root trusts, older than seen before, expired, or a release
    whose length or hashes differ from the signed ones, or older than the one installed."""


class UpdateUnavailable(UpdateError):
    """The repository could not be reached, or the stick holds no repository."""


def parse_version(text: str) -> tuple[int, ...]:
    parts = str(text).split(".")
    if not 1 <= len(parts) <= 4 or not all(part.isascii() and part.isdigit() for part in parts):
        raise ValueError(f"{text!r} is not a version like 1.2.3")
    return tuple(int(part) for part in parts)


@dataclass(frozen=True)
class Release:
    version: str
    length: int
    rolled_back: bool = False   # rolled back here (its health check failed, or staff left it): not installed again


@dataclass(frozen=True)
class UpdateSource:
    """Where the repository is: its metadata and targets base URLs, and how to fetch them."""
    metadata_url: str
    targets_url: str
    fetcher: object | None   # None: python-tuf's own HTTPS fetcher
    name: str

    @classmethod
    def https(cls, url: str) -> "UpdateSource":
        if not url.startswith("https://"):
            raise UpdateUnavailable("[update] repository_url must be an https:// URL")
        base = url.rstrip("/")
        return cls(f"{base}/metadata/", f"{base}/targets/", None, base)

    @classmethod
    def usb(cls, folder: str | Path) -> "UpdateSource":
        folder = Path(folder)
        if not (folder / "metadata" / "timestamp.json").is_file():
            raise UpdateUnavailable(f"no update repository on the stick at {folder} (metadata/timestamp.json)")
        return cls((folder / "metadata").resolve().as_uri() + "/", (folder / "targets").resolve().as_uri() + "/",
                   _file_fetcher(), str(folder))


def _file_fetcher():
    """A repository on a mounted stick: file:// URLs read from it, a missing file answered as a
    server answers it (404), which TUF expects when it asks for a root newer than the last."""
    from tuf.api.exceptions import DownloadHTTPError
    from tuf.ngclient import FetcherInterface

    class FileFetcher(FetcherInterface):
        def _fetch(self, url: str) -> Iterator[bytes]:
            parsed = urllib.parse.urlparse(url)
            if parsed.scheme != "file":
                raise DownloadHTTPError(f"not a file URL: {url}", 400)
            path = Path(urllib.parse.unquote(parsed.path))
            if not path.is_file():
                raise DownloadHTTPError(f"{path} is not on the stick", 404)
            return self._chunks(path)

        @staticmethod
        def _chunks(path: Path) -> Iterator[bytes]:
            with path.open("rb") as file:
                while chunk := file.read(CHUNK):
                    yield chunk

    return FileFetcher()


class Slots:
    """releases/a, releases/b and the `current` symlink under `root`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.current_link = self.root / "current"

    def path(self, slot: str) -> Path:
        return self.root / "releases" / slot

    def current(self) -> str | None:
        try:
            target = os.readlink(self.current_link)
        except OSError:
            return None
        slot = Path(target).name
        return slot if slot in SLOTS else None

    def other(self) -> str:
        return "b" if self.current() == "a" else "a"

    def version_of(self, slot: str) -> str | None:
        try:
            return str(json.loads((self.path(slot) / "release.json").read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def unpack(self, slot: str, tarball: Path) -> None:
        """The release into `slot`, emptied first; only plain files and folders inside it (the
        "data" filter refuses absolute paths, `..`, links out and device files)."""
        place = self.path(slot)
        shutil.rmtree(place, ignore_errors=True)
        place.mkdir(parents=True)
        try:
            with tarfile.open(tarball, "r:gz") as archive:
                archive.extractall(place, filter="data")
        except (tarfile.TarError, OSError) as exc:
            shutil.rmtree(place, ignore_errors=True)
            raise UpdateRefused(f"the release does not unpack: {exc}") from exc
        for program in ("release.json", "install", "health-check"):
            if not (place / program).is_file():
                shutil.rmtree(place, ignore_errors=True)
                raise UpdateRefused(f"the release lacks {program}")

    def switch(self, slot: str) -> None:
        """`current` -> releases/<slot>, by renaming a new symlink over the old one."""
        fresh = self.root / "current.new"
        fresh.unlink(missing_ok=True)
        fresh.symlink_to(Path("releases") / slot)
        os.replace(fresh, self.current_link)
        _fsync_directory(self.root)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class UpdateManager:
    def __init__(self, settings):
        self.settings = settings
        self.slots = Slots(settings.root)
        self.state_dir = Path(settings.state_dir)
        self.state_file = self.state_dir / "state.json"

    # --- what is installed, and what happened -------------------------------------------------

    def installed_version(self) -> str:
        slot = self.slots.current()
        return (slot and self.slots.version_of(slot)) or SOFTWARE_VERSION

    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"state": "none"}

    def _record(self, **state) -> dict:
        state.setdefault("rolled_back_versions", self.rolled_back_versions())   # kept by every record
        state["at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        partial = self.state_file.with_suffix(".partial")
        partial.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        with partial.open("rb") as file:
            os.fsync(file.fileno())
        os.replace(partial, self.state_file)
        return state

    def rolled_back_versions(self, add: str | None = None, remove: str | None = None) -> list[str]:
        """The releases rolled back on this kiosk, with `add` and without `remove`."""
        versions = [version for version in self.state().get("rolled_back_versions", []) if version != remove]
        return versions + [add] if add is not None and add not in versions else versions

    # --- TUF -------------------------------------------------------------------------------------

    def _updater(self, source: UpdateSource):
        from tuf.ngclient import Updater
        metadata = self.state_dir / "metadata"
        downloads = self.state_dir / "downloads"
        metadata.mkdir(parents=True, exist_ok=True)
        downloads.mkdir(parents=True, exist_ok=True)
        try:
            root = Path(self.settings.trusted_root).read_bytes()
        except OSError as exc:
            raise UpdateError(f"the trusted root metadata is missing ([update] trusted_root): {exc}") from exc
        return Updater(str(metadata), source.metadata_url, str(downloads), source.targets_url,
                       fetcher=source.fetcher, bootstrap=root)

    def check(self, source: UpdateSource) -> Release | None:
        """The signed release newer than the installed one, or None when there is none.
        Raises UpdateRefused (recorded in the state), UpdateUnavailable."""
        return self._check(source)[0]

    def _check(self, source: UpdateSource):
        try:
            return self._verified(source)
        except UpdateRefused as exc:
            self._record(state="refused", version=self.installed_version(), detail=str(exc)[:300])
            raise

    def _verified(self, source: UpdateSource):
        from tuf.api import exceptions as tuf
        try:
            updater = self._updater(source)
            updater.refresh()
            info = updater.get_targetinfo(TARGET)
        except tuf.DownloadLengthMismatchError as exc:   # metadata longer than signed: tampered
            raise UpdateRefused(f"{type(exc).__name__}: {exc}") from exc
        except tuf.DownloadError as exc:
            raise UpdateUnavailable(f"the repository at {source.name} cannot be read: {exc}") from exc
        except (tuf.RepositoryError, ValueError) as exc:
            raise UpdateRefused(f"{type(exc).__name__}: {exc}") from exc
        if info is None:
            raise UpdateRefused(f"the signed metadata lists no {TARGET}")
        custom = info.custom if isinstance(info.custom, dict) else {}
        version = str(custom.get("version", ""))
        try:
            offered = parse_version(version)
        except ValueError as exc:
            raise UpdateRefused(f"the release's signed version: {exc}") from exc
        installed = parse_version(self.installed_version())
        if offered < installed:
            raise UpdateRefused(f"release {version} is older than the installed {self.installed_version()}: "
                                "a rollback is not installed")
        if offered == installed:
            return None, updater, info
        return Release(version, info.length, version in self.rolled_back_versions()), updater, info

    def apply(self, source: UpdateSource, run=subprocess.run) -> dict:
        """Checks, downloads (verified by TUF), installs into the other slot, switches, runs the
        health check, and switches back when it fails. Returns the recorded state."""
        from tuf.api import exceptions as tuf
        release, updater, info = self._check(source)
        if release is None:
            return self._record(state="up_to_date", version=self.installed_version())
        if release.rolled_back:
            log.warning("update: release %s was rolled back on this kiosk; not installed again", release.version)
            return self._record(state="skipped", version=self.installed_version(), offered=release.version,
                                detail="rolled back on this kiosk: not installed again; a newer release will be")
        previous_slot, previous_version = self.slots.current(), self.installed_version()
        slot = self.slots.other()
        try:
            try:
                tarball = Path(updater.download_target(info))
            except (tuf.RepositoryError, tuf.DownloadLengthMismatchError) as exc:
                raise UpdateRefused(f"the release does not match its signed length and hashes: {exc}") from exc
            except tuf.DownloadError as exc:
                raise UpdateUnavailable(f"the release cannot be read from {source.name}: {exc}") from exc
            try:
                self.slots.unpack(slot, tarball)
            finally:
                tarball.unlink(missing_ok=True)
            if self.slots.version_of(slot) != release.version:
                raise UpdateRefused(f"release.json names {self.slots.version_of(slot)}, "
                                    f"the signed metadata {release.version}")
        except UpdateRefused as exc:
            self._record(state="refused", version=previous_version, offered=release.version, detail=str(exc)[:300])
            raise
        installed = self._run(run, slot, "install")
        if installed is not None:
            return self._record(state="failed", version=previous_version, slot=previous_slot, offered=release.version,
                                detail=f"install: {installed}")
        self.slots.switch(slot)
        failed = self._restart(run) or self._run(run, slot, "health-check")
        if failed is None:
            return self._record(state="updated", version=release.version, slot=slot,
                                previous_version=previous_version, previous_slot=previous_slot)
        rolled_back = self.rolled_back_versions(add=release.version)
        if previous_slot is None:   # the first release in slots: nothing to return to
            self.slots.current_link.unlink()
            return self._record(state="failed", version=previous_version, offered=release.version,
                                detail=f"health check: {failed}", rolled_back_versions=rolled_back)
        self.slots.switch(previous_slot)
        restarted = self._restart(run)
        return self._record(state="rolled_back", version=previous_version, slot=previous_slot,
                            offered=release.version, detail=f"health check: {failed}"
                            + (f"; the restart back failed too: {restarted}" if restarted else ""),
                            rolled_back_versions=rolled_back)

    def _restart(self, run) -> str | None:
        """The kiosk restarted onto `current` ([update] restart_command); None when it was."""
        command = shlex.split(self.settings.restart_command)
        return self._run_command(run, command, self.slots.root) if command else None

    def _run(self, run, slot: str, program: str) -> str | None:
        """Runs the release's own program in its slot; None when it succeeded, else why not."""
        place = self.slots.path(slot)
        return self._run_command(run, [str(place / program)], place)

    def _run_command(self, run, command: list[str], cwd: Path) -> str | None:
        try:
            done = run(command, cwd=cwd, capture_output=True, text=True, timeout=self.settings.health_check_timeout_s)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{type(exc).__name__}: {exc}"
        if done.returncode != 0:
            return f"exit {done.returncode}: {(done.stderr or done.stdout or '').strip()[-200:]}"
        return None

    def rollback(self, run=subprocess.run) -> dict:
        """Staff switch back to the release in the other slot, and the kiosk is restarted onto it
        as after an automatic return (until then it runs the release it left). The state's
        `detail` says when the restart failed. The release left is not installed again; the one
        switched to, staff's choice, no longer counts as rolled back."""
        slot = self.slots.other()
        version = self.slots.version_of(slot)
        if self.slots.current() is None or version is None:
            raise UpdateError("there is no previous release to return to")
        current_version = self.installed_version()
        self.slots.switch(slot)
        restarted = self._restart(run)
        return self._record(state="rolled_back_by_staff", version=version, slot=slot, previous_version=current_version,
                            rolled_back_versions=self.rolled_back_versions(add=current_version, remove=version),
                            **({"detail": f"the restart failed: {restarted}"} if restarted else {}))

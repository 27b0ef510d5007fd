"""A local TUF repository for the update tests (#18), made with python-tuf's metadata API and
ed25519 keys from securesystemslib: the province's repository in miniature, one release
target (`sscard-kiosk.tar.gz`, its version in the signed custom field)."""
from __future__ import annotations

import datetime
import io
import json
import shutil
import tarfile
from pathlib import Path

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import MetaFile, Metadata, Root, Snapshot, TargetFile, Targets, Timestamp

from kiosk.update import TARGET

ROLES = ("root", "targets", "snapshot", "timestamp")


def release_tarball(version: str, *, healthy: bool = True, installs: bool = True) -> bytes:
    """A release: release.json, an install and a health-check program (shell scripts)."""
    files = {"release.json": json.dumps({"version": version}).encode(),
             "install": b"#!/bin/sh\n" + (b"echo installed > installed\n" if installs else b"echo no room >&2; exit 3\n"),
             "health-check": b"#!/bin/sh\n" + (b"test -f installed\n" if healthy else
                                              b"echo cannot open the card reader >&2; exit 1\n"),
             "app/README": f"sscard-kiosk {version}\n".encode()}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if name in ("install", "health-check") else 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Repository:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.metadata = self.folder / "metadata"
        self.targets_dir = self.folder / "targets"
        self.metadata.mkdir(parents=True)
        self.targets_dir.mkdir(parents=True)
        self.signers = {role: CryptoSigner.generate_ed25519() for role in ROLES}
        root = Root(expires=self.expiry(365), consistent_snapshot=False)
        for role, signer in self.signers.items():
            root.add_key(signer.public_key, role)
        self.root = Metadata(root)
        self.targets = Metadata(Targets(expires=self.expiry(30)))
        self.snapshot = Metadata(Snapshot(expires=self.expiry(7)))
        self.timestamp = Metadata(Timestamp(expires=self.expiry(1)))
        self.root.sign(self.signers["root"])
        self.root.to_file(str(self.metadata / "1.root.json"))
        self.root.to_file(str(self.metadata / "root.json"))
        self.publish()

    @staticmethod
    def expiry(days: float) -> datetime.datetime:
        return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)).replace(microsecond=0)

    def trusted_root(self) -> bytes:
        return (self.metadata / "1.root.json").read_bytes()

    def add_release(self, version: str, **kwargs) -> bytes:
        data = release_tarball(version, **kwargs)
        (self.targets_dir / TARGET).write_bytes(data)
        target = TargetFile.from_data(TARGET, data)
        target.unrecognized_fields["custom"] = {"version": version}
        self.targets.signed.targets[TARGET] = target
        self.publish()
        return data

    def publish(self, *, signer_of: dict | None = None, timestamp_expires: datetime.datetime | None = None) -> None:
        """New versions of targets, snapshot and timestamp, each signed (by `signer_of[role]`
        when given: a key the root does not trust)."""
        signer_of = {**self.signers, **(signer_of or {})}
        self.targets.signed.version += 1
        self.snapshot.signed.meta["targets.json"] = MetaFile(version=self.targets.signed.version)
        self.snapshot.signed.version += 1
        self.timestamp.signed.snapshot_meta = MetaFile(version=self.snapshot.signed.version)
        self.timestamp.signed.version += 1
        self.timestamp.signed.expires = timestamp_expires or self.expiry(1)
        for role, metadata in (("targets", self.targets), ("snapshot", self.snapshot), ("timestamp", self.timestamp)):
            metadata.signatures.clear()
            metadata.sign(signer_of[role])
            metadata.to_file(str(self.metadata / f"{role}.json"))

    def copy_to(self, stick: Path) -> Path:
        """The repository as a field office's USB stick carries it."""
        shutil.copytree(self.metadata, stick / "metadata")
        shutil.copytree(self.targets_dir, stick / "targets")
        return stick

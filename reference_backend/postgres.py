"""A temporary PostgreSQL cluster for the tests and the benches, with Debian's binaries.

`temporary_cluster()` makes one in a folder of its own (initdb), serves it on a unix socket in
that folder only (no TCP port to collide with another run), creates the database `kiosk` and
yields its DSN; on exit it stops the server and removes the folder. `./run test` does the same
through this module's command line:

    python -m reference_backend.postgres start FOLDER   # prints the DSN once the server is up
    python -m reference_backend.postgres stop FOLDER    # stops it and removes FOLDER

initdb and the server refuse to run as root: as root they run as the `postgres` system user,
who then owns the folder.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

DATABASE = "kiosk"
PORT = 5432   # names the socket file only: the server listens on no TCP port
# Settings of a cluster that is thrown away at the end of a run: its durability is not what a
# test or a bench is about (fsync off), and a socket a bench's processes can all connect to.
SETTINGS = {"listen_addresses": "", "fsync": "off", "full_page_writes": "off", "max_connections": "200"}


def binaries() -> Path:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/VERSION/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise FileNotFoundError("no PostgreSQL server in /usr/lib/postgresql (Debian package `postgresql`)")
    return found[-1].parent


def _as_owner(command: list) -> list[str]:
    command = [str(part) for part in command]
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def dsn(folder: Path) -> str:
    return f"postgresql://postgres@/{DATABASE}?host={folder.resolve()}&port={PORT}"


def start(folder: Path, settings: dict[str, str] | None = None) -> str:
    """Makes a cluster in `folder` (what an earlier run left there is stopped and removed
    first), starts it and returns the DSN of its database `kiosk`."""
    folder = Path(folder).resolve()
    stop(folder)
    folder.mkdir(parents=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        if subprocess.run(_as_owner(["test", "-w", folder])).returncode != 0:
            raise PermissionError(f"the postgres user cannot reach {folder}: a folder above it is closed to others")
    data, bin_dir = folder / "data", binaries()
    subprocess.run(_as_owner([bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                              "--locale=C", "--no-sync"]), check=True, stdout=subprocess.DEVNULL)
    options = {**SETTINGS, "port": str(PORT), "unix_socket_directories": str(folder), **(settings or {})}
    server_options = " ".join(f"-c {name}='{value}'" for name, value in options.items())
    started = subprocess.run(_as_owner([bin_dir / "pg_ctl", "-D", data, "-l", folder / "server.log", "-w",
                                        "-o", server_options, "start"]), stdout=subprocess.DEVNULL)
    if started.returncode != 0:
        log = (folder / "server.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"PostgreSQL did not start in {folder}:\n{log}")
    subprocess.run(_as_owner([bin_dir / "createdb", "-h", folder, "-p", PORT, "-U", "postgres", DATABASE]),
                   check=True)
    return dsn(folder)


def stop(folder: Path) -> None:
    """Stops the cluster in `folder`, if one runs, and removes the folder."""
    folder = Path(folder).resolve()
    if (folder / "data" / "postmaster.pid").exists():
        subprocess.run(_as_owner([binaries() / "pg_ctl", "-D", folder / "data", "-m", "immediate", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def temporary_cluster(folder: Path | None = None, settings: dict[str, str] | None = None) -> Iterator[str]:
    """A running cluster for the duration of the block: its database's DSN. In a new temporary
    folder unless one is given; `settings` adds to or overrides SETTINGS (e.g. fsync on)."""
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="kiosk-postgres-"))
    try:
        yield start(folder, settings)
    finally:
        stop(folder)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m reference_backend.postgres start|stop FOLDER", file=sys.stderr)
        return 2
    if argv[0] == "start":
        print(start(Path(argv[1])))
    else:
        stop(Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

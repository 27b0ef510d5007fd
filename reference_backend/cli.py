"""`kiosk backend serve|certs|seed`: the reference backend and its test PKI from a shell.

`register` adds the group to the `kiosk` command (the `sscard_kiosk.commands` entry point);
`python -m reference_backend.cli` works alone.
"""
from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

DEFAULT_CERTS = ".run/certs"
DEFAULT_DB = ".run/backend.db"


def cmd_serve(args) -> int:
    from reference_backend.server import bound_socket, pki_files, serve_forever, url_of
    try:
        pki_files(args.certs)
        sock = bound_socket(args.host, args.port)
    except (FileNotFoundError, OSError) as exc:
        print(f"kiosk: backend cannot start: {exc}", file=sys.stderr)
        return 1
    print(f"reference backend on {url_of(sock.getsockname())} (store {args.db}, {args.workers} worker(s))", flush=True)
    serve_forever(sock, args.db, args.certs, args.workers)
    return 0


def cmd_certs(args) -> int:
    from reference_backend.pki import make_test_pki
    files = make_test_pki(args.dir, kiosk_name=args.kiosk_name)
    print(f"test CA, server, kiosk and operations certificates in {files.directory}")
    return 0


def cmd_revoke(args) -> int:
    """Refuses a kiosk's certificate from now on (a stolen or retired kiosk)."""
    from reference_backend.pki import PkiFiles, RevokedCertificates
    try:
        pem = Path(args.certificate).read_bytes()
        fingerprint = RevokedCertificates(PkiFiles(Path(args.certs)).revoked).revoke(pem)
    except (OSError, ValueError) as exc:
        print(f"kiosk: cannot revoke {args.certificate}: {exc}", file=sys.stderr)
        return 1
    print(f"revoked {fingerprint}")
    return 0


def cmd_seed(args) -> int:
    """Puts the card of a simulator profile into the backend's store (a SQLite file or a
    PostgreSQL DSN), so that the demo card is known to the backend before the kiosk sees it."""
    from reference_backend.store import BackendStore, Refusal
    path = Path(args.profile)
    if not path.exists():
        path = Path(__file__).resolve().parents[1] / "drivers" / "sim" / "profiles" / args.profile
    try:
        with open(path, "rb") as f:
            profile = tomllib.load(f)
        card, holder = profile["card"], profile["holder"]
        store = BackendStore(args.db)
        try:
            # Cards before 3.0 hold the birthplace's prefecture (4 digits); the backend keeps the
            # 6-digit GB/T 2260 code, which for a prefecture itself ends in 00.
            store.seed_card(holder={"id_number": holder["social_security_number"], "name": holder["name"],
                                    "sex": holder["sex"], "ethnicity": holder["ethnicity"],
                                    "birth_date": holder["birth_date"],
                                    "birthplace": str(holder["birthplace"]).ljust(6, "0")},
                            card_id=card["identifier"].upper(), card_number=card["number"],
                            region_code=card["identifier"][:6], issue_date=card["issue_date"],
                            expiry_date=card["expiry_date"], status=args.status)
        finally:
            store.close()
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        print(f"kiosk: cannot read card profile {args.profile}: {exc}", file=sys.stderr)
        return 1
    except Refusal as exc:
        print(f"kiosk: profile {args.profile} refused: {exc.message}", file=sys.stderr)
        return 1
    print(f"card {card['number']} seeded as {args.status}")
    return 0


def register(subparsers) -> None:
    backend = subparsers.add_parser("backend", help="the reference backend (demo and tests)")
    actions = backend.add_subparsers(dest="backend_command", required=True, metavar="ACTION")

    serve = actions.add_parser("serve", help="serve the backend contract over HTTPS with client certificates")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443, help="0 picks a free port (printed)")
    serve.add_argument("--db", default=DEFAULT_DB, help="the backend's store: a SQLite file or a postgresql:// address")
    serve.add_argument("--workers", type=int, default=1, help="worker processes on the one port")
    serve.add_argument("--certs", default=DEFAULT_CERTS, help="folder made by `kiosk backend certs`")
    serve.set_defaults(func=cmd_serve)

    certs = actions.add_parser("certs", help="make a test CA, server and kiosk certificate")
    certs.add_argument("--dir", default=DEFAULT_CERTS)
    certs.add_argument("--kiosk-name", default="KIOSK-0001", help="terminal number in the kiosk certificate")
    certs.set_defaults(func=cmd_certs)

    revoke = actions.add_parser("revoke", help="refuse a kiosk certificate from now on (the running backend too)")
    revoke.add_argument("certificate", help="the kiosk's certificate (PEM)")
    revoke.add_argument("--certs", default=DEFAULT_CERTS, help="folder made by `kiosk backend certs`")
    revoke.set_defaults(func=cmd_revoke)

    seed = actions.add_parser("seed", help="register a simulator card profile's card in the backend store")
    seed.add_argument("--db", default=DEFAULT_DB)
    seed.add_argument("--profile", required=True, help="card profile TOML (or a name in drivers/sim/profiles)")
    seed.add_argument("--status", default="normal",
                      choices=("normal", "temporary_loss", "formal_loss", "sealed", "cancelled"))
    seed.set_defaults(func=cmd_seed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

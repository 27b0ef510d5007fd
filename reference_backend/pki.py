"""A test PKI for the demo and the tests: a CA, the reference backend's server certificate
(localhost, 127.0.0.1, ::1) and a kiosk client certificate, made with `cryptography`.

In the field the province issues these; here `kiosk backend certs --dir DIR` makes them.
ECDSA P-256 keeps generation and handshakes cheap.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_FOR = datetime.timedelta(days=825)
OPERATIONS_NAME = "OPS-0001"   # reference_backend/store.py serves the fleet status to OPS-... only


@dataclass(frozen=True)
class PkiFiles:
    """Where the certificates live in a certificate directory (fixed names)."""
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def kiosk_cert(self) -> Path:
        return self.directory / "kiosk.pem"

    @property
    def kiosk_key(self) -> Path:
        return self.directory / "kiosk.key"

    @property
    def operations_cert(self) -> Path:
        """The operations team's client certificate (common name OPS-0001): the fleet status."""
        return self.directory / "operations.pem"

    @property
    def operations_key(self) -> Path:
        return self.directory / "operations.key"

    def other_kiosk(self, name: str) -> tuple[Path, Path]:
        """(certificate, key) of another terminal's kiosk (tests of what one kiosk may see)."""
        return self.directory / f"kiosk-{name}.pem", self.directory / f"kiosk-{name}.key"

    @property
    def revoked(self) -> Path:
        return self.directory / "revoked.txt"

    def complete(self) -> bool:
        return all(p.exists() for p in (self.ca_cert, self.server_cert, self.server_key,
                                        self.kiosk_cert, self.kiosk_key))

class RevokedCertificates:
    """The kiosk certificates this backend refuses: SHA-256 fingerprints (hex, of the DER), one
    a line, in `revoked.txt` beside the CA (`kiosk backend revoke`). Read again whenever the
    file changes, so a revocation takes effect without a restart."""

    def __init__(self, path: Path):
        self.path = path
        self._seen: tuple[float, int] | None = None
        self._fingerprints: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def fingerprints(self) -> frozenset[str]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return frozenset()
        with self._lock:
            if self._seen != (info.st_mtime, info.st_size):
                lines = self.path.read_text(encoding="ascii").split()
                self._fingerprints = frozenset(line.lower() for line in lines)
                self._seen = (info.st_mtime, info.st_size)
            return self._fingerprints

    def revoke(self, certificate_pem: bytes) -> str:
        """Adds a certificate; returns its fingerprint."""
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
        with self.path.open("a", encoding="ascii") as out:
            out.write(fingerprint + "\n")
        return fingerprint


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sscard-kiosk test PKI"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(subject: str, key, issuer_name: x509.Name, issuer_key, extensions) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID_FOR))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_key(path: Path, key) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def make_test_pki(directory: str | Path, kiosk_name: str = "KIOSK-0001", other_kiosks: tuple[str, ...] = ()) -> PkiFiles:
    """Makes a fresh CA, server, kiosk and operations certificate in `directory` (overwriting),
    and for each of `other_kiosks` a certificate and key of its own (`PkiFiles.other_kiosk`)."""
    files = PkiFiles(Path(directory))
    files.directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("sscard-kiosk test CA")
    ca = _issue("sscard-kiosk test CA", ca_key, ca_name, ca_key, [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                       encipher_only=False, decipher_only=False), True),
        (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
    ])
    leaf_common = [(x509.BasicConstraints(ca=False, path_length=None), True),
                   (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)]
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _issue("localhost", server_key, ca_name, ca_key, leaf_common + [
        (x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                      x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                      x509.IPAddress(ipaddress.ip_address("::1"))]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
    ])
    for name, (certificate, key) in ((OPERATIONS_NAME, (files.operations_cert, files.operations_key)),
                                     *((name, files.other_kiosk(name)) for name in other_kiosks)):
        other_key = ec.generate_private_key(ec.SECP256R1())
        other = _issue(name, other_key, ca_name, ca_key, leaf_common + [
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        ])
        certificate.write_bytes(other.public_bytes(serialization.Encoding.PEM))
        _write_key(key, other_key)
    kiosk_key = ec.generate_private_key(ec.SECP256R1())
    kiosk = _issue(kiosk_name, kiosk_key, ca_name, ca_key, leaf_common + [
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
    ])
    files.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.kiosk_cert.write_bytes(kiosk.public_bytes(serialization.Encoding.PEM))
    _write_key(files.server_key, server_key)
    _write_key(files.kiosk_key, kiosk_key)
    return files

"""TLS certificate errors from a backend signed by the kiosk's own CA: a certificate that has
expired, or one made out for another host. The kiosk sends nothing to it: loss reports queue
(they work offline), activation is refused in plain words, nothing is dead-lettered."""
from __future__ import annotations

import datetime
import ipaddress
import types

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.kiosk.backend.hostile import HostileBackend
from tests.faults.test_fault_backend_misbehaves import (assert_loss_queued_and_activation_not_done, kiosk_for,
                                                         loss_report_and_activation)

NOW = datetime.datetime.now(datetime.timezone.utc)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, key, issuer, issuer_key, valid_from, valid_to, extensions):
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(valid_from).not_valid_after(valid_to))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path, certificate=None, key=None):
    if certificate is not None:
        path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)


def pki_with_server(folder, server_valid_to, server_names):
    """The kiosk's CA and client certificate, and a server certificate from that same CA."""
    folder.mkdir()
    ca_key, kiosk_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("test CA", ca_key, "test CA", ca_key, NOW - datetime.timedelta(days=30),
                      NOW + datetime.timedelta(days=30), [(x509.BasicConstraints(ca=True, path_length=0), True)])
    leaf = [(x509.BasicConstraints(ca=False, path_length=None), True)]
    kiosk = _certificate("KIOSK-0001", kiosk_key, "test CA", ca_key, NOW - datetime.timedelta(days=1),
                         NOW + datetime.timedelta(days=30),
                         leaf + [(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)])
    server = _certificate("backend", server_key, "test CA", ca_key, NOW - datetime.timedelta(days=20),
                          server_valid_to, leaf + [
                              (x509.SubjectAlternativeName(server_names), False),
                              (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)])
    files = types.SimpleNamespace(**{name: folder / f"{name}.pem" for name in
                                     ("ca_cert", "kiosk_cert", "kiosk_key", "server_cert", "server_key")})
    _write(files.ca_cert, ca)
    _write(files.kiosk_cert, kiosk)
    _write(files.server_cert, server)
    _write(files.kiosk_key, key=kiosk_key)
    _write(files.server_key, key=server_key)
    return files


LOCAL_NAMES = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


@pytest.mark.parametrize("fault, valid_to, names", [
    ("expired", NOW - datetime.timedelta(days=1), LOCAL_NAMES),
    ("another host", NOW + datetime.timedelta(days=30), [x509.DNSName("backend.example.org")]),
])
def test_a_backend_certificate_the_kiosk_cannot_accept_gets_no_request(tmp_path, fault, valid_to, names):
    pki = pki_with_server(tmp_path / "pki", valid_to, names)
    with HostileBackend(pki, "slow") as backend:
        backend.slow_s = 0.0
        kiosk = kiosk_for(backend.url, pki, tmp_path)
        try:
            loss, activation = loss_report_and_activation(kiosk)
            assert backend.requests == 0, f"{fault}: a request got through the TLS handshake"
            assert_loss_queued_and_activation_not_done(kiosk, loss, activation, maybe_taken_on=False)
        finally:
            kiosk.close()

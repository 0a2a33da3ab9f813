"""Certificates a TLS test makes for itself: a CA, server certificates (valid, expired, issued to
another host name) and a client certificate, written as PEM files into a folder of the test's own.

Nothing here is shipped; the files live as long as the test's temporary folder.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path, owner: str | None = None) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)  # libpq and the server refuse a private key others can read
    if owner and os.geteuid() == 0:
        import shutil

        shutil.chown(path, owner, owner)


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.chmod(0o644)


@dataclass(frozen=True)
class CertificateSet:
    folder: Path
    ca: Path
    server_cert: Path
    server_key: Path
    expired_cert: Path
    expired_key: Path
    other_host_cert: Path
    other_host_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed none of these: the "wrong CA file" case


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    common_name: str,
    *,
    hosts: list[str] | None = None,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _ca(common_name: str, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_certificates(
    folder: Path, *, host: str = "127.0.0.1", client_user: str = "officer"
) -> CertificateSet:
    """A CA and the certificates the TLS tests need, in ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_cert, ca_key = _ca("CohortDesk test CA", now)
    other_ca_cert, _other_key = _ca("Some other CA", now)
    valid = {"not_before": now - dt.timedelta(days=1), "not_after": now + dt.timedelta(days=30)}
    server, server_key = _issue(ca_key, ca_cert.subject, host, hosts=[host, "localhost"], **valid)
    expired, expired_key = _issue(
        ca_key,
        ca_cert.subject,
        host,
        hosts=[host, "localhost"],
        not_before=now - dt.timedelta(days=60),
        not_after=now - dt.timedelta(days=2),
    )
    other, other_key = _issue(
        ca_key, ca_cert.subject, "db.elsewhere.example", hosts=["db.elsewhere.example"], **valid
    )
    client, client_key = _issue(ca_key, ca_cert.subject, client_user, **valid)
    paths = CertificateSet(
        folder=folder,
        ca=folder / "ca.crt",
        server_cert=folder / "server.crt",
        server_key=folder / "server.key",
        expired_cert=folder / "expired.crt",
        expired_key=folder / "expired.key",
        other_host_cert=folder / "other-host.crt",
        other_host_key=folder / "other-host.key",
        client_cert=folder / "client.crt",
        client_key=folder / "client.key",
        other_ca=folder / "other-ca.crt",
    )
    _write_cert(ca_cert, paths.ca)
    _write_cert(other_ca_cert, paths.other_ca)
    _write_cert(server, paths.server_cert)
    _write_key(server_key, paths.server_key, owner="postgres")
    _write_cert(expired, paths.expired_cert)
    _write_key(expired_key, paths.expired_key, owner="postgres")
    _write_cert(other, paths.other_host_cert)
    _write_key(other_key, paths.other_host_key, owner="postgres")
    _write_cert(client, paths.client_cert)
    _write_key(client_key, paths.client_key)
    return paths

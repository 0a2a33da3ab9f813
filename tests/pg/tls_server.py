"""A production-like private PostgreSQL for the connection tests: TLS on, ``hostssl … scram-sha-256``
only, certificates made by the test (valid, expired, for another host), a login that works, one
switched off, and a small ``max_connections`` so "server full" can be reached. Never the shared
server on 5432."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import require_pg
from tests.pg.certificates import CertificateSet, make_certificates
from tests.pg.private_server import PrivatePostgres

PASSWORD = "Correct-Horse-7"
HBA_TLS_SCRAM = ["hostssl all all 127.0.0.1/32 scram-sha-256", "hostssl replication all 127.0.0.1/32 trust"]


@dataclass
class TlsServer:
    server: PrivatePostgres
    certs: CertificateSet
    login: str = "officer_tls"
    removed_login: str = "removed_tls"
    database: str = "postgres"

    @property
    def port(self) -> int:
        return self.server.port

    def tls_settings(self, cert: str | None = None, key: str | None = None) -> dict[str, str]:
        return {
            "ssl": "on",
            "ssl_cert_file": cert or str(self.certs.server_cert),
            "ssl_key_file": key or str(self.certs.server_key),
            "ssl_ca_file": str(self.certs.ca),
            "password_encryption": "scram-sha-256",
        }

    def normal(self) -> None:
        self.server.configure(self.tls_settings(), HBA_TLS_SCRAM)

    @contextlib.contextmanager
    def serving(self, which: str) -> Iterator[None]:
        """For one test: the server presents the ``expired`` or ``other_host`` certificate, or has
        ``no_tls`` at all; back to normal afterwards."""
        if which == "expired":
            self.server.configure(
                self.tls_settings(str(self.certs.expired_cert), str(self.certs.expired_key)), HBA_TLS_SCRAM
            )
        elif which == "other_host":
            self.server.configure(
                self.tls_settings(str(self.certs.other_host_cert), str(self.certs.other_host_key)),
                HBA_TLS_SCRAM,
            )
        elif which == "no_tls":
            self.server.configure({"ssl": "off"}, ["host all all 127.0.0.1/32 scram-sha-256"])
        else:
            raise ValueError(which)
        try:
            yield
        finally:
            self.normal()

    def url(self, *, user: str | None = None, sslmode: str = "verify-full", ca: str | None = None) -> str:
        ca_file = str(self.certs.ca) if ca is None else ca
        query = f"sslmode={sslmode}" + (f"&sslrootcert={ca_file}" if ca_file and sslmode != "disable" else "")
        return f"postgresql+psycopg://{user or self.login}@127.0.0.1:{self.port}/{self.database}?{query}"


def start_tls_server(max_connections: int = 12) -> TlsServer:
    require_pg()
    server, why = PrivatePostgres.find()
    if server is None:
        pytest.skip(f"cannot run a private PostgreSQL server: {why}")
    server.max_connections = max_connections
    try:
        server.init()
        certs = make_certificates(server.root / "certs")
        tls = TlsServer(server, certs)
        tls.normal()
        server.start()
        server.psql(
            f"CREATE ROLE {tls.login} LOGIN PASSWORD '{PASSWORD}'; "
            f"CREATE ROLE {tls.removed_login} NOLOGIN PASSWORD '{PASSWORD}';"
        )
    except Exception as exc:  # noqa: BLE001 - a machine that cannot run one skips, saying why
        server.destroy()
        pytest.skip(f"cannot start a private TLS PostgreSQL server: {exc}")
    return tls

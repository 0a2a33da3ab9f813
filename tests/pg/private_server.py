"""A throw-away PostgreSQL server of a test's own, which the test may restart or stop at will.

The shared server on 127.0.0.1:5432 serves every helper's tests, so no test restarts it. A test that
needs a real server restart starts one of these instead: ``initdb`` into a temporary folder, on a
free port, run as the ``postgres`` OS user (PostgreSQL refuses to run as root), with its socket in
that folder. ``PrivatePostgres.find()`` returns ``None`` when the binaries are missing.

A production-like server for the connection tests: ``configure(settings, hba)`` writes the server's
settings (TLS on, certificate files, ``max_connections``) into an included file and replaces
``pg_hba.conf`` (e.g. ``hostssl … scram-sha-256`` only), then reloads a running server;
``standby()`` makes a streaming standby of it with ``pg_basebackup -R`` on a port of its own.
The OS user ``postgres`` keeps local-socket trust, so the test can still set up logins.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import URL


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivatePostgres:
    def __init__(self, bindir: Path, run_as: list[str], max_connections: int = 40) -> None:
        self.bindir = bindir
        self.run_as = run_as
        self.root = Path(tempfile.mkdtemp(prefix="cohortdesk-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.max_connections = max_connections

    @classmethod
    def find(cls) -> tuple[PrivatePostgres | None, str]:
        """A server ready to start, or ``None`` and the reason it cannot be had here."""
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
        initdb = candidates[0] if candidates else shutil.which("initdb")
        if not initdb:
            return None, "no PostgreSQL server binaries (initdb) on this machine"
        run_as: list[str] = []
        if os.geteuid() == 0:
            if not shutil.which("runuser"):
                return None, "running as root without runuser to drop to the postgres user"
            run_as = ["runuser", "-u", "postgres", "--"]
        return cls(Path(initdb).parent, run_as), ""

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.run_as, *args], check=check, capture_output=True, text=True, timeout=120)

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off -c max_connections={self.max_connections} "
            "-c shared_buffers=16MB"
        )

    def init(self) -> PrivatePostgres:
        if self.run_as:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"
        )
        return self

    def start(self) -> None:
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            self._options(),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        """Stop (ending every connection) and start again on the same port and data."""
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            self._options(),
            "-m",
            mode,
            "-w",
            "restart",
        )

    def configure(self, settings: dict[str, str] | None = None, hba: list[str] | None = None) -> None:
        """Write ``settings`` (``postgresql.conf`` lines) and, when given, a whole new ``pg_hba.conf``
        (local-socket trust for ``postgres`` is always kept first); reload if running."""
        conf = self.data / "cohortdesk_test.conf"
        lines = [f"{name} = '{value}'" for name, value in (settings or {}).items()]
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        main = self.data / "postgresql.conf"
        text = main.read_text(encoding="utf-8")
        if "cohortdesk_test.conf" not in text:
            main.write_text(text + "\ninclude_if_exists = 'cohortdesk_test.conf'\n", encoding="utf-8")
        if hba is not None:
            rules = ["local all postgres trust", "local replication all trust", *hba]
            (self.data / "pg_hba.conf").write_text("\n".join(rules) + "\n", encoding="utf-8")
        if self.run_as:
            for path in (conf, self.data / "pg_hba.conf"):
                shutil.chown(path, "postgres", "postgres")
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "reload")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` as the superuser over the local socket (trusted whatever ``pg_hba.conf`` says)."""
        done = self._run(
            str(self.bindir / "psql"),
            "-h",
            str(self.root),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAtc",
            sql,
        )
        return done.stdout.strip()

    def standby(self) -> PrivatePostgres:
        """A streaming standby of this (running) server, made with ``pg_basebackup -R``, started."""
        replica = PrivatePostgres(self.bindir, self.run_as, self.max_connections)
        if self.run_as:
            shutil.chown(replica.root, "postgres", "postgres")
        self._run(
            str(self.bindir / "pg_basebackup"),
            "-D",
            str(replica.data),
            "-h",
            str(self.root),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        replica.start()
        return replica

    def url(self, database: str = "postgres") -> URL:
        return URL.create(
            "postgresql+psycopg", username="postgres", host="127.0.0.1", port=self.port, database=database
        )

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

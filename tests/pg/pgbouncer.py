"""A private PgBouncer in front of a private PostgreSQL, for the pooler tests and ``bench/stations.py``.

Debian's ``pgbouncer`` package (installed by ``scripts/test.sh`` through ``COHORTDESK_EXTRA_APT``),
started on a free loopback port with a configuration of its own in the server's folder, in the mode
the deployment guide recommends (``pool_mode = transaction``). PgBouncer refuses to run as root, so
it runs as the ``postgres`` OS user, like the private server. ``PgBouncer.find()`` returns None when
the binary is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from sqlalchemy import URL

from tests.pg.private_server import PrivatePostgres, _free_port


class PgBouncer:
    def __init__(
        self,
        binary: str,
        server: PrivatePostgres,
        mode: str = "transaction",
        pool_size: int = 20,
        server_idle_timeout: int = 10,
        users: tuple[str, ...] = ("postgres",),
    ) -> None:
        self.binary = binary
        self.users = users
        self.server = server
        self.mode = mode
        self.pool_size = pool_size
        self.server_idle_timeout = server_idle_timeout
        self.port = _free_port()
        self.folder = server.root / f"pgbouncer-{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def find(cls, server: PrivatePostgres, **kwargs: object) -> tuple[PgBouncer | None, str]:
        binary = shutil.which("pgbouncer") or (
            "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else ""
        )
        if not binary:
            return None, "PgBouncer is not installed (Debian package pgbouncer)"
        return cls(binary, server, **kwargs), ""  # type: ignore[arg-type]

    def start(self) -> PgBouncer:
        self.folder.mkdir(parents=True, exist_ok=True)
        auth = self.folder / "userlist.txt"
        auth.write_text("".join(f'"{user}" ""\n' for user in self.users), encoding="utf-8")
        ini = self.folder / "pgbouncer.ini"
        ini.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host=127.0.0.1 port={self.server.port}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    f"unix_socket_dir = {self.folder}",
                    "auth_type = trust",
                    f"auth_file = {auth}",
                    f"pool_mode = {self.mode}",
                    f"default_pool_size = {self.pool_size}",
                    "max_client_conn = 1000",
                    f"server_idle_timeout = {self.server_idle_timeout}",
                    "ignore_startup_parameters = extra_float_digits",
                    f"logfile = {self.folder / 'pgbouncer.log'}",
                    f"pidfile = {self.folder / 'pgbouncer.pid'}",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        if self.server.run_as:
            for path in (self.folder, auth, ini):
                shutil.chown(path, "postgres", "postgres")
        self.process = subprocess.Popen(
            [*self.server.run_as, self.binary, str(ini)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"pgbouncer exited: {self.log_tail()}") from None
                time.sleep(0.1)
        raise RuntimeError(f"pgbouncer did not start: {self.log_tail()}")

    def log_tail(self) -> str:
        log = self.folder / "pgbouncer.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def url(self, database: str = "postgres", user: str = "postgres") -> URL:
        return URL.create(
            "postgresql+psycopg", username=user, host="127.0.0.1", port=self.port, database=database
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            # runuser passes the signal on to pgbouncer
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

"""Shared fixtures: a fresh migrated database per test on SQLite and on a real PostgreSQL.

Migrating is the slow part of making a database, so each backend is migrated once per session (on
first use) and every test gets a copy: SQLite by copying the migrated file, PostgreSQL with
``CREATE DATABASE … TEMPLATE``. Tests of the migrations themselves start from empty databases
(``sqlite_url``, ``pg_url``).

PostgreSQL tests create and drop their own database on ``postgresql://postgres@127.0.0.1:5432`` unless
``COHORTDESK_TEST_PG_URL`` says otherwise. An unreachable server skips them on a developer machine
and fails them under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import URL, create_engine, make_url, text

from cohortdesk.db import Database, migrate

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PG_ADMIN_URL = os.environ.get(
    "COHORTDESK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_admin_url() -> URL:
    url = make_url(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    return url


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(_pg_admin_url(), connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return str(exc).splitlines()[0]


_PG_PROBLEM: str | None | bool = False  # False = not probed yet


def require_pg() -> None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _pg_reachable()
    if _PG_PROBLEM:
        message = f"PostgreSQL is not reachable at {_pg_admin_url().render_as_string()}: {_PG_PROBLEM}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def create_pg_database(prefix: str = "cdtest") -> URL:
    """Create an empty database with a unique name; returns its URL."""
    require_pg()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return _pg_admin_url().set(database=name)


_DATABASE_GRANTS_SQL = text(
    "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, "
    "a.privilege_type, a.is_grantable FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = :name"
)
_DATABASE_SETTINGS_SQL = text(
    "SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE quote_ident(pg_get_userbyid(s.setrole)) END, s.setconfig "
    "FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = :name"
)


def clone_pg_database(template: URL, prefix: str = "cdtest") -> URL:
    """A new database copied from ``template`` (which nobody may be connected to); returns its URL.

    ``CREATE DATABASE … TEMPLATE`` copies what is inside a database, not what the cluster keeps about
    it, so the migrations' database-level grants (CONNECT) and per-role settings are copied too."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
        grants = conn.execute(_DATABASE_GRANTS_SQL, {"name": template.database}).all()
        if grants:
            conn.execute(text(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC'))
        for grantee, privilege, grantable in grants:
            option = " WITH GRANT OPTION" if grantable else ""
            conn.execute(text(f'GRANT {privilege} ON DATABASE "{name}" TO {grantee}{option}'))
        for role, settings in conn.execute(_DATABASE_SETTINGS_SQL, {"name": template.database}):
            target = f'ROLE {role} IN DATABASE "{name}"' if role else f'DATABASE "{name}"'
            for setting in settings:
                key, _, value = setting.partition("=")
                conn.execute(text(f"ALTER {target} SET {key} = :value"), {"value": value})
    admin.dispose()
    return template.set(database=name)


def drop_pg_database(url: URL) -> None:
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": url.database},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
    admin.dispose()


class MigratedDatabases:
    """Migrates each backend once (when first asked for) and hands out copies of the result."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._sqlite_template: Path | None = None
        self._pg_template: URL | None = None

    def sqlite_url(self, path: Path) -> str:
        """Copy the migrated SQLite file to ``path``; returns its URL."""
        if self._sqlite_template is None:
            template = self._folder / "migrated.sqlite3"
            db = Database(f"sqlite:///{template}")
            migrate.upgrade(db)
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            db.dispose()
            self._sqlite_template = template
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._sqlite_template, path)
        return f"sqlite:///{path}"

    def sqlite(self, path: Path) -> Database:
        return Database(self.sqlite_url(path))

    def pg_url(self, prefix: str = "cdtest") -> URL:
        """A new PostgreSQL database cloned from the migrated template (drop it with
        ``drop_pg_database``)."""
        require_pg()
        if self._pg_template is None:
            template = create_pg_database("cdtmpl")
            db = Database(template)
            try:
                migrate.upgrade(db)
            except BaseException:
                db.dispose()
                drop_pg_database(template)
                raise
            db.dispose()
            self._pg_template = template
        return clone_pg_database(self._pg_template, prefix)

    def close(self) -> None:
        if self._pg_template is not None:
            drop_pg_database(self._pg_template)
            self._pg_template = None


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedDatabases]:
    """Copies of a database migrated once per session (see ``MigratedDatabases``)."""
    databases = MigratedDatabases(tmp_path_factory.mktemp("migrated"))
    yield databases
    databases.close()


@pytest.fixture
def cohortdesk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Moves every CohortDesk path (data, config, logs, storage) into the test's folder."""
    home = tmp_path / "home"
    monkeypatch.setenv("COHORTDESK_HOME", str(home))
    monkeypatch.delenv("COHORTDESK_DATABASE_URL", raising=False)
    monkeypatch.delenv("COHORTDESK_STORAGE", raising=False)
    return home


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cohortdesk.sqlite3'}"


@pytest.fixture
def pg_url() -> Iterator[URL]:
    """An empty PostgreSQL database (for tests of the migrations; others take ``pg_db``)."""
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def migrated_pg_url(migrated: MigratedDatabases) -> Iterator[URL]:
    """The URL of ``pg_db``: a migrated PostgreSQL database of this test's own."""
    url = migrated.pg_url()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def sqlite_db(sqlite_url: str, migrated: MigratedDatabases) -> Iterator[Database]:
    """A migrated SQLite file at ``sqlite_url``."""
    db = migrated.sqlite(Path(make_url(sqlite_url).database or ""))
    yield db
    db.dispose()


@pytest.fixture
def pg_db(migrated_pg_url: URL) -> Iterator[Database]:
    db = Database(migrated_pg_url)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A freshly migrated standalone database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_db")
    else:
        yield request.getfixturevalue("pg_db")

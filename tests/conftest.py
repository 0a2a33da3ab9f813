"""Shared fixtures: a fresh migrated database per test on SQLite and on a real PostgreSQL.

Migrating is the slow part of making a database, so each backend is migrated once per session (on
first use; once per pytest-xdist worker) and every test gets a copy: SQLite by copying the migrated
file, PostgreSQL with ``CREATE DATABASE … TEMPLATE``, made ahead of the test and dropped after it on a
thread of the worker (``_ClonePool``). Tests of the migrations themselves start from empty databases
(``sqlite_url``, ``pg_url``). Names are random, so workers and other runs on the same server never meet.

Modules whose tests share one world of data (built through the same service calls a person's actions
take) build it once per worker and backend and copy the database and its document store the same way
(``MigratedDatabases.built``); each test still gets a copy of its own to change.

PostgreSQL tests create and drop their own database on ``postgresql://postgres@127.0.0.1:5432`` unless
``COHORTDESK_TEST_PG_URL`` says otherwise. An unreachable server skips them on a developer machine
and fails them under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import URL, Connection, create_engine, make_url, text

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


def clone_pg_database(template: URL, prefix: str = "cdtest", admin: Connection | None = None) -> URL:
    """A new database copied from ``template`` (which nobody may be connected to); returns its URL.

    ``CREATE DATABASE … TEMPLATE`` copies what is inside a database, not what the cluster keeps about
    it, so the migrations' database-level grants (CONNECT) and per-role settings are copied too, in one
    transaction (one commit to wait for, not one per statement). ``admin``: an open connection to use."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = None
    if admin is None:
        engine = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        admin = engine.connect()
    try:
        admin.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
        grants = admin.execute(_DATABASE_GRANTS_SQL, {"name": template.database}).all()
        settings = admin.execute(_DATABASE_SETTINGS_SQL, {"name": template.database}).all()
        if grants or settings:
            admin.exec_driver_sql("BEGIN")
            try:
                if grants:
                    admin.execute(text(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC'))
                for grantee, privilege, grantable in grants:
                    option = " WITH GRANT OPTION" if grantable else ""
                    admin.execute(text(f'GRANT {privilege} ON DATABASE "{name}" TO {grantee}{option}'))
                for role, values in settings:
                    target = f'ROLE {role} IN DATABASE "{name}"' if role else f'DATABASE "{name}"'
                    for setting in values:
                        key, _, value = setting.partition("=")
                        admin.execute(text(f"ALTER {target} SET {key} = :value"), {"value": value})
            except BaseException:
                admin.exec_driver_sql("ROLLBACK")
                raise
            admin.exec_driver_sql("COMMIT")
    finally:
        if engine is not None:
            admin.close()
            engine.dispose()
    return template.set(database=name)


def drop_pg_database(url: URL, admin: Connection | None = None) -> None:
    """Drop ``url``'s database, ending its sessions first. ``admin``: an open autocommit connection."""
    engine = None
    if admin is None:
        engine = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        admin = engine.connect()
    try:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": url.database},
        )
        admin.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
    finally:
        if engine is not None:
            admin.close()
            engine.dispose()


class _ClonePool:
    """Clones of the migrated template made before a test asks, and used ones dropped after it, on a
    thread of this process: copying and removing a database is mostly the server writing and syncing
    files, which a test need not wait for. Each test still gets a database nobody used before."""

    AHEAD = 2

    def __init__(self, template: URL) -> None:
        self._template = template
        self._ready: list[URL] = []
        self._used: list[URL] = []
        self._failure: BaseException | None = None
        self._closing = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="pg-clone-pool", daemon=True)
        self._thread.start()

    def take(self) -> URL:
        with self._changed:
            self._changed.wait_for(lambda: bool(self._ready) or self._failure is not None)
            if self._ready:
                url = self._ready.pop(0)
                self._changed.notify_all()
                return url
            raise RuntimeError(f"the test databases could not be made: {self._failure}") from self._failure

    def release(self, url: URL) -> None:
        with self._changed:
            self._used.append(url)
            self._changed.notify_all()

    def _next_job(self) -> tuple[str, URL | None]:
        def due() -> bool:
            wanted = len(self._ready) < self.AHEAD and self._failure is None
            return bool(self._used) or self._closing or wanted

        with self._changed:
            self._changed.wait_for(due)
            if self._used:
                return "drop", self._used.pop(0)
            if self._closing:
                return "stop", None
            return "clone", None

    def _work(self) -> None:
        engine = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as admin:
                while True:
                    job, url = self._next_job()
                    if job == "stop":
                        return
                    try:
                        if url is not None:
                            drop_pg_database(url, admin)
                        else:
                            made = clone_pg_database(self._template, admin=admin)
                            with self._changed:
                                self._ready.append(made)
                                self._changed.notify_all()
                    except BaseException as exc:  # noqa: BLE001 - handed to the test that waits
                        with self._changed:
                            self._failure = exc
                            self._changed.notify_all()
                        if admin.invalidated or admin.closed:
                            return
        except BaseException as exc:  # noqa: BLE001 - e.g. the connection could not be made
            with self._changed:
                self._failure = self._failure or exc
                self._changed.notify_all()
        finally:
            engine.dispose()

    def close(self) -> None:
        """Drop every database made and handed back (waiting for the thread), then the ready ones."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join()
        for url in [*self._used, *self._ready]:
            drop_pg_database(url)
        self._used.clear()
        self._ready.clear()


class MigratedDatabases:
    """Migrates each backend once (when first asked for) and hands out copies of the result."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._sqlite_template: Path | None = None
        self._pg_template: URL | None = None
        self._pg_pool: _ClonePool | None = None
        self._built: dict[tuple[str, str], tuple[Path | URL, Path, Any]] = {}
        self._pg_built_templates: list[URL] = []

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

    def pg_url(self) -> URL:
        """A new PostgreSQL database cloned from the migrated template; hand it back with ``release``."""
        require_pg()
        if self._pg_pool is None:
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
            self._pg_pool = _ClonePool(template)
        return self._pg_pool.take()

    def built(
        self, backend: str, key: str, build: Callable[[Database, Path], Any], path: Path, store: Path
    ) -> tuple[Database, Any]:
        """A copy of a migrated database on which ``build(db, store_root)`` ran once per session (and
        ``key``), with the document store it wrote copied to ``store``. SQLite: the copy is the file at
        ``path``. Returns the database (dispose it; a PostgreSQL one goes back with ``release``) and what
        ``build`` returned."""
        made = self._built.get((backend, key))
        if made is None:
            root = self._folder / f"{key}-{backend}-store"
            if backend == "sqlite":
                template_path = self._folder / f"{key}.sqlite3"
                db = self.sqlite(template_path)
                result = build(db, root)
                with db.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                db.dispose()
                made = (template_path, root, result)
            else:
                url = self.pg_url()
                db = Database(url)
                try:
                    result = build(db, root)
                finally:
                    db.dispose()
                self._pg_built_templates.append(url)
                made = (url, root, result)
            self._built[(backend, key)] = made
        template, root, result = made
        if root.exists():
            shutil.copytree(root, store)
        if isinstance(template, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, path)
            return Database(f"sqlite:///{path}"), result
        return Database(clone_pg_database(template)), result

    def release(self, url: URL) -> None:
        """Done with a database from ``pg_url``: it is dropped in the background (by ``close`` at the
        latest). Its connections must be closed (``Database.dispose``); any left are ended."""
        assert self._pg_pool is not None
        self._pg_pool.release(url)

    def close(self) -> None:
        for url in self._pg_built_templates:
            drop_pg_database(url)
        self._pg_built_templates.clear()
        if self._pg_pool is not None:
            self._pg_pool.close()
            self._pg_pool = None
        if self._pg_template is not None:
            drop_pg_database(self._pg_template)
            self._pg_template = None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules holding a test marked ``slow`` run first, each module's tests still together and in
    their order (its shared worlds are built once). Workers that take the long tests early end the
    run on short ones, instead of one worker finishing a long test while the other idles."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Clean up after the run on the server: each database made and dropped, and each grant to the
    cluster-wide roles, leaves dead rows in the cluster's shared catalog of role dependencies
    (``pg_shdepend``), which autovacuum seldom reaches while databases come and go (1.8 million dead
    rows beside 745 live ones were seen), and every later CREATE or DROP DATABASE and GRANT walks them.
    Vacuumed once, by the process that runs the session (not by each pytest-xdist worker)."""
    if hasattr(session.config, "workerinput"):
        return
    try:
        engine = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM pg_catalog.pg_shdepend")
        engine.dispose()
    except Exception:  # noqa: BLE001, S110 - housekeeping only: no server, no clean-up
        pass


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
        migrated.release(url)


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


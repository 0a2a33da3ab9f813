"""Engines and the unit-of-work session factory, for the embedded SQLite store and PostgreSQL.

``Database`` is built once by the composition root (the GUI's ``app.py``, the CLI, a test) and handed
to services. A session lives for one unit of work: ``with db.session() as s:`` begins a transaction,
commits on success and rolls back on error.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from cohortdesk import paths

log = logging.getLogger(__name__)

#: Per-session safety nets on PostgreSQL (design notes a.6). They are defaults, not security controls.
PG_SESSION_OPTIONS = {
    "lock_timeout": "5s",
    "statement_timeout": "30s",
    "idle_in_transaction_session_timeout": "60s",
}


def default_url() -> str:
    """``COHORTDESK_DATABASE_URL`` if set, else the embedded SQLite file in the user data folder."""
    return os.environ.get("COHORTDESK_DATABASE_URL") or f"sqlite:///{paths.default_sqlite_path()}"


def normalise_url(url: str | URL) -> URL:
    """Accept ``postgresql://`` / ``postgres://`` and use psycopg 3 for it."""
    parsed = make_url(str(url).replace("postgres://", "postgresql://", 1) if isinstance(url, str) else url)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _private_file(path: Path) -> None:
    """Create the SQLite file (and leave its side files) readable by the user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    if os.name == "posix":
        path.chmod(0o600)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (pysqlite's legacy mode
        # would otherwise defer BEGIN and break SAVEPOINTs and locking).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 5000")
        cursor.execute("PRAGMA temp_store = MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


#: Schema of the filtered DocuSeal views a CohortDesk login reads instead of DocuSeal's tables.
DOCUSEAL_VIEW_SCHEMA = "cohortdesk_docuseal"
_NEEDS_VIEWS_SQL = (
    f"SELECT to_regnamespace('{DOCUSEAL_VIEW_SCHEMA}') IS NOT NULL AND to_regclass('users') IS NOT NULL "
    "AND NOT has_table_privilege(to_regclass('users'), 'SELECT')"
)


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # A CohortDesk login may not read DocuSeal's tables; it reads the filtered views of the same
        # names instead. Logins made by ``cohortdesk admin add-user`` already have this search_path;
        # this covers logins a DBA made by hand. Routing only: the grants and row-level policies are
        # what keep data safe, whatever the search_path.
        with dbapi_conn.cursor() as cursor:
            cursor.execute(_NEEDS_VIEWS_SQL)
            if cursor.fetchone()[0]:
                cursor.execute(
                    "SELECT set_config('search_path', "
                    f"'{DOCUSEAL_VIEW_SCHEMA}, ' || quote_ident(current_schema()), false)"
                )
        dbapi_conn.commit()


def create_db_engine(url: str | URL, **kwargs: Any) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            old_umask = os.umask(0o077)
            try:
                _private_file(Path(parsed.database))
            finally:
                os.umask(old_umask)
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine)
        return engine
    connect_args = pg_connect_args(kwargs.pop("connect_args", {}))
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    _PG_CONNECT_ARGS[engine] = connect_args
    _configure_postgresql(engine)
    return engine


#: The driver arguments each PostgreSQL engine was built with, for connections made outside its pool.
_PG_CONNECT_ARGS: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()


def pg_connect_args(given: dict[str, Any] | None = None) -> dict[str, Any]:
    """psycopg connection arguments: the caller's, plus CohortDesk's timeouts and keepalives."""
    connect_args = dict(given or {})
    options = " ".join(f"-c {name}={value}" for name, value in PG_SESSION_OPTIONS.items())
    connect_args.setdefault("options", options)
    connect_args.setdefault("application_name", "cohortdesk")
    # Notice a dead network link instead of hanging on it.
    connect_args.setdefault("keepalives", 1)
    connect_args.setdefault("keepalives_idle", 30)
    connect_args.setdefault("connect_timeout", 10)
    return connect_args


class Database:
    """One database: its engine and a factory of short-lived sessions."""

    def __init__(self, url: str | URL | None = None, *, engine: Engine | None = None, **engine_kwargs: Any):
        self.engine = (
            engine if engine is not None else create_db_engine(url or default_url(), **engine_kwargs)
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def url(self) -> URL:
        return self.engine.url

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work in one transaction: commit on success, roll back on any error."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A unit of work that only reads; rolled back at the end, whatever happens."""
        session = self._sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()

    def dedicated_connection(self, **overrides: Any) -> Any:
        """A new psycopg connection outside the pool, with this database's credentials and options
        (``overrides`` win), e.g. the live-refresh listener's. The caller closes it."""
        if self.dialect != "postgresql":
            raise RuntimeError("Dedicated connections exist only for PostgreSQL.")
        cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
        cparams.update(_PG_CONNECT_ARGS.get(self.engine) or pg_connect_args())
        cparams.update(overrides)
        return self.engine.dialect.loaded_dbapi.connect(*cargs, **cparams)

    def describe(self) -> str:
        """The URL with any password hidden, fit for logs and the About box."""
        return self.engine.url.render_as_string(hide_password=True)

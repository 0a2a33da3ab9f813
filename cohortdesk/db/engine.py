"""Engines and the unit-of-work session factory, for the embedded SQLite store and PostgreSQL.

``Database`` is built once by the composition root (the GUI's ``app.py``, the CLI, a test) and handed
to services. A session lives for one unit of work: ``with db.session() as s:`` begins a transaction,
commits on success and rolls back on error.

PostgreSQL connections (docs/deployment.md):

* **Few server connections.** The pool keeps at most ``pool_size`` connections and gives back to the
  server those left unused for ``idle_release_seconds`` (10 s by default), so an idle workstation holds
  only its live-refresh listener's connection.
* **Behind a pooler** (``pooler="transaction"`` or ``"session"``, e.g. PgBouncer): no startup
  ``options`` parameter (PgBouncer refuses it; the safety timeouts are set per login on the server),
  no automatic server-side prepared statements (in transaction mode another client may get the
  same server connection) and no session-level settings made on connect.
* A ``reports`` database (a read-only standby) may be attached for exports and report viewers.
* **Reads without a transaction** (``Database.statement_reads``): single-statement reads (the queue's
  page, counts, live re-reads) run in autocommit on one pooled connection, without ``BEGIN`` and
  ``ROLLBACK`` round trips; the pool resets the connection when it is given back.
* **One round trip for a server function.** ``Database.call`` runs one statement in autocommit on a
  connection it keeps checked out while calls keep coming (``WARM_SECONDS``): no ``BEGIN``, no
  ``COMMIT`` and no pre-ping on the way, so a decision costs exactly one round trip. A function call
  is atomic by itself, so autocommit loses nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from cohortdesk import paths

log = logging.getLogger(__name__)

#: Per-session safety nets on PostgreSQL (``docs/claims-sync-security.md``, Sessions and timeouts). They are defaults, not security controls.
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


#: Pooler modes a profile may name: none (straight to PostgreSQL), PgBouncer's transaction or session.
POOLER_MODES = ("none", "transaction", "session")


def create_db_engine(url: str | URL, *, pooler: str = "none", **kwargs: Any) -> Engine:
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
    if pooler not in POOLER_MODES:
        raise ValueError(f"pooler must be one of {', '.join(POOLER_MODES)}")
    connect_args = pg_connect_args(kwargs.pop("connect_args", {}), pooler=pooler)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 2)
    kwargs.setdefault("max_overflow", 8)
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    _PG_CONNECT_ARGS[engine] = connect_args
    if pooler == "none":
        _configure_postgresql(engine)
    return engine


#: The driver arguments each PostgreSQL engine was built with, for connections made outside its pool.
_PG_CONNECT_ARGS: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()


def client_timeouts_enabled(pooler: str = "none") -> bool:
    """Whether the client sends its safety timeouts as a startup ``options`` parameter: never behind a
    pooler (PgBouncer refuses the parameter), and not when ``COHORTDESK_PG_CLIENT_TIMEOUTS=0`` says
    the server sets them per login."""
    return pooler == "none" and os.environ.get("COHORTDESK_PG_CLIENT_TIMEOUTS", "1") != "0"


def pg_connect_args(given: dict[str, Any] | None = None, *, pooler: str = "none") -> dict[str, Any]:
    """psycopg connection arguments: the caller's, plus CohortDesk's timeouts and keepalives."""
    connect_args = dict(given or {})
    if client_timeouts_enabled(pooler):
        options = " ".join(f"-c {name}={value}" for name, value in PG_SESSION_OPTIONS.items())
        connect_args.setdefault("options", options)
    if pooler == "transaction":
        # Server-side prepared statements belong to one server connection; the pooler hands the next
        # transaction another one ("prepared statement _pg3_0 already exists / does not exist").
        connect_args["prepare_threshold"] = None
    connect_args.setdefault("application_name", "cohortdesk")
    # Notice a dead network link instead of hanging on it.
    connect_args.setdefault("keepalives", 1)
    connect_args.setdefault("keepalives_idle", 30)
    connect_args.setdefault("connect_timeout", 10)
    return connect_args


class _IdleRelease:
    """Closes the pool's idle connections once none has been used for ``seconds``: an idle
    workstation then holds no pooled server connection at all (only its listener's)."""

    def __init__(self, engine: Engine, seconds: float) -> None:
        self.engine = engine
        self.seconds = seconds
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._last_checkin = time.monotonic()
        event.listen(engine, "checkin", self._on_checkin)
        event.listen(engine, "checkout", self._on_checkout)

    def _on_checkout(self, *_args: Any) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _on_checkin(self, *_args: Any) -> None:
        with self._lock:
            self._last_checkin = time.monotonic()
            if self._timer is None:
                self._timer = threading.Timer(self.seconds, self._release)
                self._timer.daemon = True
                self._timer.start()

    def _release(self) -> None:
        with self._lock:
            self._timer = None
            pool = self.engine.pool
            in_use = pool.checkedout()  # type: ignore[attr-defined]  # a QueuePool
            if in_use or time.monotonic() - self._last_checkin < self.seconds * 0.9:
                return
            pool.dispose()  # closes the connections sitting in the pool; the pool stays usable

    def stop(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None


#: How long ``Database.call`` keeps its connection after the last call (an officer decides every few
#: seconds; an idle workstation gives the connection back, and the pool then releases it).
WARM_SECONDS = 60.0


class _WarmConnection:
    """The one pooled connection ``Database.call`` uses, in autocommit, returned after ``WARM_SECONDS``
    without a call. One call at a time (a lock); calls come from one lane or one worker anyway."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.RLock()
        self._conn: Connection | None = None
        self._timer: threading.Timer | None = None
        self._last_call = 0.0

    def run(self, sql: str, params: dict[str, Any]) -> Any:
        with self.lock:
            try:
                return self._execute(sql, params)
            finally:
                self._last_call = time.monotonic()
                # One timer at a time, not one per call (starting a thread costs more than the call).
                if self._conn is not None and self._timer is None:
                    self._start_timer(WARM_SECONDS)

    def _execute(self, sql: str, params: dict[str, Any]) -> Any:
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            return self._conn.execute(text(sql), params).scalar()
        except sa_exc.DBAPIError:
            self._drop()
            raise

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close; it is gone anyway
                log.debug("Closing a broken kept connection failed", exc_info=True)
            self._conn = None

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _start_timer(self, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        """Give the connection back once no call came for ``WARM_SECONDS``; else look again later."""
        with self.lock:
            self._timer = None
            idle = time.monotonic() - self._last_call
            if idle < WARM_SECONDS:
                if self._conn is not None:
                    self._start_timer(WARM_SECONDS - idle)
                return
            self._drop()

    def close(self) -> None:
        with self.lock:
            self._cancel_timer()
            self._drop()


class Database:
    """One database: its engine and a factory of short-lived sessions."""

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        engine: Engine | None = None,
        pooler: str = "none",
        idle_release_seconds: float | None = 10.0,
        listen_overrides: dict[str, Any] | None = None,
        reports: Database | None = None,
        document_storage: str | None = None,
        label: str | None = None,
        **engine_kwargs: Any,
    ):
        self.engine = (
            engine
            if engine is not None
            else create_db_engine(url or default_url(), pooler=pooler, **engine_kwargs)
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.pooler = pooler
        #: Where the live-refresh listener connects instead (a session connection straight to the
        #: primary behind a transaction pooler); None: the same address as the pool.
        self.listen_overrides = listen_overrides
        self.reports = reports
        self.document_storage = document_storage
        self._label = label
        self._idle: _IdleRelease | None = None
        self._warm = _WarmConnection(self.engine)
        if self.dialect == "postgresql" and idle_release_seconds and engine is None:
            self._idle = _IdleRelease(self.engine, idle_release_seconds)

    @property
    def live_refresh_mode(self) -> str:
        """``listen`` (notifications on a session connection) or ``poll`` (behind a transaction
        pooler with no direct address for the listener: LISTEN would silently hear nothing)."""
        if self.dialect != "postgresql":
            return "poll"
        if self.pooler == "transaction" and not self.listen_overrides:
            return "poll"
        return "listen"

    def report_database(self) -> Database:
        """Where exports and report viewers read: the attached replica, else this database."""
        return self.reports or self

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

    @contextmanager
    def statement_reads(self, session: Session | None = None) -> Iterator[Session]:
        """Reads that need no snapshot in common (each statement stands alone, as every statement does
        in PostgreSQL's READ COMMITTED anyway): on PostgreSQL one pooled connection in autocommit, so
        no ``BEGIN`` and ``ROLLBACK`` round trips around them (the queue's page, counts and the
        window's live re-reads, several a second with many windows open). Elsewhere, ``read_session``.
        Given ``session``, that one (a caller running several such reads together)."""
        if session is not None:
            yield session
            return
        if self.dialect != "postgresql":
            with self.read_session() as own:
                yield own
            return
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            with self._sessions(bind=conn) as own:
                yield own

    def call(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """Run one statement (a server function call) on its own in autocommit and return the first
        column of its first row: one round trip while the kept connection is warm. A connection the
        server closed meanwhile fails the call as a disconnect (and is dropped): callers retry
        (``connectivity.call_with_retry``) what is safe to repeat."""
        return self._warm.run(sql, dict(params or {}))

    def dispose(self) -> None:
        if self._idle is not None:
            self._idle.stop()
        self._warm.close()
        self.engine.dispose()
        if self.reports is not None:
            self.reports.dispose()

    def dedicated_connection(self, **overrides: Any) -> Any:
        """A new psycopg connection outside the pool, with this database's credentials and options
        (``overrides`` win), e.g. the live-refresh listener's. The caller closes it."""
        if self.dialect != "postgresql":
            raise RuntimeError("Dedicated connections exist only for PostgreSQL.")
        return self.engine.dialect.loaded_dbapi.connect(**self.connect_params(**overrides))

    def connect_params(self, **overrides: Any) -> dict[str, Any]:
        """The psycopg keyword arguments of this database's connections (``overrides`` win)."""
        _cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
        cparams.update(_PG_CONNECT_ARGS.get(self.engine) or pg_connect_args(pooler=self.pooler))
        cparams.update(overrides)
        return dict(cparams)

    def listener_connection(self, **overrides: Any) -> Any:
        """The live-refresh listener's session connection: straight to the primary when the profile
        names an address for it (behind a transaction pooler), else like ``dedicated_connection``.
        Never with the pooler's no-prepare setting: it is a real session."""
        direct = dict(self.listen_overrides or {})
        if direct:
            direct.setdefault("prepare_threshold", 5)
            if client_timeouts_enabled():
                direct.setdefault("options", " ".join(f"-c {k}={v}" for k, v in PG_SESSION_OPTIONS.items()))
        return self.dedicated_connection(**{**direct, **overrides})

    def describe(self) -> str:
        """The URL with any password hidden, fit for logs (the full address, query and all)."""
        return self.engine.url.render_as_string(hide_password=True)

    def short_name(self) -> str:
        """What the status bar shows: the profile's name, else ``server/database`` (never a file
        path, a CA file or a query string)."""
        if self._label:
            return self._label
        url = self.engine.url
        if self.is_sqlite:
            return "Local database"
        hosts = url.query.get("host")
        host = url.host or (hosts if isinstance(hosts, str) else ",".join(hosts or ())) or "local"
        first = host.split(",")[0].split(":")[0]
        more = f" +{host.count(',')}" if "," in host else ""
        return f"{first}{more}/{url.database or ''}"

"""Shared fixtures: a fresh migrated database per test on SQLite and on a real PostgreSQL.

PostgreSQL tests create and drop their own database on ``postgresql://postgres@127.0.0.1:5432`` unless
``COHORTDESK_TEST_PG_URL`` says otherwise. An unreachable server skips them on a developer machine
and fails them under ``CI=true``.
"""

from __future__ import annotations

import os
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
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    db = Database(sqlite_url)
    migrate.upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def pg_db(pg_url: URL) -> Iterator[Database]:
    db = Database(pg_url)
    migrate.upgrade(db)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A freshly migrated standalone database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_db")
    else:
        yield request.getfixturevalue("pg_db")

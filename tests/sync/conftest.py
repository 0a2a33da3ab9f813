"""Fixtures for sync tests: a real PostgreSQL server database and laptop SQLite stores.

Migrating takes seconds, so each is migrated once per session and then cloned: the server with
``CREATE DATABASE … TEMPLATE`` and the laptops by copying the SQLite file.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import URL, create_engine, text

from cohortdesk.db import Database, migrate
from cohortdesk.services import cohorts as cs
from tests import factories
from tests.conftest import _pg_admin_url, create_pg_database, drop_pg_database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sync-template") / "laptop.sqlite3"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[URL]:
    url = create_pg_database("cdsynctmpl")
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    yield url
    drop_pg_database(url)


def clone_pg(template: URL) -> URL:
    name = f"cdsync_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
    admin.dispose()
    return template.set(database=name)


@dataclass
class World:
    server: Database
    account: int
    users: list[int]
    template: int
    institution: int
    cohort: int  # a draft cohort made online on the server


def seed_server(server: Database, learners: int = 4) -> World:
    acc = factories.account(server)
    admin = factories.user(server, acc, "Admin", "One")
    users = [factories.user(server, acc, f"Learner{i}", "Test") for i in range(learners)]
    template = factories.template(server, acc, admin)
    inst = cs.create_institution(server, cs.NewInstitution(account_id=acc, name="Acme Training"))
    cohort = cs.create_cohort(
        server, cs.NewCohort(institution_id=inst.id, name="Server cohort", program_type="internship")
    )
    return World(server, acc, users, template, inst.id, cohort.id)


@pytest.fixture
def server_url(pg_template: URL) -> Iterator[URL]:
    url = clone_pg(pg_template)
    yield url
    drop_pg_database(url)


@pytest.fixture
def world(server_url: URL) -> Iterator[World]:
    server = Database(server_url)
    yield seed_server(server)
    server.dispose()


@pytest.fixture
def new_laptop(sqlite_template: Path, tmp_path: Path) -> Iterator[Callable[[str], Database]]:
    made: list[Database] = []

    def make(name: str) -> Database:
        path = tmp_path / f"{name}.sqlite3"
        shutil.copyfile(sqlite_template, path)
        db = Database(f"sqlite:///{path}")
        made.append(db)
        return db

    yield make
    for db in made:
        db.dispose()

"""Fixtures for sync tests: a real PostgreSQL server database and laptop SQLite stores, each a copy
of a database migrated once per session (``migrated`` in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import URL

from cohortdesk.db import Database
from cohortdesk.services.configuration import edits as ce
from tests import factories
from tests.conftest import MigratedDatabases


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
    inst = ce.create_institution(server, ce.NewInstitution(account_id=acc, name="Acme Training")).row
    cohort = ce.create_cohort(
        server, ce.NewCohort(institution_id=inst.id, name="Server cohort", program_type="internship")
    ).row
    return World(server, acc, users, template, inst.id, cohort.id)


@pytest.fixture
def server_url(migrated: MigratedDatabases) -> Iterator[URL]:
    url = migrated.pg_url()
    yield url
    migrated.release(url)


@pytest.fixture
def world(server_url: URL) -> Iterator[World]:
    server = Database(server_url)
    yield seed_server(server)
    server.dispose()


@pytest.fixture
def new_laptop(migrated: MigratedDatabases, tmp_path: Path) -> Iterator[Callable[[str], Database]]:
    made: list[Database] = []

    def make(name: str) -> Database:
        db = migrated.sqlite(tmp_path / f"{name}.sqlite3")
        made.append(db)
        return db

    yield make
    for db in made:
        db.dispose()

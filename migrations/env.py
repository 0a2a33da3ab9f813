"""Alembic environment for CohortDesk, the single schema authority on PostgreSQL and SQLite.

Run through ``cohortdesk.db.migrate`` (which passes the ``Database`` and the install mode in
``config.attributes``) or through the ``alembic`` command with ``-x url=...``. Autogenerate compares
only CohortDesk's own tables: DocuSeal's belong to DocuSeal.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from cohortdesk.db.engine import Database
from cohortdesk.db.migrate import VERSION_TABLE
from cohortdesk.models import DOCUSEAL_TABLES, Base
from cohortdesk.models.cohorts import SERVER_ONLY_FOREIGN_KEYS

config = context.config
target_metadata = Base.metadata
OWN_TABLES = {name for name in Base.metadata.tables if name not in DOCUSEAL_TABLES}


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate looks only at CohortDesk's own tables: DocuSeal's belong to DocuSeal."""
    if type_ == "table":
        return name in OWN_TABLES
    if type_ == "foreign_key_constraint" and name in SERVER_ONLY_FOREIGN_KEYS:
        return context.get_context().dialect.name != "sqlite"  # not held by SQLite stores (0010)
    return True


def _database() -> Database:
    db = config.attributes.get("database")
    if db is None:
        url = context.get_x_argument(as_dictionary=True).get("url")
        db = Database(url)
    return db


def _sqlite_foreign_keys(connection: Any, enabled: bool) -> None:
    """Switch SQLite's foreign-key enforcement (it only takes effect outside a transaction).

    Batch mode rebuilds a table by copying it and dropping the original; with enforcement on, dropping a
    parent table that has children (cohort_enrollments under document_verifications) fails even though
    the rebuilt table keeps every id. Enforcement is off while migrating and the whole database is
    checked with ``PRAGMA foreign_key_check`` before the commit instead.
    """
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")


def run_migrations_online() -> None:
    db = _database()
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_foreign_keys(connection, False)
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                version_table=VERSION_TABLE,
                include_object=include_object,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration left rows with broken foreign keys: {broken[:5]}")
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()
                _sqlite_foreign_keys(connection, True)


run_migrations_online()

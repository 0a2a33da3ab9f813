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

config = context.config
target_metadata = Base.metadata
OWN_TABLES = {name for name in Base.metadata.tables if name not in DOCUSEAL_TABLES}


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate looks only at CohortDesk's own tables: DocuSeal's belong to DocuSeal."""
    if type_ == "table":
        return name in OWN_TABLES
    return True


def _database() -> Database:
    db = config.attributes.get("database")
    if db is None:
        url = context.get_x_argument(as_dictionary=True).get("url")
        db = Database(url)
    return db


def run_migrations_online() -> None:
    db = _database()
    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=VERSION_TABLE,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()

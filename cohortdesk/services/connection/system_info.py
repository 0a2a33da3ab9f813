"""Facts about the running system for the About box and support: versions and schema revision."""

from __future__ import annotations

import platform
import sqlite3
from dataclasses import dataclass

from sqlalchemy import text

from cohortdesk import __version__
from cohortdesk.db import Database, migrate


@dataclass(frozen=True)
class DatabaseFacts:
    backend: str  # "PostgreSQL 15.20" or "SQLite 3.40.1"
    location: str  # URL with the password hidden
    schema_revision: str | None
    schema_head: str
    install_mode: str


def database_facts(db: Database) -> DatabaseFacts:
    if db.is_sqlite:
        backend = f"SQLite {sqlite3.sqlite_version}"
    else:
        with db.engine.connect() as conn:
            server = conn.execute(text("SHOW server_version")).scalar_one()
        backend = f"PostgreSQL {str(server).split(' ')[0]}"
    status = migrate.schema_status(db)
    return DatabaseFacts(
        backend=backend,
        location=db.describe(),
        schema_revision=status.current,
        schema_head=status.head,
        install_mode=status.mode,
    )


def application_versions() -> dict[str, str]:
    """Versions that do not need the database (Qt's versions are added by the view)."""
    import sqlalchemy

    return {
        "CohortDesk": __version__,
        "Python": platform.python_version(),
        "SQLAlchemy": sqlalchemy.__version__,
        "Platform": platform.platform(terse=True),
    }

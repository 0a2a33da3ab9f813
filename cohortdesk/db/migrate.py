"""The Alembic runner: the only way CohortDesk creates or changes a schema, on SQLite and PostgreSQL.

Two install modes:

* ``standalone`` — a database of our own: the first revision also creates DocuSeal's core tables so the
  five CohortDesk tables have something to point at.
* ``attach`` — a database where DocuSeal already created its tables: only CohortDesk's tables are
  created (with foreign keys to DocuSeal's) and no DocuSeal table, column or row is touched; a
  downgrade removes only what CohortDesk created.

``mode=None`` detects: if DocuSeal's ``accounts`` table exists the database is attached, otherwise it
is standalone. The chosen mode is recorded in ``cohortdesk_install`` so a downgrade knows what it owns.
Opening a database whose revision this version does not know (made by a newer CohortDesk) is refused,
and a SQLite file is copied aside before it is upgraded.

Opening an up-to-date database (every start of the application) reads the version table with one
query and compares it with ``HEAD_REVISION``; Alembic is imported only when there is more to do
(a test keeps ``HEAD_REVISION`` equal to the scripts' head).
"""

from __future__ import annotations

import logging
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cohortdesk.errors import SchemaError

if TYPE_CHECKING:
    from alembic.config import Config

    from cohortdesk.db.engine import Database

log = logging.getLogger(__name__)

VERSION_TABLE = "cohortdesk_alembic_version"
#: The newest revision in ``migrations/versions`` (tests/migrations keeps it equal to Alembic's head).
HEAD_REVISION = "0025_queue_relay"
InstallMode = Literal["standalone", "attach"]


def script_location() -> Path:
    """Where the Alembic scripts are: in a frozen bundle, an installed package, or a source checkout."""
    package_dir = Path(__file__).resolve().parent.parent
    candidates = [
        Path(getattr(sys, "_MEIPASS", "")) / "migrations" if hasattr(sys, "_MEIPASS") else None,
        package_dir / "migrations",  # installed wheel (package-dir mapping)
        package_dir.parent / "migrations",  # source checkout or editable install
    ]
    for candidate in candidates:
        if candidate is not None and (candidate / "env.py").is_file():
            return candidate
    raise SchemaError("The database migration scripts are missing from this installation.")


def alembic_config(db: Database, mode: InstallMode | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.set_main_option("version_table", VERSION_TABLE)
    config.attributes["database"] = db
    config.attributes["install_mode"] = mode
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(script_location()))
    heads = script.get_heads()
    if len(heads) != 1:
        raise SchemaError(f"The migration scripts have {len(heads)} heads; expected exactly one.")
    return heads[0]


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(script_location()))
    return {rev.revision for rev in script.walk_revisions()}


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def detect_mode(db: Database) -> InstallMode:
    from sqlalchemy import inspect

    with db.engine.connect() as conn:
        inspector = inspect(conn)
        if inspector.has_table("cohortdesk_install"):
            row = conn.exec_driver_sql("SELECT value FROM cohortdesk_install WHERE key = 'mode'").first()
            if row:
                return "attach" if row[0] == "attach" else "standalone"
        return "attach" if inspector.has_table("accounts") else "standalone"


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str
    mode: InstallMode

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def empty(self) -> bool:
        return self.current is None


def schema_status(db: Database) -> SchemaStatus:
    """Where the database stands; raises ``SchemaError`` for a revision this version does not know."""
    current = current_revision(db)
    if current is not None and current not in known_revisions():
        raise SchemaError(
            f"This database is at schema revision {current!r}, which this version of CohortDesk does not "
            "know. It was probably upgraded by a newer CohortDesk; install that version to open it."
        )
    return SchemaStatus(current=current, head=head_revision(), mode=detect_mode(db))


def backup_sqlite(db: Database, revision: str | None) -> Path | None:
    """Copy a SQLite file aside (with its WAL contents checkpointed) before its schema changes."""
    if not db.is_sqlite or not db.url.database or db.url.database == ":memory:":
        return None
    path = Path(db.url.database)
    if not path.exists() or path.stat().st_size == 0:
        return None
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup = path.with_name(f"{path.name}.{revision or 'empty'}.{stamp}.bak")
    shutil.copy2(path, backup)
    if sys.platform != "win32":
        backup.chmod(0o600)
    log.info("Copied %s to %s before upgrading it", path, backup)
    return backup


def upgrade(db: Database, revision: str = "head", mode: InstallMode | None = None) -> SchemaStatus:
    status = schema_status(db)
    if mode == "attach" and status.empty and not _has_docuseal(db):
        raise SchemaError(
            "Attach mode needs a database where DocuSeal already created its tables (no 'accounts' table "
            "was found). Use standalone mode for a database of CohortDesk's own."
        )
    if mode is not None and not status.empty and mode != status.mode:
        raise SchemaError(f"This database was installed in {status.mode} mode, not {mode} mode.")
    from alembic import command

    chosen: InstallMode = mode or status.mode
    if not status.up_to_date and not status.empty:
        backup_sqlite(db, status.current)
    command.upgrade(alembic_config(db, chosen), revision)
    return schema_status(db)


def downgrade(db: Database, revision: str = "base") -> SchemaStatus:
    from alembic import command

    status = schema_status(db)
    backup_sqlite(db, status.current)
    command.downgrade(alembic_config(db, status.mode), revision)
    return schema_status(db)


def _stored_revisions(db: Database) -> list[str] | None:
    """The version table's rows, or ``None`` when there is no version table (or it cannot be read)."""
    from sqlalchemy.exc import DBAPIError

    try:
        with db.engine.connect() as conn:
            return [row[0] for row in conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}")]
    except DBAPIError:
        return None


def ensure_schema(db: Database) -> SchemaStatus:
    """Bring a database CohortDesk opens up to date (refusing one made by a newer version)."""
    if _stored_revisions(db) == [HEAD_REVISION]:
        return SchemaStatus(current=HEAD_REVISION, head=HEAD_REVISION, mode=detect_mode(db))
    status = schema_status(db)
    return status if status.up_to_date else upgrade(db)


def _has_docuseal(db: Database) -> bool:
    from sqlalchemy import inspect

    with db.engine.connect() as conn:
        return inspect(conn).has_table("accounts")

"""Alembic is the only schema authority: upgrade, downgrade and model agreement on both backends."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import IntegrityError

from cohortdesk.db import Database, migrate
from cohortdesk.errors import SchemaError
from cohortdesk.models import DOCUSEAL_TABLES, NEW_TABLES, Base, DocumentVerification
from cohortdesk.models.cohorts import SERVER_ONLY_FOREIGN_KEYS
from cohortdesk.services.documents.storage import DocumentStore
from tests import factories

OWN_TABLES = {name for name in Base.metadata.tables if name not in DOCUSEAL_TABLES}


def _include_object(obj, name, type_, reflected, compare_to):
    return name in OWN_TABLES if type_ == "table" else True


def test_single_head():
    # The quick check on opening a database compares with HEAD_REVISION: it must be Alembic's head.
    assert migrate.head_revision() == migrate.HEAD_REVISION


def test_opening_an_up_to_date_database_needs_no_alembic(db: Database):
    assert migrate.ensure_schema(db) == migrate.schema_status(db)
    code = (
        "import sys; from cohortdesk.db import Database, migrate; "
        f"s = migrate.ensure_schema(Database({db.url.render_as_string(hide_password=False)!r})); "
        "assert s.up_to_date, s; assert 'alembic' not in sys.modules, 'alembic imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_upgrade_downgrade_upgrade(db: Database):
    tables = set(inspect(db.engine).get_table_names())
    assert set(NEW_TABLES) <= tables
    assert tables >= DOCUSEAL_TABLES
    migrate.downgrade(db)
    remaining = set(inspect(db.engine).get_table_names())
    assert remaining <= {migrate.VERSION_TABLE}
    status = migrate.upgrade(db)
    assert status.up_to_date and status.mode == "standalone"


def test_models_and_migrations_agree(db: Database):
    def include(obj, name, type_, reflected, compare_to):
        if type_ == "foreign_key_constraint" and db.is_sqlite and name in SERVER_ONLY_FOREIGN_KEYS:
            return False
        return _include_object(obj, name, type_, reflected, compare_to)

    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"include_object": include, "compare_type": True, "target_metadata": Base.metadata},
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_unknown_revision_is_refused(db: Database):
    with db.engine.begin() as conn:
        conn.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = 'from_the_future'"))
    with pytest.raises(SchemaError, match="does not know"):
        migrate.schema_status(db)


def test_sqlite_file_is_copied_before_upgrade(sqlite_url: str, tmp_path):
    db = Database(sqlite_url)
    migrate.upgrade(db, "0002_cohort_tables")
    migrate.upgrade(db)
    backups = list(tmp_path.glob("cohortdesk.sqlite3.0002_cohort_tables.*.bak"))
    assert len(backups) == 1
    copy = Database(f"sqlite:///{backups[0]}")
    assert migrate.current_revision(copy) == "0002_cohort_tables"


def test_enumerations_and_reasons_are_checked_by_the_database(db: Database, tmp_path):
    """The CHECK constraints hold even for writes that skip the Python validation."""
    world = factories.setup_cohort(db, DocumentStore(tmp_path / "storage"))
    enrollment = world["enrollment"].id
    updates = (
        ("cohorts", "program_type", "apprenticeship", world["cohort"].id),
        ("cohorts", "state", "paused", world["cohort"].id),
        ("cohorts", "student_count", -1, world["cohort"].id),
        ("cohort_enrollments", "state", "dropped_out", enrollment),
        ("cohort_enrollments", "document_verification_state", "maybe", enrollment),
    )
    for table, column, value, row_id in updates:
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :id"), {"v": value, "id": row_id})
    decision = {
        "account_id": world["account"],
        "cohort_enrollment_id": enrollment,
        "admin_id": world["officer"],
        "document_type": "id_document",
    }
    for bad in ({"action": "escalated"}, {"action": "rejected", "reason": ""}, {"action": "rejected"}):
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(insert(DocumentVerification.__table__).values(**decision, **bad))
    with db.engine.begin() as conn:  # the same insert with a valid action goes in
        conn.execute(insert(DocumentVerification.__table__).values(**decision, action="approved"))

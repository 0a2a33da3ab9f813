"""Migration 0021 up and down, standalone and attached to DocuSeal, on SQLite and PostgreSQL: the access
log's new kind, and on PostgreSQL the comparison functions and their tables, which the downgrade removes
while the log keeps its entries (the log is append-only)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from cohortdesk.db import Database, migrate
from tests import factories
from tests.migrations.test_attach import docuseal_db  # noqa: F401 - the attached database fixture

BEFORE = "0020_cohort_certification_age"
FUNCTIONS = (
    "cohortdesk_id_number_check",
    "cohortdesk_id_number_check_result",
    "cohortdesk_id_check_setting",
    "cohortdesk_id_check_settled",  # 0023's, for the access log's policy
)
TABLES = ("cohortdesk_id_checks", "cohortdesk_id_check_logins")


def _log(db: Database, account: int, kind: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cohortdesk_access_log (at, actor, account_id, kind, details) "
                "VALUES (CURRENT_TIMESTAMP, 'maintenance', :a, :k, '{}')"
            ),
            {"a": account, "k": kind},
        )


def _pg_objects(db: Database) -> tuple[set[str], set[str]]:
    with db.engine.connect() as conn:
        functions = {
            r[0]
            for r in conn.execute(text("SELECT proname FROM pg_proc WHERE proname LIKE 'cohortdesk_id_%'"))
        }
        tables = {
            r[0]
            for r in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'cohortdesk_id_%'")
            )
        }
    return functions, tables


def _up_and_down(db: Database, account: int) -> None:
    postgres = db.dialect == "postgresql"
    if postgres:
        assert _pg_objects(db) == (set(FUNCTIONS), set(TABLES))
    _log(db, account, "id_number_check")
    if not postgres:  # SQLite never writes the kind; its downgrade copies the log under the old CHECK
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM cohortdesk_access_log WHERE kind = 'id_number_check'"))

    migrate.downgrade(db, BEFORE)
    with pytest.raises(IntegrityError):
        _log(db, account, "id_number_check")
    _log(db, account, "document_view")  # the kinds of before still go in
    if postgres:
        assert _pg_objects(db) == (set(), set())
        with db.engine.connect() as conn:  # the entry written at 0021 stays
            kept = conn.execute(
                text("SELECT count(*) FROM cohortdesk_access_log WHERE kind = 'id_number_check'")
            )
            assert kept.scalar_one() == 1
            assert (
                conn.execute(
                    text("SELECT count(*) FROM cohortdesk_secrets WHERE name = 'id_check'")
                ).scalar_one()
                == 0
            )

    migrate.upgrade(db)
    _log(db, account, "id_number_check")
    if postgres:
        assert _pg_objects(db) == (set(FUNCTIONS), set(TABLES))


def test_up_and_down_in_a_standalone_database(db: Database):
    _up_and_down(db, factories.account(db))


def test_up_and_down_attached_to_docuseal(docuseal_db: Database):  # noqa: F811
    migrate.upgrade(docuseal_db, mode="attach")
    with docuseal_db.engine.connect() as conn:
        account = conn.execute(text("SELECT min(id) FROM accounts")).scalar_one()
    _up_and_down(docuseal_db, account)
    assert migrate.schema_status(docuseal_db).mode == "attach"

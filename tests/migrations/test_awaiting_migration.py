"""Migration 0024 up and down, standalone and attached to DocuSeal, on SQLite and PostgreSQL: on
PostgreSQL the stored count of documents awaiting a decision, its functions and triggers, counted for
the enrollments already there (uploads, decisions, an undo, a legacy key) and removed by the downgrade
without touching any row; on SQLite nothing (it counts live)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from cohortdesk.db import Database, migrate
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import decisions as vs
from tests import factories, review_factories
from tests.awaiting_checks import check, docuseal_writes, upload_entry, uploads_of
from tests.migrations.test_attach import docuseal_db  # noqa: F401 - the attached database fixture

BEFORE = "0023_id_check_per_transaction"
TABLE = "cohortdesk_awaiting"
FUNCTIONS = {
    "cohortdesk_canonical_document_type",
    "cohortdesk_awaiting_after_enrollments",
    "cohortdesk_refresh_awaiting",
    "cohortdesk_awaiting_after_enrollment",
    "cohortdesk_awaiting_after_decision",
}
TRIGGERS = {
    "cohortdesk_awaiting_enrollment_insert",
    "cohortdesk_awaiting_enrollment_update",
    "cohortdesk_awaiting_decision",
}


def _objects(db: Database) -> tuple[set[str], set[str], set[str]]:
    """The migration's tables, functions and triggers present in ``db``."""
    with db.engine.connect() as conn:
        if db.dialect != "postgresql":
            tables = {
                r[0]
                for r in conn.execute(text("SELECT name FROM sqlite_master WHERE name LIKE '%awaiting%'"))
            }
            return tables, set(), set()
        tables = {
            r[0] for r in conn.execute(text(f"SELECT tablename FROM pg_tables WHERE tablename = '{TABLE}'"))
        }
        functions = {
            r[0]
            for r in conn.execute(
                text("SELECT proname FROM pg_proc WHERE proname = ANY (:n)"), {"n": list(FUNCTIONS)}
            )
        }
        triggers = {
            r[0]
            for r in conn.execute(
                text("SELECT tgname FROM pg_trigger WHERE tgname = ANY (:n)"), {"n": list(TRIGGERS)}
            )
        }
    return tables, functions, triggers


def _rows(db: Database) -> list[tuple[object, ...]]:
    with db.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT id, uploaded_documents, document_verification_state, row_version, change_seq "
                    "FROM cohort_enrollments ORDER BY id"
                )
            )
        ]


def _up_and_down(db: Database, store: DocumentStore) -> None:
    postgres = db.dialect == "postgresql"
    present = ({TABLE}, FUNCTIONS, TRIGGERS) if postgres else (set(), set(), set())
    assert _objects(db) == present
    migrate.downgrade(db, BEFORE)
    assert _objects(db) == (set(), set(), set())

    # Enrollments, uploads and decisions made before the migration (with 0023's functions).
    world = review_factories.review_queue(db, store, packs=3, documents=("id_document", "matric_certificate"))
    bob = world["bob"]
    first, second, third = (e.id for e in world["enrollments"])
    for document in ("id_document", "matric_certificate"):
        vs.record_decision(db, vs.DecisionCommand(first, document, "approved"), bob)
    vs.record_decision(
        db, vs.DecisionCommand(second, "id_document", "rejected", reason="Not certified."), bob
    )
    vs.record_decision(db, vs.DecisionCommand(second, "", "undo"), bob)
    entry = uploads_of(db, third)["id_document"]
    legacy = {"id": entry, "matric_certificate": upload_entry("matric"), "cv": upload_entry("cv")}
    docuseal_writes(db, third, legacy)  # the ID document under its legacy key
    vs.record_decision(db, vs.DecisionCommand(third, "id_document", "approved"), bob)
    before = _rows(db)

    migrate.upgrade(db)
    assert _objects(db) == present
    assert _rows(db) == before  # counting changed no enrollment
    live = check(db)
    assert [live[e] for e in (first, second, third)] == [0, 2, 2]

    migrate.downgrade(db, BEFORE)
    assert _objects(db) == (set(), set(), set())
    assert _rows(db) == before
    docuseal_writes(db, third, {})  # writes go on without the triggers
    migrate.upgrade(db)
    assert check(db)[third] == 0


def test_up_and_down_in_a_standalone_database(db: Database, tmp_path: Path):
    _up_and_down(db, DocumentStore(tmp_path / "store"))


def test_up_and_down_attached_to_docuseal(docuseal_db: Database, tmp_path: Path):  # noqa: F811
    migrate.upgrade(docuseal_db, mode="attach")
    _up_and_down(docuseal_db, DocumentStore(tmp_path / "store"))
    assert migrate.schema_status(docuseal_db).mode == "attach"


def test_a_new_database_counts_from_its_first_enrollment(db: Database, tmp_path: Path):
    world = factories.setup_cohort(db, DocumentStore(tmp_path / "store"))
    assert check(db)[world["enrollment"].id] == 2

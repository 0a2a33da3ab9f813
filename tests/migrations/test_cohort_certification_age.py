"""Migration 0020: ``cohorts.certification_max_age_days`` up and down, standalone and attached to
DocuSeal, on SQLite and PostgreSQL; on PostgreSQL the configuration write function takes the new
field after the upgrade and is back to its earlier body after the downgrade."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from cohortdesk.db import Database, migrate
from cohortdesk.errors import ValidationError
from cohortdesk.services.access.identity import local_identity
from cohortdesk.services.configuration import edits as ce
from tests.migrations.test_attach import docuseal_db  # noqa: F401 - the attached database fixture

BEFORE = "0019_leaner_decision_calls"
COLUMN = "certification_max_age_days"


def _columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("cohorts")}


def _write_function(db: Database) -> str:
    with db.engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT pg_get_functiondef('cohortdesk_write_update(jsonb, bigint)'::regprocedure)")
            ).scalar_one()
        )


def _up_and_down(db: Database, institution_id: int) -> None:
    cohort = ce.create_cohort(
        db,
        ce.NewCohort(
            institution_id=institution_id,
            name="Certified recently",
            program_type="learnership",
            certification_max_age_days=45,
        ),
    ).row
    assert ce.get_cohort(db, cohort.id).certification_max_age_days == 45
    ce.update_cohort(db, cohort.id, {COLUMN: 0})  # on PostgreSQL through cohortdesk_write
    assert ce.get_cohort(db, cohort.id).certification_max_age_days == 0
    with pytest.raises(ValidationError, match="at most 3650 days"):
        ce.update_cohort(db, cohort.id, {COLUMN: 4000})
    # The database keeps the range itself, whatever writes.
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(text(f"UPDATE cohorts SET {COLUMN} = -1 WHERE id = :i"), {"i": cohort.id})
    if db.dialect == "postgresql":
        assert COLUMN in _write_function(db)

    migrate.downgrade(db, BEFORE)
    assert COLUMN not in _columns(db)
    with db.engine.connect() as conn:
        assert conn.execute(
            text("SELECT name FROM cohorts WHERE id = :i"), {"i": cohort.id}
        ).scalar_one() == ("Certified recently")
    if db.dialect == "postgresql":
        assert COLUMN not in _write_function(db)
        # The earlier body still writes a cohort (the column it no longer names is gone).
        ops = [{"op": "update", "table": "cohorts", "id": cohort.id, "set": {"name": "Renamed at 0019"}}]
        with db.engine.begin() as conn:
            (result,) = conn.execute(
                text("SELECT cohortdesk_write(NULL, CAST(:ops AS jsonb))"), {"ops": json.dumps(ops)}
            ).scalar_one()
        assert result["ok"], result

    migrate.upgrade(db)
    assert COLUMN in _columns(db)
    again = ce.get_cohort(db, cohort.id)
    assert again.certification_max_age_days is None  # the default again: the old value went with the column
    ce.update_cohort(db, cohort.id, {COLUMN: 180})
    assert ce.get_cohort(db, cohort.id).certification_max_age_days == 180


def test_the_column_comes_and_goes_in_a_standalone_database(db: Database):
    _up_and_down(
        db, ce.create_institution(db, ce.NewInstitution(account_id=_account(db), name="Acme")).row.id
    )


def test_the_column_comes_and_goes_attached_to_docuseal(docuseal_db: Database):  # noqa: F811
    migrate.upgrade(docuseal_db, mode="attach")
    identity = local_identity(docuseal_db)
    assert identity.institution_id is not None
    _up_and_down(docuseal_db, identity.institution_id)
    assert migrate.schema_status(docuseal_db).mode == "attach"


def _account(db: Database) -> int:
    from tests import factories

    return factories.account(db)

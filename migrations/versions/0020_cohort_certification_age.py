"""Each cohort says how old a certified copy may be: ``cohorts.certification_max_age_days``.

The workstation's reading of uploads flags a certification older than the cohort's limit
(``docs/reading.md``). The column is nullable:

* ``NULL``: the default, 90 days (three months, what most SETAs and sponsors ask);
* ``0``: no limit (the certification date is still read and shown, never flagged for its age);
* ``1`` to ``3650``: at most that many days between the certification and the review.

A CHECK constraint keeps it in that range on both backends. It is configuration like the rest of a
cohort: edited through the configuration write path, synced both ways like any cohort field.

On PostgreSQL the one door for configuration writes, ``cohortdesk_write``, lets a super admin change it:
``cohortdesk_write_update`` gets it in its list of cohort fields and in its ``UPDATE`` (edited in its
stored definition; an edit whose text is not found stops the migration rather than guessing). An insert
already takes every column of the row (``jsonb_populate_recordset``), and the push's locked read
(``cohortdesk_sync_lock``) returns whole rows, so neither needs a change.

Revision ID: 0020_cohort_certification_age
Revises: 0019_leaner_decision_calls
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_cohort_certification_age"
down_revision = "0019_leaner_decision_calls"
branch_labels = None
depends_on = None

COLUMN = "certification_max_age_days"
CHECK = "ck_cohorts_certification_max_age_days"
CHECK_SQL = f"{COLUMN} IS NULL OR {COLUMN} BETWEEN 0 AND 3650"
FUNCTION = "cohortdesk_write_update(jsonb, bigint)"

#: (text in 0013's definition, text after this revision), applied in order.
EDITS = (
    (
        """'supporting_templates', 'required_document_types', 'start_date', 'end_date', 'state',
                       'admin_signed_at'];""",
        """'supporting_templates', 'required_document_types', 'start_date', 'end_date', 'state',
                       'admin_signed_at', 'certification_max_age_days'];""",
    ),
    (
        """supporting_templates, required_document_types, start_date, end_date, state,
                             admin_signed_at, deleted_at, updated_at)""",
        """supporting_templates, required_document_types, start_date, end_date, state,
                             admin_signed_at, certification_max_age_days, deleted_at, updated_at)""",
    ),
    (
        """r.supporting_templates, r.required_document_types, r.start_date, r.end_date, r.state,
                   r.admin_signed_at, r.deleted_at, now() FROM jsonb_populate_record(NULL::@s.cohorts, v_new) r)""",
        """r.supporting_templates, r.required_document_types, r.start_date, r.end_date, r.state,
                   r.admin_signed_at, r.certification_max_age_days, r.deleted_at, now()
              FROM jsonb_populate_record(NULL::@s.cohorts, v_new) r)""",
    ),
)


def _edit_function(edits: tuple[tuple[str, str], ...]) -> None:
    bind = op.get_bind()
    schema = bind.dialect.identifier_preparer.quote(
        str(bind.exec_driver_sql("SELECT current_schema()").scalar_one())
    )
    definition = str(
        bind.exec_driver_sql(f"SELECT pg_get_functiondef('{schema}.{FUNCTION}'::regprocedure)").scalar_one()
    )
    for old, new in edits:
        old, new = old.replace("@s", schema), new.replace("@s", schema)
        if definition.count(old) != 1:
            raise RuntimeError(
                f"{FUNCTION} does not hold the expected text; refusing to guess how to change it:\n{old}"
            )
        definition = definition.replace(old, new)
    # Straight to the driver without parameters: the definition's own % signs stay as they are.
    with bind.connection.dbapi_connection.cursor() as cursor:
        cursor.execute(definition)


def upgrade() -> None:
    op.add_column(
        "cohorts",
        sa.Column(COLUMN, sa.Integer(), sa.CheckConstraint(CHECK_SQL, name=op.f(CHECK)), nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        _edit_function(EDITS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _edit_function(tuple((new, old) for old, new in EDITS))
        op.drop_column("cohorts", COLUMN)  # its CHECK constraint goes with it
    else:
        # SQLite 3.35+ drops a column (and the CHECK written on it) in place: no table copy.
        op.execute(f"ALTER TABLE cohorts DROP COLUMN {COLUMN}")

"""A rejection e-mail waits for the rejection that still counts: undos are taken into account.

A waiting ``rejection`` notification used to be ``superseded`` by any later decision row on the same
document. With undo (``0015_decision_functions``) that is wrong both ways: an undone rejection must
not be sent, and a rejection whose later approval was undone counts again and must be sent. A waiting
rejection is now superseded when its own decision was undone, or when a later approval or rejection of
the same document exists that was not undone. On PostgreSQL the rule lives in
``cohortdesk_notify_claim`` (the clause is replaced in the function's stored definition); on SQLite in
``services/notify/outbox.py``.

Revision ID: 0017_undo_and_notifications
Revises: 0016_special_pi_closed
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0017_undo_and_notifications"
down_revision = "0016_special_pi_closed"
branch_labels = None
depends_on = None

FUNCTION = "cohortdesk_notify_claim(integer, integer, boolean)"
OLD_RULE = """AND EXISTS (SELECT 1 FROM {s}.document_verifications d
                  WHERE d.cohort_enrollment_id = o.cohort_enrollment_id
                    AND d.document_type = o.document_type AND d.id > o.document_verification_id);"""
NEW_RULE = """AND (EXISTS (SELECT 1 FROM {s}.document_verifications d
                   WHERE d.cohort_enrollment_id = o.cohort_enrollment_id
                     AND d.document_type = o.document_type AND d.id > o.document_verification_id
                     AND d.action IN ('approved', 'rejected')
                     AND NOT EXISTS (SELECT 1 FROM {s}.document_verifications r WHERE r.reverses_id = d.id))
          OR EXISTS (SELECT 1 FROM {s}.document_verifications r
                      WHERE r.reverses_id = o.document_verification_id));"""


def _replace_rule(old: str, new: str) -> None:
    bind = op.get_bind()
    schema = bind.dialect.identifier_preparer.quote(
        str(bind.exec_driver_sql("SELECT current_schema()").scalar_one())
    )
    definition = str(
        bind.exec_driver_sql(f"SELECT pg_get_functiondef('{schema}.{FUNCTION}'::regprocedure)").scalar_one()
    )
    old, new = old.format(s=schema), new.format(s=schema)
    if old not in definition:
        raise RuntimeError(f"{FUNCTION} does not hold the expected rule; refusing to guess how to change it")
    # Straight to the driver without parameters: the definition's own % signs stay as they are.
    with bind.connection.dbapi_connection.cursor() as cursor:
        cursor.execute(definition.replace(old, new))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace_rule(OLD_RULE, NEW_RULE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace_rule(NEW_RULE, OLD_RULE)

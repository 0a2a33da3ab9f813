"""The enrollments view a login reads is an ordinary view, not a ``security_barrier`` one, so the
planner can use the table's indexes through it.

A login reads ``cohort_enrollments`` through ``cohortdesk_docuseal.cohort_enrollments`` (migration
0016), which masks special personal information in its column list. As a ``security_barrier`` view it
was planned as a sealed subquery: PostgreSQL could neither walk the queue's order index through it
and stop after a page, nor join into it by id. Every queue page of a login masked and sorted every
pending enrollment of the account: 2.4 s for the first page of 20,000 pending against 0.1 s for a
privileged connection to the same data, and 1.8 s for the "To decide" page.

The barrier protected nothing here, because the rows are already fenced off below the view:

* the table has **forced** row-level security, so even read through the view (as the view's owner) a
  login's session gets only its own account's rows (``cohortdesk_owner_tenant``: tenant, or a
  privileged session). Row-level security conditions are security quals: PostgreSQL evaluates them
  before any condition of the query that is not leakproof, barrier or not, so a leaky function or a
  cast error in a login's ``WHERE`` never sees another account's row;
* the view's own ``WHERE`` repeats exactly that tenant condition;
* special personal information is masked by expressions in the view's column list, so whatever
  condition a login writes on ``student_data`` or ``uploaded_documents`` is applied to the masked
  values, never to the stored ones.

``tests/pg/test_hostile_privacy.py`` tries both (an error carrying another account's values, an error
carrying the stored ID number). The other views stay barriers: the DocuSeal tables under them have no
row-level security of ours, so their view's ``WHERE`` is the only fence.

``cohortdesk_define_enrollment_view()`` (which rebuilds the view when the table's columns change) makes
it the same way from now on.

Revision ID: 0022_enrollment_view_plans
Revises: 0021_id_number_check
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0022_enrollment_view_plans"
down_revision = "0021_id_number_check"
branch_labels = None
depends_on = None

VIEW = "cohortdesk_docuseal.cohort_enrollments"


def _sql(statement: str) -> None:
    bind = op.get_bind()
    schema = str(bind.exec_driver_sql("SELECT current_schema()").scalar_one())
    op.execute(statement.replace("@s", bind.dialect.identifier_preparer.quote(schema)))


def _barrier(on: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no logins and no views of ours
    old, new = ("false", "true") if on else ("true", "false")
    _sql(
        f"""
DO $$
DECLARE
  v_definition text := pg_catalog.pg_get_functiondef('@s.cohortdesk_define_enrollment_view()'::regprocedure);
BEGIN
  IF pg_catalog.strpos(v_definition, 'security_barrier = {old}') = 0 THEN
    RAISE EXCEPTION 'cohortdesk_define_enrollment_view() does not create the view with security_barrier = {old}';
  END IF;
  EXECUTE pg_catalog.replace(v_definition, 'security_barrier = {old}', 'security_barrier = {new}');
END $$;
ALTER VIEW {VIEW} SET (security_barrier = {new});
"""
    )


def upgrade() -> None:
    _barrier(on=False)


def downgrade() -> None:
    _barrier(on=True)

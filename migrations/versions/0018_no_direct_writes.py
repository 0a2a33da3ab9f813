"""No application login writes a shared table directly: the last write grants go.

After the configuration, sync, decision and claim functions, nothing an application login does needs
INSERT, UPDATE, DELETE or TRUNCATE on any table (or view) of CohortDesk's schemas, nor any privilege on
a sequence. This revision revokes whatever is left from the three groups and PUBLIC: super admins'
INSERT/UPDATE on ``cohort_enrollments`` and the USAGE on its sequence, and any such grant on the views
of ``cohortdesk_docuseal``. Without UPDATE, DELETE or TRUNCATE anywhere, ``LOCK TABLE`` in any blocking
mode is refused too; choosing ids ahead of a sequence needs both INSERT and a sequence privilege.

The downgrade gives super admins INSERT/UPDATE on ``cohort_enrollments`` (and its sequence) back.

Revision ID: 0018_no_direct_writes
Revises: 0017_undo_and_notifications
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0018_no_direct_writes"
down_revision = "0017_undo_and_notifications"
branch_labels = None
depends_on = None

GROUPS = "cohortdesk_super_admin, cohortdesk_officer, cohortdesk_report_viewer"
VIEW_SCHEMA = "cohortdesk_docuseal"

REVOKE_SQL = f"""
DO $$
DECLARE
  v_relation text;
BEGIN
  FOR v_relation IN
    SELECT format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN (current_schema(), '{VIEW_SCHEMA}') AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  LOOP
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %s FROM PUBLIC, {GROUPS}',
                   v_relation);
  END LOOP;
  FOR v_relation IN
    SELECT format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN (current_schema(), '{VIEW_SCHEMA}') AND c.relkind = 'S'
  LOOP
    EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM PUBLIC, {GROUPS}', v_relation);
  END LOOP;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REVOKE_SQL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("GRANT INSERT, UPDATE ON cohort_enrollments TO cohortdesk_super_admin")
        op.execute(
            """
DO $$
DECLARE v_sequence text := pg_get_serial_sequence('cohort_enrollments', 'id');
BEGIN
  IF v_sequence IS NOT NULL THEN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO cohortdesk_super_admin', v_sequence);
  END IF;
END $$"""
        )

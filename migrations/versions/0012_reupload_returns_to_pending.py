"""A document uploaded again after a decision returns the enrollment to pending, whoever writes it.

When an UPDATE of ``cohort_enrollments.uploaded_documents`` changes the checksum of a document that
already has a decision (the learner uploaded a new file in DocuSeal, or a sync brought it), the
enrollment's ``document_verification_state`` becomes ``pending``, ``rejection_reason`` is cleared and
``pending_since`` restarts, so the pack re-enters the queue (shown there as a re-submission). The
decisions stay as they are: History keeps the rejection and, later, the decision on the new file.
A trigger, so it holds for every writer: PostgreSQL (BEFORE UPDATE, server clock) and SQLite (AFTER
UPDATE, the row's own ``updated_at``).

Revision ID: 0012_reupload_returns_to_pending
Revises: 0011_notifications
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0012_reupload_returns_to_pending"
down_revision = "0011_notifications"
branch_labels = None
depends_on = None

PG_SQL = """
CREATE FUNCTION @s.cohortdesk_reupload_to_pending() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.document_verification_state <> 'pending'
     AND jsonb_typeof(NEW.uploaded_documents) = 'object'
     AND EXISTS (
       SELECT 1 FROM jsonb_each(NEW.uploaded_documents) n(doc, up)
        WHERE (n.up ->> 'checksum') IS DISTINCT FROM
              (CASE WHEN jsonb_typeof(OLD.uploaded_documents) = 'object'
                    THEN OLD.uploaded_documents -> n.doc ->> 'checksum' END)
          AND EXISTS (SELECT 1 FROM @s.document_verifications d
                       WHERE d.cohort_enrollment_id = NEW.id AND d.document_type = n.doc)) THEN
    NEW.document_verification_state := 'pending';
    NEW.rejection_reason := NULL;
    NEW.pending_since := now();
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION @s.cohortdesk_reupload_to_pending() FROM PUBLIC;
ALTER FUNCTION @s.cohortdesk_reupload_to_pending() OWNER TO cohortdesk_owner;
CREATE TRIGGER cohortdesk_reupload_to_pending BEFORE UPDATE OF uploaded_documents ON @s.cohort_enrollments
  FOR EACH ROW EXECUTE FUNCTION @s.cohortdesk_reupload_to_pending();
"""

SQLITE_SQL = """
CREATE TRIGGER reupload_to_pending AFTER UPDATE OF uploaded_documents ON cohort_enrollments
WHEN NEW.document_verification_state <> 'pending' AND json_valid(NEW.uploaded_documents)
 AND EXISTS (
   SELECT 1 FROM json_each(NEW.uploaded_documents) n
    WHERE json_extract(n.value, '$.checksum') IS NOT
          (CASE WHEN json_valid(OLD.uploaded_documents)
                THEN json_extract(OLD.uploaded_documents, '$."' || n.key || '".checksum') END)
      AND EXISTS (SELECT 1 FROM document_verifications d
                   WHERE d.cohort_enrollment_id = NEW.id AND d.document_type = n.key))
BEGIN
  UPDATE cohort_enrollments
     SET document_verification_state = 'pending', rejection_reason = NULL, pending_since = NEW.updated_at
   WHERE id = NEW.id;
END
"""


def _schema_sql(statement: str) -> str:
    bind = op.get_bind()
    schema = str(bind.exec_driver_sql("SELECT current_schema()").scalar_one())
    return statement.replace("@s", bind.dialect.identifier_preparer.quote(schema))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_schema_sql(PG_SQL))
    else:
        op.execute(SQLITE_SQL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            _schema_sql(
                "DROP TRIGGER IF EXISTS cohortdesk_reupload_to_pending ON @s.cohort_enrollments;"
                "DROP FUNCTION IF EXISTS @s.cohortdesk_reupload_to_pending();"
            )
        )
    else:
        op.execute("DROP TRIGGER IF EXISTS reupload_to_pending")

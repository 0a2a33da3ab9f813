"""Review claims, exactly-once decisions and live queue notifications (docs/claims-sync-security.md).

* ``cohort_enrollments`` gains a review lease: ``claimed_by`` (the login role, ``session_user``),
  ``claimed_by_user_id``, ``claim_token``, ``claim_expires_at``; a partial index over claimable
  (pending) packs and a tiny unique index over live claim tokens.
* ``document_verifications`` gains ``idempotency_key``, unique per tenant. Keys earlier versions kept
  in ``metadata`` are copied over (the append-only trigger is paused for that one statement).
* On PostgreSQL, statement-level triggers on ``cohort_enrollments`` publish
  ``pg_notify('cohortdesk_queue', json)`` carrying identifiers only (account id, enrollment id, cohort
  id, row_version): one notification per statement, however many rows it touched; a lease renewal
  alone (only ``claim_expires_at`` moved) publishes nothing.
* When the application group roles exist (created by the security migration), they may update the
  claim columns.

* The sync stamp (``0007_sync``) no longer fires for an UPDATE that changes only the claim columns
  (and ``row_version``): a claim, renewal or release is not an edit laptops need to pull, must not
  force ``row_version`` up on a renewal (a decision checks it), and must not queue every officer of a
  tenant on its change counter.

Revision ID: 0006_review_claims
Revises: 0007_sync
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_review_claims"
down_revision = "0007_sync"
branch_labels = None
depends_on = None

CHANNEL = "cohortdesk_queue"
CLAIMABLE_WHERE = "document_verification_state = 'pending' AND deleted_at IS NULL"
CLAIM_COLUMNS = ("claimed_by", "claimed_by_user_id", "claim_token", "claim_expires_at")
APP_ROLES = ("cohortdesk_officer", "cohortdesk_super_admin")

# Identifiers only: any role may LISTEN on any channel, so no names, ID numbers or documents.
# Payloads stay under PostgreSQL's 8000-byte limit: a large statement sends a summary instead.
NOTIFY_FUNCTION = f"""
CREATE FUNCTION cohortdesk_notify_queue() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
  n integer;
  items jsonb;
  payload text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT count(*), jsonb_agg(jsonb_build_array(r.account_id, r.id, r.cohort_id, r.row_version) ORDER BY r.id)
      INTO n, items FROM new_rows r;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT count(*), jsonb_agg(jsonb_build_array(r.account_id, r.id, r.cohort_id, r.row_version) ORDER BY r.id)
      INTO n, items FROM old_rows r;
  ELSE
    SELECT count(*), jsonb_agg(jsonb_build_array(r.account_id, r.id, r.cohort_id, r.row_version) ORDER BY r.id)
      INTO n, items
      FROM new_rows r JOIN old_rows o ON o.id = r.id
     WHERE r.row_version IS DISTINCT FROM o.row_version
        OR r.claim_token IS DISTINCT FROM o.claim_token
        OR r.document_verification_state IS DISTINCT FROM o.document_verification_state
        OR r.state IS DISTINCT FROM o.state
        OR r.cohort_id IS DISTINCT FROM o.cohort_id;
  END IF;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  payload := jsonb_build_object('table', TG_TABLE_NAME, 'op', lower(TG_OP), 'items', items)::text;
  IF octet_length(payload) > 7500 THEN
    payload := jsonb_build_object(
      'table', TG_TABLE_NAME, 'op', lower(TG_OP), 'bulk', true, 'count', n,
      'accounts', (SELECT jsonb_agg(DISTINCT e->0) FROM jsonb_array_elements(items) e),
      'cohorts', (SELECT jsonb_agg(DISTINCT e->2) FROM jsonb_array_elements(items) e))::text;
    IF octet_length(payload) > 7500 THEN
      payload := jsonb_build_object(
        'table', TG_TABLE_NAME, 'op', lower(TG_OP), 'bulk', true, 'count', n,
        'accounts', (SELECT jsonb_agg(DISTINCT e->0) FROM jsonb_array_elements(items) e))::text;
    END IF;
  END IF;
  PERFORM pg_notify('{CHANNEL}', payload);
  RETURN NULL;
END $$
"""

TRIGGERS = {
    "cohort_enrollments_notify_insert": "AFTER INSERT ON cohort_enrollments REFERENCING NEW TABLE AS new_rows",
    "cohort_enrollments_notify_update": (
        "AFTER UPDATE ON cohort_enrollments REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
    "cohort_enrollments_notify_delete": "AFTER DELETE ON cohort_enrollments REFERENCING OLD TABLE AS old_rows",
}

# Columns whose change alone is not an edit of the enrollment (the lease and its bookkeeping).
_NOT_AN_EDIT = "ARRAY['claimed_by', 'claimed_by_user_id', 'claim_token', 'claim_expires_at', " + (
    "'row_version', 'change_seq', 'updated_by']"
)
SYNC_STAMP_SPLIT = f"""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'cohort_enrollments_sync_stamp'
             AND tgrelid = 'cohort_enrollments'::regclass) THEN
    DROP TRIGGER cohort_enrollments_sync_stamp ON cohort_enrollments;
    CREATE TRIGGER cohort_enrollments_sync_stamp BEFORE INSERT ON cohort_enrollments
      FOR EACH ROW EXECUTE FUNCTION cohortdesk_sync_stamp();
    CREATE TRIGGER cohort_enrollments_sync_stamp_update BEFORE UPDATE ON cohort_enrollments
      FOR EACH ROW
      WHEN ((to_jsonb(OLD) - {_NOT_AN_EDIT}) IS DISTINCT FROM (to_jsonb(NEW) - {_NOT_AN_EDIT}))
      EXECUTE FUNCTION cohortdesk_sync_stamp();
  END IF;
END $$
"""
SYNC_STAMP_JOIN = """
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'cohort_enrollments_sync_stamp_update'
             AND tgrelid = 'cohort_enrollments'::regclass) THEN
    DROP TRIGGER cohort_enrollments_sync_stamp_update ON cohort_enrollments;
    DROP TRIGGER cohort_enrollments_sync_stamp ON cohort_enrollments;
    CREATE TRIGGER cohort_enrollments_sync_stamp BEFORE INSERT OR UPDATE ON cohort_enrollments
      FOR EACH ROW EXECUTE FUNCTION cohortdesk_sync_stamp();
  END IF;
END $$
"""

GRANT_TEMPLATE = """
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    GRANT SELECT ({columns}), UPDATE ({columns}, row_version) ON cohort_enrollments TO {role};
    GRANT SELECT (idempotency_key), INSERT (idempotency_key) ON document_verifications TO {role};
  END IF;
END $$
"""


def _is_pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    pg = _is_pg()
    # No foreign key on claimed_by_user_id: a lease is transient, must never block DocuSeal deleting
    # a user, and SQLite can then add and drop these columns in place (no table rebuild).
    for column in (
        sa.Column("claimed_by", sa.String(length=63), nullable=True),
        sa.Column("claimed_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True),
    ):
        op.add_column("cohort_enrollments", column)
    op.create_index(
        "ix_cohort_enrollments_claimable",
        "cohort_enrollments",
        ["account_id", "pending_since", "id"],
        unique=False,
        postgresql_where=sa.text(CLAIMABLE_WHERE),
        sqlite_where=sa.text(CLAIMABLE_WHERE),
    )
    op.create_index(
        "ix_cohort_enrollments_claim_token",
        "cohort_enrollments",
        ["claim_token"],
        unique=True,
        postgresql_where=sa.text("claim_token IS NOT NULL"),
        sqlite_where=sa.text("claim_token IS NOT NULL"),
    )

    op.add_column("document_verifications", sa.Column("idempotency_key", sa.String(length=64), nullable=True))
    _copy_idempotency_keys(pg)
    op.create_index(
        "ix_document_verifications_account_id_idempotency_key",
        "document_verifications",
        ["account_id", "idempotency_key"],
        unique=True,
    )

    if pg:
        op.execute(SYNC_STAMP_SPLIT)
        op.execute(NOTIFY_FUNCTION)
        for name, clause in TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} {clause} FOR EACH STATEMENT EXECUTE FUNCTION cohortdesk_notify_queue()"
            )
        for role in APP_ROLES:
            op.execute(GRANT_TEMPLATE.format(role=role, columns=", ".join(CLAIM_COLUMNS)))


def _copy_idempotency_keys(pg: bool) -> None:
    """Move keys stored in ``metadata`` by earlier versions into the new column (first row per key)."""
    key = "metadata->>'idempotency_key'" if pg else "json_extract(metadata, '$.idempotency_key')"
    copy = (
        f"UPDATE document_verifications SET idempotency_key = substr({key}, 1, 64) "
        f"WHERE id IN (SELECT min(id) FROM document_verifications WHERE {key} IS NOT NULL "
        f"GROUP BY account_id, substr({key}, 1, 64))"
    )
    if pg:
        # The table is append-only; this one backfill runs as its owner inside the migration.
        op.execute("ALTER TABLE document_verifications DISABLE TRIGGER document_verifications_no_change")
        op.execute(copy)
        op.execute("ALTER TABLE document_verifications ENABLE TRIGGER document_verifications_no_change")
    else:
        op.execute(copy)


def downgrade() -> None:
    pg = _is_pg()
    if pg:
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON cohort_enrollments")
        op.execute("DROP FUNCTION IF EXISTS cohortdesk_notify_queue()")
        op.execute(SYNC_STAMP_JOIN)
    op.drop_index("ix_document_verifications_account_id_idempotency_key", table_name="document_verifications")
    op.drop_index("ix_cohort_enrollments_claim_token", table_name="cohort_enrollments")
    op.drop_index("ix_cohort_enrollments_claimable", table_name="cohort_enrollments")
    op.drop_column("document_verifications", "idempotency_key")
    for column in reversed(CLAIM_COLUMNS):
        op.drop_column("cohort_enrollments", column)

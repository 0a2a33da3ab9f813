"""The five CohortDesk tables with their foreign keys (seed migration phase 1).

Foreign keys into DocuSeal's templates and submissions use ON DELETE SET NULL, because DocuSeal lets
people hard-delete those and a CohortDesk row must not block it. On PostgreSQL,
``document_verifications`` is made append-only by triggers refusing UPDATE, DELETE and TRUNCATE.

Revision ID: 0002_cohort_tables
Revises: 0001_docuseal_core
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_cohort_tables"
down_revision = "0001_docuseal_core"
branch_labels = None
depends_on = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION cohortdesk_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$
"""


def upgrade() -> None:
    op.create_table(
        "institutions",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("registration_number", sa.String(length=100), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("contact_email", sa.String(length=255), nullable=True),
        sa.Column("contact_phone", sa.String(length=50), nullable=True),
        sa.Column("super_admin_id", sa.BigInteger(), nullable=True),
        sa.Column("settings", JSON_DOC, nullable=False),
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_institutions_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["super_admin_id"], ["users.id"], name=op.f("fk_institutions_super_admin_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_institutions")),
        sa.UniqueConstraint("uuid", name=op.f("uq_institutions_uuid")),
    )
    op.create_table(
        "sponsors",
        sa.Column("institution_id", sa.BigInteger(), nullable=False),
        sa.Column("company_name", sa.String(length=255), nullable=False),
        sa.Column("contact_email", sa.String(length=255), nullable=True),
        sa.Column("contact_name", sa.String(length=255), nullable=True),
        sa.Column("contact_phone", sa.String(length=50), nullable=True),
        sa.Column("tax_number", sa.String(length=50), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sponsors_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institutions.id"], name=op.f("fk_sponsors_institution_id_institutions")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sponsors_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sponsors")),
        sa.UniqueConstraint("uuid", name=op.f("uq_sponsors_uuid")),
    )
    op.create_table(
        "cohorts",
        sa.Column("institution_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("program_type", sa.String(length=20), nullable=False),
        sa.Column("sponsor_email", sa.String(length=255), nullable=True),
        sa.Column("sponsor_id", sa.BigInteger(), nullable=True),
        sa.Column("student_count", sa.Integer(), nullable=False),
        sa.Column("main_template_id", sa.BigInteger(), nullable=True),
        sa.Column("supporting_templates", JSON_DOC, nullable=False),
        sa.Column("required_document_types", JSON_DOC, nullable=False),
        sa.Column("admin_signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("start_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "program_type IN ('learnership', 'internship', 'candidacy')", name=op.f("ck_cohorts_program_type")
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'active', 'completed', 'cancelled')", name=op.f("ck_cohorts_state")
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name=op.f("ck_cohorts_dates")
        ),
        sa.CheckConstraint("student_count >= 0", name=op.f("ck_cohorts_student_count")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_cohorts_account_id_accounts")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_cohorts_created_by_id_users")),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institutions.id"], name=op.f("fk_cohorts_institution_id_institutions")
        ),
        sa.ForeignKeyConstraint(
            ["main_template_id"],
            ["templates.id"],
            name=op.f("fk_cohorts_main_template_id_templates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sponsor_id"], ["sponsors.id"], name=op.f("fk_cohorts_sponsor_id_sponsors"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohorts")),
        sa.UniqueConstraint("uuid", name=op.f("uq_cohorts_uuid")),
    )
    op.create_table(
        "cohort_enrollments",
        sa.Column("cohort_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("submission_id", sa.BigInteger(), nullable=True),
        sa.Column("supporting_submission_ids", JSON_DOC, nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("document_verification_state", sa.String(length=20), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("student_data", JSON_DOC, nullable=False),
        sa.Column("uploaded_documents", JSON_DOC, nullable=False),
        sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "document_verification_state IN ('pending', 'verified', 'rejected')",
            name=op.f("ck_cohort_enrollments_verification_state"),
        ),
        sa.CheckConstraint(
            "state IN ('waiting', 'in_progress', 'complete')", name=op.f("ck_cohort_enrollments_state")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_cohort_enrollments_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["cohorts.id"], name=op.f("fk_cohort_enrollments_cohort_id_cohorts")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_cohort_enrollments_submission_id_submissions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_cohort_enrollments_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohort_enrollments")),
        sa.UniqueConstraint("uuid", name=op.f("uq_cohort_enrollments_uuid")),
    )
    op.create_table(
        "document_verifications",
        sa.Column("cohort_enrollment_id", sa.BigInteger(), nullable=False),
        sa.Column("admin_id", sa.BigInteger(), nullable=False),
        sa.Column("document_type", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("metadata", JSON_DOC, nullable=False),
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "action <> 'rejected' OR (reason IS NOT NULL AND reason <> '')",
            name=op.f("ck_document_verifications_reason"),
        ),
        sa.CheckConstraint(
            "action IN ('approved', 'rejected')", name=op.f("ck_document_verifications_action")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_document_verifications_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["users.id"], name=op.f("fk_document_verifications_admin_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["cohort_enrollment_id"],
            ["cohort_enrollments.id"],
            name=op.f("fk_document_verifications_cohort_enrollment_id_cohort_enrollments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_verifications")),
        sa.UniqueConstraint("uuid", name=op.f("uq_document_verifications_uuid")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(
            "CREATE TRIGGER document_verifications_no_change BEFORE UPDATE OR DELETE "
            "ON document_verifications FOR EACH ROW EXECUTE FUNCTION cohortdesk_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER document_verifications_no_truncate BEFORE TRUNCATE "
            "ON document_verifications FOR EACH STATEMENT EXECUTE FUNCTION cohortdesk_refuse_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS document_verifications_no_truncate ON document_verifications")
        op.execute("DROP TRIGGER IF EXISTS document_verifications_no_change ON document_verifications")
        op.execute("DROP FUNCTION IF EXISTS cohortdesk_refuse_change()")
    op.drop_table("document_verifications")
    op.drop_table("cohort_enrollments")
    op.drop_table("cohorts")
    op.drop_table("sponsors")
    op.drop_table("institutions")

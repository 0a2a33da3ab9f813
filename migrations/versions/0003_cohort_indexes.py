"""Indexes of the five CohortDesk tables (seed migration phase 2), including the review queue's.

Revision ID: 0003_cohort_indexes
Revises: 0002_cohort_tables
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0003_cohort_indexes"
down_revision = "0002_cohort_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_institutions_account_id_unique", "institutions", ["account_id"], unique=True)
    op.create_index("ix_sponsors_account_id", "sponsors", ["account_id"], unique=False)
    op.create_index("ix_sponsors_institution_id", "sponsors", ["institution_id"], unique=False)
    op.create_index("ix_cohorts_account_id", "cohorts", ["account_id"], unique=False)
    op.create_index("ix_cohorts_institution_id_state", "cohorts", ["institution_id", "state"], unique=False)
    op.create_index(
        "ix_cohort_enrollments_cohort_id_user_id", "cohort_enrollments", ["cohort_id", "user_id"], unique=True
    )
    op.create_index(
        "ix_cohort_enrollments_queue",
        "cohort_enrollments",
        ["account_id", "document_verification_state", "pending_since", "id"],
        unique=False,
    )
    op.create_index("ix_cohort_enrollments_state", "cohort_enrollments", ["state"], unique=False)
    op.create_index("ix_cohort_enrollments_user_id", "cohort_enrollments", ["user_id"], unique=False)
    op.create_index(
        "ix_document_verifications_account_id_created_at",
        "document_verifications",
        ["account_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_document_verifications_cohort_enrollment_id",
        "document_verifications",
        ["cohort_enrollment_id"],
        unique=False,
    )
    # ### end Alembic commands ###


def downgrade() -> None:
    op.drop_index("ix_document_verifications_cohort_enrollment_id", table_name="document_verifications")
    op.drop_index("ix_document_verifications_account_id_created_at", table_name="document_verifications")
    op.drop_index("ix_cohort_enrollments_user_id", table_name="cohort_enrollments")
    op.drop_index("ix_cohort_enrollments_state", table_name="cohort_enrollments")
    op.drop_index("ix_cohort_enrollments_queue", table_name="cohort_enrollments")
    op.drop_index("ix_cohort_enrollments_cohort_id_user_id", table_name="cohort_enrollments")
    op.drop_index("ix_cohorts_institution_id_state", table_name="cohorts")
    op.drop_index("ix_cohorts_account_id", table_name="cohorts")
    op.drop_index("ix_sponsors_institution_id", table_name="sponsors")
    op.drop_index("ix_sponsors_account_id", table_name="sponsors")
    op.drop_index("ix_institutions_account_id_unique", table_name="institutions")

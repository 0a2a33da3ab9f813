"""The enrollment queue's order as an index: ``(pending_since, id)`` on ``cohort_enrollments``.

The queue opens on "pending, oldest first" for every cohort the login can see; without this index
PostgreSQL reads and sorts every matching row to return the first 200 (a sequential scan of the wide
table at 100,000 enrollments), with it the first page comes straight from the index in order. The
same index serves "all states, newest first" (a backward scan). Measured by ``bench/queue.py``.

Revision ID: 0008_queue_order_index
Revises: 0006_review_claims
"""

from __future__ import annotations

from alembic import op

revision = "0008_queue_order_index"
down_revision = "0006_review_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_cohort_enrollments_pending_since_id", "cohort_enrollments", ["pending_since", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_cohort_enrollments_pending_since_id", table_name="cohort_enrollments")

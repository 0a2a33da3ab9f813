"""The enrollment queue's order as indexes on ``cohort_enrollments``:
``(document_verification_state, pending_since, id)`` and ``(pending_since, id)``.

The queue opens on "pending, oldest first" for every cohort the login can see. The existing queue
index leads with ``account_id``, which that view does not fix, so PostgreSQL read and sorted every
matching row to return the first 200 (a sequential scan of the wide table at 100,000 enrollments).
Now the first page of one state comes straight from the first index in order, and "all states"
(either direction) from the second. Measured by ``bench/queue.py``.

Revision ID: 0009_queue_order_index
Revises: 0008_sync_stamp_blocks
"""

from __future__ import annotations

from alembic import op

revision = "0009_queue_order_index"
down_revision = "0008_sync_stamp_blocks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_cohort_enrollments_state_pending_since",
        "cohort_enrollments",
        ["document_verification_state", "pending_since", "id"],
        unique=False,
    )
    op.create_index(
        "ix_cohort_enrollments_pending_since_id", "cohort_enrollments", ["pending_since", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_cohort_enrollments_pending_since_id", table_name="cohort_enrollments")
    op.drop_index("ix_cohort_enrollments_state_pending_since", table_name="cohort_enrollments")

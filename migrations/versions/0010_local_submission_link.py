"""On SQLite (a laptop's or standalone store), ``cohort_enrollments.submission_id`` is a plain number:
its foreign key to DocuSeal's ``submissions`` is dropped there. PostgreSQL keeps it.

A laptop receives the institution's enrollments but never DocuSeal's submissions (see
``docs/sync-docuseal-rows.md``: signing state changes in DocuSeal without touching any row the sync
counts, so a copy would be stale, and it holds learners' signed answers). With the foreign key, the first
enrollment of a learner who had signed made every pull fail. On the server the key stays and DocuSeal's
permanent delete of a submission still sets the link to NULL there; the laptop receives that change.

Revision ID: 0010_local_submission_link
Revises: 0005_security
"""

from __future__ import annotations

from alembic import op

revision = "0010_local_submission_link"
down_revision = "0005_security"
branch_labels = None
depends_on = None

FK = "fk_cohort_enrollments_submission_id_submissions"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("cohort_enrollments", recreate="always") as batch:
        batch.drop_constraint(FK, type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("cohort_enrollments", recreate="always") as batch:
        batch.create_foreign_key(FK, "submissions", ["submission_id"], ["id"], ondelete="SET NULL")

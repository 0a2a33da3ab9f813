"""An index on ``notification_outbox.message_key``: recording how an e-mail's attempt ended finds the
digest's rows by it (``cohortdesk_notify_progress`` on PostgreSQL, the sender's statements on SQLite).

Without it every e-mail sent read the whole outbox, which keeps every notification ever sent, so a
sender slowed down as the outbox grew (``bench/notify.py``: 20 e-mails a second at 10,000 rows on
SQLite). Partial (``message_key IS NOT NULL``): rows waiting for their first claim carry none.

Revision ID: 0014_outbox_message_key_index
Revises: 0013_write_functions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_outbox_message_key_index"
down_revision = "0013_write_functions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_notification_outbox_message_key",
        "notification_outbox",
        ["message_key"],
        postgresql_where=sa.text("message_key IS NOT NULL"),
        sqlite_where=sa.text("message_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_notification_outbox_message_key", table_name="notification_outbox")

"""Backfill default data (seed migration phase 3).

Every live DocuSeal account without an institution gets one, named after the account and carrying
the default canned rejection reasons, so an attached database is usable at once. The rows are marked
``settings.created_by = 'backfill'``; the downgrade removes only those that nothing refers to yet, and
leaves every other row (and all DocuSeal data) alone.

Revision ID: 0004_backfill_defaults
Revises: 0003_cohort_indexes
Create Date: 2026-11-26
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004_backfill_defaults"
down_revision = "0003_cohort_indexes"
branch_labels = None
depends_on = None

# Frozen copy of the defaults at the time of this revision (migrations must not import app code
# that may change later).
DEFAULT_REJECTION_REASONS = [
    {
        "code": "not_certified",
        "label": "Not certified",
        "message": "The copy is not certified by a commissioner of oaths.",
    },
    {
        "code": "certification_too_old",
        "label": "Certification too old",
        "message": "The certification is older than this cohort accepts.",
    },
    {
        "code": "illegible",
        "label": "Illegible",
        "message": "The document cannot be read. Please upload a clearer scan.",
    },
    {
        "code": "smart_id_one_side_missing",
        "label": "Smart ID: one side missing",
        "message": "Both sides of the smart ID card are needed.",
    },
    {
        "code": "name_mismatch",
        "label": "Name mismatch",
        "message": "The name on the document does not match your details.",
    },
    {
        "code": "wrong_document",
        "label": "Wrong document",
        "message": "This is not the document that was asked for.",
    },
    {"code": "pages_missing", "label": "Pages missing", "message": "Some pages of the document are missing."},
    {
        "code": "foreign_qualification_needs_saqa",
        "label": "Needs SAQA evaluation",
        "message": "A foreign qualification needs a SAQA evaluation.",
    },
    {
        "code": "disability_letter_incomplete",
        "label": "Disability letter incomplete",
        "message": "The medical letter needs the practitioner's details and practice number.",
    },
]


def upgrade() -> None:
    bind = op.get_bind()
    accounts = bind.execute(
        sa.text(
            "SELECT a.id, a.name FROM accounts a WHERE a.archived_at IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM institutions i WHERE i.account_id = a.id) ORDER BY a.id"
        )
    ).all()
    if not accounts:
        return
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    settings = json.dumps({"created_by": "backfill", "rejection_reasons": DEFAULT_REJECTION_REASONS})
    table = sa.table(
        "institutions",
        sa.column("account_id", sa.BigInteger),
        sa.column("name", sa.String),
        sa.column("settings", sa.JSON),
        sa.column("uuid", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("row_version", sa.BigInteger),
    )
    op.bulk_insert(
        table,
        [
            {
                "account_id": account_id,
                "name": name,
                "settings": json.loads(settings),
                "uuid": str(uuid.uuid4()),
                "created_at": now,
                "updated_at": now,
                "row_version": 1,
            }
            for account_id, name in accounts
        ],
    )


def downgrade() -> None:
    bind = op.get_bind()
    created_by = (
        "settings->>'created_by'"
        if bind.dialect.name == "postgresql"
        else "json_extract(settings, '$.created_by')"
    )
    op.execute(
        f"DELETE FROM institutions WHERE {created_by} = 'backfill' "
        "AND NOT EXISTS (SELECT 1 FROM cohorts c WHERE c.institution_id = institutions.id) "
        "AND NOT EXISTS (SELECT 1 FROM sponsors s WHERE s.institution_id = institutions.id)"
    )

"""DocuSeal's core tables (standalone mode only) and CohortDesk's install record.

In standalone mode this creates the DocuSeal tables the five CohortDesk tables point at, with
DocuSeal's names and types. In attach mode DocuSeal already created them and they are left alone.
The mode is recorded in ``cohortdesk_install`` so the downgrade drops only what this revision made.

Revision ID: 0001_docuseal_core
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_docuseal_core"
down_revision = None
branch_labels = None
depends_on = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _install_mode() -> str:
    mode = op.get_context().config.attributes.get("install_mode") if op.get_context().config else None
    if mode in ("standalone", "attach"):
        return str(mode)
    return "attach" if sa.inspect(op.get_bind()).has_table("accounts") else "standalone"


def upgrade() -> None:
    op.create_table(
        "cohortdesk_install",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_cohortdesk_install")),
    )
    mode = _install_mode()
    op.bulk_insert(
        sa.table("cohortdesk_install", sa.column("key", sa.String), sa.column("value", sa.Text)),
        [{"key": "mode", "value": mode}],
    )
    if mode == "standalone":
        _create_docuseal_tables()


def _create_docuseal_tables() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("locale", sa.String(), nullable=False),
        sa.Column("uuid", sa.String(), nullable=False),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("uuid", name=op.f("uq_accounts_uuid")),
    )
    op.create_table(
        "active_storage_blobs",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("filename", sa.String(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=True),
        sa.Column("service_name", sa.String(), nullable=False),
        sa.Column("byte_size", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(), nullable=True),
        sa.Column("uuid", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_active_storage_blobs")),
        sa.UniqueConstraint("key", name=op.f("uq_active_storage_blobs_key")),
        sa.UniqueConstraint("uuid", name=op.f("uq_active_storage_blobs_uuid")),
    )
    op.create_table(
        "active_storage_attachments",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("record_type", sa.String(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("blob_id", sa.BigInteger(), nullable=False),
        sa.Column("uuid", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blob_id"],
            ["active_storage_blobs.id"],
            name=op.f("fk_active_storage_attachments_blob_id_active_storage_blobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_active_storage_attachments")),
    )
    op.create_table(
        "users",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("encrypted_password", sa.String(), nullable=False),
        sa.Column("first_name", sa.String(), nullable=True),
        sa.Column("last_name", sa.String(), nullable=True),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("uuid", sa.String(), nullable=False),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("reset_password_token", sa.String(), nullable=True),
        sa.Column("reset_password_sent_at", sa.DateTime(), nullable=True),
        sa.Column("remember_created_at", sa.DateTime(), nullable=True),
        sa.Column("sign_in_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("current_sign_in_at", sa.DateTime(), nullable=True),
        sa.Column("last_sign_in_at", sa.DateTime(), nullable=True),
        sa.Column("current_sign_in_ip", sa.String(), nullable=True),
        sa.Column("last_sign_in_ip", sa.String(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("unlock_token", sa.String(), nullable=True),
        sa.Column("locked_at", sa.DateTime(), nullable=True),
        sa.Column("otp_secret", sa.String(), nullable=True),
        sa.Column("consumed_timestep", sa.Integer(), nullable=True),
        sa.Column("otp_required_for_login", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_users_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("reset_password_token", name=op.f("uq_users_reset_password_token")),
        sa.UniqueConstraint("unlock_token", name=op.f("uq_users_unlock_token")),
        sa.UniqueConstraint("uuid", name=op.f("uq_users_uuid")),
    )
    op.create_table(
        "template_folders",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("parent_folder_id", sa.BigInteger(), nullable=True),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_template_folders_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_template_folders_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["parent_folder_id"],
            ["template_folders.id"],
            name=op.f("fk_template_folders_parent_folder_id_template_folders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_folders")),
    )
    op.create_table(
        "templates",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("folder_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("schema", sa.Text(), nullable=False),
        sa.Column("submitters", sa.Text(), nullable=False),
        sa.Column("preferences", sa.Text(), nullable=False),
        sa.Column("variables_schema", sa.Text(), nullable=True),
        sa.Column("shared_link", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_templates_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_templates_author_id_users")),
        sa.ForeignKeyConstraint(
            ["folder_id"], ["template_folders.id"], name=op.f("fk_templates_folder_id_template_folders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
        sa.UniqueConstraint("slug", name=op.f("uq_templates_slug")),
    )
    op.create_table(
        "submissions",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("template_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("submitters_order", sa.String(), nullable=False),
        sa.Column("template_fields", sa.Text(), nullable=True),
        sa.Column("template_schema", sa.Text(), nullable=True),
        sa.Column("template_submitters", sa.Text(), nullable=True),
        sa.Column("preferences", sa.Text(), nullable=False),
        sa.Column("variables", sa.Text(), nullable=True),
        sa.Column("variables_schema", sa.Text(), nullable=True),
        sa.Column("expire_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["users.id"], name=op.f("fk_submissions_created_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"], ["templates.id"], name=op.f("fk_submissions_template_id_templates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint("slug", name=op.f("uq_submissions_slug")),
    )
    op.create_table(
        "submitters",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("submission_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("uuid", sa.String(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("external_id", sa.String(), nullable=True),
        sa.Column("values", sa.Text(), nullable=False),
        sa.Column("preferences", sa.Text(), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("declined_at", sa.DateTime(), nullable=True),
        sa.Column("ip", sa.String(), nullable=True),
        sa.Column("ua", sa.String(), nullable=True),
        sa.Column("timezone", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_submitters_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submitters")),
        sa.UniqueConstraint("slug", name=op.f("uq_submitters_slug")),
    )
    op.create_index(
        op.f("ix_active_storage_blobs_checksum"), "active_storage_blobs", ["checksum"], unique=False
    )
    op.create_index(
        op.f("ix_active_storage_attachments_blob_id"), "active_storage_attachments", ["blob_id"], unique=False
    )
    op.create_index(
        "ix_active_storage_attachments_record",
        "active_storage_attachments",
        ["record_type", "record_id", "name", "blob_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_active_storage_attachments_uuid"), "active_storage_attachments", ["uuid"], unique=False
    )
    op.create_index(op.f("ix_users_account_id"), "users", ["account_id"], unique=False)
    op.create_index(op.f("ix_template_folders_account_id"), "template_folders", ["account_id"], unique=False)
    op.create_index(op.f("ix_template_folders_author_id"), "template_folders", ["author_id"], unique=False)
    op.create_index(op.f("ix_templates_external_id"), "templates", ["external_id"], unique=False)
    op.create_index("ix_submissions_account_id_id", "submissions", ["account_id", "id"], unique=False)
    op.create_index("ix_submitters_account_id_id", "submitters", ["account_id", "id"], unique=False)
    op.create_index(op.f("ix_submitters_email"), "submitters", ["email"], unique=False)
    op.create_index(op.f("ix_submitters_external_id"), "submitters", ["external_id"], unique=False)
    op.create_index(op.f("ix_submitters_submission_id"), "submitters", ["submission_id"], unique=False)


def downgrade() -> None:
    row = op.get_bind().execute(sa.text("SELECT value FROM cohortdesk_install WHERE key = 'mode'")).first()
    if row is not None and row[0] == "standalone":
        op.drop_index("ix_submitters_submission_id", table_name="submitters")
        op.drop_index("ix_submitters_external_id", table_name="submitters")
        op.drop_index("ix_submitters_email", table_name="submitters")
        op.drop_index("ix_submitters_account_id_id", table_name="submitters")
        op.drop_index("ix_submissions_account_id_id", table_name="submissions")
        op.drop_index("ix_templates_external_id", table_name="templates")
        op.drop_index("ix_template_folders_author_id", table_name="template_folders")
        op.drop_index("ix_template_folders_account_id", table_name="template_folders")
        op.drop_index("ix_users_account_id", table_name="users")
        op.drop_index("ix_active_storage_attachments_uuid", table_name="active_storage_attachments")
        op.drop_index("ix_active_storage_attachments_record", table_name="active_storage_attachments")
        op.drop_index("ix_active_storage_attachments_blob_id", table_name="active_storage_attachments")
        op.drop_index("ix_active_storage_blobs_checksum", table_name="active_storage_blobs")
        op.drop_table("submitters")
        op.drop_table("submissions")
        op.drop_table("templates")
        op.drop_table("template_folders")
        op.drop_table("users")
        op.drop_table("active_storage_attachments")
        op.drop_table("active_storage_blobs")
        op.drop_table("accounts")
    op.drop_table("cohortdesk_install")

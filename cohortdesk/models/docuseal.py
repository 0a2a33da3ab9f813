"""DocuSeal's own tables that CohortDesk reads and points foreign keys at.

Mapped from the published facts about DocuSeal's schema (release 3.1.7): bigint ids, JSON kept as
text, ``timestamp without time zone`` holding UTC, soft deletes through ``archived_at``. CohortDesk
never alters these tables; in *standalone* mode the first migration creates them so a database of our
own has the same shape, in *attach* mode they already exist and are left untouched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from cohortdesk.models.base import Base
from cohortdesk.models.types import BigIntPK, JSONText, NaiveUTCDateTime, utcnow

DOCUSEAL_TABLES = frozenset(
    {
        "accounts",
        "users",
        "template_folders",
        "templates",
        "submissions",
        "submitters",
        "active_storage_blobs",
        "active_storage_attachments",
    }
)


def _ts(nullable: bool = True) -> Mapped[Any]:
    return mapped_column(NaiveUTCDateTime, nullable=nullable)


def _secret(type_: Any, **kwargs: Any) -> Mapped[Any]:
    """A column CohortDesk must never load: left out of every SELECT, raising if accessed."""
    return mapped_column(type_, deferred=True, deferred_raiseload=True, **kwargs)


class _Stamped:
    created_at: Mapped[datetime] = mapped_column(NaiveUTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        NaiveUTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )


class Account(_Stamped, Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String, nullable=False)
    timezone: Mapped[str] = mapped_column(String, nullable=False, default="UTC")
    locale: Mapped[str] = mapped_column(String, nullable=False, default="en-US")
    uuid: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    archived_at: Mapped[datetime | None] = _ts()


class User(_Stamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False, index=True)
    email: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    # DocuSeal's sign-in secrets and bookkeeping: CohortDesk never reads them, so they are deferred and
    # raise if touched. A CohortDesk login reads ``users`` through a view that does not have them.
    encrypted_password: Mapped[str] = _secret(String, nullable=False, default="")
    first_name: Mapped[str | None] = mapped_column(String)
    last_name: Mapped[str | None] = mapped_column(String)
    role: Mapped[str] = mapped_column(String, nullable=False, default="admin")
    uuid: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    archived_at: Mapped[datetime | None] = _ts()
    reset_password_token: Mapped[str | None] = _secret(String, unique=True)
    reset_password_sent_at: Mapped[datetime | None] = _secret(NaiveUTCDateTime)
    remember_created_at: Mapped[datetime | None] = _secret(NaiveUTCDateTime)
    sign_in_count: Mapped[int] = _secret(Integer, nullable=False, default=0, server_default=text("0"))
    current_sign_in_at: Mapped[datetime | None] = _secret(NaiveUTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = _secret(NaiveUTCDateTime)
    current_sign_in_ip: Mapped[str | None] = _secret(String)
    last_sign_in_ip: Mapped[str | None] = _secret(String)
    failed_attempts: Mapped[int] = _secret(Integer, nullable=False, default=0, server_default=text("0"))
    unlock_token: Mapped[str | None] = _secret(String, unique=True)
    locked_at: Mapped[datetime | None] = _secret(NaiveUTCDateTime)
    otp_secret: Mapped[str | None] = _secret(String)
    consumed_timestep: Mapped[int | None] = _secret(Integer)
    otp_required_for_login: Mapped[bool] = _secret(
        Boolean, nullable=False, default=False, server_default=text("false")
    )

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @hybrid_property
    def display_name(self) -> str:
        """How a person is named on screens and in reports: first and last name, else the e-mail
        address. On the class (or an alias of it) the same rule as SQL."""
        return self.full_name or self.email

    @display_name.inplace.expression
    @classmethod
    def _display_name_sql(cls) -> ColumnElement[str]:
        full = func.trim(func.coalesce(cls.first_name, "") + " " + func.coalesce(cls.last_name, ""))
        return func.coalesce(func.nullif(full, ""), cls.email)


class TemplateFolder(_Stamped, Base):
    __tablename__ = "template_folders"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False, index=True)
    author_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String, nullable=False)
    parent_folder_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("template_folders.id"))
    archived_at: Mapped[datetime | None] = _ts()


class Template(_Stamped, Base):
    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False)
    author_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False)
    folder_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("template_folders.id"), nullable=False)
    name: Mapped[str] = mapped_column(String, nullable=False)
    slug: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    external_id: Mapped[str | None] = mapped_column(String, index=True)
    source: Mapped[str] = mapped_column(Text, nullable=False, default="native")
    fields: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
    schema: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
    submitters: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
    preferences: Mapped[Any] = mapped_column(JSONText, nullable=False, default=dict)
    variables_schema: Mapped[Any | None] = mapped_column(JSONText)
    shared_link: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )
    archived_at: Mapped[datetime | None] = _ts()


class Submission(_Stamped, Base):
    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, nullable=False)  # no FK in DocuSeal
    template_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("templates.id"))
    created_by_user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    name: Mapped[str | None] = mapped_column(Text)
    slug: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    source: Mapped[str] = mapped_column(String, nullable=False, default="link")
    submitters_order: Mapped[str] = mapped_column(String, nullable=False, default="random")
    template_fields: Mapped[Any | None] = mapped_column(JSONText)
    template_schema: Mapped[Any | None] = mapped_column(JSONText)
    template_submitters: Mapped[Any | None] = mapped_column(JSONText)
    preferences: Mapped[Any] = mapped_column(JSONText, nullable=False, default=dict)
    variables: Mapped[Any | None] = mapped_column(JSONText)
    variables_schema: Mapped[Any | None] = mapped_column(JSONText)
    expire_at: Mapped[datetime | None] = _ts()
    completed_at: Mapped[datetime | None] = _ts()
    archived_at: Mapped[datetime | None] = _ts()


class Submitter(_Stamped, Base):
    __tablename__ = "submitters"
    __table_args__ = (Index("ix_submitters_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("submissions.id"), nullable=False, index=True
    )
    account_id: Mapped[int] = mapped_column(BigInteger, nullable=False)  # no FK in DocuSeal
    uuid: Mapped[str] = mapped_column(String, nullable=False)  # the role uuid, not unique
    slug: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    email: Mapped[str | None] = mapped_column(String, index=True)
    name: Mapped[str | None] = mapped_column(String)
    phone: Mapped[str | None] = mapped_column(String)
    external_id: Mapped[str | None] = mapped_column(String, index=True)
    values: Mapped[Any] = mapped_column(JSONText, nullable=False, default=dict)
    preferences: Mapped[Any] = mapped_column(JSONText, nullable=False, default=dict)
    submitter_metadata: Mapped[Any] = mapped_column("metadata", JSONText, nullable=False, default=dict)
    sent_at: Mapped[datetime | None] = _ts()
    opened_at: Mapped[datetime | None] = _ts()
    completed_at: Mapped[datetime | None] = _ts()
    declined_at: Mapped[datetime | None] = _ts()
    ip: Mapped[str | None] = mapped_column(String)
    ua: Mapped[str | None] = mapped_column(String)
    timezone: Mapped[str | None] = mapped_column(String)


class ActiveStorageBlob(Base):
    __tablename__ = "active_storage_blobs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    key: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    filename: Mapped[str] = mapped_column(String, nullable=False)
    content_type: Mapped[str | None] = mapped_column(String)
    blob_metadata: Mapped[Any | None] = mapped_column("metadata", JSONText)
    service_name: Mapped[str] = mapped_column(String, nullable=False, default="disk")
    byte_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    checksum: Mapped[str | None] = mapped_column(String, index=True)
    uuid: Mapped[str | None] = mapped_column(String, unique=True)
    created_at: Mapped[datetime] = mapped_column(NaiveUTCDateTime, nullable=False, default=utcnow)


class ActiveStorageAttachment(Base):
    __tablename__ = "active_storage_attachments"
    __table_args__ = (
        Index("ix_active_storage_attachments_record", "record_type", "record_id", "name", "blob_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String, nullable=False)
    record_type: Mapped[str] = mapped_column(String, nullable=False)
    record_id: Mapped[int] = mapped_column(BigInteger, nullable=False)  # polymorphic, no FK
    blob_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("active_storage_blobs.id"), nullable=False, index=True
    )
    uuid: Mapped[str] = mapped_column(String, nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(NaiveUTCDateTime, nullable=False, default=utcnow)

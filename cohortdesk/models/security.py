"""The two tables the security migration adds: who each database login is, and the access log.

``cohortdesk_users`` maps a PostgreSQL login role (``session_user``) to a DocuSeal user, the account
(tenant key) and institution it works for, its CohortDesk role and extra capabilities. Only the owner
role writes it; every row-level policy derives the login's institution from it, never from anything a
client can ``SET``. Removing a person sets ``active`` to false and keeps the row, so names in the
audit trail stay resolvable and a login name is never handed to somebody else.

``cohortdesk_access_log`` is append-only (triggers refuse UPDATE, DELETE and TRUNCATE on PostgreSQL):
each document view, reveal of special personal information, export and permission change, with who,
when, what and why. It stores ids and field names, never document contents or ID numbers.

Both tables exist on SQLite too (one schema for both backends); there the single local person writes
the access log directly and the mapping stays empty.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from cohortdesk.enums import AccessKind, AppRole, check_in
from cohortdesk.models.base import Base
from cohortdesk.models.types import BigIntPK, JSONDocument, TextList, UTCDateTime, utcnow

#: PostgreSQL identifiers are at most 63 bytes.
ROLE_NAME_LENGTH = 63


class LoginMapping(Base):
    __tablename__ = "cohortdesk_users"
    __table_args__ = (
        CheckConstraint(check_in("app_role", AppRole), name="app_role"),
        Index("ix_cohortdesk_users_account_id", "account_id"),
        Index("ix_cohortdesk_users_user_id", "user_id"),
        # One person, one active login: nobody acts in a colleague's name through a second login.
        Index(
            "ux_cohortdesk_users_active_user_id",
            "user_id",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
    )

    db_role: Mapped[str] = mapped_column(String(ROLE_NAME_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False)
    institution_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("institutions.id"), nullable=False)
    app_role: Mapped[str] = mapped_column(String(20), nullable=False)
    capabilities: Mapped[list[str]] = mapped_column(TextList, nullable=False, default=list)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(ROLE_NAME_LENGTH))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccessLogEntry(Base):
    __tablename__ = "cohortdesk_access_log"
    __table_args__ = (
        CheckConstraint(check_in("kind", AccessKind), name="kind"),
        Index("ix_cohortdesk_access_log_account_id_at", "account_id", "at"),
        Index("ix_cohortdesk_access_log_object", "object_table", "object_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    #: The login role (``session_user``) on PostgreSQL; the local person on SQLite.
    actor: Mapped[str] = mapped_column(String(ROLE_NAME_LENGTH), nullable=False)
    user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    object_table: Mapped[str | None] = mapped_column(String(ROLE_NAME_LENGTH))
    object_id: Mapped[int | None] = mapped_column(BigInteger)
    purpose: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False, default=dict)

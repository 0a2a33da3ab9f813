"""The declarative base: one ``MetaData`` with a naming convention, so every constraint and index
has a stable name that migrations and autogenerate agree on."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import BigInteger, ForeignKey, MetaData, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from cohortdesk.models.types import BigIntPK, UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    #: Every model maps exactly one table (never a join or a select), so services may write to it
    #: with Core ``insert``/``update``/``delete``.
    __table__: ClassVar[Table]


def new_uuid() -> str:
    return str(uuid.uuid4())


class CohortDeskTable:
    """Columns every CohortDesk-owned table carries.

    ``uuid`` is the public identifier (safe in URLs, files and sync payloads), ``row_version`` the
    optimistic-concurrency counter SQLAlchemy checks on every flush, and ``account_id`` the tenant key
    (the DocuSeal account of the institution), so a tenant filter never needs a join.
    """

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), nullable=False, unique=True, default=new_uuid)

    @declared_attr
    @classmethod
    def account_id(cls) -> Mapped[int]:
        return mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    row_version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=1)

    @declared_attr.directive
    @classmethod
    def __mapper_args__(cls) -> dict[str, object]:
        return {"version_id_col": cls.__table__.c.row_version}  # type: ignore[attr-defined]  # a mixin

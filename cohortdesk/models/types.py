"""Column types shared by the ORM classes, chosen to behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, Text, TypeDecorator
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

#: bigint on PostgreSQL; SQLite only auto-increments an ``INTEGER PRIMARY KEY``.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

#: ``jsonb`` on PostgreSQL, JSON (text) on SQLite: the JSON attributes of CohortDesk's own tables.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

#: ``text[]`` on PostgreSQL (usable in SQL policies: ``'special_pi' = ANY(capabilities)``), JSON on SQLite.
TextList = JSON().with_variant(ARRAY(Text()), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in time, always returned as an aware UTC ``datetime``.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is stored as naive UTC
    and made aware again on the way out. Naive input is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class NaiveUTCDateTime(TypeDecorator[datetime]):
    """DocuSeal's ``timestamp without time zone`` holding UTC; aware UTC in Python."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class JSONText(TypeDecorator[Any]):
    """DocuSeal's JSON kept as text in a ``text`` column (never json/jsonb)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


def utcnow() -> datetime:
    return datetime.now(UTC)

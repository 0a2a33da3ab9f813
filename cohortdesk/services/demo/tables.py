"""Writing the demo's rows: set-based inserts through the columns' own converters, ids handed out before
the rows exist (so children can point at parents), and the tables in the order they are filled."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from cohortdesk.models import (
    Account,
    ActiveStorageAttachment,
    ActiveStorageBlob,
    Cohort,
    CohortEnrollment,
    DocumentVerification,
    Institution,
    Sponsor,
    Submission,
    Submitter,
    Template,
    TemplateFolder,
    User,
)
from cohortdesk.models.types import NaiveUTCDateTime, UTCDateTime

INSERT_CHUNK = 5000


RowsHook = Callable[[Table, str, list[tuple[Any, ...]]], None]


def bulk_insert(
    session: Session, table: Table, rows: list[dict[str, Any]], on_rows: RowsHook | None = None
) -> None:
    """Insert ``rows`` (dicts with the same keys) set-based: one ``executemany`` per chunk.

    Values go through the columns' own SQLAlchemy bind processors (JSON, UTC timestamps, booleans),
    applied once per value into plain tuples; the statement goes to the driver as is. The generic
    ``session.execute(insert(table), rows)`` spends most of its time building per-row parameter
    dictionaries, which matters at a million rows. (Multi-row ``VALUES`` statements measured slower
    than psycopg 3's pipelined ``executemany`` here.)
    """
    connection = session.connection()
    dialect = connection.dialect
    columns = [table.c[name] for name in rows[0]]
    processors = [bind_converter(column.type, dialect) for column in columns]
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    names = [c.name for c in columns]
    converters = [(name, fn) for name, fn in zip(names, processors, strict=True)]
    for start in range(0, len(rows), INSERT_CHUNK):
        params = [
            tuple(fn(row[name]) if fn is not None else row[name] for name, fn in converters)
            for row in rows[start : start + INSERT_CHUNK]
        ]
        connection.exec_driver_sql(sql, params)
        if on_rows is not None:
            on_rows(table, sql, params)


def sqlite_utc_text(value: datetime | None) -> str | None:
    """``UTCDateTime``/``NaiveUTCDateTime`` bound for SQLite exactly as SQLAlchemy binds them (naive
    values are UTC already, aware ones are turned to UTC; ``YYYY-MM-DD HH:MM:SS.ffffff``), in one C
    call instead of a chain of Python ones: timestamps were most of the demo's conversion time."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def bind_converter(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """The column's bind processor (``None`` when values go to the driver as they are)."""
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime | NaiveUTCDateTime):
        return sqlite_utc_text
    return type_.dialect_impl(dialect).bind_processor(dialect)


class IdBlocks:
    """Primary keys handed out before the rows are inserted, so children can point at parents.

    PostgreSQL: blocks of ``nextval`` from the table's own sequence (gaps are harmless). SQLite: above
    the current maximum, read while this transaction holds the write lock.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self._free: dict[str, list[int]] = {}
        self._block: dict[str, int] = {}
        self._next: dict[str, int] = {}

    def take(self, table: str) -> int:
        if not self.postgres:
            if table not in self._next:
                top = self.session.execute(text(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')).scalar_one()
                self._next[table] = int(top) + 1
            value = self._next[table]
            self._next[table] = value + 1
            return value
        free = self._free.setdefault(table, [])
        if not free:
            size = min(self._block.get(table, 64) * 4, 50_000)
            self._block[table] = size
            free.extend(
                reversed(
                    self.session.execute(
                        text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                        {"t": table, "n": size},
                    )
                    .scalars()
                    .all()
                )
            )
        return int(free.pop())


def iter_demo_tables() -> Iterator[Table]:
    """The tables ``load_demo`` writes, parents first (benchmarks replay rows in this order)."""
    for model in (Account, User, TemplateFolder, ActiveStorageBlob, Template, ActiveStorageAttachment,
                  Institution, Sponsor, Cohort, Submission, Submitter, CohortEnrollment, DocumentVerification):  # fmt: skip
        yield model.__table__

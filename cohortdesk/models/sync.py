"""Tables of the offline-first sync (``docs/claims-sync-security.md``, Sync).

The same Alembic schema serves the server (PostgreSQL) and every laptop (SQLite), so every table
below exists on both; each is *used* on one side only:

Server side
    ``tenant_clock``        one change counter per tenant (account), bumped by a trigger in the writing
                            transaction; its row lock makes counter values visible in commit order.
    ``sync_device``         one row per laptop installation: idempotency cursor (``last_mutation_id``),
                            pull cursor, schema version, revoked flag.
    ``sync_conflict``       every edit that could not be applied as sent: kept, never dropped.
                            Laptops keep a copy of their own (the conflict inbox).
    ``sync_schema``         the oldest and newest client sync schema the server accepts.
    ``sync_id_reservation`` ids drawn from a table's own sequence and handed to one device.

Laptop side
    ``sync_state``          this store's device id, server, tenant, pull cursor and mutation counter.
    ``sync_outbox``         every local edit, in order, until the server acknowledged it.
    ``sync_id_pool``        reserved ids not yet spent on rows created here.

``SyncedColumns`` adds ``change_seq`` (the tenant counter value of the row's last change),
``deleted_at`` (tombstone: synced rows are never hard-deleted) and ``updated_by`` (login of the last
writer, for the conflict inbox) to the four synced tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from cohortdesk.models.base import Base
from cohortdesk.models.types import BigIntPK, JSONDocument, UTCDateTime, utcnow

#: The tables laptops edit offline, parents before children (the pull and apply order).
SYNCED_TABLES = ("institutions", "sponsors", "cohorts", "cohort_enrollments")

CONFLICT_KINDS = (
    "field_conflict",
    "row_deleted",
    "parent_deleted",
    "delete_vs_edit",
    "duplicate",
    "rejected",
)
CONFLICT_STATUSES = ("open", "kept_mine", "kept_theirs", "merged", "withdrawn")
OUTBOX_STATUSES = ("pending", "sent", "acknowledged")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class SyncedColumns:
    """Bookkeeping columns of every synced table. On PostgreSQL a trigger owns all three."""

    change_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default=text("0"))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(63))


# --- server side ----------------------------------------------------------------------------------


class TenantClock(Base):
    __tablename__ = "tenant_clock"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id"), primary_key=True, autoincrement=False
    )
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default=text("0"))
    # The block of counter values one transaction is using (written only by the stamp trigger):
    # the owning top-level transaction id, the block's first value, the stamp ticket it started at.
    block_owner: Mapped[int | None] = mapped_column(BigInteger)
    block_start: Mapped[int | None] = mapped_column(BigInteger)
    block_ticket: Mapped[int | None] = mapped_column(BigInteger)


class SyncSchema(Base):
    """A single row (``id = 1``): the sync payload versions the server accepts."""

    __tablename__ = "sync_schema"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    min_client_schema: Mapped[int] = mapped_column(Integer, nullable=False)
    current_client_schema: Mapped[int] = mapped_column(Integer, nullable=False)


class SyncDevice(Base):
    __tablename__ = "sync_device"
    __table_args__ = (Index("ix_sync_device_account_id", "account_id"),)

    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False)
    db_role: Mapped[str] = mapped_column(String(63), nullable=False)
    label: Mapped[str | None] = mapped_column(String(255))
    last_mutation_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_pulled_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    schema_version: Mapped[int] = mapped_column(Integer, nullable=False)
    app_version: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class SyncConflict(Base):
    """An edit (or part of one) that was not applied as sent; ``mine`` holds it until resolved.

    ``field`` is set for ``field_conflict`` (a column, or ``settings.<key>`` / ``student_data.<key>``
    for the JSON objects merged key by key); row-level kinds leave it empty and keep the whole edit
    (a full row for inserts, ``{field: [old, new]}`` for updates) in ``mine``.
    """

    __tablename__ = "sync_conflict"
    __table_args__ = (
        CheckConstraint(_in("kind", CONFLICT_KINDS), name="kind"),
        CheckConstraint(_in("status", CONFLICT_STATUSES), name="status"),
        Index("ix_sync_conflict_account_id_device_id_status", "account_id", "device_id", "status"),
        Index("ix_sync_conflict_table_name_row_id", "table_name", "row_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False)
    device_id: Mapped[str] = mapped_column(String(36), nullable=False)
    mutation_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    op: Mapped[str] = mapped_column(String(20), nullable=False)
    table_name: Mapped[str] = mapped_column(String(64), nullable=False)
    row_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    field: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    base_value: Mapped[Any] = mapped_column(JSONDocument, nullable=True)
    mine: Mapped[Any] = mapped_column(JSONDocument, nullable=True)
    theirs: Mapped[Any] = mapped_column(JSONDocument, nullable=True)
    detail: Mapped[str | None] = mapped_column(Text)
    server_row_version: Mapped[int | None] = mapped_column(BigInteger)
    theirs_updated_by: Mapped[str | None] = mapped_column(String(63))
    theirs_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    resolved_by: Mapped[str | None] = mapped_column(String(63))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[Any] = mapped_column(JSONDocument, nullable=True)


class SyncIdReservation(Base):
    """An id drawn with ``nextval`` from ``table_name``'s own sequence for one device."""

    __tablename__ = "sync_id_reservation"
    __table_args__ = (Index("ix_sync_id_reservation_device_id", "device_id"),)

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False)
    device_id: Mapped[str] = mapped_column(String(36), nullable=False)
    reserved_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- laptop side ----------------------------------------------------------------------------------


class SyncState(Base):
    """A single row (``id = 1``) describing this local store's place in the sync."""

    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    device_id: Mapped[str] = mapped_column(String(36), nullable=False)
    account_id: Mapped[int | None] = mapped_column(BigInteger)
    server_url: Mapped[str | None] = mapped_column(Text)
    last_pulled_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    schema_version: Mapped[int] = mapped_column(Integer, nullable=False)
    #: The outbox's mutation counter: never decreases, even when acknowledged entries are pruned.
    last_mutation_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    clock_offset_seconds: Mapped[int | None] = mapped_column(Integer)


class SyncOutbox(Base):
    __tablename__ = "sync_outbox"
    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        Index("ix_sync_outbox_status_mutation_id", "status", "mutation_id"),
        Index("ix_sync_outbox_table_name_row_id", "table_name", "row_id"),
    )

    mutation_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    table_name: Mapped[str] = mapped_column(String(64), nullable=False)
    row_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    op: Mapped[str] = mapped_column(String(20), nullable=False)
    base_row_version: Mapped[int | None] = mapped_column(BigInteger)
    changes_json: Mapped[Any] = mapped_column(JSONDocument, nullable=False)
    schema_version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    result: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncIdPool(Base):
    __tablename__ = "sync_id_pool"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


SYNC_TABLES = (
    "tenant_clock",
    "sync_schema",
    "sync_device",
    "sync_conflict",
    "sync_id_reservation",
    "sync_state",
    "sync_outbox",
    "sync_id_pool",
)

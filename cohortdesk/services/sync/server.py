"""The server's side of the sync, run on a PostgreSQL connection as the laptop's own login.

* ``handshake``: which tenant (account) this login syncs, registers the device, checks it belongs to
  the login and is active, checks the client's sync schema, and reads the server clock.
* ``reserve_ids``: draws ids for offline-created rows through ``cohortdesk_reserve_ids``.
* ``write``: configuration writes through the server's one write function, ``cohortdesk_write``.
* ``read_*``: what a pull reads inside its REPEATABLE READ READ ONLY snapshot.

Applying a pushed batch (the three-way rule, conflicts, one result per mutation) is ``sync.push``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError

from cohortdesk.db import migrate
from cohortdesk.errors import PermissionDenied, SchemaError, SyncError, SyncSchemaTooOld
from cohortdesk.models import (
    Account,
    SyncConflict,
    SyncDevice,
    SyncSchema,
    Template,
    TemplateFolder,
    TenantClock,
    User,
)
from cohortdesk.services.sync.spec import SPECS, SYNC_SCHEMA_VERSION

log = logging.getLogger(__name__)

_device = SyncDevice.__table__
_conflict = SyncConflict.__table__
_clock = TenantClock.__table__
_schema = SyncSchema.__table__

#: Columns of DocuSeal's tables copied to laptops (never secrets such as ``encrypted_password``).
REFERENCE_COLUMNS = {
    "accounts": ("id", "name", "timezone", "locale", "uuid", "archived_at", "created_at", "updated_at"),
    "users": (
        "id",
        "account_id",
        "email",
        "first_name",
        "last_name",
        "role",
        "uuid",
        "archived_at",
        "created_at",
        "updated_at",
    ),
    "template_folders": (
        "id",
        "account_id",
        "author_id",
        "name",
        "parent_folder_id",
        "archived_at",
        "created_at",
        "updated_at",
    ),
    "templates": (
        "id",
        "account_id",
        "author_id",
        "folder_id",
        "name",
        "slug",
        "external_id",
        "source",
        "archived_at",
        "created_at",
        "updated_at",
    ),
}
REFERENCE_MODELS = {
    "accounts": Account,
    "users": User,
    "template_folders": TemplateFolder,
    "templates": Template,
}


@dataclass(frozen=True)
class Handshake:
    account_id: int
    device_id: str
    db_role: str
    last_mutation_id: int
    last_pulled_seq: int
    min_client_schema: int
    current_client_schema: int
    server_time: datetime


# --- handshake, ids ------------------------------------------------------------------------------


def resolve_account(conn: Connection, preferred: int | None) -> int:
    """The tenant this login syncs: the security mapping's account when it exists, else the one asked
    for, else the only institution's."""
    has_mapping = conn.scalar(text("SELECT to_regproc('cohortdesk_current_account') IS NOT NULL"))
    if has_mapping:
        mapped = conn.scalar(text("SELECT cohortdesk_current_account()"))
        if mapped is not None:
            if preferred is not None and int(preferred) != int(mapped):
                raise PermissionDenied(
                    "This login belongs to another institution than the one this laptop syncs."
                )
            return int(mapped)
    if preferred is not None:
        return int(preferred)
    accounts = conn.scalars(
        text("SELECT DISTINCT account_id FROM institutions WHERE deleted_at IS NULL ORDER BY account_id")
    ).all()
    if len(accounts) == 1:
        return int(accounts[0])
    raise SyncError(
        "The server holds several institutions and this login is not mapped to one: choose the account "
        "to sync (cohortdesk sync --account ID)."
    )


def check_server_revision(conn: Connection) -> None:
    """Refuse a server whose schema revision this version does not know (as ``db current`` does):
    a newer CohortDesk upgraded it, and its tables may mean something this laptop would get wrong."""
    try:
        with conn.begin_nested():
            revisions = conn.scalars(text(f"SELECT version_num FROM {migrate.VERSION_TABLE}")).all()
    except DBAPIError as exc:
        raise SchemaError(
            "The server has no CohortDesk schema this laptop can read (no migration record). Ask your "
            "administrator to run cohortdesk db upgrade on it; your changes stay on this laptop."
        ) from exc
    unknown = sorted(set(revisions) - migrate.known_revisions())
    if unknown:
        raise SchemaError(
            f"{SyncSchemaTooOld.PREFIX}: the server's database is at schema revision {unknown[0]!r}, "
            "which this version does not know (a newer CohortDesk upgraded it). Update CohortDesk on "
            "this laptop, then sync again; nothing was sent and your changes stay here."
        )


def handshake(
    conn: Connection,
    device_id: str,
    *,
    account_id: int | None,
    label: str | None = None,
    app_version: str | None = None,
    client_schema: int = SYNC_SCHEMA_VERSION,
    waiting: int = 0,
) -> Handshake:
    check_server_revision(conn)
    account = resolve_account(conn, account_id)
    schema = conn.execute(select(_schema).where(_schema.c.id == 1)).first()
    if schema is None:
        raise SyncError("The server has no sync schema record; upgrade its database (cohortdesk db upgrade).")
    if client_schema < schema.min_client_schema:
        raise SyncSchemaTooOld(client_schema, schema.min_client_schema, waiting)
    if client_schema > schema.current_client_schema:
        raise SyncError(
            f"This laptop speaks sync schema {client_schema}, newer than the server's "
            f"{schema.current_client_schema}: the server database must be upgraded first. "
            "Your changes stay on this laptop."
        )
    role = conn.scalar(text("SELECT session_user"))
    now = conn.scalar(text("SELECT clock_timestamp()"))
    conn.execute(
        text("SELECT cohortdesk_sync_register(:d, :a, :label, :v, :app)"),
        {"d": device_id, "a": account, "label": label, "v": client_schema, "app": app_version},
    )
    device = conn.execute(select(_device).where(_device.c.device_id == device_id)).first()
    if device is None:
        raise PermissionDenied(f"This laptop was registered by another login than {role!r}.")
    if device.db_role != role:
        raise PermissionDenied(f"This laptop was registered by login {device.db_role!r}, not {role!r}.")
    if not device.active:
        raise PermissionDenied("This laptop's sync access was revoked on the server. Ask your administrator.")
    if device.account_id != account:
        raise PermissionDenied("This laptop syncs another institution than this login's.")
    return Handshake(
        account_id=account,
        device_id=device_id,
        db_role=role,
        last_mutation_id=device.last_mutation_id,
        last_pulled_seq=device.last_pulled_seq,
        min_client_schema=schema.min_client_schema,
        current_client_schema=schema.current_client_schema,
        server_time=now.astimezone(UTC),
    )


#: Most ids ``cohortdesk_reserve_ids`` hands out in one call.
MAX_RESERVE = 100_000


def reserve_ids(conn: Connection, device_id: str, table_name: str, count: int) -> list[int]:
    if count <= 0:
        return []
    rows = conn.execute(
        text("SELECT id FROM cohortdesk_reserve_ids(:d, :t, :n) AS id"),
        {"d": device_id, "t": table_name, "n": count},
    )
    return sorted(int(r[0]) for r in rows)


def clock(conn: Connection, account_id: int) -> int:
    return int(conn.scalar(select(_clock.c.last_seq).where(_clock.c.account_id == account_id)) or 0)


def mark_pulled(conn: Connection, device_id: str, seq: int) -> None:
    conn.execute(text("SELECT cohortdesk_sync_mark_pulled(:d, :s)"), {"d": device_id, "s": seq})


def write(conn: Connection, device_id: str | None, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run configuration writes through the server's ``cohortdesk_write`` (one round trip, one result per
    op: ``{"ok": true, ...}`` or ``{"ok": false, "code", "error"}``). ``device_id`` is the laptop whose
    reserved ids the inserts use; ``None`` lets the server's sequences choose."""
    if not ops:
        return []
    result = conn.scalar(
        text("SELECT cohortdesk_write(:d, CAST(:ops AS jsonb))"), {"d": device_id, "ops": json.dumps(ops)}
    )
    return list(result or [])


# --- pull reads ----------------------------------------------------------------------------------


def read_reference(conn: Connection, account_id: int) -> dict[str, list[dict[str, Any]]]:
    """DocuSeal rows the laptop needs (its account, users, template folders and templates), in full."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, columns in REFERENCE_COLUMNS.items():
        table = REFERENCE_MODELS[name].__table__
        key = table.c.id if name == "accounts" else table.c.account_id
        stmt = select(*(table.c[c] for c in columns)).where(key == account_id).order_by(table.c.id)
        out[name] = [dict(r._mapping) for r in conn.execute(stmt)]
    return out


def read_changes(
    conn: Connection, table_name: str, account_id: int, after: int, hi: int, limit: int
) -> list[dict[str, Any]]:
    table = SPECS[table_name].table
    stmt = (
        select(table)
        .where(table.c.account_id == account_id, table.c.change_seq > after, table.c.change_seq <= hi)
        .order_by(table.c.change_seq)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def read_rows(conn: Connection, table_name: str, account_id: int, ids: Iterable[int]) -> list[dict[str, Any]]:
    ids = sorted(set(ids))
    if not ids:
        return []
    table = SPECS[table_name].table
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        stmt = select(table).where(table.c.id.in_(chunk), table.c.account_id == account_id)
        rows.extend(dict(r._mapping) for r in conn.execute(stmt))
    return rows


def read_conflicts(
    conn: Connection, account_id: int, device_id: str, also_ids: Iterable[int] = ()
) -> list[dict[str, Any]]:
    """This device's open conflicts, plus the ones the laptop still shows open (to learn they closed)."""
    also = sorted(set(also_ids))
    condition = _conflict.c.status == "open"
    if also:
        condition = condition | _conflict.c.id.in_(also)
    stmt = (
        select(_conflict)
        .where(_conflict.c.account_id == account_id, _conflict.c.device_id == device_id, condition)
        .order_by(_conflict.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]

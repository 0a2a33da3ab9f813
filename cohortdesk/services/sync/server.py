"""The server's side of the sync, run on a PostgreSQL connection as the laptop's own login.

* ``handshake``: which tenant (account) this login syncs, registers the device, checks it belongs to
  the login and is active, checks the client's sync schema, and reads the server clock.
* ``reserve_ids``: draws ids for offline-created rows through ``cohortdesk_reserve_ids``.
* ``push``: applies one batch of outbox mutations inside the caller's transaction (one transaction
  per batch): idempotency by per-device mutation id, then the three-way per-field rule, conflicts kept
  in ``sync_conflict``, one result per mutation.
* ``read_*``: what a pull reads inside its REPEATABLE READ READ ONLY snapshot.

Three-way rule for an update ``{field: [old, new]}`` against the server's current value: equal to
``old`` → apply ``new``; equal to ``new`` → nothing to do; anything else → a ``field_conflict``
(base = old, mine = new, theirs = current) while the other fields still apply, so edits to different
fields merge. An update of a tombstoned row is ``row_deleted``, an insert under a tombstoned (or
absent) parent ``parent_deleted``, an enrollment of a learner already in the cohort ``duplicate``,
and anything failing validation or a state guard ``rejected`` with the reason. A delete whose
``base_row_version`` differs from the server's is ``delete_vs_edit`` when the row now differs from
what the laptop saw when it deleted it (changes the laptop itself pushed earlier do not count), or
when live children were added on the server; both sides are kept, no "delete wins".

Later edits of the same device to a row already waiting in the inbox are folded into that conflict
(the person's newer value replaces their older one), so the inbox shows one entry per row and field.
``last_mutation_id`` advances for conflicts and rejections too: one bad mutation never blocks the
queue and none vanishes.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, func, select, text, true
from sqlalchemy.exc import DBAPIError

from cohortdesk.db import migrate
from cohortdesk.errors import (
    PermissionDenied,
    SchemaError,
    SyncError,
    SyncSchemaTooOld,
    ValidationError,
)
from cohortdesk.models import (
    Account,
    SyncConflict,
    SyncDevice,
    SyncIdReservation,
    SyncSchema,
    Template,
    TemplateFolder,
    TenantClock,
    User,
)
from cohortdesk.services.configuration.states import cohort_blockers, enrollment_blockers
from cohortdesk.services.rows import cohort_row
from cohortdesk.services.sync.spec import (
    SPECS,
    SYNC_SCHEMA_VERSION,
    get_field,
    normalise_field,
    record_from_json,
    record_to_json,
    same,
    set_field,
    split_field,
    to_json,
    validate_record,
)

log = logging.getLogger(__name__)

_device = SyncDevice.__table__
_conflict = SyncConflict.__table__
_reservation = SyncIdReservation.__table__
_clock = TenantClock.__table__
_schema = SyncSchema.__table__

RESULT_STATUSES = ("applied", "partial_conflict", "conflict", "duplicate", "rejected")
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
class Mutation:
    """One outbox entry as it travels to the server."""

    mutation_id: int
    table_name: str
    row_id: int
    op: str
    changes: dict[str, Any]
    base_row_version: int | None = None
    schema_version: int = SYNC_SCHEMA_VERSION
    created_at: datetime | None = None


@dataclass(frozen=True)
class MutationResult:
    mutation_id: int
    status: str  # one of RESULT_STATUSES
    conflict_ids: tuple[int, ...] = ()
    detail: str | None = None


@dataclass(frozen=True)
class PushResult:
    results: tuple[MutationResult, ...]
    last_mutation_id: int
    last_seq: int
    #: Set when the batch stopped early (a gap in mutation ids); results cover what came before.
    error: str | None = None


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


# --- push ----------------------------------------------------------------------------------------


def _row_json(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else record_to_json(row)


@dataclass
class _Outcome:
    status: str
    conflict_ids: list[int] = field(default_factory=list)
    detail: str | None = None


class _Pusher:
    """Applies one batch; every target row is locked up front, then mutations run in order."""

    def __init__(self, conn: Connection, hs: Handshake) -> None:
        self.conn = conn
        self.account_id = hs.account_id
        self.device_id = hs.device_id
        self.rows: dict[tuple[str, int], dict[str, Any]] = {}
        self.reserved: dict[tuple[str, int], Any] = {}
        self.open: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        self.users: set[int] = set()
        self.templates: set[int] = set()
        self.used_ids: list[tuple[str, int]] = []
        #: New rows checked and waiting to be written together (see ``flush_inserts``).
        self.pending: list[tuple[Mutation, dict[str, Any], _Outcome]] = []
        self.pending_keys: set[tuple[str, int]] = set()
        #: Merged updates waiting for the batch's one ``cohortdesk_write`` call (see ``flush_updates``).
        self.updates: list[tuple[Mutation, dict[str, Any], _Outcome, dict[str, Any]]] = []
        #: Cohorts this batch deletes, and the deletes of their enrollments held until the cohort's own
        #: (the cohort and its enrollments go together, or all wait in one conflict).
        self.cohort_deletes: set[int] = set()
        self.held: dict[int, list[tuple[Mutation, _Outcome]]] = defaultdict(list)

    # prefetch -------------------------------------------------------------------------------------

    def prefetch(self, mutations: Sequence[Mutation]) -> None:
        targets: dict[str, set[int]] = defaultdict(set)
        inserts: dict[str, set[int]] = defaultdict(set)
        user_ids: set[int] = set()
        self.cohort_deletes = {m.row_id for m in mutations if m.table_name == "cohorts" and m.op == "delete"}
        for m in mutations:
            spec = SPECS.get(m.table_name)
            if spec is None:
                continue
            targets[m.table_name].add(m.row_id)
            if m.op == "insert":
                inserts[m.table_name].add(m.row_id)
                refs = ([spec.parent] if spec.parent else []) + list(spec.refs)
                for column, table in refs:
                    if isinstance(m.changes.get(column), int):
                        targets[table].add(m.changes[column])
                if isinstance(m.changes.get("user_id"), int):
                    user_ids.add(m.changes["user_id"])
            else:
                for column, table in spec.refs:
                    pair = m.changes.get(column)
                    if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], int):
                        targets[table].add(pair[1])
        for table_name in SPECS:  # a fixed order (parents first, then by id) keeps pushes deadlock-free
            ids = sorted(targets.get(table_name, ()))
            if not ids:
                continue
            spec_table = SPECS[table_name].table
            locked = self.conn.execute(
                text("SELECT cohortdesk_sync_lock(:t, CAST(:ids AS bigint[]))"), {"t": table_name, "ids": ids}
            ).scalars()
            for found in locked:
                row = record_from_json(spec_table, found)
                if row["account_id"] == self.account_id:
                    self.rows[(table_name, row["id"])] = row
        for table_name, new_ids in inserts.items():
            stmt = select(_reservation).where(
                _reservation.c.table_name == table_name, _reservation.c.id.in_(new_ids)
            )
            for reservation in self.conn.execute(stmt):
                self.reserved[(table_name, reservation.id)] = reservation
        row_keys = [(t, i) for t, ids in targets.items() for i in ids]
        if row_keys:
            stmt = select(_conflict).where(
                _conflict.c.account_id == self.account_id,
                _conflict.c.device_id == self.device_id,
                _conflict.c.status == "open",
                _conflict.c.row_id.in_(sorted({i for _t, i in row_keys})),
            )
            for conflict in self.conn.execute(stmt):
                self.open[(conflict.table_name, conflict.row_id)].append(dict(conflict._mapping))
        if user_ids:
            self.users = set(
                self.conn.scalars(
                    select(User.id).where(User.id.in_(sorted(user_ids)), User.account_id == self.account_id)
                )
            )
        self.templates = set(
            self.conn.scalars(select(Template.id).where(Template.account_id == self.account_id))
        )

    # conflicts ------------------------------------------------------------------------------------

    def _record(
        self,
        m: Mutation,
        kind: str,
        *,
        field_name: str | None = None,
        base: Any = None,
        mine: Any = None,
        theirs: Any = None,
        detail: str | None = None,
        row: dict[str, Any] | None = None,
    ) -> int:
        values = {
            "account_id": self.account_id,
            "device_id": self.device_id,
            "mutation_id": m.mutation_id,
            "op": m.op,
            "table_name": m.table_name,
            "row_id": m.row_id,
            "field": field_name,
            "kind": kind,
            "base_value": base,
            "mine": mine,
            "theirs": theirs,
            "detail": detail,
            "server_row_version": row["row_version"] if row else None,
            "theirs_updated_by": row.get("updated_by") if row else None,
            "theirs_updated_at": row.get("updated_at") if row else None,
            "started_at": m.created_at,
            "status": "open",
        }
        (result,) = write(self.conn, self.device_id, [{"op": "conflict", "values": record_to_json(values)}])
        conflict_id = result["id"]
        values["created_at"] = None
        values.pop("created_at")
        self.open[(m.table_name, m.row_id)].append({**values, "id": conflict_id})
        return int(conflict_id)

    def _set_conflict(self, conflict_id: int, values: dict[str, Any]) -> None:
        write(
            self.conn,
            self.device_id,
            [{"op": "conflict_set", "id": conflict_id, "values": record_to_json(values)}],
        )

    def _refresh(self, conflict: dict[str, Any], m: Mutation, **values: Any) -> int:
        values["mutation_id"] = m.mutation_id
        self._set_conflict(int(conflict["id"]), values)
        conflict.update(values)
        return int(conflict["id"])

    def _close(self, conflict: dict[str, Any], status: str, reason: str) -> None:
        self._set_conflict(int(conflict["id"]), {"status": status, "resolution": {"reason": reason}})
        self.open[(conflict["table_name"], conflict["row_id"])].remove(conflict)

    def _open_insert(self, key: tuple[str, int]) -> dict[str, Any] | None:
        """This device's open conflict holding a whole row it created (insert not applied)."""
        return next((c for c in self.open.get(key, []) if c["op"] == "insert" and c["field"] is None), None)

    def _open_kind(
        self, key: tuple[str, int], kind: str, field_name: str | None = None
    ) -> dict[str, Any] | None:
        return next(
            (c for c in self.open.get(key, []) if c["kind"] == kind and c["field"] == field_name), None
        )

    def _reject(self, m: Mutation, reason: str, row: dict[str, Any] | None = None) -> _Outcome:
        mine = m.changes
        conflict_id = self._record(m, "rejected", mine=mine, theirs=_row_json(row), detail=reason, row=row)
        return _Outcome("rejected", [conflict_id], reason)

    # apply ----------------------------------------------------------------------------------------

    def apply(self, m: Mutation) -> _Outcome:
        if self.pending and not (m.op == "insert" and m.table_name == self.pending[-1][0].table_name):
            self.flush_inserts()  # what follows may read or change the new rows
        if self.updates and m.op in ("insert", "delete"):
            self.flush_updates()
        if m.op == "resolve_conflict":
            return self._resolve(m)
        if m.table_name not in SPECS:
            return self._reject(m, f"{m.table_name!r} is not a synced table")
        if m.op == "insert":
            return self._insert(m)
        if m.op in ("update", "change_state", "restore"):
            return self._update(m)
        if m.op == "delete":
            return self._delete(m)
        return self._reject(m, f"unknown operation {m.op!r}")

    def _resolve(self, m: Mutation) -> _Outcome:
        status = m.changes.get("status")
        if status not in ("kept_mine", "kept_theirs", "merged", "withdrawn"):
            return _Outcome("rejected", detail=f"unknown resolution {status!r}")
        self._set_conflict(m.row_id, {"status": status, "resolution": m.changes.get("resolution")})
        for conflicts in self.open.values():
            conflicts[:] = [c for c in conflicts if c["id"] != m.row_id]
        return _Outcome("applied")

    def _missing_parent(self, m: Mutation, record: dict[str, Any]) -> _Outcome | None:
        spec = SPECS[m.table_name]
        refs = ([spec.parent] if spec.parent else []) + list(spec.refs)
        for column, table in refs:
            ref_id = record.get(column)
            if ref_id is None:
                continue
            parent = self.rows.get((table, ref_id))
            if parent is None or parent["deleted_at"] is not None:
                label = SPECS[table].label
                detail = (
                    f"the {label} (id {ref_id}) was deleted on the server"
                    if parent is not None
                    else f"the {label} (id {ref_id}) does not exist on the server"
                )
                conflict_id = self._record(
                    m, "parent_deleted", mine=m.changes, theirs=_row_json(parent), detail=detail, row=parent
                )
                return _Outcome("conflict", [conflict_id], detail)
        return None

    def _foreign_problem(self, table_name: str, record: dict[str, Any]) -> str | None:
        """DocuSeal rows a synced row points at must exist in the tenant's account."""
        user_id = record.get("user_id")
        if table_name == "cohort_enrollments" and user_id not in self.users:
            return f"there is no learner with user id {user_id} in this institution's account"
        if table_name != "cohorts":
            return None
        templates = [record.get("main_template_id"), *(record.get("supporting_templates") or [])]
        for template_id in templates:
            if template_id is not None and template_id not in self.templates:
                return f"DocuSeal template {template_id} does not exist (it may have been deleted)"
        return None

    def _insert(self, m: Mutation) -> _Outcome:
        spec = SPECS[m.table_name]
        key = (m.table_name, m.row_id)
        if key in self.rows or key in self.pending_keys:
            return self._reject(m, f"a {spec.label} with id {m.row_id} already exists", self.rows.get(key))
        reservation = self.reserved.get(key)
        if reservation is None or reservation.device_id != self.device_id:
            return self._reject(m, f"id {m.row_id} was not reserved for this laptop")
        record = record_from_json(spec.table, {c: m.changes.get(c) for c in spec.insert_columns})
        record["id"] = m.row_id
        if record.get("account_id") != self.account_id:
            return self._reject(m, "the row belongs to another institution's account")
        record["row_version"] = 1
        missing = self._missing_parent(m, record)
        if missing is not None:
            return missing
        if m.table_name == "cohort_enrollments":
            cohort = self.rows[("cohorts", record["cohort_id"])]
            if cohort["state"] not in ("draft", "active"):
                return self._reject(
                    m, f"the cohort is {cohort['state']}; it takes no new enrollments", cohort
                )
        problem = self._foreign_problem(m.table_name, record)
        if problem:
            return self._reject(m, problem)
        try:
            validate_record(m.table_name, record)
        except ValidationError as exc:
            return self._reject(m, str(exc))
        # Queued, then written together with the other new rows of the batch (``flush_inserts``):
        # one multi-row INSERT instead of a savepoint and an INSERT per row.
        outcome = _Outcome("applied")
        self.pending.append((m, record, outcome))
        self.pending_keys.add(key)
        return outcome

    def flush_inserts(self) -> None:
        """Write the queued new rows: one ``cohortdesk_write`` insert per table; if the server refuses
        any of them (a learner enrolled twice), row by row in one more call, so each refusal becomes that
        row's own conflict and the others still apply."""
        pending, self.pending = self.pending, []
        self.pending_keys.clear()
        by_table: dict[str, list[tuple[Mutation, dict[str, Any], _Outcome]]] = defaultdict(list)
        for item in pending:
            by_table[item[0].table_name].append(item)
        for table_name, items in by_table.items():
            # The rows travel as one JSON parameter: a single short statement, whatever the batch size.
            whole = {"op": "insert", "table": table_name, "rows": [record_to_json(r) for _m, r, _o in items]}
            results = self._try_write([whole])
            if results is not None and results[0].get("ok"):
                for m, record, _outcome in items:
                    self._written(m, record)
                continue
            single = [
                {"op": "insert", "table": table_name, "rows": [record_to_json(r)]} for _m, r, _o in items
            ]
            results = self._try_write(single)
            if results is None:
                for m, record, outcome in items:
                    self._insert_one(m, record, outcome)
                continue
            for (m, record, outcome), result in zip(items, results, strict=True):
                self._insert_result(m, record, outcome, result)

    def _try_write(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """``write`` inside a savepoint; ``None`` when the database raised (nothing of it stays)."""
        try:
            with self.conn.begin_nested():
                return write(self.conn, self.device_id, ops)
        except DBAPIError:
            return None

    def _written(self, m: Mutation, record: dict[str, Any]) -> None:
        self.rows[(m.table_name, m.row_id)] = {
            **record,
            "row_version": 1,
            "deleted_at": None,
            "updated_by": None,
            "change_seq": None,
        }

    def _insert_one(self, m: Mutation, record: dict[str, Any], outcome: _Outcome) -> None:
        op = {"op": "insert", "table": m.table_name, "rows": [record_to_json(record)]}
        try:
            with self.conn.begin_nested():
                (result,) = write(self.conn, self.device_id, [op])
        except DBAPIError as exc:
            code = "duplicate" if "cohort_id_user_id" in str(exc.orig) else "refused"
            result = {
                "ok": False,
                "code": code,
                "error": f"the database refused the row: {str(exc.orig).splitlines()[0]}",
            }
        self._insert_result(m, record, outcome, result)

    def _insert_result(
        self, m: Mutation, record: dict[str, Any], outcome: _Outcome, result: dict[str, Any]
    ) -> None:
        if result.get("ok"):
            self._written(m, record)
            return
        code, detail = result.get("code"), str(result.get("error") or "refused by the server")
        if code == "duplicate" and m.table_name == "cohort_enrollments":
            table = SPECS[m.table_name].table
            existing = self.conn.execute(
                select(table).where(
                    table.c.cohort_id == record["cohort_id"],
                    table.c.user_id == record["user_id"],
                    table.c.deleted_at.is_(None),
                )
            ).first()
            theirs = dict(existing._mapping) if existing else None
            detail = "this learner is already enrolled in the cohort" + (
                f" (enrollment {theirs['id']})" if theirs else ""
            )
            conflict_id = self._record(
                m, "duplicate", mine=m.changes, theirs=_row_json(theirs), detail=detail, row=theirs
            )
            outcome.status, outcome.conflict_ids, outcome.detail = "conflict", [conflict_id], detail
            return
        if code == "parent_deleted":
            conflict_id = self._record(m, "parent_deleted", mine=m.changes, detail=detail)
            outcome.status, outcome.conflict_ids, outcome.detail = "conflict", [conflict_id], detail
            return
        rejected = self._reject(m, detail)
        outcome.status, outcome.conflict_ids, outcome.detail = (
            rejected.status,
            rejected.conflict_ids,
            rejected.detail,
        )

    def flush_updates(self) -> None:
        """Send the batch's merged updates in one ``cohortdesk_write`` call (per-key JSON fields merge on
        the server); a refusal becomes that mutation's ``rejected`` conflict."""
        queued, self.updates = self.updates, []
        ops = [
            {
                "op": "update",
                "table": m.table_name,
                "id": m.row_id,
                "set": {k: v for k, v in to_apply.items() if k != "deleted_at"},
                "restore": "deleted_at" in to_apply,
            }
            for m, to_apply, _outcome, _row in queued
        ]
        results = self._try_write(ops)
        if results is None:
            results = [(self._try_write([op_]) or [_refused_by_database()])[0] for op_ in ops]
        for (m, _to_apply, outcome, row), result in zip(queued, results, strict=True):
            key = (m.table_name, m.row_id)
            if result.get("ok"):
                if key in self.rows and result.get("row_version") is not None:
                    self.rows[key]["row_version"] = int(result["row_version"])
                continue
            detail = f"the server refused it: {result.get('error') or 'no reason given'}"
            conflict_id = self._record(
                m, "rejected", mine=m.changes, theirs=_row_json(row), detail=detail, row=row
            )
            self.rows[key] = row
            outcome.status, outcome.detail = "rejected", detail
            outcome.conflict_ids = [*outcome.conflict_ids, conflict_id]

    def _fold_into_insert(self, m: Mutation, conflict: dict[str, Any]) -> _Outcome:
        spec = SPECS[m.table_name]
        row = dict(conflict["mine"] or {})
        as_record = record_from_json(spec.table, row)
        for name, pair in m.changes.items():
            if name == "deleted_at":
                continue
            set_field(spec.table, as_record, name, pair[1])
        conflict_id = self._refresh(conflict, m, mine=record_to_json(as_record))
        return _Outcome("conflict", [conflict_id], "added to the waiting new row")

    def _update(self, m: Mutation) -> _Outcome:
        spec = SPECS[m.table_name]
        key = (m.table_name, m.row_id)
        row = self.rows.get(key)
        if row is None:
            pending = self._open_insert(key)
            if pending is not None:
                return self._fold_into_insert(m, pending)
            return self._reject(m, f"there is no {spec.label} with id {m.row_id} on the server")
        changes = {k: v for k, v in m.changes.items() if isinstance(v, list) and len(v) == 2}
        if row["deleted_at"] is not None and m.op != "restore":
            waiting = self._open_kind(key, "row_deleted")
            if waiting is not None:
                base, mine = dict(waiting["base_value"] or {}), dict(waiting["mine"] or {})
                for name, (old, new) in changes.items():
                    base.setdefault(name, old)
                    mine[name] = new
                conflict_id = self._refresh(waiting, m, base_value=base, mine=mine)
            else:
                conflict_id = self._record(
                    m,
                    "row_deleted",
                    base={k: v[0] for k, v in changes.items()},
                    mine={k: v[1] for k, v in changes.items()},
                    theirs=_row_json(row),
                    detail=f"the {spec.label} was deleted on the server",
                    row=row,
                )
            return _Outcome("conflict", [conflict_id], f"the {spec.label} was deleted on the server")

        to_apply: dict[str, Any] = {}
        clashes: list[tuple[str, Any, Any, Any]] = []
        for name, (old, new) in changes.items():
            column, sub_key = split_field(name)
            if name == "deleted_at" and m.op == "restore":
                if row["deleted_at"] is not None:
                    to_apply[name] = None
                continue
            if not (name in spec.editable or (sub_key is not None and column in spec.split_json)):
                return self._reject(m, f"{name} cannot be changed by a sync", row)
            try:
                new = normalise_field(m.table_name, name, new)
            except ValidationError as exc:
                return self._reject(m, str(exc), row)
            current = get_field(row, name)
            if same(current, old):
                to_apply[name] = new
            elif same(current, new) or name in spec.first_wins and current is not None:
                continue
            else:
                clashes.append((name, old, new, current))

        merged = dict(row)
        for name, new in to_apply.items():
            set_field(spec.table, merged, name, new)
        problem = self._guard(m.table_name, row, merged, to_apply)
        if problem is None and m.table_name == "cohorts":
            changed_templates: dict[str, Any] = {
                k: to_apply[k] for k in ("main_template_id", "supporting_templates") if k in to_apply
            }
            problem = self._foreign_problem("cohorts", changed_templates)
        if problem is None:
            for column, table in spec.refs:
                if column in to_apply and to_apply[column] is not None:
                    target = self.rows.get((table, to_apply[column]))
                    if target is None or target["deleted_at"] is not None:
                        problem = f"the {SPECS[table].label} (id {to_apply[column]}) is deleted or missing on the server"
        if problem is None:
            try:
                validate_record(m.table_name, merged)
            except ValidationError as exc:
                problem = str(exc)
        if problem is not None:
            return self._reject(m, problem, row)

        outcome = _Outcome("applied")
        if to_apply:
            # Written with the batch's other updates in one call (``flush_updates``); later mutations
            # of this batch see the merged row.
            self.updates.append((m, to_apply, outcome, row))
            self.rows[key] = {**merged, "row_version": row["row_version"] + 1}
        conflict_ids: list[int] = []
        for name, old, new, current in clashes:
            waiting = self._open_kind(key, "field_conflict", name)
            if waiting is not None and same(waiting["mine"], old):
                conflict_ids.append(
                    self._refresh(waiting, m, mine=new, theirs=current, server_row_version=row["row_version"])
                )
            else:
                conflict_ids.append(
                    self._record(
                        m, "field_conflict", field_name=name, base=old, mine=new, theirs=current, row=row
                    )
                )
        if conflict_ids:
            outcome.status = "partial_conflict" if to_apply else "conflict"
            outcome.conflict_ids = conflict_ids
            outcome.detail = ", ".join(c[0] for c in clashes) + " changed on the server too"
        return outcome

    def _guard(
        self, table_name: str, row: dict[str, Any], merged: dict[str, Any], to_apply: dict[str, Any]
    ) -> str | None:
        """The state machine's guards, on the merged row, from the server's current state."""
        if "state" not in to_apply:
            return None
        target = to_apply["state"]
        if table_name == "cohorts":
            candidate = cohort_row(SimpleNamespace(**{**merged, "state": row["state"]}))
            reasons = cohort_blockers(candidate, target)
        elif table_name == "cohort_enrollments":
            reasons = enrollment_blockers(row["state"], target)
        else:
            reasons = []
        return f"it cannot become {target}: {'; '.join(reasons)}" if reasons else None

    def _delete(self, m: Mutation, *, hold: bool = True) -> _Outcome:
        spec = SPECS[m.table_name]
        key = (m.table_name, m.row_id)
        row = self.rows.get(key)
        if (
            hold
            and row is not None
            and row["deleted_at"] is None
            and m.table_name == "cohort_enrollments"
            and row["cohort_id"] in self.cohort_deletes
        ):
            outcome = _Outcome("applied")
            self.held[row["cohort_id"]].append((m, outcome))
            return outcome
        if row is None:
            pending = self._open_insert(key)
            if pending is not None:
                self._close(pending, "withdrawn", "deleted on the laptop before it reached the server")
                return _Outcome("applied", detail="the waiting new row was withdrawn")
            return _Outcome("applied", detail="nothing to delete on the server")
        if row["deleted_at"] is not None:
            waiting = self._open_kind(key, "row_deleted")
            if waiting is not None:
                self._close(waiting, "withdrawn", "deleted on the laptop too")
            return _Outcome("applied", detail="already deleted on the server")
        seen = m.changes.get("row") or {}
        differing = []
        if m.base_row_version is not None and row["row_version"] != m.base_row_version:
            differing = [
                c
                for c in seen
                if c in spec.table.columns and c != "updated_at" and not same(seen[c], to_json(row[c]))
            ]
        held_ids = [h[0].row_id for h in self.held.get(m.row_id, [])] if m.table_name == "cohorts" else []
        live_children: dict[str, int] = {}
        for child_table, column in spec.children:
            child = SPECS[child_table].table
            count = self.conn.scalar(
                select(func.count())
                .select_from(child)
                .where(
                    child.c[column] == m.row_id,
                    child.c.deleted_at.is_(None),
                    child.c.id.not_in(held_ids) if child_table == "cohort_enrollments" else true(),
                )
            )
            if count:
                live_children[child_table] = int(count)
        if differing or live_children:
            reasons = []
            if differing:
                reasons.append("changed on the server after you last saw it: " + ", ".join(differing))
            if live_children:
                reasons.append(
                    "it has "
                    + ", ".join(f"{n} live {SPECS[t].label}(s)" for t, n in live_children.items())
                    + " on the server"
                )
            theirs = {c: to_json(row[c]) for c in differing}
            if live_children:
                theirs["live_children"] = live_children
            mine: dict[str, Any] = {"deleted_at": m.changes.get("deleted_at")}
            held = self.held.pop(m.row_id, []) if m.table_name == "cohorts" else []
            if held:
                # One conflict for the whole delete: the cohort and the enrollments deleted with it.
                mine["children"] = {"cohort_enrollments": [h[0].row_id for h in held]}
                reasons.append(f"your delete also removed {len(held)} enrollment(s); none of it was applied")
            conflict_id = self._record(
                m,
                "delete_vs_edit",
                base={c: seen[c] for c in differing},
                mine=mine,
                theirs=theirs,
                detail="; ".join(reasons),
                row=row,
            )
            for _held_m, held_outcome in held:
                held_outcome.status, held_outcome.conflict_ids = "conflict", [conflict_id]
                held_outcome.detail = f"part of the {spec.label} delete waiting in conflict {conflict_id}"
            return _Outcome("conflict", [conflict_id], "; ".join(reasons))
        held = self.held.pop(m.row_id, []) if m.table_name == "cohorts" else []
        op = {"op": "delete", "table": m.table_name, "id": m.row_id, "children": [h[0].row_id for h in held]}
        results = self._try_write([op]) or [_refused_by_database()]
        result = results[0]
        if not result.get("ok"):
            outcome = self._reject(m, str(result.get("error") or "refused by the server"), row)
            for _held_m, held_outcome in held:
                held_outcome.status, held_outcome.conflict_ids = "conflict", list(outcome.conflict_ids)
                held_outcome.detail = f"part of the {spec.label} delete the server refused"
            return outcome
        self.rows[key] = {
            **row,
            "deleted_at": True,
            "row_version": result.get("row_version") or row["row_version"],
        }
        return _Outcome("applied")

    def finish(self) -> None:
        self.flush_inserts()
        self.flush_updates()
        for held in self.held.values():  # enrollments of a cohort whose delete came in a later batch
            for m, outcome in held:
                done = self._delete(m, hold=False)
                outcome.status, outcome.conflict_ids, outcome.detail = (
                    done.status,
                    done.conflict_ids,
                    done.detail,
                )
        self.held.clear()


def _refused_by_database() -> dict[str, Any]:
    return {"ok": False, "code": "refused", "error": "the database refused the change"}


def push(
    conn: Connection, hs: Handshake, mutations: Sequence[Mutation], app_version: str | None = None
) -> PushResult:
    """Apply one batch inside the caller's transaction. Idempotent: re-sent mutations are skipped."""
    device = conn.execute(text("SELECT * FROM cohortdesk_sync_begin(:d)"), {"d": hs.device_id}).first()
    if device is None or not device.active:
        raise PermissionDenied("This laptop's sync access was revoked on the server. Ask your administrator.")
    last = int(device.last_mutation_id)
    results: list[MutationResult] = []
    todo: list[Mutation] = []
    error: str | None = None
    expected = last + 1
    for m in mutations:
        if m.mutation_id <= last:
            results.append(MutationResult(m.mutation_id, "duplicate", detail="already applied"))
            continue
        if m.mutation_id != expected:
            error = (
                f"change {m.mutation_id} does not follow {expected - 1}: changes "
                f"{expected}..{m.mutation_id - 1} are missing, so nothing after them was sent"
            )
            break
        todo.append(m)
        expected += 1
    pusher = _Pusher(conn, hs)
    pusher.prefetch(todo)
    outcomes = [(m, pusher.apply(m)) for m in todo]
    pusher.finish()  # writes the new rows still queued; their outcomes are final only after it
    for m, outcome in outcomes:
        results.append(
            MutationResult(m.mutation_id, outcome.status, tuple(outcome.conflict_ids), outcome.detail)
        )
        last = m.mutation_id
    conn.execute(
        text("SELECT cohortdesk_sync_progress(:d, :last, :schema, :app)"),
        {
            "d": hs.device_id,
            "last": last,
            "schema": max(m.schema_version for m in mutations) if mutations else device.schema_version,
            "app": app_version or device.app_version,
        },
    )
    return PushResult(tuple(results), last, clock(conn, hs.account_id), error)


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

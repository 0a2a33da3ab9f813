"""The conflict inbox on the laptop: list what waits, and resolve it with Keep mine, Keep theirs or Edit.

The inbox is the local copy of this device's ``sync_conflict`` rows (filled by each pull). Resolving
never writes the server directly: it goes through the same write path as any edit, in one SQLite
transaction, queueing

1. a ``resolve_conflict`` entry, so the server records who resolved it, when and how (every
   resolution is audited there: ``resolved_by``, ``resolved_at``, ``resolution``), then
2. for *Keep mine* / *Edit*, a **new** mutation whose ``old`` values are the current values (the
   server's, as last pulled), so it passes the three-way check unless someone changed the field yet
   again, in which case it simply comes back as a new conflict. Nothing is ever dropped.

What each choice does, by kind (``choices(kind)`` gives the button labels):

=================  ============================================  ===================================
kind               keep_mine / edit(value)                       keep_theirs
=================  ============================================  ===================================
field_conflict     set the field to my value / to ``value``      keep the server's value
row_deleted        restore the row and apply my changes          discard my changes
parent_deleted     restore the parent, create my row again       discard my new row
duplicate          merge my row into the existing one            keep the existing one only
delete_vs_edit     delete it anyway / apply ``value`` (a dict)   keep the row as the server has it
rejected           send my edit again / send ``value`` instead   discard my edit
=================  ============================================  ===================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.enums import CohortState
from cohortdesk.errors import ConflictError, InvalidTransition, NotFoundError, ValidationError
from cohortdesk.models import SyncConflict, User
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration.states import cohort_blockers
from cohortdesk.services.rows import Changes
from cohortdesk.services.sync import local
from cohortdesk.services.sync.spec import SPECS, record_from_json, split_field

_conflict = SyncConflict.__table__

CHOICES: dict[str, dict[str, str]] = {
    "field_conflict": {"keep_mine": "Keep mine", "keep_theirs": "Keep theirs", "edit": "Edit"},
    "row_deleted": {"keep_mine": "Restore and apply my change", "keep_theirs": "Discard my change"},
    "parent_deleted": {"keep_mine": "Restore and create mine again", "keep_theirs": "Discard my new row"},
    "duplicate": {"keep_mine": "Merge into the existing one", "keep_theirs": "Keep the existing one"},
    "delete_vs_edit": {"keep_mine": "Delete it anyway", "keep_theirs": "Keep it", "edit": "Edit"},
    "rejected": {"keep_mine": "Send again", "keep_theirs": "Discard my change", "edit": "Edit"},
}
_STATUS = {"keep_mine": "kept_mine", "keep_theirs": "kept_theirs", "edit": "merged"}
_MISSING = object()


@dataclass(frozen=True)
class ConflictRow:
    id: int
    kind: str
    op: str
    table_name: str
    row_id: int
    field: str | None
    base: Any
    mine: Any
    theirs: Any
    detail: str | None
    what: str  # the row in words: "cohort “Q1 2026”"
    theirs_updated_by: str | None
    theirs_updated_at: datetime | None
    started_at: datetime | None
    status: str
    created_at: datetime
    resolved_at: datetime | None

    @property
    def choices(self) -> dict[str, str]:
        return CHOICES[self.kind]

    @property
    def field_label(self) -> str | None:
        if self.field is None:
            return None
        column, key = split_field(self.field)
        label = column.replace("_", " ").capitalize()
        return f"{label}: {key.replace('_', ' ')}" if key else label

    def timing(self) -> str:
        """Which side is newer, in words: "changed on the server 2 h after you started"."""
        if self.theirs_updated_at is None or self.started_at is None:
            return ""
        delta = self.theirs_updated_at - self.started_at
        seconds = abs(delta.total_seconds())
        amount = (
            f"{int(seconds // 86400)} d"
            if seconds >= 86400
            else f"{int(seconds // 3600)} h"
            if seconds >= 3600
            else f"{max(1, int(seconds // 60))} min"
        )
        who = f" by {self.theirs_updated_by}" if self.theirs_updated_by else ""
        return f"changed on the server{who} {amount} {'after' if delta.total_seconds() >= 0 else 'before'} you started"


@dataclass(frozen=True)
class Resolution:
    conflict_id: int
    status: str
    changes: Changes
    mutation_ids: tuple[int, ...]


def learner_name(session: Session, user_id: Any) -> str | None:
    """A learner's name as DocuSeal holds it (the laptop's copy of ``users``), else their e-mail."""
    if not isinstance(user_id, int):
        return None
    user = User.__table__
    row = session.execute(
        select(user.c.first_name, user.c.last_name, user.c.email).where(user.c.id == user_id)
    ).first()
    if row is None:
        return None
    name = " ".join(part for part in (row.first_name, row.last_name) if part)
    return name or row.email


def row_name(session: Session, table_name: str, row_id: Any) -> str | None:
    """A synced row's own name: an institution's or cohort's name, a sponsor's company name."""
    spec = SPECS.get(table_name)
    column = {"institutions": "name", "sponsors": "company_name", "cohorts": "name"}.get(table_name)
    if spec is None or column is None or not isinstance(row_id, int):
        return None
    name = session.execute(select(spec.table.c[column]).where(spec.table.c.id == row_id)).scalar()
    if name is None:  # a row made here whose insert waits in the inbox is not in the store
        for mine in session.scalars(
            select(_conflict.c.mine).where(
                _conflict.c.table_name == table_name, _conflict.c.row_id == row_id, _conflict.c.op == "insert"
            )
        ):
            if isinstance(mine, dict) and mine.get(column):
                return str(mine[column])
    return name


def _describe(session: Session, table_name: str, row_id: int, mine: Any, theirs: Any) -> str:
    """The row in words: ``cohort “Q1 2026”``, ``enrollment of Thandi Nkosi in “Q1 2026”``."""
    spec = SPECS.get(table_name)
    if spec is None:
        return f"{table_name} {row_id}"
    row = _local_row(session, table_name, row_id) or {}
    sources = [row, theirs if isinstance(theirs, dict) else {}]
    if isinstance(mine, dict):
        sent = mine.get("row")
        sources.append(sent if isinstance(sent, dict) else mine)

    def pick(column: str) -> Any:
        for source in sources:
            value = source.get(column)
            if value is not None and not isinstance(value, list | dict):
                return value
        return None

    if table_name == "cohort_enrollments":
        who = learner_name(session, pick("user_id")) or f"learner {pick('user_id') or '?'}"
        cohort = row_name(session, "cohorts", pick("cohort_id"))
        return f"enrollment of {who}" + (f" in “{cohort}”" if cohort else "")
    name = pick({"institutions": "name", "sponsors": "company_name", "cohorts": "name"}[table_name])
    return f"{spec.label} “{name}”" if name else f"{spec.label} {row_id}"


def _row(session: Session, r: Any) -> ConflictRow:
    return ConflictRow(
        id=r.id,
        kind=r.kind,
        op=r.op,
        table_name=r.table_name,
        row_id=r.row_id,
        field=r.field,
        base=r.base_value,
        mine=r.mine,
        theirs=r.theirs,
        detail=r.detail,
        what=_describe(session, r.table_name, r.row_id, r.mine, r.theirs),
        theirs_updated_by=r.theirs_updated_by,
        theirs_updated_at=r.theirs_updated_at,
        started_at=r.started_at,
        status=r.status,
        created_at=r.created_at,
        resolved_at=r.resolved_at,
    )


def list_conflicts(db: Database, include_resolved: bool = False) -> list[ConflictRow]:
    """The inbox, oldest first (resolved ones too when asked, for a history view)."""
    with db.read_session() as s:
        stmt = select(_conflict).order_by(_conflict.c.id)
        if not include_resolved:
            stmt = stmt.where(_conflict.c.status == "open")
        return [_row(s, r) for r in s.execute(stmt)]


def get_conflict(db: Database, conflict_id: int) -> ConflictRow:
    with db.read_session() as s:
        r = s.execute(select(_conflict).where(_conflict.c.id == conflict_id)).first()
        if r is None:
            raise NotFoundError(f"There is no conflict {conflict_id}.")
        return _row(s, r)


def keep_mine(db: Database, conflict_id: int) -> Resolution:
    return _resolve(db, conflict_id, "keep_mine", _MISSING)


def keep_theirs(db: Database, conflict_id: int) -> Resolution:
    return _resolve(db, conflict_id, "keep_theirs", _MISSING)


def edit(db: Database, conflict_id: int, value: Any) -> Resolution:
    """Resolve with a value of the person's choosing: the field's value for a ``field_conflict``, a
    ``{field: value}`` dict for row-level kinds."""
    return _resolve(db, conflict_id, "edit", value)


def resolve_group(db: Database, conflict_ids: list[int] | tuple[int, ...], action: str) -> Resolution:
    """One decision for a row and everything waiting under it (a deleted parent's children, say): each
    conflict resolved with ``action`` in the order given (the parent first), all in one transaction,
    so either the whole group is resolved or none of it. Returns the parent's resolution with every
    change and mutation of the group."""
    if not conflict_ids:
        raise ValidationError("conflict_ids", "nothing to resolve")
    with db.session() as s:
        results = [_resolve_in(s, conflict_id, action, _MISSING) for conflict_id in conflict_ids]
    return Resolution(
        results[0].conflict_id,
        results[0].status,
        ce._merge_changes(r.changes for r in results),
        tuple(m for r in results for m in r.mutation_ids),
    )


def _resolve(db: Database, conflict_id: int, action: str, value: Any) -> Resolution:
    with db.session() as s:
        return _resolve_in(s, conflict_id, action, value)


def _resolve_in(s: Session, conflict_id: int, action: str, value: Any) -> Resolution:
    c = s.execute(select(_conflict).where(_conflict.c.id == conflict_id)).first()
    if c is None:
        raise NotFoundError(f"There is no conflict {conflict_id}.")
    if c.status != "open":
        raise ConflictError(f"This conflict was already resolved ({c.status.replace('_', ' ')}).")
    if action not in CHOICES[c.kind]:
        raise ValidationError("choice", f"{action.replace('_', ' ')} is not offered for this conflict")
    status = _STATUS[action]
    resolution = {"action": action}
    if value is not _MISSING:
        resolution["value"] = value
    mutation_ids: list[int | None] = [
        local.queue(
            s, "sync_conflict", c.id, "resolve_conflict", {"status": status, "resolution": resolution}
        )
    ]
    changes = Changes()
    if action != "keep_theirs":
        edits = _apply_mine(s, c, value)
        mutation_ids.extend(m for _record, m in edits)
        changes = ce._merge_changes([ce._changes(t, rec) for (t, rec), _m in edits])
    s.execute(
        update(_conflict)
        .where(_conflict.c.id == c.id)
        .values(status=status, resolved_at=datetime.now(UTC), resolution=resolution)
    )
    return Resolution(c.id, status, changes, tuple(m for m in mutation_ids if m is not None))


Edited = tuple[tuple[str, dict[str, Any]], int | None]


def _local_row(session: Session, table_name: str, row_id: int) -> dict[str, Any] | None:
    table = SPECS[table_name].table
    row = session.execute(select(table).where(table.c.id == row_id)).first()
    return dict(row._mapping) if row else None


def _set_fields(session: Session, table_name: str, row_id: int, values: dict[str, Any]) -> Edited:
    """Apply my values to a row, restoring it first if it is a tombstone now."""
    current = _local_row(session, table_name, row_id)
    label = SPECS[table_name].label
    if current is None:
        raise ConflictError(f"The {label} is no longer on this laptop; choose Keep theirs.")
    if "state" in values and table_name == "cohorts":
        reasons = cohort_blockers(ce._frozen("cohorts", current), values["state"])
        if reasons and current["state"] != values["state"]:
            raise InvalidTransition(
                "cohort", current["state"], CohortState(values["state"]).value, "; ".join(reasons)
            )
    if current["deleted_at"] is not None:
        try:
            with session.begin_nested():
                record, mid = ce.update_row(
                    session, table_name, row_id, {**values, "deleted_at": None}, op="restore", live=False
                )
        except IntegrityError as exc:
            raise ConflictError(
                f"The {label} cannot be restored: another one like it exists now (the same learner "
                "enrolled again, for instance). Discard your change, or edit the one that exists."
            ) from exc
    else:
        op = "change_state" if "state" in values else "update"
        record, mid = ce.update_row(session, table_name, row_id, values, op=op)
    return (table_name, record), mid


def _restore(session: Session, table_name: str, row_id: int) -> list[Edited]:
    row = _local_row(session, table_name, row_id)
    label = SPECS[table_name].label
    if row is None:
        raise ConflictError(
            f"The {label} (id {row_id}) is not on this laptop: resolve its own conflict first."
        )
    if row["deleted_at"] is None:
        return []
    record, mid = ce.update_row(session, table_name, row_id, {"deleted_at": None}, op="restore", live=False)
    return [((table_name, record), mid)]


def _insert_again(session: Session, c: Any, overrides: dict[str, Any]) -> list[Edited]:
    spec = SPECS[c.table_name]
    record = record_from_json(spec.table, dict(c.mine or {}))
    for name, value in overrides.items():
        column, key = split_field(name)
        if key is not None:
            record[column] = {**(record.get(column) or {}), key: value}
        else:
            record[column] = value
    for bookkeeping in ("change_seq", "deleted_at", "updated_by", "row_version"):
        record.pop(bookkeeping, None)
    edits: list[Edited] = []
    refs = ([spec.parent] if spec.parent else []) + list(spec.refs)
    for column, parent_table in refs:
        if record.get(column) is not None:
            edits += _restore(session, parent_table, record[column])
    if _local_row(session, c.table_name, c.row_id) is not None:
        raise ConflictError(f"The {spec.label} already exists on this laptop again; choose Keep theirs.")
    try:
        with session.begin_nested():
            stored, mid = ce.insert_row(session, c.table_name, record)
    except IntegrityError as exc:
        raise ValidationError(
            c.table_name, f"the {spec.label} cannot be created again here: it clashes with an existing one"
        ) from exc
    return [*edits, ((c.table_name, stored), mid)]


def _apply_mine(session: Session, c: Any, value: Any) -> list[Edited]:
    given = value is not _MISSING
    if c.kind == "field_conflict":
        return [_set_fields(session, c.table_name, c.row_id, {c.field: value if given else c.mine})]
    if c.kind == "row_deleted":
        values = dict(c.mine or {})
        if given:
            values.update(value)
        return [_set_fields(session, c.table_name, c.row_id, values)]
    if c.kind == "parent_deleted":
        return _insert_again(session, c, dict(value) if given else {})
    if c.kind == "duplicate":
        theirs = c.theirs or {}
        if not theirs.get("id"):
            raise ConflictError("The existing row is unknown; choose Keep theirs.")
        mine_data = dict((c.mine or {}).get("student_data") or {})
        merged = {**(theirs.get("student_data") or {}), **mine_data}
        if given:
            merged.update(value.get("student_data", {}) if isinstance(value, dict) else {})
        return [_set_fields(session, c.table_name, theirs["id"], {"student_data": merged})]
    if c.kind == "delete_vs_edit":
        if given:
            return [_set_fields(session, c.table_name, c.row_id, dict(value))]
        return _delete_again(session, c.table_name, c.row_id)
    # rejected: send the same edit again (or the given values instead)
    if c.op == "insert":
        return _insert_again(session, c, dict(value) if given else {})
    if c.op == "delete":
        return _delete_again(session, c.table_name, c.row_id)
    values = {
        name: pair[1] for name, pair in (c.mine or {}).items() if isinstance(pair, list) and len(pair) == 2
    }
    values.pop("deleted_at", None)
    if given:
        values.update(value)
    return [_set_fields(session, c.table_name, c.row_id, values)]


def _delete_again(session: Session, table_name: str, row_id: int) -> list[Edited]:
    row = _local_row(session, table_name, row_id)
    if row is None or row["deleted_at"] is not None:
        return []
    edits: list[Edited] = []
    for child_table, column in SPECS[table_name].children:
        if child_table == "cohort_enrollments":  # a cohort's enrollments go with it, as in delete_cohort
            table = SPECS[child_table].table
            for child_id in session.scalars(
                select(table.c.id).where(table.c[column] == row_id, table.c.deleted_at.is_(None))
            ):
                record, mid = ce.delete_row(session, child_table, child_id)
                edits.append(((child_table, record), mid))
    record, mid = ce.delete_row(session, table_name, row_id)
    return [*edits, ((table_name, record), mid)]

"""What the sync indicator and the conflict inbox screens need beyond ``services.sync``: "Sync now" with
the server this store is paired with, and the inbox grouped into one entry per conflicting edit.

The sync itself, the counts and the resolutions are ``services.sync`` (engine, local, conflicts); this
module only finds the server and shapes their rows for a screen.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cohortdesk.db import Database
from cohortdesk.errors import OfflineError, SyncError, ValidationError
from cohortdesk.services import validation
from cohortdesk.services.sync import engine, local, read_state
from cohortdesk.services.sync.conflicts import ConflictRow, list_conflicts
from cohortdesk.services.sync.engine import SyncReport
from cohortdesk.services.sync.spec import SPECS

SERVER_ENV = "COHORTDESK_SYNC_SERVER"


def server_url(db: Database) -> str | None:
    """The server to sync with: ``COHORTDESK_SYNC_SERVER``, else the one this store is paired with."""
    return os.environ.get(SERVER_ENV) or read_state(db).server_url


def sync_now(
    db: Database,
    server: str | None = None,
    *,
    progress: Callable[[int, int, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> SyncReport:
    """Push the outbox and pull the server's changes (the runner passes ``progress`` and ``cancelled``)."""
    url = server or server_url(db)
    if not url:
        raise SyncError(
            "This laptop has not synced with a server yet. Name the server the first time, "
            "e.g. postgresql://you@server.example/cohortdesk."
        )
    server_db = Database(url)
    try:
        return engine.sync(db, server_db, progress=progress, cancelled=cancelled)
    finally:
        server_db.dispose()


def ensure_reserved_ids(db: Database, table_name: str, needed: int) -> int:
    """Make sure this paired laptop holds at least ``needed`` reserved ids of ``table_name``, reserving
    the difference from the server now if it must (online); returns how many it holds.

    Offline (or with no server named), ``SyncError`` says exactly how many rows can be created now.
    """
    with db.read_session() as s:
        have = local.pool_counts(s)[table_name]
    if have >= needed:
        return have
    label = SPECS[table_name].label
    url = server_url(db)
    short = (
        f"This laptop holds reserved ids for {have} new {label}s, so it can create {have} of the "
        f"{needed} now. Connect to the network and try again to create all {needed} (the ids are "
        f"reserved from the server then), or create at most {have} at a time; nothing was written."
    )
    if not url:
        raise SyncError(short)
    server_db = Database(url)
    try:
        return engine.reserve_ids(
            db, server_db, table_name, needed - have + local.DEFAULT_POOL_SIZES.get(table_name, 0)
        )
    except OfflineError as exc:
        raise SyncError(f"The server cannot be reached. {short}") from exc
    finally:
        server_db.dispose()


# --- the inbox, one entry per conflicting edit ---------------------------------------------------

FIELD_LABELS = {
    "name": "Name",
    "program_type": "Programme type",
    "sponsor_id": "Sponsor",
    "sponsor_email": "Sponsor e-mail",
    "student_count": "Expected students",
    "main_template_id": "Main agreement",
    "supporting_templates": "Supporting templates",
    "required_document_types": "Required documents",
    "start_date": "Starts",
    "end_date": "Ends",
    "state": "State",
    "company_name": "Company name",
    "contact_name": "Contact name",
    "contact_email": "Contact e-mail",
    "contact_phone": "Contact phone",
    "tax_number": "Tax number",
    "registration_number": "Registration number",
    "address": "Address",
    "settings.rejection_reasons": "Rejection reasons",
    "settings.hosting_location": "Hosting location",
    "student_data": "Student details",
}

#: What each kind of conflict means, in words, for the entry's header.
KIND_TEXT = {
    "field_conflict": "You and someone else changed the same field. Choose which value to keep for each.",
    "row_deleted": "You changed this, but it was deleted on the server meanwhile.",
    "parent_deleted": "You added this, but what it belongs to was deleted on the server meanwhile.",
    "duplicate": "You added this, but the same one already exists on the server.",
    "delete_vs_edit": "You deleted this, but someone changed it on the server meanwhile.",
    "rejected": "The server refused this change.",
}

_BOOKKEEPING = {
    "id",
    "uuid",
    "account_id",
    "created_at",
    "updated_at",
    "row_version",
    "change_seq",
    "updated_by",
}


def field_label(name: str) -> str:
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    column, _, key = name.partition(".")
    if column == "student_data" and key:
        return f"Student: {key.replace('_', ' ')}"
    base = FIELD_LABELS.get(column, column.replace("_", " ").capitalize())
    return f"{base}: {key.replace('_', ' ')}" if key else base


def show_value(value: Any, name: str = "") -> str:
    """A stored (JSON) value as a person reads it; empty shows as a dash."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str):
        if name.endswith(("_date", "_at")):
            try:
                return datetime.fromisoformat(value).strftime("%d %b %Y")
            except ValueError:
                return value
        return value
    if isinstance(value, datetime | date):
        return value.strftime("%d %b %Y")
    if isinstance(value, list):
        if name == "required_document_types":
            return ", ".join(validation.document_label(str(v)) for v in value)
        if value and all(isinstance(v, dict) and "code" in v for v in value):
            return ", ".join(str(v.get("label") or v["code"]) for v in value)
        return ", ".join(show_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{field_label(str(k))}: {show_value(v, str(k))}" for k, v in value.items())
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, int | float) else str(value)


@dataclass(frozen=True)
class ConflictLine:
    """One field of an entry: its three values, and the conflict row that resolves it (if per field)."""

    field: str
    label: str
    base: str
    mine: str
    theirs: str
    conflict_id: int | None  # set for field conflicts: each field is resolved on its own
    mine_value: Any = None  # the raw value, to pre-fill "Edit"


@dataclass(frozen=True)
class ConflictEntry:
    """One conflicting edit of one row: what it is, who changed the server side and when, its fields."""

    key: str
    kind: str
    table_name: str
    row_id: int
    what: str
    explanation: str
    timing: str  # "changed on the server by naledi 2 h after you started" ('' if unknown)
    changed_by: str | None
    changed_at: datetime | None
    started_at: datetime | None
    lines: tuple[ConflictLine, ...]
    conflict_ids: tuple[int, ...]
    choices: dict[str, str]  # for row-level kinds: action -> button label
    detail: str | None = None

    @property
    def per_field(self) -> bool:
        return self.kind == "field_conflict"

    @property
    def title(self) -> str:
        what = self.what[:1].upper() + self.what[1:]
        if self.per_field:
            n = len(self.lines)
            return f"{what}: {n} field{'s' if n != 1 else ''}"
        return what


def _row_lines(c: ConflictRow) -> tuple[ConflictLine, ...]:
    """The fields of a row-level conflict: an update's ``{field: [old, new]}`` or an inserted row."""
    mine, theirs = c.mine, c.theirs if isinstance(c.theirs, dict) else {}
    lines: list[ConflictLine] = []
    if isinstance(mine, dict) and mine and all(isinstance(v, list) and len(v) == 2 for v in mine.values()):
        for name, (old, new) in mine.items():
            if name == "deleted_at":
                continue
            current = theirs.get(name.split(".")[0]) if theirs else None
            lines.append(
                ConflictLine(
                    name,
                    field_label(name),
                    show_value(old, name),
                    show_value(new, name),
                    "(deleted)" if c.kind == "row_deleted" else show_value(current, name),
                    None,
                    new,
                )
            )
        return tuple(lines)
    record = mine.get("row") if isinstance(mine, dict) and isinstance(mine.get("row"), dict) else mine
    if isinstance(record, dict):
        for name, value in record.items():
            if (
                name in _BOOKKEEPING
                or name.endswith("_id")
                and name not in ("sponsor_id", "main_template_id")
            ):
                continue
            current = theirs.get(name) if theirs else None
            if c.kind in ("duplicate", "delete_vs_edit") and show_value(value, name) == show_value(
                current, name
            ):
                continue
            lines.append(
                ConflictLine(
                    name,
                    field_label(name),
                    "—",
                    show_value(value, name),
                    show_value(current, name),
                    None,
                    value,
                )
            )
    return tuple(lines)


def conflict_entries(db: Database) -> list[ConflictEntry]:
    """The open conflicts, one entry per conflicting edit (field conflicts of one row together)."""
    rows = list_conflicts(db)
    entries: list[ConflictEntry] = []
    fields_by_row: dict[tuple[str, int], list[ConflictRow]] = {}
    for c in rows:
        if c.kind == "field_conflict":
            fields_by_row.setdefault((c.table_name, c.row_id), []).append(c)
    for c in rows:
        if c.kind == "field_conflict":
            group = fields_by_row.pop((c.table_name, c.row_id), None)
            if group is None:
                continue
            lines = tuple(
                ConflictLine(
                    g.field or "",
                    field_label(g.field or ""),
                    show_value(g.base, g.field or ""),
                    show_value(g.mine, g.field or ""),
                    show_value(g.theirs, g.field or ""),
                    g.id,
                    g.mine,
                )
                for g in group
            )
            latest = max(group, key=lambda g: g.theirs_updated_at or g.created_at)
            entries.append(_entry(c, lines, tuple(g.id for g in group), latest))
        else:
            entries.append(_entry(c, _row_lines(c), (c.id,), c))
    return entries


def _entry(
    first: ConflictRow, lines: tuple[ConflictLine, ...], ids: tuple[int, ...], latest: ConflictRow
) -> ConflictEntry:
    return ConflictEntry(
        key=f"{first.table_name}:{first.row_id}:{first.kind}:{ids[0]}",
        kind=first.kind,
        table_name=first.table_name,
        row_id=first.row_id,
        what=first.what,
        explanation=KIND_TEXT.get(first.kind, ""),
        timing=latest.timing(),
        changed_by=latest.theirs_updated_by,
        changed_at=latest.theirs_updated_at,
        started_at=first.started_at,
        lines=lines,
        conflict_ids=ids,
        choices=dict(first.choices),
        detail=first.detail,
    )


def parse_edited(text: str, like: Any) -> Any:
    """What a person typed in "Edit", as a value of the same kind as ``like`` (the value it replaces)."""
    cleaned = text.strip()
    if isinstance(like, bool):
        return cleaned.lower() in ("yes", "true", "1")
    if isinstance(like, int):
        try:
            return int(cleaned)
        except ValueError:
            raise ValidationError("value", f"{cleaned!r} is not a whole number") from None
    if isinstance(like, list):
        items = [part.strip() for part in cleaned.split(",") if part.strip()]
        if like and all(isinstance(v, int) for v in like):
            try:
                return [int(part) for part in items]
            except ValueError:
                raise ValidationError("value", "write whole numbers separated by commas") from None
        return items
    return cleaned or None

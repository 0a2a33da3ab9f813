"""What the sync indicator and the conflict inbox screens need beyond ``services.sync``: "Sync now" with
the server this store is paired with, and the inbox grouped into one entry per conflicting edit.

The sync itself, the counts and the resolutions are ``services.sync`` (engine, local, conflicts); this
module only finds the server and shapes their rows for a screen.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.errors import OfflineError, SyncError, ValidationError
from cohortdesk.models import Template
from cohortdesk.services import validation
from cohortdesk.services.sync import conflicts, engine, local, read_state
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
    "certification_max_age_days": "Certification age limit",
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
    "user_id": "Learner",
    "cohort_id": "Cohort",
    "institution_id": "Institution",
    "admin_signed_at": "Signed by the institution",
    "live_children": "Still in it on the server",
}

#: What each kind of conflict means, in words, for the entry's header.
KIND_TEXT = {
    "field_conflict": "You and someone else changed the same field. Choose which value to keep for each.",
    "row_deleted": "You changed this, but it was deleted on the server meanwhile.",
    "parent_deleted": "You added this, but what it belongs to was deleted on the server meanwhile.",
    "duplicate": "You added this, but the same one already exists on the server.",
    "delete_vs_edit": "You deleted this, but it changed on the server meanwhile (edited, or something added to it).",
    "rejected": "The server refused this change.",
}

#: Columns a person sees of a row besides the ones they edit (the names of what it belongs to).
_CONTEXT_FIELDS = {
    "institutions": (),
    "sponsors": (),
    "cohorts": (),
    "cohort_enrollments": ("user_id", "cohort_id"),
}
#: Columns holding another row's id: shown by that row's name.
_ID_FIELDS = {
    "user_id": "users",
    "cohort_id": "cohorts",
    "sponsor_id": "sponsors",
    "institution_id": "institutions",
    "super_admin_id": "users",
    "main_template_id": "templates",
    "supporting_templates": "templates",
}
#: Where a row hangs: (its column, the parent table) for grouping children under a deleted parent.
_PARENTS = {
    "cohort_enrollments": (("cohort_id", "cohorts"),),
    "cohorts": (("sponsor_id", "sponsors"), ("institution_id", "institutions")),
    "sponsors": (("institution_id", "institutions"),),
    "institutions": (),
}


def field_label(name: str) -> str:
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    column, _, key = name.partition(".")
    if column == "student_data" and key:
        return f"Student: {key.replace('_', ' ')}"
    base = FIELD_LABELS.get(column, column.replace("_", " ").capitalize())
    return f"{base}: {key.replace('_', ' ')}" if key else base


def local_time(value: datetime) -> str:
    """A moment in this computer's time zone, as people write it: ``07 Dec 2026 14:05``."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone().strftime("%d %b %Y %H:%M")


def show_value(value: Any, name: str = "") -> str:
    """A stored (JSON) value as a person reads it; empty shows as a dash, moments in local time."""
    if name == "certification_max_age_days" and (value is None or isinstance(value, int)):
        return validation.describe_certification_limit(value).capitalize()
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str):
        if name.endswith(("_date", "_at", "date_of_birth")):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return value
            if name.endswith("_at") and (moment.hour, moment.minute, moment.second) != (0, 0, 0):
                return local_time(moment)
            return moment.strftime("%d %b %Y")
        return value
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, date):
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
    """One conflicting edit of one row: what it is, who changed the server side and when, its fields.

    ``children`` are the entries of rows that hang under this one (the enrollments of a cohort whose
    sponsor was deleted, say): one decision resolves them all (``conflict_ids`` holds every one, the
    parent's first)."""

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
    children: tuple[ConflictEntry, ...] = ()

    @property
    def per_field(self) -> bool:
        return self.kind == "field_conflict"

    @property
    def grouped(self) -> bool:
        return bool(self.children)

    @property
    def title(self) -> str:
        what = self.what[:1].upper() + self.what[1:]
        if self.per_field:
            n = len(self.lines)
            return f"{what}: {n} field{'s' if n != 1 else ''}"
        if self.children:
            counts: dict[str, int] = {}
            for child in self.children:
                label = SPECS[child.table_name].label if child.table_name in SPECS else child.table_name
                counts[label] = counts.get(label, 0) + 1
            return f"{what} and {', '.join(f'{n} {label}{"s" if n != 1 else ""}' for label, n in counts.items())}"
        return what

    def contents(self, limit: int = 12) -> str:
        """What one decision on a group resolves, in words (names, the first ``limit`` of them)."""
        if not self.children:
            return ""
        suffix = f" in “{self.what.split('“', 1)[1]}" if "“" in self.what else None
        names = [
            child.what[: -len(suffix)] if suffix and child.what.endswith(suffix) else child.what
            for child in self.children[:limit]
        ]
        more = len(self.children) - len(names)
        return "; ".join(names) + (f"; and {more} more" if more else "")


class _Names:
    """Names for ids (learners, cohorts, sponsors, templates) from the laptop's store, cached."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[tuple[str, Any], str | None] = {}

    def of(self, table: str, row_id: Any) -> str | None:
        key = (table, row_id)
        if key not in self.cache:
            if table == "users":
                self.cache[key] = conflicts.learner_name(self.session, row_id)
            elif table == "templates":
                tmpl = Template.__table__
                self.cache[key] = (
                    self.session.execute(select(tmpl.c.name).where(tmpl.c.id == row_id)).scalar()
                    if isinstance(row_id, int)
                    else None
                )
            else:
                self.cache[key] = conflicts.row_name(self.session, table, row_id)
        return self.cache[key]

    def rows_in_words(self, table: str, ids: list[int], limit: int = 8) -> str:
        """``3 enrollments: Thandi Nkosi, Sipho Dlamini, …`` for rows of the laptop's store."""
        label = SPECS[table].label if table in SPECS else table
        shown = []
        for row_id in ids[:limit]:
            if table == "cohort_enrollments":
                row = conflicts._local_row(self.session, table, row_id) or {}
                shown.append(self.of("users", row.get("user_id")) or f"id {row_id}")
            else:
                shown.append(self.of(table, row_id) or f"id {row_id}")
        more = f", and {len(ids) - limit} more" if len(ids) > limit else ""
        return f"{len(ids)} {label}{'s' if len(ids) != 1 else ''}: {', '.join(shown)}{more}"

    def live_children_besides(self, table_name: str, row_id: int, known: dict[str, list[int]]) -> str:
        """Names of the live children of a row in the laptop's copy that the laptop did not delete
        (the ones added on the server meanwhile, after the pull)."""
        found = []
        for child_table, column in SPECS[table_name].children if table_name in SPECS else ():
            child = SPECS[child_table].table
            ids = [
                i
                for i in self.session.scalars(
                    select(child.c.id).where(child.c[column] == row_id, child.c.deleted_at.is_(None))
                )
                if i not in set(known.get(child_table, ()))
            ]
            if ids:
                found.append(self.rows_in_words(child_table, ids).split(": ", 1)[1])
        return "; ".join(found)

    def words(self, text: str) -> str:
        """A server's reason with ``the sponsor (id 3)`` written as ``the sponsor “Closed Traders”``."""

        def named(match: re.Match[str]) -> str:
            table = next((t for t, spec in SPECS.items() if spec.label == match.group(1)), None)
            name = self.of(table, int(match.group(2))) if table else None
            return f"the {match.group(1)} “{name}”" if name else match.group(0)

        return re.sub(r"the (\w+) \(id (\d+)\)", named, text)

    def show(self, value: Any, name: str) -> str:
        table = _ID_FIELDS.get(name)
        if table is not None and value is not None:
            if isinstance(value, list):
                return ", ".join(self.of(table, v) or f"id {v}" for v in value) or "—"
            return self.of(table, value) or f"id {value}"
        if name == "live_children" and isinstance(value, dict):
            return ", ".join(
                f"{n} {SPECS[t].label}{'s' if n != 1 else ''}" if t in SPECS else f"{n} {t}"
                for t, n in value.items()
            )
        return show_value(value, name)


def _person_fields(table_name: str, record: dict[str, Any]) -> list[str]:
    """The fields of a whole row a person edits, JSON objects split per key, in a stable order."""
    spec = SPECS.get(table_name)
    if spec is None:
        return []
    names = [c for c in _CONTEXT_FIELDS.get(table_name, ()) if c in record]
    for column in spec.columns:
        if column in spec.split_json and isinstance(record.get(column), dict):
            names += [f"{column}.{k}" for k in sorted(record[column])]
        elif column in spec.editable and column in record and column not in names:
            names.append(column)
    return names


def _json_field(record: Any, name: str) -> Any:
    """A field of a row held as JSON (``student_data.city`` reads the key), ``None`` if absent."""
    if not isinstance(record, dict):
        return None
    column, _, key = name.partition(".")
    value = record.get(column)
    if key:
        return value.get(key) if isinstance(value, dict) else None
    return value


def _pairs(mine: Any) -> dict[str, list[Any]] | None:
    """An update's ``{field: [old, new]}``, or ``None`` when ``mine`` is not one."""
    if isinstance(mine, dict) and mine and all(isinstance(v, list) and len(v) == 2 for v in mine.values()):
        return mine
    return None


def _row_lines(c: ConflictRow, names: _Names) -> tuple[ConflictLine, ...]:
    """The fields of a row-level conflict, only those a person edits, with base, mine and theirs."""
    theirs = c.theirs if isinstance(c.theirs, dict) else {}
    spec = SPECS.get(c.table_name)
    editable = (spec.editable | spec.split_json) if spec else frozenset()

    def person(name: str) -> bool:
        return name.partition(".")[0] in editable

    lines: list[ConflictLine] = []

    def add(name: str, base: Any, mine: Any, current: str, raw: Any = None) -> None:
        lines.append(
            ConflictLine(
                name, field_label(name), names.show(base, name), names.show(mine, name), current, None, raw
            )
        )

    if c.kind == "delete_vs_edit":
        base = c.base if isinstance(c.base, dict) else {}
        for name in sorted(base, key=lambda n: (not person(n), n)):
            if not person(name):
                continue
            if spec is not None and name in spec.split_json and isinstance(base[name], dict):
                found = theirs.get(name)
                now: dict[str, Any] = found if isinstance(found, dict) else {}
                for key in sorted(set(base[name]) | set(now)):
                    if base[name].get(key) != now.get(key):
                        add(f"{name}.{key}", base[name].get(key), None, names.show(now.get(key), key))
                continue
            add(name, base[name], None, names.show(theirs.get(name), name))
        for line_index, line in enumerate(lines):
            lines[line_index] = ConflictLine(
                line.field, line.label, line.base, "(deleted)", line.theirs, None
            )
        mine_children = c.mine.get("children") if isinstance(c.mine, dict) else None
        if isinstance(mine_children, dict) and mine_children:
            listed = [names.rows_in_words(t, ids) for t, ids in mine_children.items() if ids]
            lines.append(
                ConflictLine(
                    "children",
                    "Deleted with it by you",
                    "—",
                    "; ".join(listed),
                    "kept: none of your delete was applied",
                    None,
                )
            )
        if theirs.get("live_children"):
            also = (
                {t: ids for t, ids in (mine_children or {}).items()}
                if isinstance(mine_children, dict)
                else {}
            )
            added = names.live_children_besides(c.table_name, c.row_id, also)
            lines.append(
                ConflictLine(
                    "live_children",
                    field_label("live_children"),
                    "—",
                    "none (deleted with it)",
                    names.show(theirs["live_children"], "live_children") + (f": {added}" if added else ""),
                    None,
                )
            )
        return tuple(lines)

    pairs = _pairs(c.mine)
    if pairs is not None or c.kind == "row_deleted":
        if pairs is None:  # as the server records a change to a deleted row: base and mine apart
            mine_values = c.mine if isinstance(c.mine, dict) else {}
            base_values = c.base if isinstance(c.base, dict) else {}
            pairs = {n: [base_values.get(n), v] for n, v in mine_values.items()}
        for name, (old, new) in pairs.items():
            if name == "deleted_at":
                continue
            current = names.show(_json_field(theirs, name), name) if theirs else "—"
            if c.kind == "row_deleted":
                current = f"(deleted){'' if current == '—' else f'; it was {current}'}"
            add(name, old, new, current, new)
        return tuple(lines)

    record = c.mine.get("row") if isinstance(c.mine, dict) and isinstance(c.mine.get("row"), dict) else c.mine
    if isinstance(record, dict):
        for name in _person_fields(c.table_name, record):
            value = _json_field(record, name)
            held = _json_field(theirs, name) if theirs else None
            if c.kind == "duplicate" and names.show(value, name) == names.show(held, name):
                continue
            if value in (None, "", [], {}) and held in (None, "", [], {}):
                continue  # nothing on either side to choose between
            add(name, None, value, names.show(held, name) if theirs else "—", value)
            lines[-1] = ConflictLine(
                lines[-1].field, lines[-1].label, "(new)", lines[-1].mine, lines[-1].theirs, None, value
            )
    return tuple(lines)


def _parent_of(session: Session, c: ConflictRow) -> list[tuple[str, int]]:
    """The rows ``c``'s row hangs under, from its own data or the laptop's copy of it."""
    record: dict[str, Any] = {}
    mine = c.mine if isinstance(c.mine, dict) else {}
    row = mine.get("row")
    record.update(row if isinstance(row, dict) else mine)
    local_row = conflicts._local_row(session, c.table_name, c.row_id) if c.table_name in SPECS else None
    record.update({k: v for k, v in (local_row or {}).items() if v is not None})
    found = []
    for column, table in _PARENTS.get(c.table_name, ()):
        value = record.get(column)
        if isinstance(value, list):  # an update's [old, new]
            value = value[1]
        if isinstance(value, int):
            found.append((table, value))
    return found


def conflict_entries(db: Database) -> list[ConflictEntry]:
    """The open conflicts, one entry per conflicting edit (field conflicts of one row together), and
    the row-level entries of rows under another row's entry folded into it (one decision for all)."""
    rows = list_conflicts(db)
    with db.read_session() as s:
        names = _Names(s)
        entries: list[ConflictEntry] = []
        fields_by_row: dict[tuple[str, int], list[ConflictRow]] = {}
        parents: dict[str, list[tuple[str, int]]] = {}
        ops: dict[str, str] = {}
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
                        names.show(g.base, g.field or ""),
                        names.show(g.mine, g.field or ""),
                        names.show(g.theirs, g.field or ""),
                        g.id,
                        g.mine,
                    )
                    for g in group
                )
                latest = max(group, key=lambda g: g.theirs_updated_at or g.created_at)
                entries.append(_entry(c, lines, tuple(g.id for g in group), latest))
            else:
                entry = _entry(c, _row_lines(c, names), (c.id,), c)
                if c.detail:
                    entry = replace(entry, detail=names.words(c.detail))
                parents[entry.key] = _parent_of(s, c)
                ops[entry.key] = c.op
                entries.append(entry)
    return _group(entries, parents, ops)


def _group(
    entries: list[ConflictEntry], parents: dict[str, list[tuple[str, int]]], ops: dict[str, str]
) -> list[ConflictEntry]:
    """Fold the entry of a row created or deleted here into the entry of the row it hangs under, when
    that row's own existence is in question (its insert waits, or it was deleted on one side): one
    decision then settles the parent and everything under it (transitively)."""
    by_row = {(e.table_name, e.row_id): e for e in entries if not e.per_field}

    def whole_row(entry: ConflictEntry) -> bool:
        return ops.get(entry.key) in ("insert", "delete") or entry.kind in ("row_deleted", "delete_vs_edit")

    def top(entry: ConflictEntry, seen: frozenset[str] = frozenset()) -> ConflictEntry:
        if not whole_row(entry):
            return entry
        for parent_key in parents.get(entry.key, ()):
            parent = by_row.get(parent_key)
            if (
                parent is not None
                and parent.key not in seen
                and parent.key != entry.key
                and whole_row(parent)
            ):
                return top(parent, seen | {entry.key})
        return entry

    children: dict[str, list[ConflictEntry]] = {}
    heads: list[ConflictEntry] = []
    for entry in entries:
        head = top(entry) if not entry.per_field else entry
        if head is entry:
            heads.append(entry)
        else:
            children.setdefault(head.key, []).append(entry)
    out = []
    for head in heads:
        kids = tuple(children.get(head.key, ()))
        if kids:
            head = replace(
                head,
                children=kids,
                conflict_ids=head.conflict_ids + tuple(i for kid in kids for i in kid.conflict_ids),
            )
        out.append(head)
    return out


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

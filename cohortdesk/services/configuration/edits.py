"""The one write path for configuration: institutions, sponsors, cohorts and enrollments.

Every call edits the local store (the laptop's SQLite) and, once the store is paired with a server,
appends the matching outbox entry **in the same SQLite transaction**. Online or offline it is the same
call; ``services.sync.engine.sync`` later pushes the outbox and pulls what others changed. Screens never
write configuration to the server directly.

API (``db`` is the local store's ``Database``; all calls are one short unit of work, Qt-free, and
return frozen rows; errors are ``ValidationError`` naming the field, ``NotFoundError``,
``InvalidTransition`` (guards in words), ``ConflictError`` (``expected_row_version`` is stale) or
``SyncError`` (no reserved id left for a new row while offline))::

    # reads: live rows only (tombstones hidden)
    list_institutions(db) -> list[InstitutionRow];      get_institution(db, id) -> InstitutionRow
    list_sponsors(db, institution_id) -> list[SponsorRow]; get_sponsor(db, id) -> SponsorRow
    list_cohorts(db, institution_id=None) -> list[CohortRow]; get_cohort(db, id) -> CohortRow
    list_enrollments(db, cohort_id) -> list[EnrollmentRow]; get_enrollment(db, id) -> EnrollmentRow
    list_templates(db, account_id) -> list[TemplateChoice]       # DocuSeal templates, refreshed each sync
    rejection_reasons(db, institution_id) -> list[dict]          # [{"code", "label", "message"}]
    cohort_state_blockers(db, cohort_id, target) -> list[str]    # why not (yet), in words; [] = allowed
    find_users_by_email(db, account_id, emails) -> dict[str, int]  # for the enrollment import

    # writes: each returns Edit(row, changes, mutation_ids)
    create_institution(db, NewInstitution)
    update_institution(db, id, {"name": ..., "settings": {...}}, expected_row_version=None)
    set_rejection_reasons(db, institution_id, [{"code", "label", "message"}, ...], expected_row_version=None)
    delete_institution(db, id, expected_row_version=None)        # refused while it has sponsors/cohorts
    create_sponsor(db, NewSponsor)
    update_sponsor(db, id, {"company_name": ..., "contact_email": ..., ...}, expected_row_version=None)
    delete_sponsor(db, id, expected_row_version=None)            # refused while a live cohort uses it
    create_cohort(db, NewCohort)
    update_cohort(db, id, {field: value}, expected_row_version=None)
        # fields: name, program_type, sponsor_id, sponsor_email, student_count, main_template_id,
        # supporting_templates, required_document_types, start_date, end_date (dates or ISO strings),
        # certification_max_age_days (None: the default 90 days; 0: no limit; else 1 to 3650 days)
    change_cohort_state(db, id, target, expected_row_version=None)   # guards from services.configuration.states
    delete_cohort(db, id, expected_row_version=None)             # tombstones its enrollments too
    enroll(db, NewEnrollment) -> Edit[EnrollmentRow]
    enroll_many(db, [NewEnrollment, ...]) -> BulkEdit[EnrollmentRow]   # one transaction
    enroll_learners(db, cohort_id, [NewLearner(email, first, last, student_data)], progress=, cancelled=)
        # the enrollment import's commit: users matched by e-mail (made when not paired), set-based
    update_enrollment(db, id, {"student_data": {"city": ...}}, expected_row_version=None)
        # JSON objects (student_data, settings) are merge patches: only the keys named change, None
        # removes a key; the outbox gets one {"student_data.<key>": [old, new]} field per changed key
    change_enrollment_state(db, id, target, expected_row_version=None)
    delete_enrollment(db, id, expected_row_version=None)

Status bar, markers, inbox and sync live in ``services.sync`` (``sync_status``, ``rows_waiting``,
``rows_in_conflict``, ``conflicts.list_conflicts`` / ``keep_mine`` / ``keep_theirs`` / ``edit``,
``engine.sync``).

Outbox entries: ``op`` is ``insert`` (``changes_json`` = the full row), ``update`` / ``change_state``
(``{field: [old, new]}``, old being the current local value, so consecutive edits of a row chain:
each entry's old values are the previous entry's new ones), ``delete`` (``{"deleted_at": ts, "row":
the row as this laptop last saw it}``) or ``restore`` (an update that also clears ``deleted_at``).
``base_row_version`` is the server ``row_version`` the local row was pulled at: local edits do not
bump it, so the server can tell which version an edit started from.

Identities of rows created offline come from id pools reserved on the server (design option A): see
``services.sync`` for why.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.enums import CohortState, EnrollmentState, VerificationState
from cohortdesk.errors import (
    ConflictError,
    InvalidTransition,
    NotFoundError,
    OperationCancelled,
    SyncError,
    ValidationError,
)
from cohortdesk.models import Template, User
from cohortdesk.services import validation
from cohortdesk.services.configuration.states import cohort_blockers, enrollment_blockers
from cohortdesk.services.rows import (
    Changes,
    CohortRow,
    EnrollmentRow,
    InstitutionRow,
    SponsorRow,
    cohort_row,
    enrollment_row,
    institution_row,
    sponsor_row,
)
from cohortdesk.services.sync import local
from cohortdesk.services.sync.spec import (
    SPECS,
    SYNC_SCHEMA_VERSION,
    get_field,
    normalise_field,
    record_to_json,
    same,
    set_field,
    split_field,
    to_json,
    validate_record,
)

__all__ = [
    "BulkEdit",
    "Edit",
    "NewCohort",
    "NewEnrollment",
    "NewInstitution",
    "NewSponsor",
    "TemplateChoice",
]

_ROW = {
    "institutions": institution_row,
    "sponsors": sponsor_row,
    "cohorts": cohort_row,
    "cohort_enrollments": enrollment_row,
}


# --- what a new row is made from ----------------------------------------------------------------


@dataclass(frozen=True)
class NewInstitution:
    account_id: int
    name: str
    registration_number: str | None = None
    address: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    super_admin_id: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewSponsor:
    institution_id: int
    company_name: str
    contact_email: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    tax_number: str | None = None


@dataclass(frozen=True)
class NewCohort:
    institution_id: int
    name: str
    program_type: str
    student_count: int = 0
    sponsor_id: int | None = None
    sponsor_email: str | None = None
    main_template_id: int | None = None
    supporting_templates: tuple[int, ...] = ()
    required_document_types: tuple[str, ...] = ("id_document", "matric_certificate")
    start_date: datetime | None = None
    end_date: datetime | None = None
    created_by_id: int | None = None
    certification_max_age_days: int | None = None  # None: the default (90 days); 0: no limit


@dataclass(frozen=True)
class NewEnrollment:
    cohort_id: int
    user_id: int
    student_data: dict[str, Any] = field(default_factory=dict)
    uploaded_documents: dict[str, Any] = field(default_factory=dict)
    submission_id: int | None = None


@dataclass(frozen=True)
class Edit[R]:
    """One configuration edit: the row as it now stands locally, what changed, the outbox entries written
    (empty when the store is not paired with a server)."""

    row: R
    changes: Changes
    mutation_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class BulkEdit[R]:
    rows: tuple[R, ...]
    changes: Changes
    mutation_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class TemplateChoice:
    id: int
    name: str
    archived: bool


def _now() -> datetime:
    return datetime.now(UTC)


# --- internals: one row as a dict, written with Core so the server's row_version is kept ----------


def _load(session: Session, table_name: str, row_id: int, *, live: bool = True) -> dict[str, Any]:
    table = SPECS[table_name].table
    row = session.execute(select(table).where(table.c.id == row_id)).first()
    if row is None or (live and row.deleted_at is not None):
        raise NotFoundError(f"There is no {SPECS[table_name].label} with id {row_id}.")
    return dict(row._mapping)


def _frozen(table_name: str, record: dict[str, Any]) -> Any:
    return _ROW[table_name](SimpleNamespace(**record))


def _check_version(record: dict[str, Any], expected: int | None, label: str) -> None:
    if expected is not None and record["row_version"] != expected:
        raise ConflictError(
            f"This {label} was changed since you opened it (version {expected}, now "
            f"{record['row_version']}). Reload it and try again."
        )


def _changes(table_name: str, record: dict[str, Any]) -> Changes:
    if table_name == "institutions":
        return Changes(institution_ids=frozenset({record["id"]}), counts=True)
    if table_name == "sponsors":
        return Changes(sponsor_ids=frozenset({record["id"]}), counts=True)
    if table_name == "cohorts":
        return Changes(cohort_ids=frozenset({record["id"]}), counts=True)
    return Changes(
        enrollment_ids=frozenset({record["id"]}), cohort_ids=frozenset({record["cohort_id"]}), counts=True
    )


def _merge_changes(items: Iterable[Changes]) -> Changes:
    items = list(items)
    return Changes(
        cohort_ids=frozenset().union(*(c.cohort_ids for c in items)),
        enrollment_ids=frozenset().union(*(c.enrollment_ids for c in items)),
        institution_ids=frozenset().union(*(c.institution_ids for c in items)),
        sponsor_ids=frozenset().union(*(c.sponsor_ids for c in items)),
        counts=any(c.counts for c in items),
    )


# --- on the shared PostgreSQL: the same edits through the server's write function ----------------


def _server_login(session: Session) -> bool:
    """On the server: an application login (not a superuser/BYPASSRLS maintenance session)."""
    return not session.scalar(
        text("SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = session_user")
    )


def _on_server(session: Session) -> bool:
    """True on PostgreSQL: the store *is* the server, and every write goes through ``cohortdesk_write``
    (a login holds no INSERT/UPDATE on these tables); the outbox and id pools are a laptop's alone."""
    return session.get_bind().dialect.name == "postgresql"


def _server_write(session: Session, op: dict[str, Any], label: str) -> dict[str, Any]:
    from cohortdesk.services.sync.server import write

    (result,) = write(session.connection(), None, [op])
    if result.get("ok"):
        return result
    code, message = result.get("code"), str(result.get("error") or "refused by the server")
    if code == "stale":
        raise ConflictError(
            f"This {label} was changed since you opened it ({message}). Reload it and try again."
        )
    if code == "missing":
        raise NotFoundError(f"There is no such {label} ({message}).")
    if code == "duplicate":
        raise ValidationError("user_id", message)
    raise ValidationError(label, message)


def _server_insert(session: Session, table_name: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spec = SPECS[table_name]
    payload = [record_to_json({k: v for k, v in r.items() if k != "id" or v is not None}) for r in records]
    result = _server_write(session, {"op": "insert", "table": table_name, "rows": payload}, spec.label)
    ids = [int(i) for i in result["ids"]]
    found = {
        r.id: dict(r._mapping) for r in session.execute(select(spec.table).where(spec.table.c.id.in_(ids)))
    }
    return [found[i] for i in ids]


def insert_row(
    session: Session, table_name: str, record: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    """Insert a new synced row (id from the reserved pool when paired) and queue it. Internal API."""
    spec = SPECS[table_name]
    if _on_server(session):
        validate_record(table_name, {**record, "row_version": 1})
        return _server_insert(session, table_name, [record])[0], None
    paired = local.is_paired(session)
    new_id = record.get("id") or local.allocate_id(session, table_name, paired)
    now = _now()
    record = dict(record)
    if new_id is not None:
        record["id"] = new_id
    record.setdefault("uuid", str(uuid.uuid4()))
    record.setdefault("created_at", now)
    record.setdefault("updated_at", now)
    record["row_version"] = 1
    record["change_seq"] = 0
    validate_record(table_name, record)
    row = session.execute(insert(spec.table).values(record).returning(spec.table)).one()
    stored = dict(row._mapping)
    mutation_id = None
    if paired:
        payload = record_to_json({c: stored[c] for c in spec.insert_columns})
        mutation_id = local.queue(session, table_name, stored["id"], "insert", payload)
    return stored, mutation_id


def _expand(table_name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"student_data": {"city": "Durban"}}`` → ``{"student_data.city": "Durban"}``: a merge patch.

    Only the keys named change (``None`` removes a key); the object's other keys are left as they are
    and are not queued, so two laptops editing different keys of one object both win on sync.
    """
    spec = SPECS[table_name]
    fields: dict[str, Any] = {}
    for name, value in values.items():
        column, key = split_field(name)
        if column in spec.split_json and key is None:
            if not isinstance(value, Mapping):
                raise ValidationError(column, "must be an object")
            for k, v in value.items():
                fields[f"{column}.{k}"] = v
        else:
            fields[name] = value
    return fields


def update_row(
    session: Session,
    table_name: str,
    row_id: int,
    values: Mapping[str, Any],
    *,
    expected_row_version: int | None = None,
    op: str = "update",
    allowed: frozenset[str] | None = None,
    live: bool = True,
) -> tuple[dict[str, Any], int | None]:
    """Change fields of a synced row and queue ``{field: [old, new]}``. Internal API (conflicts use it)."""
    spec = SPECS[table_name]
    current = _load(session, table_name, row_id, live=live)
    _check_version(current, expected_row_version, spec.label)
    allowed = spec.editable if allowed is None else allowed
    diff: dict[str, list[Any]] = {}
    for name, value in _expand(table_name, values).items():
        column, key = split_field(name)
        if name == "deleted_at" and op == "restore":
            new_json = None
        elif not (name in allowed or (key is not None and column in spec.split_json)):
            raise ValidationError(name, f"is not a field a {spec.label} can change here")
        else:
            new_json = normalise_field(table_name, name, value)
        old_json = get_field(current, name)
        if not same(old_json, new_json):
            diff[name] = [old_json, new_json]
    if not diff:
        return current, None
    merged = dict(current)
    for name, (_old, new) in diff.items():
        set_field(spec.table, merged, name, new)
    validate_record(table_name, merged)
    merged["updated_at"] = _now()
    if _on_server(session):
        _server_write(
            session,
            {
                "op": "update",
                "table": table_name,
                "id": row_id,
                "set": {name: new for name, (_old, new) in diff.items() if name != "deleted_at"},
                "restore": op == "restore",
                "expected_row_version": current["row_version"],
            },
            spec.label,
        )
        return _load(session, table_name, row_id, live=False), None
    columns = {split_field(name)[0] for name in diff} | {"updated_at"}
    session.execute(
        update(spec.table).where(spec.table.c.id == row_id).values({c: merged[c] for c in columns})
    )
    mutation_id = None
    if local.is_paired(session):
        mutation_id = local.queue(
            session, table_name, row_id, op, diff, base_row_version=current["row_version"]
        )
    return merged, mutation_id


def delete_row(
    session: Session,
    table_name: str,
    row_id: int,
    *,
    expected_row_version: int | None = None,
    children: Iterable[int] = (),
) -> tuple[dict[str, Any], int | None]:
    """Tombstone a synced row and queue the delete with the row as this laptop last saw it.

    On the server, ``children`` (a cohort's enrollments) are tombstoned in the same function call.
    """
    spec = SPECS[table_name]
    current = _load(session, table_name, row_id)
    _check_version(current, expected_row_version, spec.label)
    if _on_server(session):
        op = {
            "op": "delete",
            "table": table_name,
            "id": row_id,
            "expected_row_version": current["row_version"],
            "children": list(children),
        }
        _server_write(session, op, spec.label)
        return _load(session, table_name, row_id, live=False), None
    now = _now()
    session.execute(
        update(spec.table).where(spec.table.c.id == row_id).values(deleted_at=now, updated_at=now)
    )
    mutation_id = None
    if local.is_paired(session):
        seen = record_to_json({c: current[c] for c in spec.insert_columns if c != "updated_at"})
        mutation_id = local.queue(
            session,
            table_name,
            row_id,
            "delete",
            {"deleted_at": to_json(now), "row": seen},
            base_row_version=current["row_version"],
        )
    return {**current, "deleted_at": now, "updated_at": now}, mutation_id


def _live_children(session: Session, table_name: str, row_id: int) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for child_table, column in SPECS[table_name].children:
        table = SPECS[child_table].table
        ids = session.scalars(
            select(table.c.id)
            .where(table.c[column] == row_id, table.c.deleted_at.is_(None))
            .order_by(table.c.id)
        ).all()
        if ids:
            found[child_table] = list(ids)
    return found


def _edit(table_name: str, record: dict[str, Any], *mutation_ids: int | None) -> Edit[Any]:
    return Edit(
        row=_frozen(table_name, record),
        changes=_changes(table_name, record),
        mutation_ids=tuple(m for m in mutation_ids if m is not None),
    )


# --- reads ----------------------------------------------------------------------------------------


def _live(session: Session, table_name: str, *where: Any, order_by: Any = None) -> list[dict[str, Any]]:
    table = SPECS[table_name].table
    stmt = select(table).where(table.c.deleted_at.is_(None), *where)
    stmt = stmt.order_by(order_by if order_by is not None else table.c.id)
    return [dict(r._mapping) for r in session.execute(stmt)]


def list_institutions(db: Database) -> list[InstitutionRow]:
    table = SPECS["institutions"].table
    with db.read_session() as s:
        return [_frozen("institutions", r) for r in _live(s, "institutions", order_by=table.c.name)]


def get_institution(db: Database, institution_id: int) -> InstitutionRow:
    with db.read_session() as s:
        return _frozen("institutions", _load(s, "institutions", institution_id))


def rejection_reasons(db: Database, institution_id: int) -> list[dict[str, str]]:
    return list(get_institution(db, institution_id).settings.get("rejection_reasons") or [])


def list_sponsors(db: Database, institution_id: int) -> list[SponsorRow]:
    table = SPECS["sponsors"].table
    with db.read_session() as s:
        rows = _live(s, "sponsors", table.c.institution_id == institution_id, order_by=table.c.company_name)
        return [_frozen("sponsors", r) for r in rows]


def get_sponsor(db: Database, sponsor_id: int) -> SponsorRow:
    with db.read_session() as s:
        return _frozen("sponsors", _load(s, "sponsors", sponsor_id))


def list_cohorts(db: Database, institution_id: int | None = None) -> list[CohortRow]:
    table = SPECS["cohorts"].table
    where = [] if institution_id is None else [table.c.institution_id == institution_id]
    with db.read_session() as s:
        return [_frozen("cohorts", r) for r in _live(s, "cohorts", *where, order_by=table.c.name)]


def get_cohort(db: Database, cohort_id: int) -> CohortRow:
    with db.read_session() as s:
        return _frozen("cohorts", _load(s, "cohorts", cohort_id))


def list_enrollments(db: Database, cohort_id: int) -> list[EnrollmentRow]:
    table = SPECS["cohort_enrollments"].table
    with db.read_session() as s:
        rows = _live(s, "cohort_enrollments", table.c.cohort_id == cohort_id)
        return [_frozen("cohort_enrollments", r) for r in rows]


def get_enrollment(db: Database, enrollment_id: int) -> EnrollmentRow:
    with db.read_session() as s:
        return _frozen("cohort_enrollments", _load(s, "cohort_enrollments", enrollment_id))


def list_templates(db: Database, account_id: int) -> list[TemplateChoice]:
    """DocuSeal's templates of the account (a copy re-read in full at every sync), newest name order."""
    with db.read_session() as s:
        rows = s.execute(
            select(Template.id, Template.name, Template.archived_at)
            .where(Template.account_id == account_id)
            .order_by(Template.name, Template.id)
        ).all()
        return [TemplateChoice(id=r.id, name=r.name, archived=r.archived_at is not None) for r in rows]


def cohort_state_blockers(db: Database, cohort_id: int, target: CohortState | str) -> list[str]:
    """Why ``cohort_id`` cannot move to ``target`` yet, in words (empty: it can)."""
    return cohort_blockers(get_cohort(db, cohort_id), target)


def find_users_by_email(db: Database, account_id: int, emails: Iterable[str]) -> dict[str, int]:
    """``{normalised e-mail: user id}`` for the account's DocuSeal users among ``emails``."""
    wanted = {e.strip().lower() for e in emails if e and e.strip()}
    if not wanted:
        return {}
    with db.read_session() as s:
        rows = s.execute(
            select(User.id, User.email).where(
                User.account_id == account_id, func.lower(User.email).in_(wanted)
            )
        ).all()
        return {r.email.lower(): r.id for r in rows}


# --- institutions ---------------------------------------------------------------------------------


def create_institution(db: Database, cmd: NewInstitution) -> Edit[InstitutionRow]:
    settings = dict(cmd.settings)
    for key in list(settings):
        settings[key] = normalise_field("institutions", f"settings.{key}", settings[key])
    record = {
        "account_id": cmd.account_id,
        "name": normalise_field("institutions", "name", cmd.name),
        "registration_number": normalise_field(
            "institutions", "registration_number", cmd.registration_number
        ),
        "address": normalise_field("institutions", "address", cmd.address),
        "contact_email": normalise_field("institutions", "contact_email", cmd.contact_email),
        "contact_phone": normalise_field("institutions", "contact_phone", cmd.contact_phone),
        "super_admin_id": cmd.super_admin_id,
        "settings": {k: v for k, v in settings.items() if v is not None},
    }
    with db.session() as s:
        stored, mutation_id = insert_row(s, "institutions", record)
        return _edit("institutions", stored, mutation_id)


def update_institution(
    db: Database, institution_id: int, changes: Mapping[str, Any], expected_row_version: int | None = None
) -> Edit[InstitutionRow]:
    with db.session() as s:
        stored, mutation_id = update_row(
            s, "institutions", institution_id, changes, expected_row_version=expected_row_version
        )
        return _edit("institutions", stored, mutation_id)


def set_rejection_reasons(
    db: Database,
    institution_id: int,
    reasons: list[Mapping[str, str]],
    expected_row_version: int | None = None,
) -> Edit[InstitutionRow]:
    """Replace the institution's canned rejection reasons (``code``, ``label``, ``message`` each)."""
    return update_institution(
        db, institution_id, {"settings.rejection_reasons": [dict(r) for r in reasons]}, expected_row_version
    )


def delete_institution(
    db: Database, institution_id: int, expected_row_version: int | None = None
) -> Edit[InstitutionRow]:
    with db.session() as s:
        children = _live_children(s, "institutions", institution_id)
        if children:
            what = " and ".join(f"{len(ids)} {SPECS[t].label}(s)" for t, ids in children.items())
            raise ValidationError("institution", f"it still has {what}; delete those first")
        stored, mutation_id = delete_row(
            s, "institutions", institution_id, expected_row_version=expected_row_version
        )
        return _edit("institutions", stored, mutation_id)


# --- sponsors -------------------------------------------------------------------------------------


def create_sponsor(db: Database, cmd: NewSponsor) -> Edit[SponsorRow]:
    record = {
        "company_name": normalise_field("sponsors", "company_name", cmd.company_name),
        "contact_email": normalise_field("sponsors", "contact_email", cmd.contact_email),
        "contact_name": normalise_field("sponsors", "contact_name", cmd.contact_name),
        "contact_phone": normalise_field("sponsors", "contact_phone", cmd.contact_phone),
        "tax_number": normalise_field("sponsors", "tax_number", cmd.tax_number),
        "user_id": None,
    }
    with db.session() as s:
        inst = _load(s, "institutions", cmd.institution_id)
        record.update(account_id=inst["account_id"], institution_id=inst["id"])
        stored, mutation_id = insert_row(s, "sponsors", record)
        return _edit("sponsors", stored, mutation_id)


def update_sponsor(
    db: Database, sponsor_id: int, changes: Mapping[str, Any], expected_row_version: int | None = None
) -> Edit[SponsorRow]:
    with db.session() as s:
        stored, mutation_id = update_row(
            s, "sponsors", sponsor_id, changes, expected_row_version=expected_row_version
        )
        return _edit("sponsors", stored, mutation_id)


def delete_sponsor(
    db: Database, sponsor_id: int, expected_row_version: int | None = None
) -> Edit[SponsorRow]:
    with db.session() as s:
        users = _live_children(s, "sponsors", sponsor_id).get("cohorts")
        if users:
            names = ", ".join(_load(s, "cohorts", i)["name"] for i in users[:3])
            raise ValidationError(
                "sponsor", f"cohorts still use this sponsor ({names}); choose another first"
            )
        stored, mutation_id = delete_row(s, "sponsors", sponsor_id, expected_row_version=expected_row_version)
        return _edit("sponsors", stored, mutation_id)


# --- cohorts --------------------------------------------------------------------------------------


def _check_cohort_refs(session: Session, record: Mapping[str, Any], institution_id: int) -> None:
    if record.get("sponsor_id") is not None:
        sponsor = _load(session, "sponsors", record["sponsor_id"])
        if sponsor["institution_id"] != institution_id:
            raise ValidationError("sponsor_id", "the sponsor belongs to another institution")
    template_ids = [record.get("main_template_id"), *(record.get("supporting_templates") or [])]
    for template_id in (t for t in template_ids if t is not None):
        if session.get(Template, template_id) is None:
            field = (
                "main_template_id"
                if template_id == record.get("main_template_id")
                else "supporting_templates"
            )
            raise ValidationError(field, f"there is no DocuSeal template with id {template_id}")


def create_cohort(db: Database, cmd: NewCohort) -> Edit[CohortRow]:
    def field(name: str, value: Any) -> Any:
        return normalise_field("cohorts", name, value)

    record = {
        "name": field("name", cmd.name),
        "program_type": field("program_type", cmd.program_type),
        "sponsor_id": field("sponsor_id", cmd.sponsor_id),
        "sponsor_email": field("sponsor_email", cmd.sponsor_email),
        "student_count": field("student_count", cmd.student_count),
        "main_template_id": field("main_template_id", cmd.main_template_id),
        "supporting_templates": field("supporting_templates", list(cmd.supporting_templates)),
        "required_document_types": field("required_document_types", list(cmd.required_document_types)),
        "start_date": cmd.start_date and datetime.fromisoformat(field("start_date", cmd.start_date)),
        "end_date": cmd.end_date and datetime.fromisoformat(field("end_date", cmd.end_date)),
        "certification_max_age_days": field("certification_max_age_days", cmd.certification_max_age_days),
        "state": CohortState.DRAFT.value,
        "admin_signed_at": None,
        "created_by_id": cmd.created_by_id,
    }
    with db.session() as s:
        inst = _load(s, "institutions", cmd.institution_id)
        _check_cohort_refs(s, record, inst["id"])
        if record["sponsor_id"] is not None and not record["sponsor_email"]:
            record["sponsor_email"] = _load(s, "sponsors", record["sponsor_id"])["contact_email"]
        record.update(account_id=inst["account_id"], institution_id=inst["id"])
        stored, mutation_id = insert_row(s, "cohorts", record)
        return _edit("cohorts", stored, mutation_id)


_COHORT_FIELDS = SPECS["cohorts"].editable - {"state", "admin_signed_at"}


def update_cohort(
    db: Database, cohort_id: int, changes: Mapping[str, Any], expected_row_version: int | None = None
) -> Edit[CohortRow]:
    """Change configurable fields of a cohort. Its state changes only through ``change_cohort_state``."""
    for name in changes:
        if name in ("state", "admin_signed_at"):
            raise ValidationError(name, "changes only through a state change (change_cohort_state)")
    with db.session() as s:
        current = _load(s, "cohorts", cohort_id)
        _check_cohort_refs(
            s,
            {k: changes.get(k) for k in ("sponsor_id", "main_template_id", "supporting_templates")},
            current["institution_id"],
        )
        stored, mutation_id = update_row(
            s,
            "cohorts",
            cohort_id,
            changes,
            expected_row_version=expected_row_version,
            allowed=_COHORT_FIELDS,
        )
        return _edit("cohorts", stored, mutation_id)


def change_cohort_state(
    db: Database, cohort_id: int, target: CohortState | str, expected_row_version: int | None = None
) -> Edit[CohortRow]:
    """Move a cohort along draft → active → completed (or to cancelled), its guards checked first."""
    with db.session() as s:
        current = _load(s, "cohorts", cohort_id)
        _check_version(current, expected_row_version, "cohort")
        reasons = cohort_blockers(_frozen("cohorts", current), target)
        if reasons:
            raise InvalidTransition("cohort", current["state"], CohortState(target).value, "; ".join(reasons))
        fields: dict[str, Any] = {"state": CohortState(target).value}
        if CohortState(target) is CohortState.ACTIVE and current["admin_signed_at"] is None:
            fields["admin_signed_at"] = _now()
        stored, mutation_id = update_row(s, "cohorts", cohort_id, fields, op="change_state")
        return _edit("cohorts", stored, mutation_id)


def delete_cohort(db: Database, cohort_id: int, expected_row_version: int | None = None) -> Edit[CohortRow]:
    """Tombstone a cohort and, first, each of its live enrollments (one outbox entry each)."""
    with db.session() as s:
        current = _load(s, "cohorts", cohort_id)
        _check_version(current, expected_row_version, "cohort")
        mutation_ids: list[int | None] = []
        enrollment_ids = _live_children(s, "cohorts", cohort_id).get("cohort_enrollments", [])
        if _on_server(s):
            stored, mutation_id = delete_row(s, "cohorts", cohort_id, children=enrollment_ids)
            return _edit("cohorts", stored, mutation_id)
        for enrollment_id in enrollment_ids:
            mutation_ids.append(delete_row(s, "cohort_enrollments", enrollment_id)[1])
        stored, mutation_id = delete_row(s, "cohorts", cohort_id)
        edit = _edit("cohorts", stored, *mutation_ids, mutation_id)
        return edit


# --- enrollments ----------------------------------------------------------------------------------


def _enrollment_record(session: Session, cmd: NewEnrollment, seen: set[tuple[int, int]]) -> dict[str, Any]:
    student_data = validation.validate_student_data(dict(cmd.student_data))
    documents = validation.validate_uploaded_documents(dict(cmd.uploaded_documents))
    cohort = _load(session, "cohorts", cmd.cohort_id)
    if cohort["state"] in (CohortState.COMPLETED.value, CohortState.CANCELLED.value):
        raise ValidationError("cohort_id", f"the cohort is {cohort['state']}; it takes no new enrollments")
    if session.get(User, cmd.user_id) is None:
        raise ValidationError("user_id", f"there is no user with id {cmd.user_id}")
    table = SPECS["cohort_enrollments"].table
    exists = session.scalar(
        select(table.c.id).where(
            table.c.cohort_id == cohort["id"], table.c.user_id == cmd.user_id, table.c.deleted_at.is_(None)
        )
    )
    if exists or (cohort["id"], cmd.user_id) in seen:
        raise ValidationError("user_id", "this student is already enrolled in the cohort")
    seen.add((cohort["id"], cmd.user_id))
    return {
        "account_id": cohort["account_id"],
        "cohort_id": cohort["id"],
        "user_id": cmd.user_id,
        "submission_id": cmd.submission_id,
        "supporting_submission_ids": [],
        "state": EnrollmentState.WAITING.value,
        "document_verification_state": VerificationState.PENDING.value,
        "rejection_reason": None,
        "student_data": student_data,
        "uploaded_documents": documents,
        "pending_since": _now(),
    }


def enroll(db: Database, cmd: NewEnrollment) -> Edit[EnrollmentRow]:
    with db.session() as s:
        stored, mutation_id = insert_row(s, "cohort_enrollments", _enrollment_record(s, cmd, set()))
        return _edit("cohort_enrollments", stored, mutation_id)


def enroll_many(db: Database, commands: Iterable[NewEnrollment]) -> BulkEdit[EnrollmentRow]:
    """Enroll many students in one transaction (the import's commit): all of them, or none.

    A refused row raises ``ValidationError`` whose field starts with ``rows[<index>]``.
    """
    rows: list[EnrollmentRow] = []
    mutation_ids: list[int] = []
    changes: list[Changes] = []
    seen: set[tuple[int, int]] = set()
    with db.session() as s:
        for index, cmd in enumerate(commands):
            try:
                record = _enrollment_record(s, cmd, seen)
            except ValidationError as exc:
                raise ValidationError(f"rows[{index}].{exc.field}", exc.message) from exc
            stored, mutation_id = insert_row(s, "cohort_enrollments", record)
            rows.append(_frozen("cohort_enrollments", stored))
            changes.append(_changes("cohort_enrollments", stored))
            if mutation_id is not None:
                mutation_ids.append(mutation_id)
    return BulkEdit(rows=tuple(rows), changes=_merge_changes(changes), mutation_ids=tuple(mutation_ids))


def update_enrollment(
    db: Database, enrollment_id: int, changes: Mapping[str, Any], expected_row_version: int | None = None
) -> Edit[EnrollmentRow]:
    """Change an enrollment's student details (``{"student_data": {...}}``, merged per key on sync)."""
    if "state" in changes:
        raise ValidationError("state", "changes only through change_enrollment_state")
    with db.session() as s:
        stored, mutation_id = update_row(
            s,
            "cohort_enrollments",
            enrollment_id,
            changes,
            expected_row_version=expected_row_version,
            allowed=frozenset(),
        )
        return _edit("cohort_enrollments", stored, mutation_id)


def change_enrollment_state(
    db: Database, enrollment_id: int, target: EnrollmentState | str, expected_row_version: int | None = None
) -> Edit[EnrollmentRow]:
    with db.session() as s:
        current = _load(s, "cohort_enrollments", enrollment_id)
        _check_version(current, expected_row_version, "enrollment")
        reasons = enrollment_blockers(current["state"], target)
        if reasons:
            raise InvalidTransition(
                "enrollment", current["state"], EnrollmentState(target).value, "; ".join(reasons)
            )
        stored, mutation_id = update_row(
            s,
            "cohort_enrollments",
            enrollment_id,
            {"state": EnrollmentState(target).value},
            op="change_state",
        )
        return _edit("cohort_enrollments", stored, mutation_id)


def delete_enrollment(
    db: Database, enrollment_id: int, expected_row_version: int | None = None
) -> Edit[EnrollmentRow]:
    with db.session() as s:
        stored, mutation_id = delete_row(
            s, "cohort_enrollments", enrollment_id, expected_row_version=expected_row_version
        )
        return _edit("cohort_enrollments", stored, mutation_id)


# --- bulk: the enrollment import's commit ---------------------------------------------------------

#: Rows written per statement by the bulk paths (and between two progress reports / cancel checks).
BULK_CHUNK = 1000
#: DocuSeal role of a learner's user row made by an import: the least privileged one (as the demo's).
LEARNER_USER_ROLE = "viewer"


@dataclass(frozen=True)
class NewLearner:
    """One learner to enroll by e-mail: matched to the account's DocuSeal user, or a new one."""

    email: str
    first_name: str
    last_name: str
    student_data: Mapping[str, Any]


@dataclass(frozen=True)
class LearnersEnrolled:
    """What ``enroll_learners`` wrote (all in one transaction)."""

    cohort_id: int
    enrollment_ids: tuple[int, ...]
    users_created: int
    users_matched: int
    mutation_ids: tuple[int, ...]
    changes: Changes


@dataclass(frozen=True)
class UserMatch:
    id: int
    account_id: int
    email: str
    first_name: str
    last_name: str


def users_by_email(session: Session, emails: Iterable[str]) -> dict[str, UserMatch]:
    """DocuSeal users (any account) whose e-mail, ignoring case, is among the lower-case ``emails``.

    Set-based and index-friendly: exact matches through the unique e-mail index in chunks, plus one
    pass over the few addresses stored with capitals (``lower(email) IN (…)`` would scan the whole
    users table once per chunk).
    """
    wanted = sorted(set(emails))
    users = User.__table__
    columns = (users.c.id, users.c.account_id, users.c.email, users.c.first_name, users.c.last_name)

    def match(row: Any) -> UserMatch:
        return UserMatch(
            int(row.id), int(row.account_id), row.email, row.first_name or "", row.last_name or ""
        )

    found: dict[str, UserMatch] = {}
    for start in range(0, len(wanted), BULK_CHUNK):
        for row in session.execute(
            select(*columns).where(users.c.email.in_(wanted[start : start + BULK_CHUNK]))
        ):
            found[row.email] = match(row)
    if wanted:
        targets = set(wanted)
        for row in session.execute(select(*columns).where(users.c.email != func.lower(users.c.email))):
            key = row.email.lower()
            if key in targets and key not in found:
                found[key] = match(row)
    return found


def _take_ids(session: Session, table_name: str, count: int) -> list[int]:
    """``count`` reserved ids of ``table_name`` at once (the smallest first), or a plain refusal."""
    pool = local._pool
    ids = [
        int(i)
        for i in session.scalars(
            select(pool.c.id).where(pool.c.table_name == table_name).order_by(pool.c.id).limit(count)
        )
    ]
    if len(ids) < count:
        raise SyncError(
            f"This laptop has {len(ids)} reserved ids left for new {SPECS[table_name].label}s but needs "
            f"{count}. Connect to the network and sync once to reserve more, or import fewer rows at a "
            f"time; nothing was imported."
        )
    if ids:
        session.execute(delete(pool).where(pool.c.table_name == table_name, pool.c.id <= ids[-1]))
    return ids


def _queue_many(session: Session, table_name: str, rows: list[dict[str, Any]]) -> list[int]:
    """Append one ``insert`` outbox entry per row with consecutive mutation ids, set-based."""
    if not rows:
        return []
    local.state(session)
    state_table = local._state
    last = session.execute(
        update(state_table)
        .where(state_table.c.id == local.STATE_ID)
        .values(last_mutation_id=state_table.c.last_mutation_id + len(rows))
        .returning(state_table.c.last_mutation_id)
    ).scalar_one()
    first = int(last) - len(rows) + 1
    columns = SPECS[table_name].insert_columns
    now = _now()
    entries = [
        {
            "mutation_id": first + index,
            "table_name": table_name,
            "row_id": row["id"],
            "op": "insert",
            "base_row_version": None,
            "changes_json": record_to_json({c: row[c] for c in columns}),
            "schema_version": SYNC_SCHEMA_VERSION,
            "created_at": now,
            "status": "pending",
        }
        for index, row in enumerate(rows)
    ]
    session.execute(insert(local._outbox), entries)
    return list(range(first, first + len(rows)))


def insert_rows(
    session: Session, table_name: str, records: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[int]]:
    """``insert_row`` for many rows at once: ids, one multi-row insert, outbox entries. Internal API.

    Same rules as ``insert_row`` (every record validated, reserved ids when paired, one ``insert``
    outbox entry per row), with a handful of statements per call instead of several per row.
    """
    if not records:
        return [], []
    table = SPECS[table_name].table
    if _on_server(session):
        for record in records:
            validate_record(table_name, {**record, "row_version": 1})
        return _server_insert(session, table_name, records), []
    paired = local.is_paired(session)
    ids = _take_ids(session, table_name, len(records)) if paired else None
    now = _now()
    prepared: list[dict[str, Any]] = []
    for index, source in enumerate(records):
        record = dict(source)
        if ids is not None:
            record["id"] = ids[index]
        record.setdefault("uuid", str(uuid.uuid4()))
        record.setdefault("created_at", now)
        record.setdefault("updated_at", now)
        record["row_version"] = 1
        record["change_seq"] = 0
        validate_record(table_name, record)
        prepared.append(record)
    stored = [
        dict(r._mapping)
        for r in session.execute(insert(table).returning(table, sort_by_parameter_order=True), prepared)
    ]
    mutation_ids = _queue_many(session, table_name, stored) if paired else []
    return stored, mutation_ids


def enroll_learners(
    db: Database,
    cohort_id: int,
    learners: Iterable[NewLearner],
    *,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> LearnersEnrolled:
    """Enroll learners by e-mail in one transaction: all of them, or none (the import's commit).

    Each e-mail is matched (case-insensitively) to a DocuSeal user of the cohort's account. An
    unmatched one gets a new learner user, but only in a store that is not paired with a server:
    DocuSeal's users are the server's and reach a laptop read-only at each sync, so a user made on a
    paired laptop would never reach the server and its enrollments would be refused there. A refused
    row raises ``ValidationError`` naming ``rows[<index>].<field>``; ``cancelled()`` returning true
    between chunks raises ``OperationCancelled``; either way nothing is written.
    """
    items = list(learners)
    total = len(items)
    users = User.__table__
    enrollments = SPECS["cohort_enrollments"].table

    def check_cancel() -> None:
        if cancelled is not None and cancelled():
            raise OperationCancelled("The import was cancelled; nothing was written.")

    with db.session() as s:
        cohort = _load(s, "cohorts", cohort_id)
        if cohort["state"] in (CohortState.COMPLETED.value, CohortState.CANCELLED.value):
            raise ValidationError(
                "cohort_id", f"the cohort is {cohort['state']}; it takes no new enrollments"
            )
        account_id = cohort["account_id"]
        # On the server itself DocuSeal's users are DocuSeal's: only a maintenance session may add one.
        paired = _server_login(s) if _on_server(s) else local.is_paired(s)
        emails: list[str] = []
        for index, item in enumerate(items):
            try:
                emails.append(validation.validate_email(item.email))
            except ValidationError as exc:
                raise ValidationError(f"rows[{index}].email", exc.message) from exc
        seen: dict[str, int] = {}
        for index, email in enumerate(emails):
            if email in seen:
                raise ValidationError(f"rows[{index}].email", f"{email} is also in row {seen[email]}")
            seen[email] = index
        found = {e: (u.id, u.account_id) for e, u in users_by_email(s, emails).items()}  # e-mail -> ids
        to_create: list[dict[str, Any]] = []
        now = _now()
        for index, (item, email) in enumerate(zip(items, emails, strict=True)):
            hit = found.get(email)
            if hit is not None and hit[1] != account_id:
                raise ValidationError(
                    f"rows[{index}].email", f"{email} belongs to a user of another DocuSeal account"
                )
            if hit is None:
                if paired:
                    raise ValidationError(
                        f"rows[{index}].email",
                        f"no DocuSeal user of this account has the e-mail {email}; add the learner in "
                        f"DocuSeal and sync, then import again",
                    )
                to_create.append(
                    {
                        "account_id": account_id,
                        "email": email,
                        "encrypted_password": "",  # no usable password: learners sign in elsewhere
                        "first_name": item.first_name.strip() or None,
                        "last_name": item.last_name.strip() or None,
                        "role": LEARNER_USER_ROLE,
                        "uuid": str(uuid.uuid4()),
                        "sign_in_count": 0,
                        "failed_attempts": 0,
                        "otp_required_for_login": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        for start in range(0, len(to_create), BULK_CHUNK):
            check_cancel()
            chunk = to_create[start : start + BULK_CHUNK]
            ids = s.execute(insert(users).returning(users.c.id, sort_by_parameter_order=True), chunk)
            for record, new_id in zip(chunk, ids.scalars(), strict=True):
                found[record["email"]] = (int(new_id), account_id)
        user_ids = [found[email][0] for email in emails]
        enrolled: dict[int, int] = {}
        for start in range(0, total, BULK_CHUNK):
            chunk_ids = user_ids[start : start + BULK_CHUNK]
            for row in s.execute(
                select(enrollments.c.user_id).where(
                    enrollments.c.cohort_id == cohort_id,
                    enrollments.c.deleted_at.is_(None),
                    enrollments.c.user_id.in_(chunk_ids),
                )
            ):
                enrolled[int(row.user_id)] = 1
        records: list[dict[str, Any]] = []
        for index, (item, user_id) in enumerate(zip(items, user_ids, strict=True)):
            if user_id in enrolled:
                raise ValidationError(
                    f"rows[{index}].email", "this learner is already enrolled in the cohort"
                )
            try:
                student_data = validation.validate_student_data(dict(item.student_data))
            except ValidationError as exc:
                raise ValidationError(f"rows[{index}].{exc.field}", exc.message) from exc
            records.append(
                {
                    "account_id": account_id,
                    "cohort_id": cohort_id,
                    "user_id": user_id,
                    "submission_id": None,
                    "supporting_submission_ids": [],
                    "state": EnrollmentState.WAITING.value,
                    "document_verification_state": VerificationState.PENDING.value,
                    "rejection_reason": None,
                    "student_data": student_data,
                    "uploaded_documents": {},
                    "pending_since": now,
                }
            )
        if paired and not _on_server(s):
            available = local.pool_counts(s)["cohort_enrollments"]
            if available < total:
                _take_ids(s, "cohort_enrollments", total)  # refuses in words
        enrollment_ids: list[int] = []
        mutation_ids: list[int] = []
        for start in range(0, total, BULK_CHUNK):
            check_cancel()
            stored, queued = insert_rows(s, "cohort_enrollments", records[start : start + BULK_CHUNK])
            enrollment_ids.extend(r["id"] for r in stored)
            mutation_ids.extend(queued)
            if progress is not None:
                progress(min(start + BULK_CHUNK, total), total)
        check_cancel()
    return LearnersEnrolled(
        cohort_id=cohort_id,
        enrollment_ids=tuple(enrollment_ids),
        users_created=len(to_create),
        users_matched=total - len(to_create),
        mutation_ids=tuple(mutation_ids),
        changes=Changes(
            enrollment_ids=frozenset(enrollment_ids), cohort_ids=frozenset({cohort_id}), counts=True
        ),
    )

"""The access log POPIA asks for: who viewed which document, revealed whose special personal
information, exported what and why, and who changed whose permissions.

Entries are append-only (the database refuses UPDATE, DELETE and TRUNCATE). On PostgreSQL a CohortDesk
login cannot write a free-form entry: each entry is written by the database function that does the
logged thing, which fills in who, when, from where and for which institution and checks the object is
the login's own: ``cohortdesk_fetch_document`` (a document view: returns the document's entry),
``cohortdesk_reveal_special_pi`` (a reveal: returns the values), ``cohortdesk_log_export`` and
``cohortdesk_export_special_pi`` (an export; the latter returns the special values it covers).
Permission changes are written only by the database's own user-management functions. Entries hold
ids, field names and counts, never document contents or ID numbers.

On SQLite (and for a privileged session with no login mapping, e.g. maintenance) ``append`` writes the
entry inside the caller's unit of work, so a reveal or an export and its entry commit or fail together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.errors import NotFoundError, PermissionDenied, ValidationError
from cohortdesk.models import AccessKind, AccessLogEntry, User
from cohortdesk.services.access.identity import Identity

#: The purposes an export may declare (docs/domain.md §6); free text is accepted too.
EXPORT_PURPOSES = ("seta_submission", "sponsor_report", "ee_report", "internal_use")


@dataclass(frozen=True)
class AccessLogRow:
    id: int
    at: datetime
    actor: str
    actor_name: str
    kind: str
    object_table: str | None
    object_id: int | None
    purpose: str | None
    details: dict[str, Any]


def on_server(session: Session, identity: Identity) -> bool:
    """True when ``identity`` is a PostgreSQL login: its entries come only from the database's functions."""
    return identity.db_role is not None and session.get_bind().dialect.name == "postgresql"


def append(
    session: Session,
    identity: Identity,
    kind: AccessKind | str,
    *,
    object_table: str | None = None,
    object_id: int | None = None,
    purpose: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Add one entry inside ``session``'s transaction; returns its id. Not for a PostgreSQL login,
    whose entries only the functions that do the logged thing write (``PermissionDenied``)."""
    kind = AccessKind(kind)
    details = dict(details or {})
    if on_server(session, identity):
        raise PermissionDenied(
            "On the server the access log is written by the database itself when a document is opened, "
            "special personal information is revealed or a report is exported."
        )
    if identity.account_id is None:
        raise ValidationError("account_id", "there is no institution to record this access for")
    if session.get_bind().dialect.name == "postgresql":
        actor = session.scalar(text("SELECT session_user::text"))
    else:
        actor = identity.display_name
    entry = AccessLogEntry(
        actor=actor,
        user_id=identity.user_id,
        account_id=identity.account_id,
        kind=kind.value,
        object_table=object_table,
        object_id=object_id,
        purpose=purpose,
        details=details,
    )
    session.add(entry)
    session.flush()
    return entry.id


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def log_document_view(
    db: Database, identity: Identity, enrollment_id: int, document_type: str, purpose: str = "verification"
) -> int:
    """Record that ``identity`` opened one uploaded document of an enrollment (on the server through
    ``cohortdesk_fetch_document``, which refuses an enrollment of another institution)."""
    with db.session() as s:
        if on_server(s, identity):
            return fetch_document_entry(s, enrollment_id, document_type, purpose)[1]
        return append(
            s,
            identity,
            AccessKind.DOCUMENT_VIEW,
            object_table="cohort_enrollments",
            object_id=enrollment_id,
            purpose=purpose,
            details={"document_type": document_type},
        )


def fetch_document_entry(
    session: Session, enrollment_id: int, document_type: str, purpose: str
) -> tuple[dict[str, Any], int]:
    """The server's ``uploaded_documents`` entry of one document (storage key included) and the id of
    the document view ``cohortdesk_fetch_document`` logged. A legacy key (``disability``) is tried after the
    current one (``disability_proof``)."""
    from cohortdesk.services.validation import LEGACY_DOCUMENT_KEYS

    candidates = [document_type, *(k for k, v in LEGACY_DOCUMENT_KEYS.items() if v == document_type)]
    for index, key in enumerate(candidates):
        try:
            with session.begin_nested():
                found = session.scalar(
                    text("SELECT cohortdesk_fetch_document(:e, :t, :p)"),
                    {"e": enrollment_id, "t": key, "p": purpose},
                )
            return dict(found["entry"] or {}), int(found["log_id"])
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != "P0002" or index == len(candidates) - 1:
                raise _refusal(exc) from exc
    raise NotFoundError(f"Enrollment {enrollment_id} has no {document_type} uploaded.")  # pragma: no cover


def reveal_on_server(session: Session, enrollment_id: int, reason: str) -> dict[str, Any]:
    """``cohortdesk_reveal_special_pi``: ``{"values": {...}, "fields": [...], "log_id": n}``, logged."""
    try:
        return dict(
            session.scalar(
                text("SELECT cohortdesk_reveal_special_pi(:e, :r)"), {"e": enrollment_id, "r": reason}
            )
        )
    except DBAPIError as exc:
        raise _refusal(exc) from exc


def _refusal(exc: DBAPIError) -> Exception:
    """The database's refusal of a logged access, in the service layer's own errors."""
    state = getattr(exc.orig, "sqlstate", None)
    diag = getattr(exc.orig, "diag", None)
    message = str((diag.message_primary if diag is not None else None) or exc.orig)
    if state == "42501":
        return PermissionDenied(message[:1].upper() + message[1:] + ".")
    if state == "P0002":
        return NotFoundError(message[:1].upper() + message[1:] + ".")
    if state == "22023":
        return ValidationError("purpose", message)
    return exc


def log_reveal(
    db: Database, identity: Identity, enrollment_id: int, fields: list[str] | tuple[str, ...], reason: str
) -> int:
    """Record that ``identity`` revealed special personal information (the field names, never values).
    On the server a reveal is logged only by revealing (``privacy.reveal_student_pi``)."""
    with db.session() as s:
        if on_server(s, identity):
            return int(reveal_on_server(s, enrollment_id, reason)["log_id"])
        return append(
            s,
            identity,
            AccessKind.SPECIAL_PI_REVEAL,
            object_table="cohort_enrollments",
            object_id=enrollment_id,
            purpose=reason,
            details={"fields": list(fields)},
        )


def log_export(
    db: Database,
    identity: Identity,
    purpose: str,
    *,
    row_count: int,
    object_table: str | None = None,
    object_id: int | None = None,
    file_format: str | None = None,
    columns: list[str] | tuple[str, ...] = (),
    filters: dict[str, Any] | None = None,
    special_pi: bool = False,
) -> int:
    """Record an export: its purpose, what it covered (e.g. ``cohorts``/id), columns, filters, row count."""
    cleaned = (purpose or "").strip()
    if not cleaned:
        raise ValidationError("purpose", "say what the export is for")
    details = {
        "row_count": row_count,
        "format": file_format,
        "columns": list(columns),
        "filters": filters or {},
        "special_pi": special_pi,
    }
    with db.session() as s:
        if on_server(s, identity):
            try:
                return int(
                    s.scalar(
                        text("SELECT cohortdesk_log_export(:p, :t, :i, CAST(:d AS jsonb))"),
                        {"p": cleaned, "t": object_table, "i": object_id, "d": _json(details)},
                    )
                )
            except DBAPIError as exc:
                raise _refusal(exc) from exc
        return append(
            s,
            identity,
            AccessKind.EXPORT,
            object_table=object_table,
            object_id=object_id,
            purpose=cleaned,
            details=details,
        )


def read_log(
    db: Database,
    identity: Identity,
    *,
    object_table: str | None = None,
    object_id: int | None = None,
    kinds: tuple[str, ...] = (),
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1000,
) -> list[AccessLogRow]:
    """The institution's entries, newest first, for its Information Officer (a super admin)."""
    if identity.role != "super_admin":
        raise PermissionDenied("Only a super admin can read the access log.")
    with db.read_session() as s:
        stmt = (
            select(AccessLogEntry, User.first_name, User.last_name, User.email)
            .join(User, User.id == AccessLogEntry.user_id, isouter=True)
            .order_by(AccessLogEntry.at.desc(), AccessLogEntry.id.desc())
            .limit(limit)
        )
        if identity.account_id is not None:
            stmt = stmt.where(AccessLogEntry.account_id == identity.account_id)
        if object_table is not None:
            stmt = stmt.where(AccessLogEntry.object_table == object_table)
        if object_id is not None:
            stmt = stmt.where(AccessLogEntry.object_id == object_id)
        if kinds:
            stmt = stmt.where(AccessLogEntry.kind.in_([AccessKind(k).value for k in kinds]))
        if actor is not None:
            stmt = stmt.where(AccessLogEntry.actor == actor)
        if since is not None:
            stmt = stmt.where(AccessLogEntry.at >= since)
        if until is not None:
            stmt = stmt.where(AccessLogEntry.at < until)
        rows = []
        for entry, first, last, email in s.execute(stmt):
            rows.append(
                AccessLogRow(
                    id=entry.id,
                    at=entry.at,
                    actor=entry.actor,
                    actor_name=" ".join(p for p in (first, last) if p) or email or entry.actor,
                    kind=entry.kind,
                    object_table=entry.object_table,
                    object_id=entry.object_id,
                    purpose=entry.purpose,
                    details=dict(entry.details or {}),
                )
            )
        return rows

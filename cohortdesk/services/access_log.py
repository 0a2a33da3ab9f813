"""The access log POPIA asks for: who viewed which document, revealed whose special personal
information, exported what and why, and who changed whose permissions.

Entries are append-only (the database refuses UPDATE, DELETE and TRUNCATE). On PostgreSQL a CohortDesk
login writes them through ``cohortdesk_log_access()``, so the database, not the client, fills in who,
when, from where and for which institution; permission changes are written only by the database's own
user-management functions. Entries hold ids, field names and counts, never document contents or ID
numbers. ``append`` joins the caller's unit of work, so a reveal or an export and its entry commit or
fail together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.errors import PermissionDenied, ValidationError
from cohortdesk.models import AccessKind, AccessLogEntry, User
from cohortdesk.services.identity import Identity

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
    """Add one entry inside ``session``'s transaction; returns its id."""
    kind = AccessKind(kind)
    details = dict(details or {})
    if identity.db_role is not None and session.get_bind().dialect.name == "postgresql":
        return int(
            session.scalar(
                text(
                    "SELECT cohortdesk_log_access(:kind, :object_table, :object_id, :purpose, "
                    "CAST(:details AS jsonb))"
                ),
                {
                    "kind": kind.value,
                    "object_table": object_table,
                    "object_id": object_id,
                    "purpose": purpose,
                    "details": _json(details),
                },
            )
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
    """Record that ``identity`` opened one uploaded document of an enrollment."""
    with db.session() as s:
        return append(
            s,
            identity,
            AccessKind.DOCUMENT_VIEW,
            object_table="cohort_enrollments",
            object_id=enrollment_id,
            purpose=purpose,
            details={"document_type": document_type},
        )


def log_reveal(
    db: Database, identity: Identity, enrollment_id: int, fields: list[str] | tuple[str, ...], reason: str
) -> int:
    """Record that ``identity`` revealed special personal information (the field names, never values)."""
    with db.session() as s:
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
    with db.session() as s:
        return append(
            s,
            identity,
            AccessKind.EXPORT,
            object_table=object_table,
            object_id=object_id,
            purpose=cleaned,
            details={
                "row_count": row_count,
                "format": file_format,
                "columns": list(columns),
                "filters": filters or {},
                "special_pi": special_pi,
            },
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

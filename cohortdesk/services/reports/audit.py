"""The verification audit trail: every decision in a date range, optionally of one officer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy.orm import Session

from cohortdesk.services.reports import queries as q
from cohortdesk.services.reports.common import (
    ACTION_LABELS,
    SPECIAL_PI_DOCUMENT_TYPES,
    ReportContext,
    ReportPlan,
    as_moment,
    expect_rows,
)
from cohortdesk.services.reports.spreadsheet import Column, Kind, Table
from cohortdesk.services.validation import canonical_document_type, document_label

AUDIT_COLUMNS = (
    Column("decided_at", "Decided At", Kind.DATETIME),
    Column("cohort_name", "Cohort Name"),
    Column("student_name", "Student Name"),
    Column("student_surname", "Student Surname"),
    Column("email", "Email"),
    Column("document_type", "Document Type"),
    Column("decision", "Decision"),
    Column("officer", "Officer"),
    Column("reason", "Reason"),
    Column("reason_code", "Reason Code", Kind.CODE),
)


def _day_start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def build(session: Session, scope: q.Scope, ctx: ReportContext) -> ReportPlan:
    request = ctx.request
    start = _day_start(request.date_from, ctx.zone) if request.date_from else None
    end = _day_start(request.date_to + timedelta(days=1), ctx.zone) if request.date_to else None
    officer = q.officer_name(session, request.officer_id) if request.officer_id is not None else None
    expect_rows(q.count_decisions(session, scope, start, end, request.officer_id), scope, ctx)
    if not ctx.special_pi:
        ctx.omitted.append("decisions on disability and medical documents")
    span = f"decided from {request.date_from or 'the first decision'} to {request.date_to or 'today'} (inclusive)"
    filters = span + (f"; officer: {officer}" if officer else "; every officer")
    cohorts = scope.by_id()
    hidden = frozenset() if ctx.special_pi else SPECIAL_PI_DOCUMENT_TYPES

    def rows() -> Iterator[Any]:
        source = q.audit_rows(session, scope, start, end, request.officer_id, request.chunk_size)
        for (
            decided_at,
            cohort_id,
            name,
            surname,
            email,
            doc_type,
            action,
            who,
            reason,
            code,
        ) in ctx.ticker.wrap(source):
            doc = canonical_document_type(doc_type)
            if doc in hidden:
                continue
            yield (
                as_moment(decided_at),
                cohorts[cohort_id].name,
                name,
                surname,
                email,
                document_label(doc),
                ACTION_LABELS.get(action, action),
                who,
                reason,
                code,
            )

    return ReportPlan([Table("Audit trail", AUDIT_COLUMNS, rows())], filters=filters)

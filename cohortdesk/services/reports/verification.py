"""The verification status report: one row per enrollment and document type (required or uploaded),
with the latest decision on it.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cohortdesk.services.reports import queries as q
from cohortdesk.services.reports.common import (
    ACTION_LABELS,
    SPECIAL_PI_DOCUMENT_TYPES,
    VERIFICATION_STATE_LABELS,
    ReportContext,
    ReportPlan,
    as_moment,
    expect_rows,
)
from cohortdesk.services.reports.spreadsheet import Column, Kind, Table
from cohortdesk.services.validation import canonical_document_type, document_label

VERIFICATION_COLUMNS = (
    Column("cohort_name", "Cohort Name"),
    Column("student_name", "Student Name"),
    Column("student_surname", "Student Surname"),
    Column("email", "Email"),
    Column("document_type", "Document Type"),
    Column("document_key", "Document Key", Kind.CODE),
    Column("required", "Required", Kind.BOOL),
    Column("uploaded", "Uploaded", Kind.BOOL),
    Column("uploaded_at", "Uploaded At", Kind.DATETIME),
    Column("file_name", "File Name"),
    Column("latest_decision", "Latest Decision"),
    Column("decided_by", "Decided By"),
    Column("decided_at", "Decided At", Kind.DATETIME),
    Column("reason", "Reason"),
    Column("verification_state", "Enrollment Verification State"),
)


def build(session: Session, scope: q.Scope, ctx: ReportContext) -> ReportPlan:
    expect_rows(q.count_enrollments(session, scope), scope, ctx)
    if not ctx.special_pi:
        ctx.omitted.append("rows for disability and medical documents")
    cohorts = scope.by_id()
    states = VERIFICATION_STATE_LABELS
    hidden = frozenset() if ctx.special_pi else SPECIAL_PI_DOCUMENT_TYPES

    def rows() -> Iterator[Any]:
        source = q.verification_rows(session, scope, ctx.request.chunk_size)
        for _enrollment_id, group in itertools.groupby(source, key=operator.itemgetter(0)):
            ctx.ticker.tick()
            first = None
            decisions: dict[str, tuple[str, str | None, datetime | None, str | None]] = {}
            for row in group:
                first = first or row
                doc_type, action, reason, decided_at, officer = row[7], row[8], row[9], row[10], row[11]
                if doc_type is None:
                    continue
                key = canonical_document_type(doc_type)
                earlier = decisions.get(key)
                if earlier is None or (decided_at and earlier[2] and decided_at > earlier[2]):
                    decisions[key] = (action, reason, decided_at, officer)
            assert first is not None
            _, cohort_id, name, surname, email, verification_state, uploaded_raw = first[:7]
            cohort = cohorts[cohort_id]
            uploaded = {canonical_document_type(k): v for k, v in (uploaded_raw or {}).items()}
            required = list(cohort.required_document_types) or sorted(uploaded)
            order = [
                *required,
                *sorted(set(uploaded) - set(required)),
                *sorted(set(decisions) - set(required) - set(uploaded)),
            ]
            state = states.get(verification_state, verification_state)
            for doc in order:
                if doc in hidden:
                    continue
                meta = uploaded.get(doc) or {}
                action, reason, decided_at, officer = decisions.get(doc, (None, None, None, None))
                yield (
                    cohort.name,
                    name,
                    surname,
                    email,
                    document_label(doc),
                    doc,
                    doc in required,
                    doc in uploaded,
                    as_moment(meta.get("uploaded_at")) if meta else None,
                    meta.get("file_name") if meta else None,
                    ACTION_LABELS.get(action, action) if action else None,
                    officer,
                    as_moment(decided_at),
                    reason,
                    state,
                )

    return ReportPlan([Table("Verification status", VERIFICATION_COLUMNS, rows())])

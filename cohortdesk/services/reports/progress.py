"""The cohort progress report: per cohort, enrollments in each state and verification state,
completion, and enrolled against expected.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from cohortdesk.enums import CohortState
from cohortdesk.errors import EmptyReportError
from cohortdesk.services.reports import queries as q
from cohortdesk.services.reports.common import (
    ENROLLMENT_STATE_LABELS,
    VERIFICATION_STATE_LABELS,
    ReportContext,
    ReportPlan,
    empty_message,
)
from cohortdesk.services.reports.spreadsheet import Column, Kind, Table

PROGRESS_COLUMNS = (
    Column("cohort_name", "Cohort Name"),
    Column("program_type", "Program Type"),
    Column("cohort_state", "Cohort State"),
    Column("sponsor_company_name", "Sponsor Company Name"),
    Column("start_date", "Start Date", Kind.DATE),
    Column("end_date", "End Date", Kind.DATE),
    Column("expected", "Expected", Kind.INT),
    Column("enrolled", "Enrolled", Kind.INT),
    Column("enrolled_of_expected", "Enrolled of Expected (%)", Kind.PERCENT),
    *(Column(f"state_{k}", label, Kind.INT) for k, label in ENROLLMENT_STATE_LABELS.items()),
    *(Column(f"verification_{k}", label, Kind.INT) for k, label in VERIFICATION_STATE_LABELS.items()),
    Column("completion", "Completion (%)", Kind.PERCENT),
)


def build(session: Session, scope: q.Scope, ctx: ReportContext) -> ReportPlan:
    if not scope.cohorts:
        raise EmptyReportError(empty_message(ctx.request, scope, ctx))
    counts = q.progress_counts(session, scope)
    ctx.ticker.total = len(scope.cohorts)
    ctx.notes.append(
        (
            "Definitions",
            "Completion (%) = complete enrollments ÷ enrolled; Enrolled of Expected (%) = enrolled ÷ "
            "the cohort's expected student count.",
        )
    )

    def local_day(moment: datetime | None) -> date | None:
        return moment.astimezone(ctx.zone).date() if moment else None

    def rows() -> Iterator[Any]:
        for cohort in scope.cohorts:
            ctx.ticker.tick()
            by_state = counts[cohort.id]
            enrolled = sum(by_state.values())
            state_counts = [
                sum(n for (s, _v), n in by_state.items() if s == key) for key in ENROLLMENT_STATE_LABELS
            ]
            verification_counts = [
                sum(n for (_s, v), n in by_state.items() if v == key) for key in VERIFICATION_STATE_LABELS
            ]
            complete = state_counts[list(ENROLLMENT_STATE_LABELS).index("complete")]
            yield (
                cohort.name,
                cohort.program_label,
                CohortState.label_of(cohort.state),
                cohort.sponsor_name,
                local_day(cohort.start_date),
                local_day(cohort.end_date),
                cohort.student_count,
                enrolled,
                enrolled / cohort.student_count if cohort.student_count else None,
                *state_counts,
                *verification_counts,
                complete / enrolled if enrolled else None,
            )

    return ReportPlan([Table("Progress", PROGRESS_COLUMNS, rows())])

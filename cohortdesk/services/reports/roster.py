"""The cohort roster (FR23, ``docs/domain.md`` §6): one row per enrollment, the ten required columns in
order, then e-mail, SA ID number and the two states.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from cohortdesk.services.reports import queries as q
from cohortdesk.services.reports.common import (
    ENROLLMENT_STATE_LABELS,
    VERIFICATION_STATE_LABELS,
    ReportContext,
    ReportPlan,
    expect_rows,
    keep_columns,
    special_values,
)
from cohortdesk.services.reports.spreadsheet import Column, Kind, Table
from cohortdesk.services.validation import DISABILITY_STATUSES, GENDERS, POPULATION_GROUPS

ROSTER_COLUMNS = (
    Column("cohort_name", "Cohort Name"),
    Column("student_name", "Student Name"),
    Column("student_surname", "Student Surname"),
    Column("student_age", "Student Age", Kind.INT),
    Column("student_race", "Student Race"),
    Column("student_city", "Student City"),
    Column("program_type", "Program Type"),
    Column("sponsor_company_name", "Sponsor Company Name"),
    Column("disability_status", "Disability Status"),
    Column("gender", "Gender"),
    Column("email", "Email"),
    Column("sa_id_number", "SA ID Number", Kind.CODE),
    Column("enrollment_state", "Enrollment State"),
    Column("verification_state", "Verification State"),
)


def build(session: Session, scope: q.Scope, ctx: ReportContext) -> ReportPlan:
    counts = q.enrollment_counts(session, scope)
    expect_rows(sum(counts.values()), scope, ctx)
    ctx.notes.append(("Ages as at", ctx.as_at))
    columns, pick = keep_columns(ROSTER_COLUMNS, ctx)
    # What a row takes from its cohort, looked up once per cohort rather than per row.
    cohorts = {c.id: (c.name, c.program_label, c.sponsor_name) for c in scope.cohorts}
    as_at, today = ctx.as_at, ctx.generated_at.astimezone(ctx.zone).date()
    age_on, birth_date = q.age_on, q.birth_date
    races, genders, disabilities = POPULATION_GROUPS, GENDERS, DISABILITY_STATUSES
    special = special_values(ctx, scope, columns)
    states, verification_states = ENROLLMENT_STATE_LABELS, VERIFICATION_STATE_LABELS

    def rows() -> Iterator[Any]:
        for (
            enrollment_id,
            cohort_id,
            first,
            last,
            email,
            race,
            gender,
            disability,
            city,
            sa_id,
            born,
            state,
            verification,
        ) in ctx.ticker.wrap(q.roster_rows(session, scope, ctx.request.chunk_size, counts)):
            if special is not None:
                race, disability, sa_id, _alternate = special.get(enrollment_id, (None, None, None, None))
            cohort_name, program_label, sponsor_name = cohorts[cohort_id]
            row = (
                cohort_name,
                first,
                last,
                age_on(birth_date(born, sa_id, today), as_at),
                races.get(race, race) if race else None,
                city,
                program_label,
                sponsor_name,
                disabilities.get(disability, disability) if disability else None,
                genders.get(gender, gender) if gender else None,
                email,
                sa_id,
                states.get(state, state),
                verification_states.get(verification, verification),
            )
            yield pick(row) if pick else row

    return ReportPlan([Table("Roster", columns, rows())])

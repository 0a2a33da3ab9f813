"""The demographics summary: per cohort, counts by population group × gender, disability status ×
gender and age band × gender with totals, a native chart per breakdown, and optional small-cell
suppression (``docs/domain.md`` §6).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from cohortdesk.services.reports import queries as q
from cohortdesk.services.reports.common import (
    NOT_RECORDED,
    ReportContext,
    ReportPlan,
    expect_rows,
    special_values,
)
from cohortdesk.services.reports.request import age_band_labels, age_band_of
from cohortdesk.services.reports.spreadsheet import ChartSpec, Column, Kind, Table
from cohortdesk.services.validation import DISABILITY_STATUSES, GENDERS, POPULATION_GROUPS

SUPPRESSED = "<5"
SECONDARY = "*"
_GENDER_COLUMNS = (*GENDERS.values(), NOT_RECORDED)


@dataclass(frozen=True)
class _Breakdown:
    key: str
    sheet: str
    category_header: str
    categories: tuple[str, ...]
    special_pi: bool


def _breakdowns(ctx: ReportContext) -> list[_Breakdown]:
    return [
        _Breakdown(
            "population_group",
            "Population group × gender",
            "Population Group",
            (*POPULATION_GROUPS.values(), NOT_RECORDED),
            True,
        ),
        _Breakdown(
            "disability",
            "Disability × gender",
            "Disability Status",
            (*DISABILITY_STATUSES.values(), NOT_RECORDED),
            True,
        ),
        _Breakdown(
            "age_band",
            "Age band × gender",
            "Age Band",
            tuple(age_band_labels(ctx.request.age_bands)),
            False,
        ),
    ]


def suppress_small_cells(
    cells: list[list[int]], row_totals: list[int], column_totals: list[int], grand_total: int
) -> tuple[list[list[Any]], list[Any], list[Any], Any]:
    """Hide counts of 1–4 as ``"<5"`` and, so none can be worked out by subtraction from a total,
    also hide (``"*"``) the smallest other non-zero count of any row or column that would otherwise
    have exactly one hidden cell. Zeros stay visible: they disclose nobody."""
    rows, cols = len(cells), len(column_totals)
    hidden: dict[tuple[int, int], str] = {}  # (r, c); r == rows is the totals row, c == cols the total col
    value = {(r, c): cells[r][c] for r in range(rows) for c in range(cols)}
    value.update({(r, cols): row_totals[r] for r in range(rows)})
    value.update({(rows, c): column_totals[c] for c in range(cols)})
    value[(rows, cols)] = grand_total
    for key, count in value.items():
        if 0 < count < 5:
            hidden[key] = SUPPRESSED
    lines = [[(r, c) for c in range(cols + 1)] for r in range(rows + 1)]
    lines += [[(r, c) for r in range(rows + 1)] for c in range(cols + 1)]
    changed = True
    while changed:
        changed = False
        for line in lines:
            parts, total = line[:-1], line[-1]
            if total in hidden:
                continue
            if sum(1 for key in parts if key in hidden) != 1:
                continue
            candidates = [key for key in parts if key not in hidden and value[key] > 0]
            target = min(candidates, key=lambda k: value[k]) if candidates else total
            hidden[target] = SECONDARY
            changed = True

    def show(key: tuple[int, int]) -> Any:
        return hidden.get(key, value[key])

    return (
        [[show((r, c)) for c in range(cols)] for r in range(rows)],
        [show((r, cols)) for r in range(rows)],
        [show((rows, c)) for c in range(cols)],
        show((rows, cols)),
    )


def build(session: Session, scope: q.Scope, ctx: ReportContext) -> ReportPlan:
    expect_rows(q.count_enrollments(session, scope), scope, ctx)
    breakdowns = [b for b in _breakdowns(ctx) if ctx.special_pi or not b.special_pi]
    if not ctx.special_pi:
        ctx.omitted.extend(f"the {b.sheet} sheet" for b in _breakdowns(ctx) if b.special_pi)
    bands = ctx.request.age_bands
    today = ctx.generated_at.astimezone(ctx.zone).date()
    # counts[breakdown][cohort_id][(category, gender)]: bounded by cohorts × categories, not by learners.
    counts: dict[str, dict[int, Counter[tuple[str, str]]]] = {
        b.key: {c.id: Counter() for c in scope.cohorts} for b in breakdowns
    }
    wanted = {b.key for b in breakdowns}
    special = special_values(ctx, scope, ()) if {"population_group", "disability"} & wanted else None
    for enrollment_id, cohort_id, race, gender, disability, sa_id, born in ctx.ticker.wrap(
        q.demographic_rows(session, scope, ctx.request.chunk_size)
    ):
        if special is not None:
            race, disability, sa_id, _alternate = special.get(enrollment_id, (None, None, sa_id, None))
        gender_label = GENDERS.get(gender or "", NOT_RECORDED)
        if "population_group" in wanted:
            category = POPULATION_GROUPS.get(race or "", NOT_RECORDED)
            counts["population_group"][cohort_id][(category, gender_label)] += 1
        if "disability" in wanted:
            category = DISABILITY_STATUSES.get(disability or "", NOT_RECORDED)
            counts["disability"][cohort_id][(category, gender_label)] += 1
        age = q.age_on(q.birth_date(born, sa_id, today), ctx.as_at)
        counts["age_band"][cohort_id][(age_band_of(age, bands), gender_label)] += 1

    ctx.notes.append(("Ages as at", ctx.as_at))
    ctx.notes.append(
        ("Age bands", ", ".join(age_band_labels(bands)) + " (whole years at the date above; configurable)")
    )
    ctx.notes.append(
        (
            "Small-cell suppression",
            f'On: counts of 1 to 4 are shown as "{SUPPRESSED}", and a count that would let one be worked out '
            f'from a total is shown as "{SECONDARY}". Zeros are shown.'
            if ctx.suppress
            else "Off: exact counts. Suppress small cells before this leaves the institution.",
        )
    )
    blocks: list[tuple[str, list[int]]] = []
    if len(scope.cohorts) > 1:
        blocks.append(("All cohorts", scope.ids))
    blocks.extend((c.name, [c.id]) for c in scope.cohorts)

    def block_rows(breakdown: _Breakdown, block: list[int]) -> list[list[Any]]:
        merged: Counter[tuple[str, str]] = Counter()
        for cohort_id in block:
            merged.update(counts[breakdown.key][cohort_id])
        cells = [[merged[(cat, g)] for g in _GENDER_COLUMNS] for cat in breakdown.categories]
        row_totals = [sum(r) for r in cells]
        column_totals = [sum(col) for col in zip(*cells, strict=True)]
        grand = sum(row_totals)
        if ctx.suppress:
            shown, row_totals_shown, column_totals_shown, grand_shown = suppress_small_cells(
                cells, row_totals, column_totals, grand
            )
        else:
            shown, row_totals_shown, column_totals_shown, grand_shown = (
                cells,
                row_totals,
                column_totals,
                grand,
            )
        out = [[cat, *shown[i], row_totals_shown[i]] for i, cat in enumerate(breakdown.categories)]
        out.append(["Total", *column_totals_shown, grand_shown])
        return out

    tables: list[Table] = []
    if ctx.request.format == "csv":
        columns = [
            Column("breakdown", "Breakdown"),
            Column("cohort", "Cohort"),
            Column("category", "Category"),
            *(Column(g.lower().replace(" ", "_"), g, Kind.INT) for g in _GENDER_COLUMNS),
            Column("total", "Total", Kind.INT),
        ]
        rows = [
            [b.category_header, name, *row]
            for b in breakdowns
            for name, block in blocks
            for row in block_rows(b, block)
        ]
        return ReportPlan([Table("Demographics", columns, rows)])
    for b in breakdowns:
        columns = [
            Column("cohort", "Cohort"),
            Column("category", b.category_header),
            *(Column(g.lower().replace(" ", "_"), g, Kind.INT) for g in _GENDER_COLUMNS),
            Column("total", "Total", Kind.INT),
        ]
        rows = [[name, *row] for name, block in blocks for row in block_rows(b, block)]
        first_block_name = blocks[0][0]
        first_block_rows = len(b.categories)  # the category rows of the first block; its Total row follows
        value_columns = (2, 3) + ((4,) if any(r[4] not in (0, None) for r in rows[:first_block_rows]) else ())
        chart = ChartSpec(
            title=f"{b.category_header} by gender: {first_block_name}",
            category_column=1,
            value_columns=value_columns,
            first_row=0,
            last_row=first_block_rows - 1,
            x_title=b.category_header,
        )
        tables.append(Table(b.sheet, columns, rows, charts=(chart,)))
    return ReportPlan(tables)

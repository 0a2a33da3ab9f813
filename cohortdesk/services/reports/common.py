"""What every report shares: the labels, the export's context and progress, and the column and row
rules of special personal information (``docs/domain.md`` §5–6)."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import text

from cohortdesk.db import Database
from cohortdesk.enums import EnrollmentState, VerificationAction, VerificationState
from cohortdesk.errors import EmptyReportError, OperationCancelled, PermissionDenied, ValidationError
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.reports import queries as q
from cohortdesk.services.reports.request import REPORTS, ExportRequest, special_pi_allowed
from cohortdesk.services.reports.spreadsheet import XLSX_MAX_ROWS, Column, Table, report_zone

#: Document types whose very presence is health information (``docs/domain.md`` §2, §5).
SPECIAL_PI_DOCUMENT_TYPES = frozenset({"disability_proof", "medical_certificate"})
#: Columns holding special personal information: left out (not blanked) without the capability.
SPECIAL_PI_COLUMNS = frozenset({"student_race", "disability_status", "sa_id_number"})
ENROLLMENT_STATE_LABELS = {state.value: state.label for state in EnrollmentState}
VERIFICATION_STATE_LABELS = {state.value: state.label for state in VerificationState}
ACTION_LABELS = {action.value: action.label for action in VerificationAction}
NOT_RECORDED = "Not recorded"


class Ticker:
    """Counts progress, reports it now and then, and stops the export when it is cancelled."""

    EVERY = 512  # rows between progress reports
    #: Rows between polls of ``cancelled()``. Polling often matters beyond Cancel: the desktop's token
    #: lets the GUI thread take the GIL when polled (views/runner.py), keeping the window responsive.
    POLL_EVERY = 32

    def __init__(
        self,
        total: int,
        text: str,
        progress: Callable[..., None] | None,
        cancelled: Callable[[], bool] | None,
    ) -> None:
        self.done = 0
        self.total = total
        self.text = text
        self._progress = progress
        self._cancelled = cancelled

    def tick(self) -> None:
        self.done += 1
        if self.done % self.POLL_EVERY == 0:
            if self.done % self.EVERY == 0:
                self.check()
            else:
                self._poll()

    def _poll(self) -> None:
        if self._cancelled is not None and self._cancelled():
            raise OperationCancelled("The export was cancelled; no file was written.")

    def check(self) -> None:
        self._poll()
        if self._progress is not None:
            self._progress(min(self.done, self.total), self.total, self.text)

    def wrap(self, rows: Iterator[Any]) -> Iterator[Any]:
        for row in rows:
            self.tick()
            yield row


@dataclass
class ReportContext:
    request: ExportRequest
    identity: Identity
    zone: tzinfo
    generated_at: datetime
    as_at: date
    special_pi: bool
    suppress: bool
    ticker: Ticker
    omitted: list[str] = field(default_factory=list)
    notes: list[tuple[str, Any]] = field(default_factory=list)
    #: The primary database: on PostgreSQL a login's special PI comes from there, through the logged gate.
    primary: Database | None = None
    #: Set when the gate already wrote this export's access-log entry.
    logged: bool = False


@dataclass
class ReportPlan:
    tables: list[Table]
    filters: str = "none"


def make_context(
    request: ExportRequest,
    identity: Identity,
    progress: Callable[..., None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ReportContext:
    """Everything a report builder needs besides the session: checked permissions, zone, defaults."""
    if not identity.can("export"):
        raise PermissionDenied("Your role may not export reports.")
    zone = report_zone(request.timezone)
    generated_at = datetime.now(UTC).replace(microsecond=0)
    suppress = (
        request.suppress_small_cells
        if request.suppress_small_cells is not None
        else (request.report == "demographics" and request.purpose == "sponsor_report")
    )
    return ReportContext(
        request=request,
        identity=identity,
        zone=zone,
        generated_at=generated_at,
        as_at=request.as_at or generated_at.astimezone(zone).date(),
        special_pi=special_pi_allowed(request, identity),
        suppress=suppress,
        ticker=Ticker(0, f"Exporting the {REPORTS[request.report].lower()}", progress, cancelled),
    )


def keep_columns(
    columns: Sequence[Column], ctx: ReportContext
) -> tuple[list[Column], Callable[[Any], Any] | None]:
    """The columns this export may show, and a picker that drops the others from each full row."""
    if ctx.special_pi:
        return list(columns), None
    keep = [i for i, col in enumerate(columns) if col.key not in SPECIAL_PI_COLUMNS]
    ctx.omitted.extend(col.header for col in columns if col.key in SPECIAL_PI_COLUMNS)
    pick = operator.itemgetter(*keep)
    return [columns[i] for i in keep], pick


def special_values(
    ctx: ReportContext, scope: q.Scope, columns: Sequence[Column]
) -> dict[int, tuple[str | None, str | None, str | None, str | None]] | None:
    """On PostgreSQL under a login, which reads special PI masked: the real values of the scope's
    enrollments, ``{enrollment_id: (race, disability, sa_id_number, alternate_id)}``, from the primary
    through ``cohortdesk_export_special_pi``, which checks the capability and writes this export's
    access-log entry before any row is read. ``None`` where the rows already hold the values."""
    db = ctx.primary
    if not ctx.special_pi or db is None or db.is_sqlite or ctx.identity.db_role is None or not scope.ids:
        return None
    details = {
        "report": ctx.request.report,
        "format": ctx.request.format,
        "columns": [column.header for column in columns],
        "filters": {"scope": "cohort" if scope.single else "all", "cohort_ids": scope.ids},
    }
    with db.session() as s:
        rows = s.execute(
            text(
                "SELECT enrollment_id, race, disability, sa_id_number, alternate_id FROM "
                "cohortdesk_export_special_pi(CAST(:cohorts AS bigint[]), :purpose, CAST(:details AS jsonb))"
            ),
            {"cohorts": list(scope.ids), "purpose": ctx.request.purpose, "details": json.dumps(details)},
        ).all()
    ctx.logged = True
    return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


def expect_rows(count: int, scope: q.Scope, ctx: ReportContext) -> None:
    """A report is about to write ``count`` rows (or records): refused in words when there are none or
    more than one Excel sheet holds; otherwise ``count`` is the progress total."""
    request = ctx.request
    if count == 0:
        raise EmptyReportError(empty_message(request, scope, ctx))
    if request.format == "xlsx" and count >= XLSX_MAX_ROWS:
        raise ValidationError("format", f"{count:,} rows are more than one Excel sheet holds; export as CSV")
    ctx.ticker.total = count


def empty_message(request: ExportRequest, scope: q.Scope, ctx: ReportContext) -> str:
    if not scope.cohorts:
        return "There are no cohorts to report on yet, so no file was written."
    where = f"cohort {scope.cohorts[0].name!r}" if scope.single else "any of your cohorts"
    if request.report == "audit":
        return f"No verification decisions match these filters in {where}, so no file was written."
    if scope.single:
        return f"Cohort {scope.cohorts[0].name!r} has no enrollments yet, so there is nothing to export; no file was written."
    return "None of your cohorts has any enrollments yet, so there is nothing to export; no file was written."


def as_moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None

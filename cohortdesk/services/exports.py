"""Reports to spreadsheets: the five exports, each one call from the window, the command line or a test.

``export_report(db, request, destination)`` streams a report from the database into an XLSX or CSV file:

* ``roster``: the FR23 cohort roster (``docs/domain.md`` §6), exactly its ten columns in
  order, then e-mail, SA ID number, enrollment state and verification state;
* ``verification``: one row per enrollment and document type (required or uploaded), with the latest
  decision on it;
* ``audit``: every verification decision in a date range, optionally for one cohort or one officer;
* ``demographics``: per cohort, counts by population group × gender, disability status × gender and age
  band × gender, with totals, a native Excel chart per breakdown, and optional small-cell suppression;
* ``progress``: per cohort, enrollments in each state and verification state, completion, expected
  against enrolled.

POPIA (``docs/domain.md`` §5–6): race, disability and the full SA ID number are special personal information. They are
exported only when the identity holds ``SPECIAL_PI`` and the export includes them (by default every
purpose but a sponsor report); otherwise their columns, sheets and disability-document rows are
**omitted, not blanked**, and the Report info sheet says so. Each export names its purpose and is
written to the access log (``services/access_log.py``: who, what, purpose, columns, filters, row
count) before the file appears; an export that cannot be logged leaves no file.

A report with no rows raises ``EmptyReportError`` and writes nothing; a cancelled or failed export
leaves no file behind (``spreadsheet.atomic_output``).
"""

from __future__ import annotations

import itertools
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from cohortdesk import __version__
from cohortdesk.db import Database
from cohortdesk.errors import EmptyReportError, OperationCancelled, PermissionDenied, ValidationError
from cohortdesk.services import access_log
from cohortdesk.services import report_queries as q
from cohortdesk.services.identity import SPECIAL_PI, Identity, resolve_identity
from cohortdesk.services.spreadsheet import (
    XLSX_MAX_ROWS,
    ChartSpec,
    Column,
    CsvReportWriter,
    Kind,
    Table,
    XlsxReportWriter,
    atomic_output,
    report_zone,
    zone_label,
)
from cohortdesk.services.validation import (
    DISABILITY_STATUSES,
    GENDERS,
    POPULATION_GROUPS,
    canonical_document_type,
    document_label,
)

REPORTS = {
    "roster": "Cohort roster",
    "verification": "Verification status",
    "audit": "Verification audit trail",
    "demographics": "Demographics summary",
    "progress": "Cohort progress",
}
PURPOSES = {
    "seta_submission": "SETA submission",
    "sponsor_report": "Sponsor report",
    "ee_report": "Employment Equity report",
    "internal_use": "Internal use",
}
FORMATS = ("xlsx", "csv")
INFO_SHEET = "Report info"
#: Document types whose very presence is health information (``docs/domain.md`` §2, §5).
SPECIAL_PI_DOCUMENT_TYPES = frozenset({"disability_proof", "medical_certificate"})
ENROLLMENT_STATE_LABELS = {"waiting": "Waiting", "in_progress": "In progress", "complete": "Complete"}
VERIFICATION_STATE_LABELS = {"pending": "Pending", "verified": "Verified", "rejected": "Rejected"}
ACTION_LABELS = {"approved": "Approved", "rejected": "Rejected"}
NOT_RECORDED = "Not recorded"
SUPPRESSED = "<5"
SECONDARY = "*"
_FILE_SLUGS = {
    "roster": "roster",
    "verification": "verification-status",
    "audit": "audit-trail",
    "demographics": "demographics",
    "progress": "progress",
}


# --- age bands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgeBand:
    low: int
    high: int | None = None  # None: open-ended ("55+")

    @property
    def label(self) -> str:
        return f"{self.low}+" if self.high is None else f"{self.low}–{self.high}"


#: Default bands: ten-year bands from 15, the youth ages (15–34, National Youth Commission Act) being
#: the first two; 55+ last. Ages under 15 and unknown ages get rows of their own.
DEFAULT_AGE_BANDS = (AgeBand(15, 24), AgeBand(25, 34), AgeBand(35, 44), AgeBand(45, 54), AgeBand(55))


def parse_age_bands(spec: str) -> tuple[AgeBand, ...]:
    """``"15-24,25-34,35+"`` → bands; they must follow on from each other, only the last open-ended."""
    bands: list[AgeBand] = []
    for part in (p.strip() for p in spec.split(",")):
        match = re.fullmatch(r"(\d{1,3})\s*(?:[-–]\s*(\d{1,3})|(\+))", part)
        if not match:
            raise ValidationError("age_bands", f"{part!r} is not a band like 15-24 or 55+")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else None
        if high is not None and high < low:
            raise ValidationError("age_bands", f"{part!r} ends before it starts")
        if bands:
            previous = bands[-1]
            if previous.high is None:
                raise ValidationError("age_bands", "only the last band may be open-ended (like 55+)")
            if low != previous.high + 1:
                raise ValidationError(
                    "age_bands",
                    f"bands must follow on from each other: {previous.label} then {previous.high + 1}-…",
                )
        bands.append(AgeBand(low, high))
    if not bands:
        raise ValidationError("age_bands", "give at least one band")
    return tuple(bands)


def age_band_labels(bands: Sequence[AgeBand]) -> list[str]:
    labels = [band.label for band in bands]
    if bands[0].low > 0:
        labels.insert(0, f"Under {bands[0].low}")
    if bands[-1].high is not None:
        labels.append(f"Over {bands[-1].high}")
    return [*labels, "Unknown"]


def age_band_of(age: int | None, bands: Sequence[AgeBand]) -> str:
    if age is None:
        return "Unknown"
    if age < bands[0].low:
        return f"Under {bands[0].low}"
    for band in bands:
        if band.high is None or age <= band.high:
            return band.label
    return f"Over {bands[-1].high}"


# --- requests and results -----------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    """What to export. ``cohort_id=None`` means every cohort of the user's institution."""

    report: str
    format: str = "xlsx"
    cohort_id: int | None = None
    purpose: str = "internal_use"
    date_from: date | None = None  # audit only; inclusive, in the report's time zone
    date_to: date | None = None  # audit only; inclusive
    officer_id: int | None = None  # audit only
    as_at: date | None = None  # roster and demographics: ages at this date (default: today)
    include_special_pi: bool | None = None  # None: yes, unless the purpose is a sponsor report
    suppress_small_cells: bool | None = None  # demographics; None: on for a sponsor report
    csv_bom: bool = True
    age_bands: tuple[AgeBand, ...] = DEFAULT_AGE_BANDS
    timezone: str | None = None  # IANA name; default: this computer's zone
    chunk_size: int = 2000


@dataclass(frozen=True)
class ExportResult:
    path: Path
    report: str
    format: str
    rows: int
    sheets: tuple[str, ...]
    special_pi_included: bool
    omitted_columns: tuple[str, ...]
    generated_at: datetime
    time_zone: str
    logged: bool  # written to the access log (always, before the file appeared)


def validate_request(request: ExportRequest) -> ExportRequest:
    if request.report not in REPORTS:
        raise ValidationError("report", f"{request.report!r} is not one of {', '.join(REPORTS)}")
    if request.format not in FORMATS:
        raise ValidationError("format", f"{request.format!r} must be xlsx or csv")
    if request.purpose not in PURPOSES:
        raise ValidationError("purpose", f"{request.purpose!r} is not one of {', '.join(PURPOSES)}")
    if request.report != "audit" and (request.date_from or request.date_to or request.officer_id is not None):
        raise ValidationError("date range", "a date range and an officer apply to the audit trail only")
    if request.date_from and request.date_to and request.date_to < request.date_from:
        raise ValidationError("date range", "the end date is before the start date")
    if request.report != "demographics" and request.suppress_small_cells:
        raise ValidationError(
            "suppress_small_cells", "small-cell suppression applies to the demographics report"
        )
    if not request.age_bands:
        raise ValidationError("age_bands", "give at least one band")
    if request.chunk_size < 1:
        raise ValidationError("chunk_size", "must be at least 1")
    return request


def default_file_name(request: ExportRequest, today: date | None = None) -> str:
    """A file name with no personal data in it: ``cohort-12-roster-20260302.xlsx``."""
    today = today or datetime.now(report_zone(request.timezone)).date()
    scope = f"cohort-{request.cohort_id}" if request.cohort_id is not None else "all-cohorts"
    return f"{scope}-{_FILE_SLUGS.get(request.report, request.report)}-{today:%Y%m%d}.{request.format}"


def special_pi_allowed(request: ExportRequest, identity: Identity) -> bool:
    """Whether this export includes special personal information; refuses an explicit request the
    identity may not make."""
    wanted = request.include_special_pi
    if wanted is None:
        wanted = request.purpose != "sponsor_report"
    if wanted and not identity.can(SPECIAL_PI):
        if request.include_special_pi:
            raise PermissionDenied(
                "Your role may not export special personal information (race, disability, ID numbers). "
                "Export without it, or ask a super admin."
            )
        return False
    return bool(wanted)


# --- running an export --------------------------------------------------------------------------


class _Ticker:
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
class _Context:
    request: ExportRequest
    identity: Identity
    zone: tzinfo
    generated_at: datetime
    as_at: date
    special_pi: bool
    suppress: bool
    ticker: _Ticker
    omitted: list[str] = field(default_factory=list)
    notes: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class _Plan:
    tables: list[Table]
    filters: str = "none"


def _make_context(
    request: ExportRequest,
    identity: Identity,
    progress: Callable[..., None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> _Context:
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
    return _Context(
        request=request,
        identity=identity,
        zone=zone,
        generated_at=generated_at,
        as_at=request.as_at or generated_at.astimezone(zone).date(),
        special_pi=special_pi_allowed(request, identity),
        suppress=suppress,
        ticker=_Ticker(0, f"Exporting the {REPORTS[request.report].lower()}", progress, cancelled),
    )


def export_report(
    db: Database,
    request: ExportRequest,
    destination: Path | str,
    identity: Identity | None = None,
    *,
    progress: Callable[..., None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ExportResult:
    """Write one report to ``destination`` (replaced atomically). Runs on the runner's ``io`` lane:
    ``progress(done, total, text)`` is called now and then, and ``cancelled()`` is polled."""
    request = validate_request(request)
    identity = identity or resolve_identity(db)
    ctx = _make_context(request, identity, progress, cancelled)
    zone, generated_at, special_pi = ctx.zone, ctx.generated_at, ctx.special_pi
    destination = Path(destination).expanduser()
    with atomic_output(destination) as temp:
        writer: XlsxReportWriter | CsvReportWriter = (
            XlsxReportWriter(temp, zone)
            if request.format == "xlsx"
            else CsvReportWriter(temp, zone, bom=request.csv_bom)
        )
        try:
            # A profile's reporting replica (a read-only standby) serves the reading; the access
            # log entry still goes to the primary, before the file appears.
            with db.report_database().read_session() as session:
                _consistent_snapshot(session)
                ctx.notes.extend(_replica_notes(session))
                scope = q.resolve_scope(session, identity, request.cohort_id)
                plan = _BUILDERS[request.report](session, scope, ctx)
                rows = 0
                for index, table in enumerate(plan.tables):
                    written = writer.write_table(table)
                    if index == 0:
                        rows = written
                if rows == 0:
                    raise EmptyReportError(_empty_message(request, scope, ctx))
                writer.write_info(INFO_SHEET, REPORTS[request.report], _info_items(ctx, scope, plan, rows))
            ctx.ticker.check()
            writer.close()
        except BaseException:
            writer.discard()
            raise
        ctx.ticker.check()  # last chance to cancel before the file appears
        logged = _log_export(db, identity, request, scope, plan, rows, special_pi, destination.name)
    return ExportResult(
        path=destination,
        report=request.report,
        format=request.format,
        rows=rows,
        sheets=tuple(writer.sheets),
        special_pi_included=special_pi,
        omitted_columns=tuple(ctx.omitted),
        generated_at=generated_at,
        time_zone=zone_label(zone, generated_at),
        logged=logged,
    )


def _consistent_snapshot(session: Session) -> None:
    """On PostgreSQL the export reads one snapshot (counts and rows agree) and writes nothing."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))


#: How far behind the primary a standby's data is: zero when it has replayed all it received.
_REPLICA_LAG_SQL = text(
    "SELECT pg_is_in_recovery(), CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() "
    "THEN 0 ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END, "
    "pg_last_xact_replay_timestamp()"
)


def replica_lag(session: Session) -> tuple[bool, float | None, datetime | None]:
    """(read from a standby?, seconds its data is behind the primary, time of the last change it
    has applied); (False, None, None) on the primary or SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        return False, None, None
    standby, lag, replayed = session.execute(_REPLICA_LAG_SQL).one()
    if not standby:
        return False, None, None
    return True, (float(lag) if lag is not None else None), replayed


def _replica_notes(session: Session) -> list[tuple[str, Any]]:
    """The Report info sheet's word on a standby: that the data came from one, and how far behind."""
    standby, lag, replayed = replica_lag(session)
    if not standby:
        return []
    if lag is None:
        behind = (
            "it had changes from the primary still to apply, but how long behind it was is unknown "
            "(it has applied no change since it started)"
        )
    elif lag < 1:
        behind = "it was up to date with the primary (less than a second behind)"
    else:
        behind = f"it was {lag:,.0f} seconds behind the primary"
    last = f"; last change applied at {replayed.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if replayed else ""
    return [
        ("Read from", f"A read-only standby (reporting replica): {behind} when this report was read{last}.")
    ]


def _log_export(
    db: Database,
    identity: Identity,
    request: ExportRequest,
    scope: q.Scope,
    plan: _Plan,
    rows: int,
    special_pi: bool,
    file_name: str,
) -> bool:
    """Record the export in the access log (who, what, purpose, columns, filters, row count) through
    ``services/access_log.log_export``.

    Logging happens before the file is renamed into place, so an export that cannot be logged leaves
    no file. Only ids, codes, column headers and counts go into the log, never names or ID numbers.
    """
    access_log.log_export(
        db,
        identity,
        request.purpose,
        row_count=rows,
        object_table="cohorts",
        object_id=scope.cohorts[0].id if scope.single and scope.cohorts else None,
        file_format=request.format,
        columns=[column.header for column in plan.tables[0].columns] if plan.tables else [],
        filters={
            "report": request.report,
            "scope": "cohort" if scope.single else "all",
            "cohort_ids": scope.ids,
            "date_from": request.date_from.isoformat() if request.date_from else None,
            "date_to": request.date_to.isoformat() if request.date_to else None,
            "officer_id": request.officer_id,
            "as_at": request.as_at.isoformat() if request.as_at else None,
            "suppress_small_cells": request.suppress_small_cells,
            "sheets": [table.sheet for table in plan.tables],
            "file_name": file_name,
        },
        special_pi=special_pi,
    )
    return True


def _empty_message(request: ExportRequest, scope: q.Scope, ctx: _Context) -> str:
    if not scope.cohorts:
        return "There are no cohorts to report on yet, so no file was written."
    where = f"cohort {scope.cohorts[0].name!r}" if scope.single else "any of your cohorts"
    if request.report == "audit":
        return f"No verification decisions match these filters in {where}, so no file was written."
    if scope.single:
        return f"Cohort {scope.cohorts[0].name!r} has no enrollments yet, so there is nothing to export; no file was written."
    return "None of your cohorts has any enrollments yet, so there is nothing to export; no file was written."


def _info_items(ctx: _Context, scope: q.Scope, plan: _Plan, rows: int) -> list[tuple[str, Any]]:
    request, identity = ctx.request, ctx.identity
    if ctx.special_pi:
        special = (
            "Included (race, disability status, full SA ID numbers, disability documents): special personal "
            "information under POPIA. Share it only for the purpose stated above."
        )
    else:
        why = (
            f"{identity.display_name} does not hold the capability to export special personal information"
            if not identity.can(SPECIAL_PI)
            else "it was not asked for in this export"
        )
        left_out = ", ".join(ctx.omitted) if ctx.omitted else "nothing in this report"
        special = f"Omitted, not blanked, because {why}. Left out: {left_out}."
    items: list[tuple[str, Any]] = [
        ("Report", REPORTS[request.report]),
        ("Scope", scope.describe()),
        ("Filters", plan.filters),
        *ctx.notes,
        ("Purpose", PURPOSES[request.purpose]),
        ("Generated by", f"{identity.display_name} ({identity.role.replace('_', ' ')})"),
        ("Generated at", ctx.generated_at),
        ("Time zone", f"{zone_label(ctx.zone, ctx.generated_at)}; every date and time in this file is in it"),
        ("Rows", rows),
        ("Special personal information", special),
        (
            "Formula safety",
            "Text that starts with =, +, -, @, a tab or a carriage return is prefixed with an apostrophe (') "
            "so that no spreadsheet program runs it as a formula.",
        ),
        ("CohortDesk version", __version__),
    ]
    return items


# --- the reports --------------------------------------------------------------------------------

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
SPECIAL_PI_COLUMNS = frozenset({"student_race", "disability_status", "sa_id_number"})


def _keep_columns(
    columns: Sequence[Column], ctx: _Context
) -> tuple[list[Column], Callable[[Any], Any] | None]:
    """The columns this export may show, and a picker that drops the others from each full row."""
    if ctx.special_pi:
        return list(columns), None
    keep = [i for i, col in enumerate(columns) if col.key not in SPECIAL_PI_COLUMNS]
    ctx.omitted.extend(col.header for col in columns if col.key in SPECIAL_PI_COLUMNS)
    pick = operator.itemgetter(*keep)
    return [columns[i] for i in keep], pick


def _require_rows(count: int, request: ExportRequest, scope: q.Scope, ctx: _Context) -> None:
    if count == 0:
        raise EmptyReportError(_empty_message(request, scope, ctx))
    if request.format == "xlsx" and count >= XLSX_MAX_ROWS:
        raise ValidationError("format", f"{count:,} rows are more than one Excel sheet holds; export as CSV")


def _roster(session: Session, scope: q.Scope, ctx: _Context) -> _Plan:
    total = q.count_enrollments(session, scope)
    _require_rows(total, ctx.request, scope, ctx)
    ctx.ticker.total = total
    ctx.notes.append(("Ages as at", ctx.as_at))
    columns, pick = _keep_columns(ROSTER_COLUMNS, ctx)
    cohorts = scope.by_id()
    as_at, today = ctx.as_at, ctx.generated_at.astimezone(ctx.zone).date()
    races, genders, disabilities = POPULATION_GROUPS, GENDERS, DISABILITY_STATUSES
    states, verification_states = ENROLLMENT_STATE_LABELS, VERIFICATION_STATE_LABELS

    def rows() -> Iterator[Any]:
        for (
            _id,
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
        ) in ctx.ticker.wrap(q.roster_rows(session, scope, ctx.request.chunk_size)):
            cohort = cohorts[cohort_id]
            row = (
                cohort.name,
                first,
                last,
                q.age_on(q.birth_date(born, sa_id, today), as_at),
                races.get(race, race) if race else None,
                city,
                cohort.program_label,
                cohort.sponsor_name,
                disabilities.get(disability, disability) if disability else None,
                genders.get(gender, gender) if gender else None,
                email,
                sa_id,
                states.get(state, state),
                verification_states.get(verification, verification),
            )
            yield pick(row) if pick else row

    return _Plan([Table("Roster", columns, rows())])


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


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _verification(session: Session, scope: q.Scope, ctx: _Context) -> _Plan:
    total = q.count_enrollments(session, scope)
    _require_rows(total, ctx.request, scope, ctx)
    ctx.ticker.total = total
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
                    _moment(meta.get("uploaded_at")) if meta else None,
                    meta.get("file_name") if meta else None,
                    ACTION_LABELS.get(action, action) if action else None,
                    officer,
                    _moment(decided_at),
                    reason,
                    state,
                )

    return _Plan([Table("Verification status", VERIFICATION_COLUMNS, rows())])


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


def _audit(session: Session, scope: q.Scope, ctx: _Context) -> _Plan:
    request = ctx.request
    start = _day_start(request.date_from, ctx.zone) if request.date_from else None
    end = _day_start(request.date_to + timedelta(days=1), ctx.zone) if request.date_to else None
    officer = q.officer_name(session, request.officer_id) if request.officer_id is not None else None
    total = q.count_decisions(session, scope, start, end, request.officer_id)
    _require_rows(total, request, scope, ctx)
    ctx.ticker.total = total
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
                _moment(decided_at),
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

    return _Plan([Table("Audit trail", AUDIT_COLUMNS, rows())], filters=filters)


# --- demographics -------------------------------------------------------------------------------

_GENDER_COLUMNS = (*GENDERS.values(), NOT_RECORDED)


@dataclass(frozen=True)
class _Breakdown:
    key: str
    sheet: str
    category_header: str
    categories: tuple[str, ...]
    special_pi: bool


def _breakdowns(ctx: _Context) -> list[_Breakdown]:
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


def _demographics(session: Session, scope: q.Scope, ctx: _Context) -> _Plan:
    total = q.count_enrollments(session, scope)
    _require_rows(total, ctx.request, scope, ctx)
    ctx.ticker.total = total
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
    for cohort_id, race, gender, disability, sa_id, born in ctx.ticker.wrap(
        q.demographic_rows(session, scope, ctx.request.chunk_size)
    ):
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
        return _Plan([Table("Demographics", columns, rows)])
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
    return _Plan(tables)


# --- progress -----------------------------------------------------------------------------------

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


def _progress(session: Session, scope: q.Scope, ctx: _Context) -> _Plan:
    if not scope.cohorts:
        raise EmptyReportError(_empty_message(ctx.request, scope, ctx))
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
                cohort.state.capitalize(),
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

    return _Plan([Table("Progress", PROGRESS_COLUMNS, rows())])


_BUILDERS: dict[str, Callable[[Session, q.Scope, _Context], _Plan]] = {
    "roster": _roster,
    "verification": _verification,
    "audit": _audit,
    "demographics": _demographics,
    "progress": _progress,
}


# --- lists for the export dialog ----------------------------------------------------------------


def report_officers(
    db: Database, identity: Identity | None = None, cohort_id: int | None = None
) -> list[q.OfficerChoice]:
    """The officers who recorded decisions in the user's cohorts (the audit trail's officer filter)."""
    identity = identity or resolve_identity(db)
    with db.report_database().read_session() as session:
        return q.decision_officers(session, q.resolve_scope(session, identity, cohort_id))


def report_cohorts(db: Database, identity: Identity | None = None) -> list[q.CohortInfo]:
    """The cohorts the user may export, by name."""
    identity = identity or resolve_identity(db)
    with db.report_database().read_session() as session:
        return list(q.resolve_scope(session, identity, None).cohorts)

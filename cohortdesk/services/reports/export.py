"""Running one export: read the report in one snapshot (a reporting replica's when the profile names
one), stream its tables into an XLSX or CSV file with a Report info sheet, log it, and only then let
the file appear.

A report with no rows raises ``EmptyReportError`` and writes nothing; a cancelled or failed export
leaves no file behind (``spreadsheet.atomic_output``). Each export names its purpose and is written
to the access log (who, what, purpose, columns, filters, row count) before the file appears; an
export that cannot be logged leaves no file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from cohortdesk import __version__
from cohortdesk.db import Database
from cohortdesk.errors import EmptyReportError
from cohortdesk.services.access import log as access_log
from cohortdesk.services.access.identity import SPECIAL_PI, Identity, resolve_identity
from cohortdesk.services.reports import audit, demographics, progress, roster, verification
from cohortdesk.services.reports import queries as q
from cohortdesk.services.reports.common import ReportContext, ReportPlan, empty_message, make_context
from cohortdesk.services.reports.request import (
    PURPOSES,
    REPORTS,
    ExportRequest,
    ExportResult,
    validate_request,
)
from cohortdesk.services.reports.spreadsheet import (
    CsvReportWriter,
    XlsxReportWriter,
    atomic_output,
    zone_label,
)

INFO_SHEET = "Report info"


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
    ctx = make_context(request, identity, progress, cancelled)
    ctx.primary = db
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
                writer.set_document(REPORTS[request.report], scope.institution_name)
                plan = BUILDERS[request.report](session, scope, ctx)
                rows = 0
                for index, table in enumerate(plan.tables):
                    written = writer.write_table(table)
                    if index == 0:
                        rows = written
                if rows == 0:
                    raise EmptyReportError(empty_message(request, scope, ctx))
                writer.write_info(INFO_SHEET, REPORTS[request.report], _info_items(ctx, scope, plan, rows))
            ctx.ticker.check()
            writer.close()
        except BaseException:
            writer.discard()
            raise
        ctx.ticker.check()  # last chance to cancel before the file appears
        # An export with special PI was logged by the gate that served those values.
        logged = ctx.logged or _log_export(
            db, identity, request, scope, plan, rows, special_pi, destination.name
        )
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
    plan: ReportPlan,
    rows: int,
    special_pi: bool,
    file_name: str,
) -> bool:
    """Record the export in the access log (who, what, purpose, columns, filters, row count) through
    ``services/access/log.log_export``.

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


def _info_items(ctx: ReportContext, scope: q.Scope, plan: ReportPlan, rows: int) -> list[tuple[str, Any]]:
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


BUILDERS: dict[str, Callable[[Session, q.Scope, ReportContext], ReportPlan]] = {
    "roster": roster.build,
    "verification": verification.build,
    "audit": audit.build,
    "demographics": demographics.build,
    "progress": progress.build,
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

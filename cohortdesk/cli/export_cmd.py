"""``cohortdesk export REPORT``: write a report to an XLSX or CSV file from a terminal.

    cohortdesk export roster --cohort 12 --format xlsx --purpose seta_submission -o roster.xlsx
    cohortdesk export audit --all --from 2026-01-01 --to 2026-01-31 --format csv -o audit.csv

Without ``-o`` the file gets a name with no personal data in it (``cohort-12-roster-20260302.xlsx``) in
the current folder.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from cohortdesk.cli.common import open_database
from cohortdesk.errors import ValidationError


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date written YYYY-MM-DD") from exc


def register(subparsers: Any) -> None:
    from cohortdesk.services.reports import FORMATS, PURPOSES, REPORTS

    parser = subparsers.add_parser(
        "export",
        help="export a report (roster, verification, audit, demographics, progress) to XLSX or CSV",
        description="Export a report to a spreadsheet. Reports: "
        + "; ".join(f"{key}: {label}" for key, label in REPORTS.items()),
    )
    parser.add_argument("report", choices=list(REPORTS), help="which report")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--cohort", type=int, metavar="ID", help="one cohort (by id)")
    scope.add_argument("--all", action="store_true", help="every cohort of your institution (the default)")
    parser.add_argument("--from", dest="date_from", type=_date, metavar="DATE", help="audit: first day")
    parser.add_argument(
        "--to", dest="date_to", type=_date, metavar="DATE", help="audit: last day (inclusive)"
    )
    parser.add_argument("--officer", type=int, metavar="ID", help="audit: decisions of one officer (user id)")
    parser.add_argument(
        "--format", choices=FORMATS, default=None, help="xlsx or csv (default: from -o, else xlsx)"
    )
    parser.add_argument(
        "--purpose",
        choices=list(PURPOSES),
        default="internal_use",
        help="why the export is made (recorded with it): " + ", ".join(PURPOSES),
    )
    parser.add_argument("--as-at", type=_date, metavar="DATE", help="roster/demographics: ages at this date")
    parser.add_argument(
        "--special-pi",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="include race, disability and full ID numbers (needs the capability; default: yes, "
        "except for a sponsor report)",
    )
    parser.add_argument(
        "--suppress-small-cells",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="demographics: show counts under 5 as <5 (default: on for a sponsor report)",
    )
    parser.add_argument("--age-bands", metavar="BANDS", help="demographics: e.g. 15-24,25-34,35-44,45-54,55+")
    parser.add_argument("--no-bom", action="store_true", help="CSV without the byte order mark Excel wants")
    parser.add_argument(
        "--timezone", metavar="ZONE", help="time zone for dates and times (default: this computer's)"
    )
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to write the file")
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from cohortdesk.services import reports

    fmt = args.format
    if fmt is None:
        suffix = args.output.suffix.lower().lstrip(".") if args.output else ""
        fmt = suffix if suffix in reports.FORMATS else "xlsx"
    if args.output is not None and args.output.suffix.lower().lstrip(".") not in ("", fmt):
        raise ValidationError("output", f"the file name ends in {args.output.suffix} but the format is {fmt}")
    request = reports.ExportRequest(
        report=args.report,
        format=fmt,
        cohort_id=args.cohort,
        purpose=args.purpose,
        date_from=args.date_from,
        date_to=args.date_to,
        officer_id=args.officer,
        as_at=args.as_at,
        include_special_pi=args.special_pi,
        suppress_small_cells=args.suppress_small_cells,
        csv_bom=not args.no_bom,
        age_bands=reports.parse_age_bands(args.age_bands) if args.age_bands else reports.DEFAULT_AGE_BANDS,
        timezone=args.timezone,
    )
    output = args.output or Path.cwd() / reports.default_file_name(request)
    db = open_database(args)
    try:
        result = reports.export_report(db, request, output)
    finally:
        db.dispose()
    print(f"Wrote {result.rows:,} rows to {result.path} ({reports.REPORTS[result.report]}, {result.format}).")
    if result.omitted_columns:
        print(f"Special personal information left out: {', '.join(result.omitted_columns)}.")
    if fmt == "csv" and args.report in ("roster",):
        print(
            "Note: Excel drops leading zeros from ID numbers when it opens a CSV; use XLSX for people.",
            file=sys.stderr,
        )
    return 0

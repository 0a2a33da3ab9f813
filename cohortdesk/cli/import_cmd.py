"""``cohortdesk import-enrollments`` and ``cohortdesk import-template``: the enrollment import from a terminal.

    cohortdesk import-enrollments --cohort 12 learners.xlsx            # preview: the row-level report
    cohortdesk import-enrollments --cohort 12 learners.xlsx --commit   # then enroll the valid rows
    cohortdesk import-template -o learners.xlsx                        # or .csv

The preview exits 1 when some rows have errors (0 when all can be imported); ``--commit`` enrolls the
rows without errors in one transaction through the configuration write path (so they sync like any
edit) and leaves the others out. Ctrl+C during the commit writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cohortdesk.cli.common import open_database
from cohortdesk.db import migrate


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import-enrollments", help="preview (and with --commit, import) learners from an XLSX or CSV file"
    )
    parser.add_argument("--cohort", type=int, required=True, help="id of the cohort to enroll them in")
    parser.add_argument("file", type=Path, help="the .xlsx or .csv file (see import-template)")
    parser.add_argument("--commit", action="store_true", help="enroll the rows without errors")
    parser.add_argument("--all", action="store_true", help="list every row, not only those with problems")
    parser.set_defaults(handler=_import)

    template = subparsers.add_parser("import-template", help="write the enrollment import template")
    template.add_argument("-o", "--output", type=Path, required=True, help="file to write (.xlsx or .csv)")
    template.set_defaults(handler=_template)


def _import(args: argparse.Namespace) -> int:
    from cohortdesk.services.configuration import enrollment_import as ei

    db = open_database(args)
    try:
        migrate.ensure_schema(db)
        preview = ei.preview_file(db, args.cohort, args.file)
        for line in preview.report(problems_only=not args.all):
            print(line)
        if not args.commit:
            if preview.counts["importable"]:
                print(f"dry run: nothing written; add --commit to enroll {preview.counts['importable']} rows")
            return 1 if preview.counts["errors"] else 0
        if not preview.counts["importable"]:
            print("nothing to import", file=sys.stderr)
            return 1
        result = ei.commit_import(db, preview)
        print(result.summary())
        return 0
    finally:
        db.dispose()


def _template(args: argparse.Namespace) -> int:
    from cohortdesk.services.configuration import enrollment_import as ei

    path = ei.write_template(args.output)
    print(f"wrote {path}")
    return 0

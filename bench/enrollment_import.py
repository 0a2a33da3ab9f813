"""Benchmark: preview and commit an enrollment import of 10,000 rows, against baselines in the same run.

    /work/venv/bin/python bench/enrollment_import.py [--rows 10000] [--url postgresql://…]

On a fresh SQLite store (default) or the given database: an institution, the target cohort and an
active cohort holding ``--existing`` enrollments (2,000) (so the cross-cohort ID check has something to search). A file
of ``--rows`` learners is written as XLSX (XlsxWriter) and CSV (UTF-8 with BOM); about 1 % of the rows
carry an error.

* **preview** = ``read_table`` + ``check_rows`` (every check, the database reads included);
  **floor (read)**: the bare reader over the same file (openpyxl read-only ``iter_rows`` / ``csv.reader``),
  what no preview can beat. Ratio = preview / floor.
* **commit** = ``commit_import`` (users created, enrollments inserted, one transaction), against
  **floor (insert)**: the same enrollment rows inserted by one bare ``executemany`` of
  ``INSERT … VALUES`` into a scratch copy of the table (no checks, no users). Ratio = commit / floor.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

# The repository, not bench/ (whose queue.py would shadow the standard library's for psycopg).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import openpyxl  # noqa: E402
import xlsxwriter  # noqa: E402
from sqlalchemy import text  # noqa: E402

from cohortdesk.db import Database, migrate  # noqa: E402
from cohortdesk.services.configuration import edits as ce  # noqa: E402
from cohortdesk.services.configuration import enrollment_import as ei  # noqa: E402
from cohortdesk.services.validation import luhn_valid  # noqa: E402
from tests import factories  # noqa: E402


def sa_id(index: int) -> str:
    dob = date(1985 + index % 20, 1 + index % 12, 1 + index % 28)
    prefix = f"{dob:%y%m%d}{(index * 7) % 10000:04d}08"
    return next(prefix + str(d) for d in range(10) if luhn_valid(prefix + str(d)))


def learners(n: int, offset: int = 0) -> list[list[str]]:
    rows = []
    for i in range(offset, offset + n):
        email = f"learner{i}@example.co.za" if i % 100 else f"broken{i}"
        rows.append([email, "Zoë" if i % 3 else "Thabo", f"O'Neill-Nkosi {i}", sa_id(i), "F", "BA", "N", "7"])
    return rows


HEADER = ["Email", "First name", "Last name", "SA ID number", "Gender", "Race", "Disability", "Province"]


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--url", help="database (default: a new SQLite store in a temporary folder)")
    parser.add_argument(
        "--existing", type=int, default=2000, help="learners already enrolled in another active cohort"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    db = Database(args.url or f"sqlite:///{folder / 'store.sqlite3'}")
    migrate.upgrade(db)
    acc = factories.account(db)
    admin = factories.user(db, acc, "Admin", "One")
    tmpl = factories.template(db, acc, admin)
    inst = ce.create_institution(db, ce.NewInstitution(account_id=acc, name="Bench Training")).row
    target = ce.create_cohort(db, ce.NewCohort(inst.id, "Target", "learnership")).row
    other = ce.create_cohort(
        db,
        ce.NewCohort(
            inst.id,
            "Other",
            "internship",
            10,
            main_template_id=tmpl,
            start_date="2026-01-01",
            end_date="2026-12-31",
        ),
    ).row
    ce.change_cohort_state(db, other.id, "active")
    existing = [
        ce.NewLearner(f"old{i}@example.co.za", "Old", str(i), {"sa_id_number": sa_id(i * 5)})
        for i in range(args.existing)
    ]
    ce.enroll_learners(db, other.id, existing)

    rows = learners(args.rows)
    xlsx = folder / "learners.xlsx"
    workbook = xlsxwriter.Workbook(str(xlsx), {"constant_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    for r, values in enumerate(rows, start=1):
        sheet.write_row(r, 0, values)
    workbook.close()
    csv_path = folder / "learners.csv"
    with csv_path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(rows)

    def floor_xlsx() -> int:
        wb = openpyxl.load_workbook(xlsx, read_only=True, data_only=True)
        count = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
        wb.close()
        return count

    def floor_csv() -> int:
        with csv_path.open(encoding="utf-8-sig", newline="") as handle:
            return sum(1 for _ in csv.reader(handle, delimiter=";"))

    def preview(path: Path) -> ei.ImportPreview:
        return ei.check_rows(db, target.id, ei.read_table(path))

    print(f"{args.rows:,} rows, {args.existing:,} learners already enrolled elsewhere, {db.dialect}")
    for label, path, floor in (("xlsx", xlsx, floor_xlsx), ("csv", csv_path, floor_csv)):
        floor_s, _ = timed(floor)
        preview_s, result = timed(preview, path)
        print(
            f"  preview {label}: {preview_s:.2f} s   floor (read only) {floor_s:.2f} s   "
            f"ratio {preview_s / floor_s:.1f}x   [{result.summary()}]"
        )
    result = preview(xlsx)
    commit_s, done = timed(ei.commit_import, db, result)

    payload = [
        {"account_id": acc, "cohort_id": target.id, "user_id": admin, "uuid": f"u{i}", "sa": r[3]}
        for i, r in enumerate(rows)
    ]
    with db.session() as s:
        s.execute(
            text(
                "CREATE TEMPORARY TABLE bench_floor (account_id bigint, cohort_id bigint, user_id bigint, "
                "uuid text, student_data text)"
            )
        )
    with db.session() as s:
        start = time.perf_counter()
        s.connection().exec_driver_sql(
            "INSERT INTO bench_floor VALUES (" + ", ".join(["?" if db.is_sqlite else "%s"] * 5) + ")",
            [
                (
                    p["account_id"],
                    p["cohort_id"],
                    p["user_id"],
                    p["uuid"],
                    json.dumps({"sa_id_number": p["sa"]}),
                )
                for p in payload
            ],
        )
        floor_insert = time.perf_counter() - start
    print(
        f"  commit: {commit_s:.2f} s   floor (bare executemany) {floor_insert:.2f} s   "
        f"ratio {commit_s / floor_insert:.1f}x   [{done.summary()}]"
    )
    db.dispose()


if __name__ == "__main__":
    main()

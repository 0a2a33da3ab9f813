"""Reports to spreadsheets, read back with independent readers (openpyxl, the csv module), on SQLite and
PostgreSQL: every header, every cell value and type, the Report info sheet, injection cases, Unicode,
counts equal to the database's, empty reports, cancel and failure leaving no file, and masking."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import zipfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from cohortdesk.db import Database
from cohortdesk.errors import (
    EmptyReportError,
    NotFoundError,
    OperationCancelled,
    PermissionDenied,
    ValidationError,
)
from cohortdesk.models import CohortEnrollment, DocumentVerification
from cohortdesk.services import reports
from cohortdesk.services.access import log as access_log
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.reports import ExportRequest, export_report, queries
from cohortdesk.services.reports import export as report_export
from cohortdesk.services.reports.common import Ticker
from tests import report_data

AS_AT = date(2026, 3, 1)
LEARNERSHIP = ("Q1 2026 Learnership", "Learnership", "Sasol Ltd")
INTERNSHIP = ("Ünïcode Internship", "Internship", "Vodacom (Pty) Ltd")
ROSTER_HEADER = (
    "Cohort Name",
    "Student Name",
    "Student Surname",
    "Student Age",
    "Student Race",
    "Student City",
    "Program Type",
    "Sponsor Company Name",
    "Disability Status",
    "Gender",
    "Email",
    "SA ID Number",
    "Enrollment State",
    "Verification State",
)
# Every roster row as the XLSX must hold it (special PI included), keyed by e-mail.
ROSTER = {
    "zoe@example.co.za": (
        *LEARNERSHIP[:1], "Zoë", "O'Brien-Ndlovu", 21, "Black: African", "Gqeberha", *LEARNERSHIP[1:],
        "None", "Female", "zoe@example.co.za", "0501014800087", "Complete", "Verified",
    ),
    "inject1@example.co.za": (
        *LEARNERSHIP[:1], "'=HYPERLINK(\"http://evil.example\",\"click\")", "'+1", 35, "White", "'-2",
        *LEARNERSHIP[1:], "Sight (even with glasses)", "Male", "inject1@example.co.za", None, "Waiting", "Rejected",
    ),
    "inject2@example.co.za": (
        *LEARNERSHIP[:1], "'@SUM(A1:A9)", "'\tTab", None, None, None, *LEARNERSHIP[1:], None, None,
        "inject2@example.co.za", None, "Waiting", "Pending",
    ),
    "inject3@example.co.za": (
        *LEARNERSHIP[:1], "'\rCarriage", "'-Minus", None, None, "'@Home", *LEARNERSHIP[1:], None, "Female",
        "inject3@example.co.za", None, "Waiting", "Pending",
    ),
    "thandiwe@example.co.za": (
        *LEARNERSHIP[:1], "Thandiwe 😀", "Nkosi-Ñúñez", 46, "Black: Coloured", "Cape Town, Western Cape",
        *LEARNERSHIP[1:], "Multiple", "Male", "thandiwe@example.co.za", "8001015009087", "In progress", "Pending",
    ),
    "emile@example.co.za": (
        *INTERNSHIP[:1], "Émile", "Zuma", 24, "Black: Indian / Asian", "Durban", *INTERNSHIP[1:], "None", "Male",
        "emile@example.co.za", None, "Waiting", "Verified",
    ),
    "ayesha@example.co.za": (
        *INTERNSHIP[:1], "Ayesha", "Patel", None, "Other", "Soweto", *INTERNSHIP[1:], "Disabled but unspecified",
        "Female", "ayesha@example.co.za", None, "Waiting", "Pending",
    ),
}  # fmt: skip
SPECIAL = (4, 8, 11)  # race, disability, SA ID columns


def ooxml(value: Any) -> Any:
    """openpyxl leaves OOXML escapes (``_x000D_`` for a carriage return) as they are; Excel decodes them."""
    if isinstance(value, str):
        return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), value)
    return value


def read_xlsx(path: Path, sheet: str) -> list[tuple]:
    wb = openpyxl.load_workbook(path)
    return [tuple(ooxml(v) for v in row) for row in wb[sheet].iter_rows(values_only=True)]


def read_info(path: Path) -> dict[str, Any]:
    wb = openpyxl.load_workbook(path)
    return {row[0]: row[1] for row in wb[reports.INFO_SHEET].iter_rows(min_row=3, values_only=True) if row[0]}


def read_csv(path: Path, bom: bool = True) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == bom
    text = raw.decode("utf-8-sig" if bom else "utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def as_csv(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, migrated):
    """One database per backend for the whole module: the reports only read it."""
    folder = tmp_path_factory.mktemp("reports")
    if request.param == "sqlite":
        url = migrated.sqlite_url(folder / "cohortdesk.sqlite3")
    else:
        url = migrated.pg_url()
    database = Database(url)
    try:
        yield database, report_data.build(database, DocumentStore(folder / "storage"))
    finally:
        database.dispose()
        if request.param != "sqlite":
            migrated.release(url)


@pytest.fixture
def db(built) -> Database:
    return built[0]


@pytest.fixture
def data(built) -> report_data.ReportData:
    return built[1]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def run(
    db: Database, data: report_data.ReportData, out: Path, name: str, special_pi: bool = True, **kw
) -> Any:
    if kw.get("report") in ("roster", "demographics"):
        kw.setdefault("as_at", AS_AT)
    request = ExportRequest(**kw)
    return export_report(db, request, out / name, data.identity(special_pi))


# --- roster ---------------------------------------------------------------------------------------


def test_roster_xlsx_every_cell(db, data, out):
    result = run(db, data, out, "roster.xlsx", report="roster", purpose="seta_submission")
    assert result.rows == 7 and result.sheets == ("Roster", "Report info")
    rows = read_xlsx(result.path, "Roster")
    assert rows[0] == ROSTER_HEADER
    by_email = {row[10]: row for row in rows[1:]}
    assert by_email == ROSTER
    # Cohorts come in name order, each cohort's learners together.
    cohort_column = [row[0] for row in rows[1:]]
    assert cohort_column == [LEARNERSHIP[0]] * 5 + [INTERNSHIP[0]] * 2

    wb = openpyxl.load_workbook(result.path)
    ws = wb["Roster"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:N8"
    assert all(cell.font.b for cell in ws[1])
    for row in ws.iter_rows(min_row=2):
        assert all(cell.data_type != "f" for cell in row)  # nothing is a formula
        age, sa_id = row[3], row[11]
        if age.value is not None:
            assert age.data_type == "n" and isinstance(age.value, int)
        if sa_id.value is not None:
            assert sa_id.data_type == "s" and sa_id.number_format == "@"
    # Widths fitted to the content: the sponsor column is wider than its header needs, capped.
    widths = {letter: dim.width for letter, dim in ws.column_dimensions.items()}
    assert widths["A"] >= len("Ünïcode Internship") and all(w <= 61 for w in widths.values())

    info = read_info(result.path)
    assert info["Report"] == "Cohort roster"
    assert info["Scope"] == "All cohorts of Acme Training (3)"
    assert info["Purpose"] == "SETA submission"
    assert info["Generated by"] == "Officer One (super admin)"
    assert isinstance(info["Generated at"], datetime)
    assert "UTC" in info["Time zone"] or "/" in info["Time zone"]
    assert info["Rows"] == 7
    assert info["Ages as at"] == datetime(2026, 3, 1)
    assert info["Special personal information"].startswith("Included")
    assert info["CohortDesk version"]
    assert "apostrophe" in info["Formula safety"]


@pytest.mark.parametrize("bom", [True, False])
def test_roster_csv_round_trip(db, data, out, bom):
    result = run(db, data, out, "roster.csv", report="roster", format="csv", csv_bom=bom)
    raw = result.path.read_bytes()
    assert b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n") + 0  # CRLF line ends only
    rows = read_csv(result.path, bom)
    assert tuple(rows[0]) == ROSTER_HEADER
    assert {row[10]: tuple(row) for row in rows[1:]} == {
        email: tuple(as_csv(v) for v in row) for email, row in ROSTER.items()
    }
    # RFC 4180: the comma in a city and the quotes in a name are quoted, not split.
    assert b'"Cape Town, Western Cape"' in raw
    assert b'"\'=HYPERLINK(""http://evil.example"",""click"")"' in raw


def test_injection_cases_are_neutralised_and_numbers_are_not(db, data, out):
    xlsx = run(db, data, out, "r.xlsx", report="roster")
    values = [v for row in read_xlsx(xlsx.path, "Roster")[1:] for v in row if isinstance(v, str)]
    for value in values:
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert "'\tTab" in values and "'\rCarriage" in values and "'-2" in values
    wb = openpyxl.load_workbook(xlsx.path)
    ages = [c.value for c in wb["Roster"]["D"][1:] if c.value is not None]
    assert all(isinstance(a, int) for a in ages)  # numbers are written as numbers, never prefixed


def test_roster_without_the_special_pi_capability_omits_columns(db, data, out):
    result = run(db, data, out, "roster.xlsx", special_pi=False, report="roster")
    rows = read_xlsx(result.path, "Roster")
    keep = [i for i in range(len(ROSTER_HEADER)) if i not in SPECIAL]
    assert rows[0] == tuple(ROSTER_HEADER[i] for i in keep)
    assert {row[keep.index(10)]: row for row in rows[1:]} == {
        email: tuple(row[i] for i in keep) for email, row in ROSTER.items()
    }
    assert not result.special_pi_included
    assert result.omitted_columns == ("Student Race", "Disability Status", "SA ID Number")
    note = read_info(result.path)["Special personal information"]
    assert note.startswith("Omitted, not blanked")
    assert "does not hold the capability" in note and "Student Race" in note
    # Asking for it explicitly without the capability is refused.
    with pytest.raises(PermissionDenied):
        run(db, data, out, "nope.xlsx", special_pi=False, report="roster", include_special_pi=True)
    assert not (out / "nope.xlsx").exists()


def test_sponsor_report_leaves_special_pi_out_unless_asked(db, data, out):
    default = run(db, data, out, "a.csv", report="roster", format="csv", purpose="sponsor_report")
    assert "Student Race" not in read_csv(default.path)[0]
    asked = run(
        db,
        data,
        out,
        "b.csv",
        report="roster",
        format="csv",
        purpose="sponsor_report",
        include_special_pi=True,
    )
    assert tuple(read_csv(asked.path)[0]) == ROSTER_HEADER


def test_one_cohort_and_scope(db, data, out):
    result = run(db, data, out, "one.xlsx", report="roster", cohort_id=data.internship)
    rows = read_xlsx(result.path, "Roster")
    assert {row[10] for row in rows[1:]} == {"emile@example.co.za", "ayesha@example.co.za"}
    assert read_info(result.path)["Scope"] == f"Cohort {data.internship}: Ünïcode Internship"
    with pytest.raises(NotFoundError):
        run(db, data, out, "other.xlsx", report="roster", cohort_id=data.other_cohort)


def test_ages_from_birth_date_or_id_number():
    from cohortdesk.services.reports import queries as q
    from cohortdesk.services.validation import decode_sa_id

    today = date(2026, 3, 1)
    for number in ("0501014800087", "8001015009087"):
        assert q.birth_date(None, number, today) == decode_sa_id(number, today).date_of_birth
    assert q.birth_date("1990-06-15", "8001015009087", today) == date(1990, 6, 15)  # captured date wins
    assert q.age_on(date(2005, 3, 1), today) == 21 and q.age_on(date(2005, 3, 2), today) == 20
    assert q.age_on(None, today) is None and q.age_on(date(2027, 1, 1), today) is None


# --- verification status and audit trail -----------------------------------------------------------

VERIFICATION_ROWS = [
    # email, document label, key, required, uploaded, decision, by, reason
    ("zoe@example.co.za", "Certified ID", "id_document", "Yes", "Yes", "Approved", "Officer One", None),
    ("zoe@example.co.za", "Matric certificate", "matric_certificate", "Yes", "Yes", "Approved", "Nomsa Dlamini", None),
    ("zoe@example.co.za", "Disability proof", "disability_proof", "No", "Yes", "Approved", "Officer One", None),
    ("inject1@example.co.za", "Certified ID", "id_document", "Yes", "Yes", "Rejected", "Nomsa Dlamini", "'=cmd|' /C calc'!A0"),
    ("inject1@example.co.za", "Matric certificate", "matric_certificate", "Yes", "No", None, None, None),
    ("inject2@example.co.za", "Certified ID", "id_document", "Yes", "No", None, None, None),
    ("inject2@example.co.za", "Matric certificate", "matric_certificate", "Yes", "No", None, None, None),
    ("inject3@example.co.za", "Certified ID", "id_document", "Yes", "No", None, None, None),
    ("inject3@example.co.za", "Matric certificate", "matric_certificate", "Yes", "No", None, None, None),
    ("thandiwe@example.co.za", "Certified ID", "id_document", "Yes", "Yes", None, None, None),
    ("thandiwe@example.co.za", "Matric certificate", "matric_certificate", "Yes", "Yes", None, None, None),
    ("emile@example.co.za", "Certified ID", "id_document", "Yes", "Yes", "Approved", "Officer One", None),
    ("ayesha@example.co.za", "Certified ID", "id_document", "Yes", "No", None, None, None),
    ("ayesha@example.co.za", "Curriculum vitae", "cv", "No", "Yes", "Approved", "Nomsa Dlamini", None),
]  # fmt: skip


def test_verification_status_rows(db, data, out):
    result = run(db, data, out, "v.xlsx", report="verification")
    rows = read_xlsx(result.path, "Verification status")
    assert rows[0][:8] == (
        "Cohort Name", "Student Name", "Student Surname", "Email", "Document Type", "Document Key", "Required",
        "Uploaded",
    )  # fmt: skip
    assert len(rows) - 1 == result.rows == len(VERIFICATION_ROWS)

    def key(row: tuple) -> tuple:
        return tuple("" if v is None else v for v in row)

    got = sorted(((r[3], r[4], r[5], r[6], r[7], r[10], r[11], r[13]) for r in rows[1:]), key=key)
    assert got == sorted(VERIFICATION_ROWS, key=key)
    for row in rows[1:]:
        uploaded_at, decided_at = row[8], row[12]
        assert (uploaded_at is not None) == (row[7] == "Yes")
        assert uploaded_at is None or isinstance(uploaded_at, datetime)
        assert (decided_at is not None) == (row[10] is not None)
        assert decided_at is None or isinstance(decided_at, datetime)
        assert row[9] is None or row[9] == f"{row[5]}.pdf"
    # One enrollment's documents stay together, required ones first.
    zoe = [r[5] for r in rows[1:] if r[3] == "zoe@example.co.za"]
    assert zoe == ["id_document", "matric_certificate", "disability_proof"]
    # The latest decision wins: matric was rejected, then approved by another officer.
    ws = openpyxl.load_workbook(result.path)["Verification status"]
    stamped = [c for c in ws["I"][1:] + ws["M"][1:] if c.value is not None]
    assert stamped and all(c.number_format == "yyyy-mm-dd hh:mm:ss" for c in stamped)

    masked = run(db, data, out, "v2.csv", special_pi=False, report="verification", format="csv")
    masked_rows = read_csv(masked.path)
    assert len(masked_rows) - 1 == len(VERIFICATION_ROWS) - 1
    assert all(r[5] != "disability_proof" for r in masked_rows[1:])


def decisions_in_db(db: Database, data, **filters) -> int:
    with db.read_session() as s:
        stmt = (
            select(func.count())
            .select_from(DocumentVerification)
            .join(CohortEnrollment, CohortEnrollment.id == DocumentVerification.cohort_enrollment_id)
            .where(CohortEnrollment.cohort_id.in_([data.learnership, data.internship, data.empty]))
        )
        if "cohort_id" in filters:
            stmt = stmt.where(CohortEnrollment.cohort_id == filters["cohort_id"])
        if "officer_id" in filters:
            stmt = stmt.where(DocumentVerification.admin_id == filters["officer_id"])
        return s.scalar(stmt)


def test_audit_trail_counts_and_filters(db, data, out):
    every = run(db, data, out, "audit.xlsx", report="audit")
    rows = read_xlsx(every.path, "Audit trail")
    assert rows[0] == (
        "Decided At", "Cohort Name", "Student Name", "Student Surname", "Email", "Document Type", "Decision",
        "Officer", "Reason", "Reason Code",
    )  # fmt: skip
    assert every.rows == decisions_in_db(db, data) == 8
    decided = [r[0] for r in rows[1:]]
    assert all(isinstance(d, datetime) for d in decided) and decided == sorted(decided)
    assert rows[1][9] == "01" and rows[1][7] == "Officer One"  # the oldest: back-dated, code kept as text
    assert any(r[8] == 'Blurry "scan"\nplease resend' for r in rows[1:])

    by_officer = run(db, data, out, "o.xlsx", report="audit", officer_id=data.officer2)
    assert by_officer.rows == decisions_in_db(db, data, officer_id=data.officer2) == 3
    assert read_info(by_officer.path)["Filters"].endswith("officer: Nomsa Dlamini")
    one_cohort = run(db, data, out, "c.csv", report="audit", format="csv", cohort_id=data.internship)
    assert one_cohort.rows == decisions_in_db(db, data, cohort_id=data.internship) == 3
    assert run(db, data, out, "m.xlsx", special_pi=False, report="audit").rows == 7  # disability hidden


def test_audit_date_range_follows_the_time_zone(db, data, out):
    night = dict(report="audit", format="csv")
    utc = run(
        db,
        data,
        out,
        "utc.csv",
        **night,
        date_from=date(2025, 1, 31),
        date_to=date(2025, 1, 31),
        timezone="UTC",
    )
    assert utc.rows == 1
    assert read_csv(utc.path)[1][0] == "2025-01-31T23:30:00+00:00"
    jhb = run(
        db, data, out, "jhb.csv", **night, date_from=date(2025, 2, 1), date_to=date(2025, 2, 1),
        timezone="Africa/Johannesburg",
    )  # fmt: skip
    assert read_csv(jhb.path)[1][0] == "2025-02-01T01:30:00+02:00"
    with pytest.raises(EmptyReportError, match="No verification decisions"):
        run(
            db, data, out, "none.csv", **night, date_from=date(2025, 1, 31), date_to=date(2025, 1, 31),
            timezone="Africa/Johannesburg",
        )  # fmt: skip
    assert not (out / "none.csv").exists()
    january = run(
        db, data, out, "jan.xlsx", report="audit", date_from=date(2025, 1, 1), date_to=date(2025, 1, 31),
        timezone="UTC",
    )  # fmt: skip
    assert january.rows == 2
    assert read_info(january.path)["Time zone"].startswith("UTC (UTC+00:00)")


# --- demographics -------------------------------------------------------------------------------


def db_breakdown(db: Database, cohort_ids: list[int]) -> dict[str, Counter]:
    """Counts computed straight from the stored student data, independently of the export code."""
    from cohortdesk.services.validation import DISABILITY_STATUSES, GENDERS, POPULATION_GROUPS

    counts = {"race": Counter(), "disability": Counter()}
    with db.read_session() as s:
        for (student_data,) in s.execute(
            select(CohortEnrollment.student_data).where(
                CohortEnrollment.cohort_id.in_(cohort_ids), CohortEnrollment.deleted_at.is_(None)
            )
        ):
            gender = GENDERS.get(student_data.get("gender"), "Not recorded")
            counts["race"][(POPULATION_GROUPS.get(student_data.get("race"), "Not recorded"), gender)] += 1
            counts["disability"][
                (DISABILITY_STATUSES.get(student_data.get("disability"), "Not recorded"), gender)
            ] += 1
    return counts


def test_demographics_counts_equal_the_database(db, data, out):
    result = run(db, data, out, "d.xlsx", report="demographics", purpose="ee_report")
    assert result.sheets == (
        "Population group × gender",
        "Disability × gender",
        "Age band × gender",
        "Report info",
    )
    expected = db_breakdown(db, [data.learnership, data.internship])
    for sheet, key in (("Population group × gender", "race"), ("Disability × gender", "disability")):
        rows = read_xlsx(result.path, sheet)
        assert rows[0][2:] == ("Male", "Female", "Not recorded", "Total")
        block = [r for r in rows[1:] if r[0] == "All cohorts"]
        for _cohort, category, male, female, unknown, total in block[:-1]:
            assert (male, female, unknown) == tuple(
                expected[key][(category, g)] for g in ("Male", "Female", "Not recorded")
            )
            assert total == male + female + unknown
        assert block[-1][1] == "Total" and block[-1][5] == 7
        per_cohort = [r for r in rows[1:] if r[0] == "Q1 2026 Learnership"]
        assert per_cohort[-1][5] == 5
        assert all(isinstance(v, int) for r in rows[1:] for v in r[2:])
    ages = read_xlsx(result.path, "Age band × gender")
    all_ages = {r[1]: r[5] for r in ages[1:] if r[0] == "All cohorts"}
    # Ages on 2026-03-01: 21, 35, 46, 24 and three unknown.
    assert all_ages == {
        "Under 15": 0, "15–24": 2, "25–34": 0, "35–44": 1, "45–54": 1, "55+": 0, "Unknown": 3, "Total": 7
    }  # fmt: skip
    # A native chart per breakdown sheet.
    with zipfile.ZipFile(result.path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 3
        assert b"<c:barChart>" in z.read(charts[0])
    info = read_info(result.path)
    assert info["Age bands"].startswith("Under 15, 15–24, 25–34, 35–44, 45–54, 55+, Unknown")
    assert info["Small-cell suppression"].startswith("Off")


def test_demographics_suppression_and_masking(db, data, out):
    result = run(db, data, out, "s.xlsx", report="demographics", suppress_small_cells=True)
    for sheet in result.sheets[:-1]:
        for row in read_xlsx(result.path, sheet)[1:]:
            for value in row[2:]:
                assert value in ("<5", "*") or value == 0 or (isinstance(value, int) and value >= 5)
    assert read_info(result.path)["Small-cell suppression"].startswith("On")
    # A sponsor report suppresses by default and leaves out the special-PI breakdowns.
    sponsor = run(db, data, out, "sp.xlsx", report="demographics", purpose="sponsor_report")
    assert sponsor.sheets == ("Age band × gender", "Report info")
    masked = run(db, data, out, "m.csv", special_pi=False, report="demographics", format="csv")
    rows = read_csv(masked.path)
    assert rows[0] == ["Breakdown", "Cohort", "Category", "Male", "Female", "Not recorded", "Total"]
    assert {r[0] for r in rows[1:]} == {"Age Band"}


def test_small_cell_suppression_rules():
    from cohortdesk.services.reports import suppress_small_cells

    cells = [[3, 9], [0, 12], [6, 6]]
    shown, row_totals, column_totals, grand = suppress_small_cells(cells, [12, 12, 12], [9, 27], 36)
    # 3 is hidden; 9 beside it too (else 12 - 9 gives it away); then 6 below it (column total 9), and
    # the other 6 (column total 27). Zeros disclose nobody and stay.
    assert shown == [["<5", "*"], [0, 12], ["*", "*"]]
    assert (row_totals, column_totals, grand) == ([12, 12, 12], [9, 27], 36)
    # No row or column is left with exactly one hidden cell beside a visible total.
    lines = [*shown, [r[0] for r in shown], [r[1] for r in shown]]
    assert all(sum(isinstance(v, str) for v in line) != 1 for line in lines)
    small = suppress_small_cells([[2, 0], [0, 0]], [2, 0], [2, 0], 2)
    assert small == ([["<5", 0], [0, 0]], ["<5", 0], ["<5", 0], "<5")


def test_age_bands_are_configurable():
    bands = reports.parse_age_bands("18-34, 35-54,55+")
    assert [b.label for b in bands] == ["18–34", "35–54", "55+"]
    assert reports.age_band_of(17, bands) == "Under 18" and reports.age_band_of(60, bands) == "55+"
    closed = reports.parse_age_bands("15-34")
    assert reports.age_band_labels(closed) == ["Under 15", "15–34", "Over 34", "Unknown"]
    for wrong in ("15-24,30-40", "55+,60+", "30-20", "young"):
        with pytest.raises(ValidationError):
            reports.parse_age_bands(wrong)


# --- progress -----------------------------------------------------------------------------------


def test_progress_counts_equal_the_database(db, data, out):
    result = run(db, data, out, "p.xlsx", report="progress")
    rows = read_xlsx(result.path, "Progress")
    assert rows[0] == (
        "Cohort Name", "Program Type", "Cohort State", "Sponsor Company Name", "Start Date", "End Date", "Expected",
        "Enrolled", "Enrolled of Expected (%)", "Waiting", "In progress", "Complete", "Pending", "Verified",
        "Rejected", "Completion (%)",
    )  # fmt: skip
    # The tombstoned cohort and learner are left out.
    assert [r[0] for r in rows[1:]] == ["Empty Candidacy", "Q1 2026 Learnership", "Ünïcode Internship"]
    with db.read_session() as s:
        db_counts = dict(
            s.execute(
                select(CohortEnrollment.cohort_id, func.count())
                .where(CohortEnrollment.deleted_at.is_(None))
                .group_by(CohortEnrollment.cohort_id)
            ).all()
        )
        states = {
            (cohort_id, state): n
            for cohort_id, state, n in s.execute(
                select(CohortEnrollment.cohort_id, CohortEnrollment.state, func.count())
                .where(CohortEnrollment.deleted_at.is_(None))
                .group_by(CohortEnrollment.cohort_id, CohortEnrollment.state)
            )
        }
    by_name = {r[0]: r for r in rows[1:]}
    learnership = by_name["Q1 2026 Learnership"]
    assert learnership[1:4] == ("Learnership", "Draft", "Sasol Ltd")
    assert isinstance(learnership[4], datetime) and isinstance(learnership[5], datetime)
    assert learnership[6:] == (5, db_counts[data.learnership], 1.0, 3, 1, 1, 3, 1, 1, 0.2)
    assert states[(data.learnership, "complete")] == learnership[11]
    internship = by_name["Ünïcode Internship"]
    assert internship[3] == "Vodacom (Pty) Ltd"  # matched by sponsor e-mail, case-insensitively
    assert internship[6:] == (4, 2, 0.5, 2, 0, 0, 1, 1, 0, 0.0)
    assert by_name["Empty Candidacy"][6:] == (3, 0, 0.0, 0, 0, 0, 0, 0, 0, None)
    ws = openpyxl.load_workbook(result.path)["Progress"]
    assert ws.cell(row=2, column=9).number_format == "0.0%"
    assert ws.cell(row=2, column=5).number_format == "yyyy-mm-dd"
    csv_rows = read_csv(run(db, data, out, "p.csv", report="progress", format="csv").path)
    learnership_csv = next(r for r in csv_rows if r[0] == "Q1 2026 Learnership")
    assert learnership_csv[8] == "100.0" and learnership_csv[15] == "20.0"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", learnership_csv[4])


# --- empty, cancel, failure, files ---------------------------------------------------------------


@pytest.mark.parametrize("report", ["roster", "verification", "demographics"])
def test_empty_cohort_gives_a_message_not_a_file(db, data, out, report):
    with pytest.raises(EmptyReportError, match="Empty Candidacy.*no enrollments"):
        run(db, data, out, "empty.xlsx", report=report, cohort_id=data.empty)
    assert list(out.iterdir()) == []


def test_cancel_leaves_no_file_and_keeps_the_old_one(db, data, out, monkeypatch):
    (out / "roster.xlsx").write_bytes(b"the previous export")
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 1

    monkeypatch.setattr(Ticker, "EVERY", 1)  # check after every row: a handful of rows will do
    with pytest.raises(OperationCancelled):
        export_report(
            db,
            ExportRequest("roster", chunk_size=2),
            out / "roster.xlsx",
            data.identity(),
            cancelled=cancelled,
        )
    assert sorted(p.name for p in out.iterdir()) == ["roster.xlsx"]
    assert (out / "roster.xlsx").read_bytes() == b"the previous export"


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_failure_midway_leaves_no_file(db, data, out, fmt, monkeypatch):
    def broken_progress(done: int, total: int, text: str) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Ticker, "EVERY", 1)
    with pytest.raises(RuntimeError):
        export_report(
            db,
            ExportRequest("roster", format=fmt),
            out / f"r.{fmt}",
            data.identity(),
            progress=broken_progress,
        )
    assert list(out.iterdir()) == []


def test_progress_is_reported(db, data, out, monkeypatch):
    seen: list[tuple[int, int]] = []
    monkeypatch.setattr(Ticker, "EVERY", 2)
    export_report(
        db,
        ExportRequest("roster"),
        out / "r.xlsx",
        data.identity(),
        progress=lambda d, t, _x: seen.append((d, t)),
    )
    assert seen and all(total == 7 for _, total in seen) and seen[-1][0] == 7


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_export_file_is_private(db, data, out):
    result = run(db, data, out, "r.xlsx", report="roster")
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600


def test_default_file_names_hold_no_personal_data():
    day = date(2026, 3, 2)
    assert (
        reports.default_file_name(ExportRequest("roster", cohort_id=12), day)
        == "cohort-12-roster-20260302.xlsx"
    )
    assert (
        reports.default_file_name(ExportRequest("audit", format="csv"), day)
        == "all-cohorts-audit-trail-20260302.csv"
    )


def test_access_log_records_each_export_before_the_file_appears(db, data, out, monkeypatch):
    """A stand-in for ``access_log`` sees exactly what each export hands the log, and when."""
    calls: list[dict] = []

    class StandIn:
        """The signature of ``access_log.log_export``."""

        @staticmethod
        def log_export(db_arg, identity, purpose, *, row_count, object_table=None, object_id=None,
                       file_format=None, columns=(), filters=None, special_pi=False):  # fmt: skip
            assert db_arg is db
            assert not (out / filters["file_name"]).exists()  # logged first, then renamed into place
            calls.append(
                {
                    "user": identity.user_id,
                    "purpose": purpose,
                    "row_count": row_count,
                    "object": (object_table, object_id),
                    "format": file_format,
                    "columns": tuple(columns),
                    "filters": filters,
                    "special_pi": special_pi,
                }
            )
            return 1

    monkeypatch.setattr(report_export, "access_log", StandIn)
    result = run(db, data, out, "r.xlsx", report="roster", purpose="seta_submission")
    assert result.logged
    assert len(calls) == 1
    call = calls[0]
    assert (call["user"], call["purpose"], call["row_count"], call["format"]) == (
        data.officer, "seta_submission", 7, "xlsx"
    )  # fmt: skip
    assert call["object"] == ("cohorts", None) and call["special_pi"] is True
    assert call["columns"] == ROSTER_HEADER
    assert call["filters"]["report"] == "roster" and call["filters"]["file_name"] == "r.xlsx"
    assert call["filters"]["cohort_ids"] == [data.empty, data.learnership, data.internship]
    one = run(
        db, data, out, "one.csv", report="roster", format="csv", cohort_id=data.internship, special_pi=False
    )
    assert calls[-1]["object"] == ("cohorts", data.internship) and one.rows == 2
    assert calls[-1]["special_pi"] is False and "Student Race" not in calls[-1]["columns"]

    class Failing:
        @staticmethod
        def log_export(*_args, **_kwargs):
            raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(report_export, "access_log", Failing)
    with pytest.raises(RuntimeError):
        run(db, data, out, "unlogged.xlsx", report="roster")
    assert not (out / "unlogged.xlsx").exists()


def test_a_real_export_is_in_the_access_log_with_its_purpose(db, data, out):
    admin = data.identity()
    before = {e.id for e in access_log.read_log(db, admin, kinds=("export",))}
    result = run(
        db, data, out, "sponsor.csv", report="roster", format="csv", purpose="sponsor_report",
        cohort_id=data.internship,
    )  # fmt: skip
    assert result.logged and not result.special_pi_included  # a sponsor report leaves special PI out
    [entry] = [e for e in access_log.read_log(db, admin, kinds=("export",)) if e.id not in before]
    assert (entry.kind, entry.purpose, entry.object_table, entry.object_id) == (
        "export", "sponsor_report", "cohorts", data.internship
    )  # fmt: skip
    assert entry.actor_name and entry.details["row_count"] == result.rows == 2
    assert entry.details["format"] == "csv" and entry.details["special_pi"] is False
    assert entry.details["filters"]["report"] == "roster"
    assert entry.details["filters"]["file_name"] == "sponsor.csv"
    assert "Student Race" not in entry.details["columns"] and "Email" in entry.details["columns"]
    logged_text = json.dumps(entry.details, ensure_ascii=False)
    header, *rows = read_csv(result.path)
    personal = [header.index(name) for name in ("Student Name", "Student Surname", "Email", "Student City")]
    for row in rows:  # ids, codes, headers and counts only: nothing about a learner
        assert not [row[i] for i in personal if row[i] and row[i] in logged_text]


def test_requests_are_checked(db, data, out):
    for bad in (
        ExportRequest("payroll"),
        ExportRequest("roster", format="pdf"),
        ExportRequest("roster", purpose="marketing"),
        ExportRequest("roster", date_from=date(2026, 1, 1)),
        ExportRequest("audit", date_from=date(2026, 2, 1), date_to=date(2026, 1, 1)),
        ExportRequest("roster", suppress_small_cells=True),
        ExportRequest("audit", timezone="Mars/Olympus"),
    ):
        with pytest.raises(ValidationError):
            export_report(db, bad, out / "x.xlsx", data.identity())
    with pytest.raises(ValidationError, match="folder"):
        export_report(db, ExportRequest("roster"), out / "missing" / "x.xlsx", data.identity())
    assert list(out.iterdir()) == []


def test_cohort_groups_keep_the_order_and_hold_enough_rows():
    scope = SimpleNamespace(cohorts=[SimpleNamespace(id=i) for i in (7, 3, 9, 4)])
    counts = {7: 3, 9: 5, 4: 1}  # cohort 3 has no live enrollment
    assert queries.cohort_groups(scope, counts, 3) == [[7], [3, 9], [4]]
    assert queries.cohort_groups(scope, counts, 100) == [[7, 3, 9, 4]]


@pytest.mark.parametrize("report", ["verification", "roster"])
def test_streaming_in_small_chunks_gives_the_same_file(db, data, out, report):
    # The roster reads its cohorts a run of ``chunk_size`` rows at a time: one statement per cohort here.
    small = run(db, data, out, "small.csv", report=report, format="csv", chunk_size=1)
    large = run(db, data, out, "large.csv", report=report, format="csv", chunk_size=5000)
    assert small.path.read_bytes() == large.path.read_bytes()


def test_decisions_today_are_in_todays_range(db, data, out):
    today = datetime.now(UTC).date()
    result = run(
        db, data, out, "t.csv", report="audit", format="csv", date_from=today - timedelta(days=1),
        date_to=today + timedelta(days=1), timezone="UTC",
    )  # fmt: skip
    assert result.rows == 6

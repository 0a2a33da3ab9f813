"""The enrollment import on hostile and careless files: bounded memory and time for any file (bombs
refused in words before the rest is read) and warnings for what a spreadsheet did to the data."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from cohortdesk.db import Database
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration import enrollment_import as ei
from cohortdesk.services.configuration.enrollment_import import ImportFileError
from tests import factories
from tests.core import hostile_files
from tests.core.test_enrollment_import import TODAY, issues, write_xlsx


@pytest.fixture
def cohort(sqlite_db: Database) -> tuple[Database, int]:
    acc = factories.account(sqlite_db)
    inst = ce.create_institution(sqlite_db, ce.NewInstitution(account_id=acc, name="Acme Training")).row
    return sqlite_db, ce.create_cohort(sqlite_db, ce.NewCohort(inst.id, "Q1", "learnership")).row.id


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _refused_fast_and_small(path: Path, message: str) -> None:
    before, start = _rss_mb(), time.monotonic()
    with pytest.raises(ImportFileError, match=message):
        ei.read_table(path)
    # generous bounds for a shared machine; the bombs once took 28 s and 2.66 GB
    assert time.monotonic() - start < 5 and _rss_mb() - before < 200


def test_a_cell_in_column_xfd_on_every_row_is_refused_fast_and_small(tmp_path):
    path = hostile_files.column_xfd_bomb(tmp_path / "xfd.xlsx", rows=5000)
    assert path.stat().st_size < 150_000
    _refused_fast_and_small(path, "data in column XFD of row 2: a learner list has at most 100 columns")


@pytest.mark.slow
def test_a_400_mb_cell_is_refused_from_the_zip_directory(tmp_path):
    path = hostile_files.huge_cell_bomb(tmp_path / "cell.xlsx", megabytes=400)
    assert path.stat().st_size < 600_000
    _refused_fast_and_small(path, r"would unpack to more than 64 MB \(xl/sharedStrings.xml alone is 400 MB\)")


def test_rows_and_file_size_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(ei, "MAX_ROWS", 50)
    path = tmp_path / "many.csv"
    path.write_text("Email,First name,Last name\n" + "".join(f"l{i}@x.co.za,A,B\n" for i in range(60)))
    with pytest.raises(ImportFileError, match="more than 50 learners \\(row 52 and on\\)"):
        ei.read_table(path)
    monkeypatch.setattr(ei, "MAX_FILE_BYTES", 100)
    with pytest.raises(ImportFileError, match="a learner list is at most 0 MB"):
        ei.read_table(path)


def test_a_line_of_separators_is_refused_before_it_becomes_a_list(tmp_path):
    path = tmp_path / "commas.csv"
    path.write_text("Email,First name,Last name\n" + "," * 2_000_000 + "\n")
    _refused_fast_and_small(path, "2,000,000 ',' separators on line 2")


def test_a_200_kb_cell_is_a_row_error_in_words(cohort, tmp_path):
    db, cohort_id = cohort
    path = tmp_path / "long.csv"
    path.write_text(
        "Email,First name,Last name,City\n"
        f"a@example.co.za,Ann,Long,{'x' * 200_000}\n"
        "b@example.co.za,Bob,Short,Durban\n"
    )
    preview = ei.preview_file(db, cohort_id, path, today=TODAY)
    first, second = preview.rows
    assert issues(first)["error:city"] == [
        "the cell in column D holds 195 KB of text; a cell may hold at most 1,000 characters "
        "(was something pasted into it by mistake?)"
    ]
    assert second.importable and preview.counts["importable"] == 1


def test_what_a_spreadsheet_did_to_the_data_is_said(cohort, tmp_path):
    db, cohort_id = cohort
    header = ["Email", "First name", "Last name", "Phone", "SA ID number", "E-mail address"]
    rows = [
        ["f@example.co.za", '=HYPERLINK("http://evil.example","Click")', "Mokoena", None, None, None],
        ["p@example.co.za", "Pat", "Sci", "2.78212E+10", None, None],
        ["l@example.co.za", "Lan", "Dline", 115551234, None, "l@example.co.za"],
        ["d@example.co.za", "Dup", "Column", "+27 82 123 4567", None, "other@example.co.za"],
        ["i@example.co.za", "Id", "Sci", None, "8.00101E+12", None, "beyond the header"],
    ]
    path = write_xlsx(tmp_path / "careless.xlsx", rows, header=header)
    preview = ei.preview_file(db, cohort_id, path, today=TODAY)
    by_line = {r.line: r for r in preview.rows}
    assert (
        "like a spreadsheet formula: it is kept as plain text" in issues(by_line[2])["warning:first_name"][0]
    )
    assert by_line[2].importable
    assert "scientific notation: the spreadsheet rounded the number" in issues(by_line[3])["error:phone"][0]
    assert issues(by_line[4])["warning:phone"] == [
        "leading zero restored (0115551234, a landline number the spreadsheet stored as a number); "
        "format the column as text"
    ]
    assert by_line[4].student_data["phone"] == "0115551234"
    assert "warning:phone" not in issues(by_line[5])  # +27… is a phone number, not a formula
    assert issues(by_line[5])["error:email"] == [
        "column A says 'd@example.co.za' but column F says 'other@example.co.za'; keep one"
    ]
    assert "scientific notation" in issues(by_line[6])["error:sa_id_number"][0]
    notes = " | ".join(preview.file_warnings)
    assert "columns A ('Email') and F ('E-mail address') both name Email" in notes
    assert "row 6 has data beyond the last named column (in column G); it is not imported" in notes


def test_ambiguous_headers_and_utf16_text(cohort, tmp_path):
    db, cohort_id = cohort
    path = tmp_path / "unicode.txt"
    path.write_bytes("Email\tName\tSurname\tID\nz@example.co.za\tZoë\tNkosi\t\n".encode("utf-16"))
    preview = ei.preview_file(db, cohort_id, path, today=TODAY)
    assert preview.rows[0].first_name == "Zoë"
    notes = " | ".join(preview.file_warnings)
    assert "column B ('Name') was read as First name; if it holds full names" in notes
    assert "column D ('ID') was read as SA ID number" in notes

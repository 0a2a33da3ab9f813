"""``cohortdesk export``: the same reports from a terminal, plain-words errors and exit codes."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl

from cohortdesk.cli import main
from cohortdesk.db import Database
from cohortdesk.services.documents.storage import DocumentStore
from tests import report_data
from tests.conftest import MigratedDatabases


def _database(tmp_path: Path, migrated: MigratedDatabases) -> tuple[str, report_data.ReportData]:
    url = migrated.sqlite_url(tmp_path / "cli.sqlite3")
    db = Database(url)
    data = report_data.build(db, DocumentStore(tmp_path / "storage"))
    db.dispose()
    return url, data


def test_export_commands(migrated, tmp_path, capsys, monkeypatch):
    url, data = _database(tmp_path, migrated)
    roster = tmp_path / "roster.xlsx"
    code = main(["--url", url, "export", "roster", "--cohort", str(data.learnership), "-o", str(roster)])
    assert code == 0
    assert "Wrote 5 rows" in capsys.readouterr().out
    sheet = openpyxl.load_workbook(roster)["Roster"]
    assert sheet["A1"].value == "Cohort Name" and sheet.max_row == 6

    audit = tmp_path / "audit.csv"
    code = main(
        ["--url", url, "export", "audit", "--all", "--from", "2025-01-01", "--to", "2025-01-31",
         "--timezone", "UTC", "--format", "csv", "--no-bom", "-o", str(audit)]
    )  # fmt: skip
    assert code == 0
    assert not audit.read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(list(csv.reader(audit.open(encoding="utf-8", newline="")))) == 3

    demographics = tmp_path / "demo.xlsx"
    code = main(
        ["--url", url, "export", "demographics", "--purpose", "sponsor_report", "--age-bands", "15-34,35+",
         "-o", str(demographics)]
    )  # fmt: skip
    assert code == 0
    workbook = openpyxl.load_workbook(demographics)
    assert workbook.sheetnames == ["Age band × gender", "Report info"]
    assert "Special personal information left out" in capsys.readouterr().out

    # Without -o the file gets a name with no personal data, in the current folder.
    monkeypatch.chdir(tmp_path)
    assert main(["--url", url, "export", "progress", "--format", "csv"]) == 0
    assert len(list(tmp_path.glob("all-cohorts-progress-*.csv"))) == 1


def test_export_errors_are_plain_words(migrated, tmp_path, capsys):
    url, data = _database(tmp_path, migrated)
    target = tmp_path / "empty.xlsx"
    assert main(["--url", url, "export", "roster", "--cohort", str(data.empty), "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert "Empty Candidacy" in err and "no enrollments" in err
    assert not target.exists()
    assert main(["--url", url, "export", "roster", "--from", "2026-01-01", "-o", str(target)]) == 2
    assert "audit trail only" in capsys.readouterr().err
    assert main(["--url", url, "export", "roster", "--format", "csv", "-o", str(tmp_path / "x.xlsx")]) == 2
    assert main(["--url", url, "export", "roster", "--cohort", "999999", "-o", str(target)]) == 2
    assert "no cohort with id 999999" in capsys.readouterr().err

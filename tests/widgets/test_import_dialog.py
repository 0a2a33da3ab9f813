"""The enrollment import dialog, driven like a person would: open it from the cohorts page, choose a file,
read the preview, filter to problems, import, cancel; real SQLite store, real XLSX/CSV files."""

from __future__ import annotations

from pathlib import Path

import pytest
import xlsxwriter
from PySide6.QtCore import Qt

from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration import screens as config
from cohortdesk.services.configuration.enrollment_import import Severity
from cohortdesk.services.validation import luhn_valid
from cohortdesk.views.admin.admin_window import AdminWindow
from cohortdesk.views.admin.import_dialog import ImportEnrollmentsDialog, ImportPreviewModel
from cohortdesk.views.runner import Runner


def sa_id(index: int) -> str:
    prefix = f"{900101 + index % 28:06d}{index % 10000:04d}08"
    return next(prefix + str(d) for d in range(10) if luhn_valid(prefix + str(d)))


@pytest.fixture
def window(qtbot, runner, sqlite_db, identity, answers):
    win = AdminWindow(runner, sqlite_db, identity)
    qtbot.addWidget(win)
    win.show()
    win.show_page("cohorts")
    return win


def _select(page, name: str) -> None:
    for row in range(page.proxy.rowCount()):
        index = page.proxy.index(row, 0)
        if index.data() == name:
            page.view.setCurrentIndex(index)
            return
    raise AssertionError(f"{name} is not listed")


def learner_file(path: Path, n_valid: int = 2) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["Email", "First name", "Last name", "SA ID number", "Race"])
    rows = [
        [f"learner{i}@example.co.za", "Zoë" if i % 2 else "Sipho", f"O'Neill {i}", sa_id(i), "BA"]
        for i in range(n_valid)
    ]
    rows += [
        ["not-an-email", "Bad", "Email", "", ""],
        ["luhn@example.co.za", "Bad", "Luhn", "8001015009088", ""],
        ["codes@example.co.za", "Bad", "Code", "", "Purple"],
    ]
    for r, values in enumerate(rows, start=1):
        sheet.write_row(r, 0, values)
    workbook.close()
    return path


def test_import_from_the_cohorts_page(qtbot, window, sqlite_db, world, tmp_path):
    page = window.cohorts_page
    _select(page, "Retail Graduate Internship")
    assert page.import_button.isEnabled() and page.import_button.text() == "&Import enrollments…"
    dialog = page.open_import()
    assert isinstance(dialog, ImportEnrollmentsDialog) and dialog.isVisible()
    assert "Retail Graduate Internship" in dialog.windowTitle()
    assert not dialog.import_button.isEnabled()

    dialog.load(learner_file(tmp_path / "learners.xlsx"))
    assert dialog.preview is not None
    assert dialog.model.rowCount() == 5
    assert "<b>5</b> rows" in dialog.summary.text() and "<b>3</b> with errors" in dialog.summary.text()
    assert dialog.import_button.text() == "Import 2 valid rows" and dialog.import_button.isEnabled()
    # status column: icon and word; problems name the field
    bad = dialog.model.index(3, ImportPreviewModel.STATUS)
    assert bad.data() == "Error" and bad.data(Qt.ItemDataRole.DecorationRole) is not None
    problems = dialog.model.index(3, ImportPreviewModel.PROBLEMS).data()
    # ID numbers are masked on screen, in the problems too.
    assert problems.startswith("SA ID number: '800101*****88' is not a valid SA ID number")
    assert "8001015009088" not in dialog.model.index(3, 0).data(Qt.ItemDataRole.ToolTipRole)
    shown = {dialog.model.index(r, ImportPreviewModel.SA_ID).data() for r in range(dialog.model.rowCount())}
    assert all("*" in number for number in shown if number)
    # The refused rows can be saved as they were, with their problems, to fix them.
    refused = tmp_path / "refused.csv"
    dialog.save_refused_rows(refused)
    lines = refused.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + 3 and lines[0].endswith(",Problems") and "8001015009088" in refused.read_text()
    assert "row 5, SA ID number" in dialog.model.index(3, 0).data(Qt.ItemDataRole.ToolTipRole)
    dialog.problems_only.setChecked(True)
    assert dialog.model.rowCount() == 3 and {dialog.model.row_at(i).status for i in range(3)} == {
        Severity.ERROR
    }
    dialog.problems_only.setChecked(False)
    assert dialog.model.rowCount() == 5

    # Return does not import (the button is not the default); the button asks first.
    assert not dialog.import_button.isDefault() and not dialog.import_button.autoDefault()
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    box = dialog.confirm_box
    assert box is not None and box.text() == f"Import 2 learners into {dialog.preview.cohort_name}?"
    assert "3 rows with errors are left out" in box.informativeText()
    with qtbot.waitSignal(dialog.imported) as imported:
        next(b for b in box.buttons() if b.text() == "Import 2").click()
    result = imported.args[0]
    assert (result.enrolled, result.users_created, result.skipped) == (2, 2, 3)
    assert "Enrolled 2 learners" in dialog.status.text()
    assert not dialog.import_button.isEnabled()  # no second import of the same preview
    enrolled = ce.list_enrollments(sqlite_db, world["cohorts"]["draft"].id)
    assert len(enrolled) == 2 and enrolled[0].student_data == {"race": "BA", "sa_id_number": sa_id(0)}
    counts = config.enrolled_counts(sqlite_db, world["institution"].id)
    assert counts[world["cohorts"]["draft"].id] == 2
    assert "Enrolled 2 learners" in window.statusBar().currentMessage()
    dialog.close()


def test_unreadable_file_is_explained_and_nothing_can_be_imported(window, tmp_path):
    page = window.cohorts_page
    _select(page, "Retail Graduate Internship")
    dialog = page.open_import()
    broken = tmp_path / "learners.xlsx"
    broken.write_bytes(b"PK\x03\x04 not a workbook at all")
    dialog.load(broken)
    assert dialog.preview is None and not dialog.import_button.isEnabled()
    assert "cannot be read as an Excel workbook" in dialog.status.text()
    assert dialog.choose_button.isEnabled()
    dialog.close()


def test_template_download(window, tmp_path):
    page = window.cohorts_page
    _select(page, "Retail Graduate Internship")
    dialog = page.open_import()
    dialog.save_template(tmp_path / "template")  # no suffix: an .xlsx
    assert (tmp_path / "template.xlsx").read_bytes().startswith(b"PK")
    assert "Template saved as" in dialog.status.text()
    dialog.load(tmp_path / "template.xlsx")
    assert dialog.preview.counts["errors"] == 1  # the sample row is refused, not imported
    dialog.close()


def test_no_import_for_a_closed_cohort(window, sqlite_db, world, monkeypatch):
    page = window.cohorts_page
    ce.change_cohort_state(sqlite_db, world["cohorts"]["draft"].id, "cancelled")
    window.reload()
    _select(page, "Retail Graduate Internship")
    assert not page.import_button.isEnabled()
    _select(page, "2026 Mining Learnership")
    assert page.import_button.isEnabled()


def test_cancel_during_the_commit_writes_nothing(qtbot, sqlite_db, world, sql_guard, tmp_path):
    runner = Runner()  # the real threaded runner: the commit runs on the database thread
    sql_guard.protect(sqlite_db)
    cohort = world["cohorts"]["draft"]
    dialog = ImportEnrollmentsDialog(runner, sqlite_db, cohort.id, cohort.name)
    qtbot.addWidget(dialog)
    dialog.show()
    try:
        dialog.load(learner_file(tmp_path / "big.xlsx", n_valid=3000))
        qtbot.waitUntil(lambda: dialog.preview is not None, timeout=30000)
        assert dialog.import_button.text() == "Import 3000 valid rows"
        dialog.commit()
        assert dialog.running and dialog.close_button.text() == "Cancel"
        qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.running, timeout=30000)
        assert dialog.status.text() == "Import cancelled; nothing was written."
        assert dialog.result is None and dialog.import_button.isEnabled()  # may try again
        with sql_guard.paused():
            assert ce.list_enrollments(sqlite_db, cohort.id) == []
            assert ce.find_users_by_email(sqlite_db, world["account"], ["learner1@example.co.za"]) == {}
    finally:
        runner.shutdown()

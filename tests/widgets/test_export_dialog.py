"""The Export dialog: exports in the background with progress, Cancel removes the partial file, sponsor
defaults, masking without the capability, and File → Export… (Ctrl+E)."""

from __future__ import annotations

import threading
from pathlib import Path

import openpyxl
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit, QMainWindow

from cohortdesk.services import reports
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.reports.common import Ticker
from cohortdesk.views.export_dialog import ExportDialog, export_action
from cohortdesk.views.runner import Runner
from tests import report_data


@pytest.fixture
def data(sqlite_db, tmp_path):
    return report_data.build(sqlite_db, DocumentStore(tmp_path / "storage"))


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "exports"
    path.mkdir()
    return path


def _dialog(qtbot, runner, db, data, folder, special_pi=True, **kw) -> ExportDialog:
    dialog = ExportDialog(runner, db, data.identity(special_pi), folder=folder, **kw)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.cohort.findData(data.learnership) >= 0)
    return dialog


def test_exports_in_the_background(qtbot, sqlite_db, data, folder):
    runner = Runner()
    dialog = _dialog(qtbot, runner, sqlite_db, data, folder, cohort_id=data.learnership)
    dialog.show()
    assert dialog.one_cohort.isChecked() and dialog.cohort.currentData() == data.learnership
    expected = folder / reports.default_file_name(reports.ExportRequest("roster", cohort_id=data.learnership))
    assert Path(dialog.destination.text()) == expected
    dialog.special_pi.setChecked(True)  # never ticked by default: the officer asks for it
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Exported" in dialog.status.text(), timeout=20000)
    assert dialog.status.text() == f"Exported 5 rows to {expected.name}."
    assert dialog.open_button.isVisible() and dialog.export_button.isEnabled()
    assert dialog.folder_button.isVisible()
    assert dialog.progress.value() == dialog.progress.maximum()
    rows = list(openpyxl.load_workbook(expected)["Roster"].iter_rows(values_only=True))
    assert len(rows) == 6 and rows[0][4] == "Student Race"
    runner.shutdown()


def test_cancel_removes_the_partial_file(qtbot, sqlite_db, data, folder, monkeypatch):
    monkeypatch.setattr(Ticker, "EVERY", 1)
    real = reports.export_report
    reached, gate = threading.Event(), threading.Event()

    def held(*args, progress, cancelled, **kwargs):
        def hold(done: int, total: int, text: str) -> None:
            reached.set()  # the first rows are in the temporary file now
            gate.wait(20)
            progress(done, total, text)

        return real(*args, progress=hold, cancelled=cancelled, **kwargs)

    monkeypatch.setattr(reports, "export_report", held)
    runner = Runner()
    dialog = _dialog(qtbot, runner, sqlite_db, data, folder)
    dialog.report.setCurrentIndex(list(reports.REPORTS).index("verification"))
    dialog.start_export()
    assert dialog.cancel_button.text() == "Cancel" and not dialog.export_button.isEnabled()
    qtbot.waitUntil(reached.is_set, timeout=20000)
    assert [p.name for p in folder.iterdir() if p.name.endswith(".part")]  # a partial file exists
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    gate.set()
    qtbot.waitUntil(lambda: not dialog.running, timeout=20000)
    assert dialog.status.text() == "Export cancelled; no file was written."
    assert list(folder.iterdir()) == []
    assert dialog.cancel_button.text() == "Close" and dialog.export_button.isEnabled()
    runner.shutdown()


def test_form_defaults_follow_report_format_and_purpose(qtbot, sqlite_db, data, folder):
    dialog = _dialog(qtbot, Runner(synchronous=True), sqlite_db, data, folder)
    assert dialog.all_cohorts.isChecked() and not dialog.cohort.isEnabled()
    # Special PI is unticked by default, even for a holder of the capability; the scope names the
    # institution; the FR23 jargon is gone.
    assert dialog.special_pi.isEnabled() and not dialog.special_pi.isChecked()
    assert not dialog.suppress.isEnabled()
    assert dialog.all_cohorts.text().startswith("&All cohorts of ")
    assert "FR23" not in dialog.report_hint.text()
    assert not dialog.date_from.isEnabled() and dialog.as_at.isEnabled()
    dialog.report.setCurrentIndex(list(reports.REPORTS).index("audit"))
    dialog.csv.setChecked(True)
    assert dialog.date_from.isEnabled() and dialog.officer.isEnabled() and not dialog.as_at.isEnabled()
    assert dialog.bom.isEnabled() and dialog.bom.isChecked() and dialog.csv_hint.isVisibleTo(dialog)
    assert Path(dialog.destination.text()).name.startswith("all-cohorts-audit-trail-")
    assert Path(dialog.destination.text()).suffix == ".csv"
    assert {dialog.officer.itemText(i) for i in range(dialog.officer.count())} == {
        "Every officer", "Officer One", "Nomsa Dlamini",
    }  # fmt: skip
    dialog.report.setCurrentIndex(list(reports.REPORTS).index("demographics"))
    dialog.purpose.setCurrentIndex(list(reports.PURPOSES).index("sponsor_report"))
    assert dialog.suppress.isChecked() and not dialog.special_pi.isChecked()
    request = dialog.current_request()
    assert (request.report, request.format, request.purpose) == ("demographics", "csv", "sponsor_report")
    assert request.suppress_small_cells is True and request.include_special_pi is False
    # A path the user typed is kept when the form changes.
    dialog.destination.setText(str(folder / "mine.csv"))
    dialog.destination.textEdited.emit("mine.csv")
    dialog.report.setCurrentIndex(0)
    assert dialog.destination.text() == str(folder / "mine.csv")


def test_a_missing_folder_is_said_before_export(qtbot, sqlite_db, data, folder):
    dialog = _dialog(qtbot, Runner(synchronous=True), sqlite_db, data, folder)
    assert dialog.export_button.isEnabled() and Path(dialog.destination.text()).parent.is_dir()
    missing = folder / "gone" / "roster.xlsx"
    dialog.destination.clear()
    qtbot.keyClicks(dialog.destination, str(missing))
    assert not dialog.export_button.isEnabled()
    assert dialog.status.text().startswith(f"The folder {missing.parent} does not exist")
    dialog.destination.clear()
    qtbot.keyClicks(dialog.destination, str(folder / "roster.xlsx"))
    assert dialog.export_button.isEnabled() and dialog.status.text() == ""


def test_open_file_says_why_it_cannot(qtbot, sqlite_db, data, folder, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    dialog = _dialog(qtbot, Runner(synchronous=True), sqlite_db, data, folder)
    dialog.start_export()
    assert dialog.last_result is not None and dialog.open_button.isVisibleTo(dialog)
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda _url: False))
    dialog.open_button.click()
    assert dialog.status.text().startswith("No application on this computer opens Excel workbooks")
    dialog.last_result.path.unlink()
    dialog.open_button.click()
    assert "moved or deleted" in dialog.status.text()


def test_without_the_capability_special_pi_cannot_be_chosen(qtbot, sqlite_db, data, folder):
    dialog = _dialog(qtbot, Runner(synchronous=True), sqlite_db, data, folder, special_pi=False)
    assert not dialog.special_pi.isEnabled() and not dialog.special_pi.isChecked()
    dialog.destination.setText(str(folder / "roster.xlsx"))
    dialog.start_export()
    assert "Special personal information was left out" in dialog.status.text()
    header = next(openpyxl.load_workbook(folder / "roster.xlsx")["Roster"].iter_rows(values_only=True))
    assert "Student Race" not in header and "SA ID Number" not in header


def test_an_empty_cohort_is_explained_inline(qtbot, sqlite_db, data, folder):
    dialog = _dialog(qtbot, Runner(synchronous=True), sqlite_db, data, folder, cohort_id=data.empty)
    dialog.start_export()
    assert "Empty Candidacy" in dialog.status.text() and "no file was written" in dialog.status.text()
    assert list(folder.iterdir()) == []


def test_file_export_action_opens_the_dialog(qtbot):
    window = QMainWindow()
    window.setCentralWidget(QLineEdit())
    qtbot.addWidget(window)
    opened: list[bool] = []
    action = export_action(window, lambda: opened.append(True))
    window.menuBar().addMenu("&File").addAction(action)
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    assert action.shortcut().toString() == "Ctrl+E"
    QTest.keySequence(window.windowHandle(), QKeySequence("Ctrl+E"))
    qtbot.waitUntil(lambda: opened == [True])


def test_install_puts_export_above_quit_and_opens_the_dialog(qtbot, sqlite_db, data, folder):
    from cohortdesk.views.export_dialog import install_export_action

    window = QMainWindow()
    qtbot.addWidget(window)
    file_menu = window.menuBar().addMenu("&File")
    file_menu.addAction("&Refresh")
    file_menu.addSeparator()
    file_menu.addAction("&Quit")
    window.menus = {"file": file_menu}
    window.db, window.runner, window.identity = sqlite_db, Runner(synchronous=True), None
    window.selected_cohort_id = data.internship
    action = install_export_action(window)
    assert [a.text() for a in file_menu.actions()] == ["&Refresh", "&Export…", "", "&Quit"]
    action.trigger()  # the database is not open yet: nothing happens
    assert getattr(window, "export_dialog", None) is None
    window.identity = data.identity()
    action.trigger()
    dialog = window.export_dialog
    assert dialog.isVisible() and dialog.one_cohort.isChecked()
    assert dialog.cohort.currentData() == data.internship
    dialog.close()

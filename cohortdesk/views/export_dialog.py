"""File → Export…: choose a report, its scope, format, purpose and destination, and export it in the
background with a progress bar and Cancel.

The export runs on the runner's ``io`` lane (``services.reports.export_report``, which reads the
database over its own connection and streams into a private temporary file); Cancel sets the op's
cancel token, the service stops at its next check and removes the temporary file, so a cancelled
export leaves nothing behind. The cohort and officer lists load on the ``db`` lane.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, QStandardPaths, Qt, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.errors import CohortDeskError, OperationCancelled
from cohortdesk.services.access.identity import SPECIAL_PI, Identity
from cohortdesk.views import theme
from cohortdesk.views.date_entry import TypedDateEdit
from cohortdesk.views.errors import show_error, user_message
from cohortdesk.views.runner import Op, Runner


class _Reports:
    """``cohortdesk.services.reports``, imported on first use: the export action is installed at
    start-up, the report builders are needed only once the dialog opens (they cost start-up time)."""

    def __getattr__(self, name: str) -> Any:
        from cohortdesk.services import reports as module

        return getattr(module, name)


reports: Any = _Reports()

_REPORT_HINTS = {
    "roster": "The cohort roster the SETA asks for: one row per learner, with e-mail, ID number and states.",
    "verification": "One row per learner and document: uploaded or not, and the latest decision on it.",
    "audit": "Every verification decision in the date range, oldest first.",
    "demographics": "Counts by population group, disability and age band, each by gender, with charts.",
    "progress": "Per cohort: expected against enrolled, enrollment and verification states, completion.",
}


def default_folder() -> Path:
    """Where exports go unless the person chooses: the Documents folder if it exists, else Downloads,
    else the home folder (always a folder that exists)."""
    for location in (
        QStandardPaths.StandardLocation.DocumentsLocation,
        QStandardPaths.StandardLocation.DownloadLocation,
    ):
        found = QStandardPaths.writableLocation(location)
        if found and Path(found).is_dir():
            return Path(found)
    return Path.home()


def _date_field(value: QDate, name: str) -> TypedDateEdit:
    """A date typed whole ("01 Feb 2027") or picked from the calendar (F4)."""
    field = TypedDateEdit()
    field.setObjectName(name)
    field.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
    field.setDate(value)
    return field


def _qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class ExportDialog(QDialog):
    """The export dialog. ``cohort_id`` preselects a cohort (e.g. the one selected in the browser)."""

    def __init__(
        self,
        runner: Runner,
        db: Any,
        identity: Identity,
        parent: QWidget | None = None,
        *,
        cohort_id: int | None = None,
        folder: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export a report")
        self.runner = runner
        self.db = db
        self.identity = identity
        self._preselect = cohort_id
        self._folder = folder or default_folder()
        self._destination_edited = False
        self._op: Op | None = None
        self._handled = False
        self.last_result: reports.ExportResult | None = None
        self._build()
        self._sync_fields()
        self._suggest_destination()
        runner.db(reports.report_cohorts, db, identity).success(self._cohorts_loaded).start()
        runner.db(reports.report_officers, db, identity).success(self._officers_loaded).start()

    # --- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.report = QComboBox(objectName="reportCombo")
        for key, label in reports.REPORTS.items():
            self.report.addItem(label, key)
        self.report.setAccessibleName("Report")
        self.report_hint = QLabel(objectName="reportHint", wordWrap=True)
        self.report_hint.setStyleSheet("color: palette(mid);")

        self.one_cohort = QRadioButton("&One cohort:", objectName="scopeOneCohort")
        self.all_cohorts = QRadioButton("&All cohorts you may export", objectName="scopeAllCohorts")
        scope_group = QButtonGroup(self)
        scope_group.addButton(self.one_cohort)
        scope_group.addButton(self.all_cohorts)
        self.cohort = QComboBox(objectName="cohortCombo")
        self.cohort.setAccessibleName("Cohort")
        self.cohort.setMinimumContentsLength(28)
        self.cohort.addItem("Loading cohorts…", None)
        self.all_cohorts.setChecked(True)
        scope_row = QHBoxLayout()
        scope_row.addWidget(self.one_cohort)
        scope_row.addWidget(self.cohort, 1)
        scope_row.addWidget(self.all_cohorts)

        today = date.today()
        self.date_from = _date_field(_qdate(today.replace(day=1)), "dateFrom")
        self.date_to = _date_field(_qdate(today), "dateTo")
        for edit in (self.date_from, self.date_to):
            edit.setDisplayFormat("yyyy-MM-dd")
        self.date_from.setAccessibleName("From date")
        self.date_to.setAccessibleName("To date")
        dates_row = QHBoxLayout()
        dates_row.addWidget(self.date_from)
        dates_row.addWidget(QLabel("to"))
        dates_row.addWidget(self.date_to)
        dates_row.addStretch(1)
        self.officer = QComboBox(objectName="officerCombo")
        self.officer.setAccessibleName("Officer")
        self.officer.addItem("Every officer", None)
        self.as_at = _date_field(_qdate(today), "asAtDate")
        self.as_at.setDisplayFormat("yyyy-MM-dd")
        self.as_at.setAccessibleName("Ages as at")

        self.xlsx = QRadioButton("&Excel workbook (XLSX)", objectName="formatXlsx")
        self.csv = QRadioButton("&CSV", objectName="formatCsv")
        format_group = QButtonGroup(self)
        format_group.addButton(self.xlsx)
        format_group.addButton(self.csv)
        self.xlsx.setChecked(True)
        self.bom = QCheckBox("Excel-compatible (UTF-8 with BOM)", objectName="csvBom", checked=True)
        format_row = QHBoxLayout()
        format_row.addWidget(self.xlsx)
        format_row.addWidget(self.csv)
        format_row.addWidget(self.bom)
        format_row.addStretch(1)
        self.csv_hint = QLabel(
            "CSV holds one table and Excel drops leading zeros from ID numbers when it opens one; "
            "prefer XLSX for files people read.",
            objectName="csvHint",
            wordWrap=True,
        )

        self.purpose = QComboBox(objectName="purposeCombo")
        for key, label in reports.PURPOSES.items():
            self.purpose.addItem(label, key)
        self.purpose.setCurrentIndex(list(reports.PURPOSES).index("internal_use"))
        self.purpose.setAccessibleName("Purpose")
        self.special_pi = QCheckBox(
            "Include special personal information (race, disability, full ID numbers)",
            objectName="specialPiCheck",
        )
        if not self.identity.can(SPECIAL_PI):
            self.special_pi.setEnabled(False)
            self.special_pi.setText("Special personal information is left out: your role may not export it")
            self.special_pi.setToolTip("Race, disability and full ID numbers need the special-PI capability.")
        self.suppress = QCheckBox(
            "Show counts under 5 as \u201c<5\u201d (for copies that leave the institution)"
        )
        self.suppress.setObjectName("suppressCheck")

        self.destination = QLineEdit(objectName="destinationEdit")
        self.destination.setAccessibleName("Destination file")
        self.destination.textEdited.connect(self._destination_typed)
        browse = QPushButton("&Browse…", objectName="browseButton")
        browse.clicked.connect(self._browse)
        destination_row = QHBoxLayout()
        destination_row.addWidget(self.destination, 1)
        destination_row.addWidget(browse)

        what = QGroupBox("What")
        what_form = QFormLayout(what)
        what_form.addRow("&Report:", self.report)
        what_form.addRow("", self.report_hint)
        what_form.addRow("Scope:", scope_row)
        self.dates_label = QLabel("&Decided:")
        self.dates_label.setBuddy(self.date_from)
        what_form.addRow(self.dates_label, dates_row)
        self.officer_label = QLabel("O&fficer:")
        self.officer_label.setBuddy(self.officer)
        what_form.addRow(self.officer_label, self.officer)
        self.as_at_label = QLabel("Ages as a&t:")
        self.as_at_label.setBuddy(self.as_at)
        what_form.addRow(self.as_at_label, self.as_at)

        how = QGroupBox("How")
        how_form = QFormLayout(how)
        how_form.addRow("Format:", format_row)
        how_form.addRow("", self.csv_hint)
        how_form.addRow("&Purpose:", self.purpose)
        how_form.addRow("", self.special_pi)
        how_form.addRow("", self.suppress)
        save_label = QLabel("&Save to:")
        save_label.setBuddy(self.destination)
        how_form.addRow(save_label, destination_row)

        self.progress = QProgressBar(objectName="exportProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setVisible(False)  # shown once an export starts
        self.status = QLabel(objectName="exportStatus", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("E&xport", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setObjectName("exportButton")
        self.export_button.setDefault(True)
        self.open_button = self.buttons.addButton("&Open file", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.setObjectName("openFileButton")
        self.open_button.setVisible(False)
        self.folder_button = self.buttons.addButton("Show in &folder", QDialogButtonBox.ButtonRole.ActionRole)
        self.folder_button.setObjectName("showInFolderButton")
        self.folder_button.setVisible(False)
        self.folder_button.clicked.connect(self._show_in_folder)
        self.cancel_button = self.buttons.addButton("Close", QDialogButtonBox.ButtonRole.RejectRole)
        self.cancel_button.setObjectName("cancelButton")
        self.export_button.clicked.connect(self.start_export)
        self.open_button.clicked.connect(self._open_file)
        self.cancel_button.clicked.connect(self._cancel_or_close)

        layout = QVBoxLayout(self)
        layout.addWidget(what)
        layout.addWidget(how)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.resize(640, self.sizeHint().height())

        self.report.currentIndexChanged.connect(self._sync_fields)
        self.one_cohort.toggled.connect(self._sync_fields)
        self.cohort.currentIndexChanged.connect(self._suggest_destination)
        self.xlsx.toggled.connect(self._sync_fields)
        self.purpose.currentIndexChanged.connect(self._purpose_changed)
        self._purpose_changed()

    # --- loading lists --------------------------------------------------------------------------

    def _cohorts_loaded(self, cohorts: list[Any]) -> None:
        institutions = sorted({info.institution_name for info in cohorts})
        if len(institutions) == 1:
            self.all_cohorts.setText(f"&All cohorts of {institutions[0]}")
        elif institutions:
            self.all_cohorts.setText(f"&All cohorts of {len(institutions)} institutions")
            self.all_cohorts.setToolTip(", ".join(institutions))
        self.cohort.blockSignals(True)
        self.cohort.clear()
        for info in cohorts:
            self.cohort.addItem(f"{info.name} ({info.program_label})", info.id)
        if not cohorts:
            self.cohort.addItem("No cohorts yet", None)
        self.cohort.blockSignals(False)
        if self._preselect is not None:
            index = self.cohort.findData(self._preselect)
            if index >= 0:
                self.cohort.setCurrentIndex(index)
                self.one_cohort.setChecked(True)
        self._sync_fields()

    def _officers_loaded(self, officers: list[Any]) -> None:
        for officer in officers:
            self.officer.addItem(officer.name, officer.user_id)

    # --- form state -------------------------------------------------------------------------------

    def report_key(self) -> str:
        return str(self.report.currentData())

    def _sync_fields(self) -> None:
        report = self.report_key()
        self.report_hint.setText(_REPORT_HINTS[report])
        audit = report == "audit"
        for widget in (self.dates_label, self.date_from, self.date_to, self.officer_label, self.officer):
            widget.setEnabled(audit)
        ages = report in ("roster", "demographics")
        self.as_at_label.setEnabled(ages)
        self.as_at.setEnabled(ages)
        self.suppress.setEnabled(report == "demographics")
        self.special_pi.setEnabled(self.identity.can(SPECIAL_PI) and report != "progress")
        has_cohorts = self.cohort.currentData() is not None
        self.one_cohort.setEnabled(has_cohorts)
        self.cohort.setEnabled(has_cohorts and self.one_cohort.isChecked())
        csv = self.csv.isChecked()
        self.bom.setEnabled(csv)
        self.csv_hint.setVisible(csv)
        self._suggest_destination()

    def _purpose_changed(self) -> None:
        sponsor = self.purpose.currentData() == "sponsor_report"
        # Special PI goes into a file only when someone ticks it for this export; sponsor-facing copies
        # also suppress small cells by default.
        self.special_pi.setChecked(False)
        self.suppress.setChecked(sponsor)

    def current_request(self) -> reports.ExportRequest:
        report = self.report_key()
        audit = report == "audit"
        cohort_id = self.cohort.currentData() if self.one_cohort.isChecked() else None
        return reports.ExportRequest(
            report=report,
            format="csv" if self.csv.isChecked() else "xlsx",
            cohort_id=cohort_id,
            purpose=str(self.purpose.currentData()),
            date_from=_pydate(self.date_from.date()) if audit else None,
            date_to=_pydate(self.date_to.date()) if audit else None,
            officer_id=self.officer.currentData() if audit else None,
            as_at=_pydate(self.as_at.date()) if report in ("roster", "demographics") else None,
            include_special_pi=self.special_pi.isChecked() if report != "progress" else None,
            suppress_small_cells=self.suppress.isChecked() if report == "demographics" else None,
            csv_bom=self.bom.isChecked(),
        )

    def _suggest_destination(self) -> None:
        if self._destination_edited or not hasattr(self, "destination"):
            return
        self.destination.setText(str(self._folder / reports.default_file_name(self.current_request())))
        if hasattr(self, "export_button"):
            self._check_folder()

    def _destination_typed(self, _text: str) -> None:
        self._destination_edited = True
        self._check_folder()

    def _check_folder(self) -> bool:
        """Say at once (not after Export) when the destination's folder does not exist."""
        text = self.destination.text().strip()
        folder = Path(text).expanduser().parent if text else None
        if folder is not None and not folder.is_dir():
            self._show_status(f"The folder {folder} does not exist: choose another with Browse….", error=True)
            self.export_button.setEnabled(False)
            return False
        if self.status.text().startswith("The folder "):
            self._show_status("")
        self.export_button.setEnabled(not self.running)
        return True

    def _browse(self) -> None:
        request = self.current_request()
        name_filter = "Excel workbook (*.xlsx)" if request.format == "xlsx" else "CSV file (*.csv)"
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.destination.text(), name_filter)
        if path:
            if not path.lower().endswith(f".{request.format}"):
                path += f".{request.format}"
            self.destination.setText(path)
            self._destination_edited = True
            self._folder = Path(path).parent
            self._check_folder()

    # --- running ----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._op is not None

    def start_export(self) -> None:
        if self.running:
            return
        text = self.destination.text().strip()
        if not text:
            self._show_status("Choose where to save the file.", error=True)
            return
        if not self._check_folder():
            return
        request = self.current_request()
        destination = Path(text).expanduser()
        if destination.suffix.lower() != f".{request.format}":
            destination = destination.with_suffix(f".{request.format}")
            self.destination.setText(str(destination))
        self._handled = False
        self._destination_path = destination
        self._set_running(True)
        self._show_status(f"Exporting the {reports.REPORTS[request.report].lower()}…")
        self._op = (
            self.runner.io(reports.export_report, self.db, request, destination, self.identity)
            .progress(self._on_progress)
            .success(self._on_success)
            .failure(self._on_failure)
            .finally_(self._on_finished)
            .start()
        )

    def cancel_export(self) -> None:
        if self._op is not None:
            self._op.cancel()
            self.cancel_button.setEnabled(False)
            self._show_status("Cancelling…")

    def _cancel_or_close(self) -> None:
        if self.running:
            self.cancel_export()
        else:
            self.reject()

    def _set_running(self, running: bool) -> None:
        for widget in self.findChildren(QGroupBox):
            widget.setEnabled(not running)
        self.export_button.setEnabled(not running)
        self.open_button.setVisible(False)
        self.folder_button.setVisible(False)
        self.cancel_button.setText("Cancel" if running else "Close")
        self.cancel_button.setEnabled(True)
        if running:
            self.progress.setVisible(True)
            self.progress.setRange(0, 0)  # busy until the first count arrives

    def _on_progress(self, done: int, total: int, _text: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def _on_success(self, result: reports.ExportResult) -> None:
        self._handled = True
        self.last_result = result
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        note = ""
        if result.omitted_columns:
            note = " Special personal information was left out (see the Report info sheet)."
        self._show_status(f"Exported {result.rows:,} rows to {result.path.name}.{note}")
        self.open_button.setVisible(True)
        self.folder_button.setVisible(True)

    def _on_failure(self, error: BaseException) -> None:
        self._handled = True
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        if isinstance(error, OperationCancelled):
            self._show_status("Export cancelled; no file was written.")
        elif isinstance(error, CohortDeskError):
            self._show_status(user_message(error), error=True)
        else:
            self._show_status("The export failed; no file was written.", error=True)
            show_error(self, error, "Export")

    def _on_finished(self) -> None:
        self._op = None
        self._set_running(False)
        self.open_button.setVisible(self.last_result is not None and self._handled)
        self.folder_button.setVisible(self.last_result is not None and self._handled)
        if not self._handled:  # cancelled: the runner calls neither handler
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            if self._destination_path.exists() and self.last_result is None:
                self._show_status("The export finished before it could be cancelled; the file was kept.")
            else:
                self._show_status("Export cancelled; no file was written.")

    def _show_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {theme.colours().error};" if error else "")

    def _open_file(self) -> None:
        """Open the exported file in its application, or say why it could not be."""
        if self.last_result is None:
            return
        path = self.last_result.path
        if not path.exists():
            self._show_status(
                f"{path.name} is no longer in {path.parent}: it was moved or deleted.", error=True
            )
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            kind = "Excel workbooks" if path.suffix.lower() == ".xlsx" else "CSV files"
            self._show_status(
                f"No application on this computer opens {kind}; the file is saved in {path.parent} "
                "(Show in folder).",
                error=True,
            )

    def _show_in_folder(self) -> None:
        """Open the folder holding the exported file, or say why it could not be opened."""
        if self.last_result is None:
            return
        folder = self.last_result.path.parent
        if not folder.is_dir():
            self._show_status(f"The folder {folder} is no longer there.", error=True)
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self._show_status(f"No file manager could be opened; the file is in {folder}.", error=True)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.cancel_export()
        super().closeEvent(event)

    def reject(self) -> None:
        self.cancel_export()
        super().reject()


def export_action(parent: QWidget, open_dialog: Callable[[], None]) -> QAction:
    """File → Export… (Ctrl+E), for the main window's File menu."""
    action = QAction("&Export…", parent)
    action.setObjectName("exportAction")
    action.setShortcut(QKeySequence("Ctrl+E"))
    action.setStatusTip("Export a report to an XLSX or CSV file")
    action.triggered.connect(open_dialog)
    return action


def install_export_action(window: Any) -> QAction:
    """Put File → Export… (Ctrl+E) into the workstation window.

    ``window`` is the main window: it offers ``db``, ``runner``, ``identity`` (``None`` until the database
    is open) and ``menus["file"]`` (else ``add_menu_action``). The action goes above the File menu's
    last separator (before Quit); the dialog preselects ``window.selected_cohort_id`` when there is one.
    """

    def open_dialog() -> None:
        if getattr(window, "identity", None) is None:
            return  # still opening the database
        cohort_id = getattr(window, "selected_cohort_id", None)
        dialog = ExportDialog(
            window.runner,
            window.db,
            window.identity,
            window,
            cohort_id=cohort_id if isinstance(cohort_id, int) else None,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        window.export_dialog = dialog

    action = export_action(window, open_dialog)
    file_menu = getattr(window, "menus", {}).get("file")
    if file_menu is None:
        window.add_menu_action("file", action)
        return action
    separators = [a for a in file_menu.actions() if a.isSeparator()]
    if separators:
        file_menu.insertAction(separators[-1], action)
    else:
        file_menu.addAction(action)
    window.addAction(action)  # the shortcut works whichever pane has focus
    return action

"""Cohorts → *Import enrollments…*: choose an XLSX or CSV file, read the row-by-row preview, import the
rows without errors.

The file is read on the runner's ``io`` lane (``enrollment_import.read_table``), checked on the ``db``
lane (``check_rows``) and committed on the ``db`` lane (``commit_import``: one transaction through the
configuration write path) with a progress bar and Cancel. Cancel is the dialog's own token, not the
op's, so a commit that finished just as Cancel was pressed is still reported; a cancelled commit
writes nothing. Unreadable files are explained in plain words (``views.errors.show_error``).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QStandardPaths, Qt, Signal
from PySide6.QtGui import QBrush, QCloseEvent, QColor, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.errors import OperationCancelled
from cohortdesk.services.configuration import enrollment_import as ei
from cohortdesk.services.configuration.enrollment_import import (
    ImportPreview,
    ImportResult,
    ImportRow,
    Severity,
)
from cohortdesk.services.review.queue_rows import mask_id_number
from cohortdesk.views.admin.form_support import page_header
from cohortdesk.views.admin.style import style_sheet
from cohortdesk.views.admin.table_models import HeaderedRowsModel
from cohortdesk.views.errors import show_error, user_message
from cohortdesk.views.runner import CancelToken, Op, Runner
from cohortdesk.views.theme import colours

_Index = QModelIndex | QPersistentModelIndex


def masked(text: str, row: ImportRow) -> str:
    """``text`` with the row's SA ID number masked wherever it is quoted (problems name the value)."""
    number = str(row.student_data.get("sa_id_number") or row.source.get("sa_id_number", "")).strip()
    return text.replace(number, mask_id_number(number)) if len(number) > 8 else text


class ImportPreviewModel(HeaderedRowsModel):
    """The preview's rows (frozen ``ImportRow``), optionally only those with problems."""

    ROW, STATUS, EMAIL, NAME, SA_ID, PROBLEMS = range(6)
    HEADERS = ("Row", "Status", "E-mail", "Name", "SA ID number", "Problems")
    STATUS_TEXT = {Severity.ERROR: "Error", Severity.WARNING: "Warning", None: "Valid"}

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._all: tuple[ImportRow, ...] = ()
        self._rows: tuple[ImportRow, ...] = ()
        self._problems_only = False
        style = parent.style() if parent is not None else None
        self._icons: dict[Severity | None, QIcon] = {}
        if style is not None:
            self._icons = {
                Severity.ERROR: style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical),
                Severity.WARNING: style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning),
                None: style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton),
            }

    def set_rows(self, rows: tuple[ImportRow, ...]) -> None:
        self.beginResetModel()
        self._all = rows
        self._apply()
        self.endResetModel()

    def set_problems_only(self, on: bool) -> None:
        self.beginResetModel()
        self._problems_only = on
        self._apply()
        self.endResetModel()

    def _apply(self) -> None:
        self._rows = tuple(r for r in self._all if r.issues) if self._problems_only else self._all

    def row_at(self, position: int) -> ImportRow:
        return self._rows[position]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.ROW:
                return row.line
            if column == self.STATUS:
                return self.STATUS_TEXT[row.status]
            if column == self.EMAIL:
                return row.email
            if column == self.NAME:
                return row.name
            if column == self.SA_ID:
                # Masked like everywhere else on screen: the date of birth part and the last two.
                number = row.student_data.get("sa_id_number") or row.source.get("sa_id_number", "")
                return mask_id_number(str(number)) if number else ""
            return masked(row.message, row)
        if role == Qt.ItemDataRole.DecorationRole and column == self.STATUS:
            return self._icons.get(row.status)
        if role == Qt.ItemDataRole.ToolTipRole and row.issues:
            return masked("\n".join(i.describe(row.line) for i in row.issues), row)
        if role == Qt.ItemDataRole.BackgroundRole and row.status is not None:
            c = colours()
            return QBrush(
                QColor(c.error_background if row.status is Severity.ERROR else c.warning_background)
            )
        if role == Qt.ItemDataRole.ForegroundRole and column == self.PROBLEMS and row.status is not None:
            c = colours()
            return QBrush(QColor(c.error if row.status is Severity.ERROR else c.warning))
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.ROW:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class ImportEnrollmentsDialog(QDialog):
    """Preview and import a learner list into one cohort."""

    #: The import committed: the ``ImportResult``.
    imported = Signal(object)
    #: A preview is shown (tests and screenshots wait for it).
    previewed = Signal(object)

    def __init__(
        self, runner: Runner, db: Any, cohort_id: int, cohort_name: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("importEnrollmentsDialog")
        self.setWindowTitle(f"Import enrollments · {cohort_name}")
        self.setStyleSheet(style_sheet())
        self.runner = runner
        self.db = db
        self.cohort_id = cohort_id
        self.cohort_name = cohort_name
        self.preview: ImportPreview | None = None
        self.result: ImportResult | None = None
        self._stop: CancelToken | None = None
        self._op: Op | None = None
        self._build()
        self.resize(980, 620)

    def _build(self) -> None:
        header = page_header(
            f"Import enrollments into {self.cohort_name}",
            "Choose an Excel workbook (.xlsx) or CSV file with one learner per row. Nothing is saved until "
            "you import; rows with errors are left out.",
        )
        self.path_edit = QLineEdit(objectName="importFilePath")
        self.path_edit.setReadOnly(True)
        self.path_edit.setPlaceholderText("No file chosen")
        self.path_edit.setAccessibleName("File to import")
        self.choose_button = QPushButton("&Choose file…", objectName="chooseImportFileButton")
        self.choose_button.clicked.connect(self.choose_file)
        self.template_button = QPushButton("Download &template…", objectName="downloadTemplateButton")
        self.template_button.clicked.connect(self.download_template)
        file_row = QHBoxLayout()
        file_row.addWidget(self.path_edit, 1)
        file_row.addWidget(self.choose_button)
        file_row.addWidget(self.template_button)

        self.summary = QLabel(objectName="importSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.problems_only = QCheckBox("Show only rows with &problems", objectName="problemsOnlyCheck")
        self.problems_only.toggled.connect(self._filter_changed)
        summary_row = QHBoxLayout()
        summary_row.addWidget(self.summary, 1)
        summary_row.addWidget(self.problems_only)

        self.model = ImportPreviewModel(self)
        self.table = QTableView(objectName="importPreviewTable")
        self.table.setAccessibleName("Preview of the rows to import")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 10)
        header_view = self.table.horizontalHeader()
        header_view.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header_view.setStretchLastSection(True)
        for column, width in ((0, 52), (1, 96), (2, 230), (3, 170), (4, 120)):
            header_view.resizeSection(column, width)
        header_view.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

        self.table.selectionModel().currentRowChanged.connect(self._show_details)
        self.details = QLabel(objectName="importRowDetails")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setMinimumHeight(self.fontMetrics().height() * 3)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        self.progress = QProgressBar(objectName="importProgress")
        self.progress.setTextVisible(True)
        self.progress.setVisible(False)
        self.status = QLabel(objectName="importStatus")
        self.status.setWordWrap(True)

        self.import_button = QPushButton("Import", objectName="commitImportButton")
        self.import_button.setEnabled(False)
        # Return never imports: the button asks first (ask_commit), naming what will happen.
        self.import_button.setDefault(False)
        self.import_button.setAutoDefault(False)
        self.import_button.clicked.connect(self.ask_commit)
        self.refused_button = QPushButton("Save refused rows…", objectName="saveRefusedButton")
        self.refused_button.setAutoDefault(False)
        self.refused_button.setToolTip(
            "Save the rows that will not be imported, with their problems, to fix them"
        )
        self.refused_button.setEnabled(False)
        self.refused_button.clicked.connect(self.save_refused_rows)
        self.confirm_box: QMessageBox | None = None
        self.close_button = QPushButton("Close", objectName="closeImportButton")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self._cancel_or_close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.refused_button)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.addWidget(header)
        layout.addLayout(file_row)
        layout.addLayout(summary_row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.progress)
        layout.addLayout(buttons)
        self._update_buttons()

    # --- choosing and previewing ---------------------------------------------------------------

    @staticmethod
    def _documents_folder() -> str:
        return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Choose the learner list",
            self._documents_folder(),
            "Spreadsheets (*.xlsx *.csv);;Excel workbooks (*.xlsx);;CSV files (*.csv);;All files (*)",
        )
        if path:
            self.load(Path(path))

    def load(self, path: Path) -> None:
        """Read and check ``path`` in the background; the preview replaces the one shown."""
        if self.running:
            return
        self.path_edit.setText(str(path))
        self.preview = None
        self.result = None
        self.model.set_rows(())
        self.summary.setText("")
        self._set_status(f"Reading {path.name}…")
        self._busy(True)
        self._start(
            self.runner.io(ei.read_table, path).success(self._file_read).failure(self._preview_failed)
        )

    def _file_read(self, table: ei.SourceTable) -> None:
        self._set_status(f"Checking {len(table.rows)} rows…")
        self._start(
            self.runner.db(ei.check_rows, self.db, self.cohort_id, table)
            .success(self._show_preview)
            .failure(self._preview_failed)
        )

    def _preview_failed(self, error: BaseException) -> None:
        self._op = None
        self._busy(False)
        self._set_status(f"The file was not read: {user_message(error)}", error=True)
        show_error(self, error, "The file cannot be imported")

    def _show_preview(self, preview: ImportPreview) -> None:
        self._op = None
        self.preview = preview
        self.model.set_rows(preview.rows)
        c = preview.counts
        col = colours()
        parts = [f"<b>{c['rows']}</b> rows", f"<span style='color:{col.ok}'><b>{c['valid']}</b> valid</span>"]
        if c["warnings"]:
            parts.append(f"<span style='color:{col.warning}'><b>{c['warnings']}</b> with warnings</span>")
        parts.append(f"<span style='color:{col.error}'><b>{c['errors']}</b> with errors (left out)</span>")
        notes = list(preview.file_warnings)
        if preview.ignored_columns:
            notes.append(f"columns not used: {', '.join(preview.ignored_columns)}")
        if c["new_users"]:
            n = c["new_users"]
            notes.append(f"{n} learner{' is' if n == 1 else 's are'} new to DocuSeal and will be added")
        text = " · ".join(parts)
        if notes:
            note = "; ".join(notes)
            text += f"<br><span style='color:{col.muted}'>{html.escape(note[:1].upper() + note[1:])}</span>"
        self.summary.setText(text)
        self._busy(False)
        if c["importable"]:
            self._set_status("Check the rows marked in red or amber, then import.")
        else:
            self._set_status("No row can be imported: correct the file and choose it again.", error=True)
        if preview.rows:
            first_problem = next((i for i, r in enumerate(preview.rows) if r.issues), 0)
            self.table.setCurrentIndex(self.model.index(first_problem, 0))
        self.previewed.emit(preview)

    def _filter_changed(self, on: bool) -> None:
        self.model.set_problems_only(on)
        self._show_details(self.table.currentIndex())

    def _show_details(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        """Every problem of the selected row in full (the table's column shows the start)."""
        if not current.isValid():
            self.details.setText("Select a row to read all of its problems." if self.model.rowCount() else "")
            return
        row = self.model.row_at(current.row())
        c = colours()
        title = f"<b>Row {row.line}</b> · {html.escape(row.name or row.email or 'no name')}"
        if not row.issues:
            self.details.setText(f"{title} · <span style='color:{c.ok}'>ready to import</span>")
            return
        items = "".join(
            f"<li style='color:{c.error if i.severity is Severity.ERROR else c.warning}'>"
            f"{html.escape(masked(i.describe(row.line).split(', ', 1)[-1] if i.field != 'row' else i.message, row))}</li>"
            for i in row.issues
        )
        self.details.setText(f"{title}<ul style='margin:2px 0 0 -20px'>{items}</ul>")

    # --- template ------------------------------------------------------------------------------

    def download_template(self) -> None:
        suggested = str(Path(self._documents_folder() or ".") / "enrollment-import-template.xlsx")
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the import template", suggested, "Excel workbook (*.xlsx);;CSV file (*.csv)"
        )
        if path:
            self.save_template(Path(path))

    def save_template(self, path: Path) -> None:
        if path.suffix.lower() not in (".xlsx", ".csv"):
            path = path.with_suffix(".xlsx")
        self.runner.io(ei.write_template, path).success(
            lambda written: self._set_status(f"Template saved as {written}.")
        ).failure(lambda error: show_error(self, error, "The template was not saved")).start()

    # --- committing ----------------------------------------------------------------------------

    def _start(self, op: Op) -> None:
        # Recorded before it starts: a synchronous runner (tests) finishes it inside ``start()``.
        self._op = op
        op.start()

    @property
    def running(self) -> bool:
        return self._op is not None

    def ask_commit(self) -> None:
        """Confirm before anything is written: how many learners go into which cohort, what is left out."""
        preview = self.preview
        if preview is None or self.running or not preview.counts["importable"]:
            return
        counts = preview.counts
        n = counts["importable"]
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Import learners?",
            f"Import {n} learner{'s' if n != 1 else ''} into {preview.cohort_name}?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("confirmImportBox")
        details = []
        if counts["errors"]:
            details.append(
                f"{counts['errors']} row{'s' if counts['errors'] != 1 else ''} with errors are left out."
            )
        if counts["new_users"]:
            details.append(f"{counts['new_users']} new to DocuSeal will be added.")
        details.append("Enrollments cannot be removed in bulk afterwards.")
        box.setInformativeText(" ".join(details))
        go = box.addButton(f"Import {n}", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.confirm_box = box

        def answered(_result: int) -> None:
            self.confirm_box = None
            box.deleteLater()
            if box.clickedButton() is go:
                self.commit()

        box.finished.connect(answered)
        box.open()

    def save_refused_rows(self, path: Path | None = None) -> None:
        """Write the rows left out, with their problems, to a CSV the person chooses."""
        preview = self.preview
        if preview is None or not preview.counts["errors"]:
            return
        if path is None:
            suggested = str(
                Path(self._documents_folder() or ".") / f"{Path(preview.source).stem}-refused.csv"
            )
            chosen, _ = QFileDialog.getSaveFileName(self, "Save refused rows", suggested, "CSV file (*.csv)")
            if not chosen:
                return
            path = Path(chosen)
        self.runner.io(ei.write_refused_rows, preview, path).success(
            lambda written: self._set_status(
                f"Saved {preview.counts['errors']} refused rows to {written.name}: fix them and import that file."
            )
        ).failure(lambda error: self._set_status(f"Not saved: {user_message(error)}", error=True)).start()

    def commit(self) -> None:
        if self.preview is None or self.running or not self.preview.counts["importable"]:
            return
        stop = CancelToken()
        self._stop = stop

        def work(db: Any, preview: ImportPreview, *, progress: Any, cancelled: Any) -> ImportResult:
            del cancelled  # the op's own token would hide a commit that finished: use the dialog's
            return ei.commit_import(db, preview, progress=progress, cancelled=stop)

        total = self.preview.counts["importable"]
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self._set_status(f"Importing {total} rows…")
        self._busy(True)
        self._start(
            self.runner.db(work, self.db, self.preview)
            .progress(self._on_progress)
            .success(self._committed)
            .failure(self._commit_failed)
        )

    def cancel_commit(self) -> None:
        if self._stop is not None and self.running:
            self._stop.cancel()
            self.close_button.setEnabled(False)
            self._set_status("Cancelling…")

    def _on_progress(self, done: int, total: int, _text: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, total))

    def _committed(self, result: ImportResult) -> None:
        self._op = None
        self._stop = None
        self.result = result
        self.preview = None  # imported: a second click must not try again
        self._busy(False)
        self.progress.setValue(self.progress.maximum())
        self._set_status(result.summary(), ok=True)
        self.imported.emit(result)

    def _commit_failed(self, error: BaseException) -> None:
        self._op = None
        self._stop = None
        self._busy(False)
        self.progress.setVisible(False)
        if isinstance(error, OperationCancelled):
            self._set_status("Import cancelled; nothing was written.")
            return
        self._set_status(f"Nothing was imported: {user_message(error)}", error=True)
        show_error(self, error, "The import did not complete")

    # --- state ---------------------------------------------------------------------------------

    def _busy(self, busy: bool) -> None:
        self.choose_button.setEnabled(not busy)
        self.template_button.setEnabled(not busy)
        self.close_button.setEnabled(True)
        self.close_button.setText("Cancel" if busy and self._stop is not None else "Close")
        if not busy:
            self.progress.setVisible(self.result is not None)
        self._update_buttons()

    def _update_buttons(self) -> None:
        n = self.preview.counts["importable"] if self.preview is not None else 0
        self.import_button.setText(f"Import {n} valid row{'s' if n != 1 else ''}" if n else "Import")
        self.import_button.setEnabled(bool(n) and not self.running)
        errors = self.preview.counts["errors"] if self.preview is not None else 0
        self.refused_button.setEnabled(bool(errors) and not self.running)

    def _set_status(self, text: str, *, error: bool = False, ok: bool = False) -> None:
        c = colours()
        colour = c.error if error else c.ok if ok else c.muted
        self.status.setStyleSheet(f"color: {colour};")
        self.status.setText(text)

    def _cancel_or_close(self) -> None:
        if self.running and self._stop is not None:
            self.cancel_commit()
        else:
            self.reject()

    def reject(self) -> None:
        if self.running and self._stop is not None:
            self.cancel_commit()  # Esc during the commit cancels it; the dialog stays until it stops
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running and self._stop is not None:
            self.cancel_commit()
            event.ignore()
            return
        super().closeEvent(event)

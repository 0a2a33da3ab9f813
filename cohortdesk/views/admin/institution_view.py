"""The institution page: details, where its data is hosted, and the canned rejection reasons officers pick
from (code, label and the message the learner reads)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.services.configuration import screens as config
from cohortdesk.services.configuration.screens import FieldProblem, InstitutionEdit, RejectionReason
from cohortdesk.services.rows import InstitutionRow
from cohortdesk.views.admin.form_support import Form, form_layout, page_header
from cohortdesk.views.runner import Runner


def _plain_text(object_name: str, rows: int = 3) -> QPlainTextEdit:
    edit = QPlainTextEdit()
    edit.setObjectName(object_name)
    edit.setTabChangesFocus(True)
    edit.setFixedHeight(edit.fontMetrics().lineSpacing() * rows + 14)
    return edit


class RejectionReasonsEditor(QWidget):
    """A table of canned reasons with Add, Remove, Move up and Move down (all reachable by keyboard)."""

    COLUMNS = ("Code", "Label", "Message the learner reads")
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rejectionReasonsEditor")
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("rejectionReasonsTable")
        self.table.setAccessibleName("Canned rejection reasons")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; arrows move within it
        self.table.setWordWrap(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 230)
        self.table.setColumnWidth(1, 190)
        self.table.setMinimumHeight(260)
        self.add_button = self._button("&Add reason", "addReasonButton", self.add_reason)
        self.remove_button = self._button("&Remove", "removeReasonButton", self.remove_reason)
        self.up_button = self._button("Move &up", "moveReasonUpButton", lambda: self.move(-1))
        self.down_button = self._button("Move do&wn", "moveReasonDownButton", lambda: self.move(1))
        self.defaults_button = self._button(
            "Add suggested reasons", "addSuggestedReasonsButton", self.add_suggested
        )
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.defaults_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self._update_buttons()

    def _button(self, text: str, name: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    def reasons(self) -> tuple[RejectionReason, ...]:
        out = []
        for row in range(self.table.rowCount()):
            cells = [self.table.item(row, col) for col in range(3)]
            code, label, message = (cell.text().strip() if cell else "" for cell in cells)
            out.append(RejectionReason(code, label, message))
        return tuple(out)

    def set_reasons(self, reasons: tuple[RejectionReason, ...]) -> None:
        self.table.setRowCount(0)
        for reason in reasons:
            self._append(reason)
        self.table.resizeRowsToContents()
        self._update_buttons()

    def _append(self, reason: RejectionReason) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, text in enumerate((reason.code, reason.label, reason.message)):
            self.table.setItem(row, col, QTableWidgetItem(text))
        return row

    def add_reason(self) -> None:
        row = self._append(RejectionReason("", "", ""))
        self.table.setCurrentCell(row, 0)
        self.table.setFocus()
        self.table.editItem(self.table.item(row, 0))
        self.changed.emit()

    def add_suggested(self) -> None:
        have = {r.code for r in self.reasons()}
        for reason in config.DEFAULT_REJECTION_REASONS:
            if reason.code not in have:
                self._append(reason)
        self.table.resizeRowsToContents()
        self._update_buttons()
        self.changed.emit()

    def remove_reason(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.table.removeRow(row)
            self._update_buttons()
            self.changed.emit()

    def move(self, step: int) -> None:
        row = self.table.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.table.rowCount():
            return
        texts = [
            [self.table.item(r, c).text() if self.table.item(r, c) else "" for c in range(3)]
            for r in (row, target)
        ]
        for r, values in zip((target, row), texts, strict=True):
            for c, text in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.setCurrentCell(target, self.table.currentColumn())
        self.changed.emit()

    def _update_buttons(self) -> None:
        row = self.table.currentRow() if self.table.selectedItems() else -1
        self.remove_button.setEnabled(row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < self.table.rowCount() - 1)
        have = {r.code for r in self.reasons()}
        self.defaults_button.setEnabled(any(r.code not in have for r in config.DEFAULT_REJECTION_REASONS))


class InstitutionForm(Form):
    """The institution's details, hosting note and canned rejection reasons, saved together."""

    noun = "institution"

    def __init__(self, runner: Runner, db: Any, parent: QWidget | None = None) -> None:
        super().__init__(runner, "institutionForm", parent)
        self.db = db
        self.row: InstitutionRow | None = None

        self.name = QLineEdit()
        self.registration_number = QLineEdit()
        self.registration_number.setPlaceholderText("e.g. 2009/012345/07")
        self.address = _plain_text("address")
        self.contact_email = QLineEdit()
        self.contact_email.setPlaceholderText("admin@institution.co.za")
        self.contact_phone = QLineEdit()
        self.contact_phone.setPlaceholderText("012 345 6789")
        self.hosting_location = _plain_text("hosting_location", rows=2)
        self.reasons = RejectionReasonsEditor()

        details = QGroupBox("Details")
        details.setObjectName("institutionDetailsGroup")
        details_form = form_layout()
        self.add_field(details_form, "name", "&Name", self.name, required=True)
        self.add_field(details_form, "registration_number", "Re&gistration number", self.registration_number)
        self.add_field(details_form, "address", "A&ddress", self.address)
        self.add_field(details_form, "contact_email", "Contact &e-mail", self.contact_email)
        self.add_field(details_form, "contact_phone", "Contact &phone", self.contact_phone)
        details.setLayout(details_form)

        hosting = QGroupBox("Where the data is hosted")
        hosting.setObjectName("hostingGroup")
        hosting_form = form_layout()
        self.add_field(
            hosting_form,
            "hosting_location",
            "&Hosting location",
            self.hosting_location,
            "Where the learners' data is stored, e.g. “Own server in Pretoria” or “AWS af-south-1 (Cape Town)”. "
            "POPIA s72 asks you to record this.",
        )
        hosting.setLayout(hosting_form)

        reasons_box = QGroupBox("Canned rejection reasons")
        reasons_box.setObjectName("rejectionReasonsGroup")
        reasons_layout = QVBoxLayout(reasons_box)
        reasons_error = self.error_label("rejection_reasons")
        reasons_layout.addWidget(self.reasons)
        reasons_layout.addWidget(reasons_error)
        self.register_field("rejection_reasons", "Rejection reasons", self.reasons.table, reasons_error)
        self.reasons.changed.connect(self._on_changed)

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 8, 0)
        content_layout.addWidget(details)
        content_layout.addWidget(hosting)
        content_layout.addWidget(reasons_box, 1)
        scroll = QScrollArea()
        scroll.setObjectName("institutionScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(content)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.addWidget(
            page_header(
                "Institution",
                "Your institution's details as learners, sponsors and SETAs see them, and the reasons "
                "officers choose from when they reject a document.",
            )
        )
        layout.addWidget(self.summary)
        layout.addWidget(scroll, 1)
        layout.addLayout(self.button_row())
        self.setEnabled(False)
        self.saved.connect(self.set_institution)

    def set_institution(self, row: InstitutionRow) -> None:
        self.row = row
        self.setEnabled(True)
        self.load(config.institution_edit_of(row))

    def value(self) -> InstitutionEdit:
        return InstitutionEdit(
            name=self.name.text(),
            registration_number=self.registration_number.text(),
            address=self.address.toPlainText(),
            contact_email=self.contact_email.text(),
            contact_phone=self.contact_phone.text(),
            hosting_location=self.hosting_location.toPlainText(),
            rejection_reasons=self.reasons.reasons(),
        )

    def show_value(self, value: InstitutionEdit) -> None:
        self.name.setText(value.name)
        self.registration_number.setText(value.registration_number)
        self.address.setPlainText(value.address)
        self.contact_email.setText(value.contact_email)
        self.contact_phone.setText(value.contact_phone)
        self.hosting_location.setPlainText(value.hosting_location)
        self.reasons.set_reasons(value.rejection_reasons)

    def check(self, value: InstitutionEdit) -> list[FieldProblem]:
        return config.check_institution(value)

    def save_call(self, value: InstitutionEdit) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        assert self.row is not None
        return config.save_institution, (self.db, self.row.id, value, self.row.row_version)

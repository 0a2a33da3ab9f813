"""The cohorts page: each cohort's configuration (programme, sponsor, dates, expected students, agreement
templates, required documents and how old their certification may be) and its state changes, with their guards shown in words before the user
commits and a confirmation for each change that cannot be undone."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from PySide6.QtCore import QDate, QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.enums import CohortState, ProgramType
from cohortdesk.errors import ValidationError
from cohortdesk.services import validation
from cohortdesk.services.configuration import screens as config
from cohortdesk.services.configuration.screens import CohortEdit, CohortListItem, FieldProblem, TemplateChoice
from cohortdesk.services.rows import CohortRow, SponsorRow
from cohortdesk.views.admin.form_support import Form, form_layout
from cohortdesk.views.admin.import_dialog import ImportEnrollmentsDialog
from cohortdesk.views.admin.master_detail import MasterDetailPage
from cohortdesk.views.admin.table_models import CohortTableModel
from cohortdesk.views.date_entry import TypedDateEdit
from cohortdesk.views.errors import show_error
from cohortdesk.views.runner import Runner

NOT_SET = QDate(2000, 1, 1)


class OptionalDateEdit(TypedDateEdit):
    """A date field that may be empty ("Not set"); Delete or Backspace empties it. A date is typed
    whole ("01 Feb 2027"), also over "Not set"; F4 opens the calendar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumDate(NOT_SET)
        self.setMaximumDate(QDate(2100, 12, 31))
        self.setSpecialValueText("Not set")
        self.setDate(NOT_SET)
        self.setToolTip("Type a date (01 Feb 2027) or press F4 for the calendar; Delete empties the field.")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.calendarWidget().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # An empty field opens its calendar on today's month, not on the "Not set" sentinel.
        if watched is self.calendarWidget() and event.type() == QEvent.Type.Show and self.date() == NOT_SET:
            today = QDate.currentDate()
            self.calendarWidget().setCurrentPage(today.year(), today.month())
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if (
            event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
            and not self.typing
            and self.currentSectionIndex() == 0
        ):
            self.set_value(None)
            return
        super().keyPressEvent(event)

    def typed_empty(self) -> None:
        self.set_value(None)

    def value(self) -> date | None:
        current = self.date()
        return None if current == NOT_SET else date(current.year(), current.month(), current.day())

    def set_value(self, value: date | None) -> None:
        self.setDate(NOT_SET if value is None else QDate(value.year, value.month, value.day))


class CertificationAgeEdit(QWidget):
    """How old a certified copy may be: the default (three months), a number of days, or any age.
    ``value()`` is what ``cohorts.certification_max_age_days`` stores: None, the days, or 0."""

    DEFAULT, DAYS, ANY_AGE = "default", "days", "any"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        default_words = validation.describe_days(validation.DEFAULT_CERTIFICATION_MAX_AGE_DAYS)
        self.mode = QComboBox()
        self.mode.setObjectName("certificationAgeMode")
        self.mode.setAccessibleName("How old a certification may be")
        self.mode.addItem(f"Certified in the last {default_words} (the default)", self.DEFAULT)
        self.mode.addItem("Certified in the last … days", self.DAYS)
        self.mode.addItem("Certified at any time (no limit)", self.ANY_AGE)
        self.mode.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.days = QSpinBox()
        self.days.setObjectName("certificationAgeDays")
        self.days.setAccessibleName("Days since certification")
        # Wider than the allowed range on purpose: a number typed past it is explained in words when
        # saving (the form's check), not silently cut short by the spin box.
        self.days.setRange(0, 99_999)
        self.days.setValue(validation.DEFAULT_CERTIFICATION_MAX_AGE_DAYS)
        self.days.setSuffix(" days")
        self.days.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.days.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.days.setMaximumWidth(120)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.mode.setMaximumWidth(360)
        layout.addWidget(self.mode, 1)
        layout.addWidget(self.days)
        layout.addStretch(0)
        self.setFocusProxy(self.mode)
        self.mode.currentIndexChanged.connect(lambda _index: self._sync_days())
        self._sync_days()

    def _sync_days(self) -> None:
        self.days.setEnabled(self.mode.currentData() == self.DAYS)

    def value(self) -> int | None:
        mode = self.mode.currentData()
        if mode == self.ANY_AGE:
            return 0
        if mode == self.DAYS:
            return self.days.value()
        return None

    def set_value(self, days: int | None) -> None:
        mode = self.DEFAULT if days is None else self.ANY_AGE if days == 0 else self.DAYS
        self.mode.setCurrentIndex(self.mode.findData(mode))
        self.days.setValue(days if days else validation.DEFAULT_CERTIFICATION_MAX_AGE_DAYS)
        self._sync_days()


def _checkable_list(object_name: str) -> QListWidget:
    widget = QListWidget()
    widget.setObjectName(object_name)
    widget.setAlternatingRowColors(False)
    widget.setUniformItemSizes(True)
    return widget


def _checked_data(widget: QListWidget) -> tuple[Any, ...]:
    return tuple(
        widget.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(widget.count())
        if widget.item(i).checkState() == Qt.CheckState.Checked
    )


def _fill_checkable(widget: QListWidget, entries: Iterable[tuple[Any, str]], checked: set[Any]) -> None:
    widget.blockSignals(True)
    widget.clear()
    for key, text in entries:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setFlags(
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable
        )
        item.setCheckState(Qt.CheckState.Checked if key in checked else Qt.CheckState.Unchecked)
        widget.addItem(item)
    widget.blockSignals(False)
    rows = max(2, min(widget.count(), 10))
    row_height = widget.sizeHintForRow(0) if widget.count() else widget.fontMetrics().height() + 6
    widget.setFixedHeight(rows * row_height + 2 * widget.frameWidth() + 6)


TRANSITIONS = (
    (CohortState.ACTIVE, "&Activate…", "activate"),
    (CohortState.COMPLETED, "Co&mplete…", "complete"),
    (CohortState.CANCELLED, "Cancel co&hort…", "cancel"),
)
#: What each allowed state change does, shown beside its button.
READY_TEXT = {
    CohortState.ACTIVE: "Ready to activate: students can then be enrolled.",
    CohortState.COMPLETED: "Ready to complete: the cohort closes and takes no new enrollments.",
    CohortState.CANCELLED: "Stops the cohort for good; it takes no new enrollments.",
}


def state_words(current: CohortState, enrolled: int) -> str:
    """The cohort's state in words, for the people who run it."""
    if current is CohortState.DRAFT:
        if enrolled:
            noun = "learner is" if enrolled == 1 else "learners are"
            return (
                f"Draft: {enrolled} {noun} on it already, waiting for it to start. Activate it so they "
                "can sign the agreement and upload documents."
            )
        return "Draft: you can still change everything. Activate it to start enrolling students."
    return "Active: students are being enrolled."


def completing_early(target: CohortState, value: CohortEdit, today: date) -> str | None:
    """Why completing now would be early (the cohort has not started or not ended), or None."""
    if target is not CohortState.COMPLETED:
        return None
    if value.start_date is not None and value.start_date > today:
        return (
            f"It starts on {value.start_date:%d %b %Y}: completing it now closes it before it begins. "
            "Cancel it instead if it will not run."
        )
    if value.end_date is not None and value.end_date > today:
        return f"It runs until {value.end_date:%d %b %Y}: completing it now closes it early."
    return None


VERBS = {CohortState.ACTIVE: "activate", CohortState.COMPLETED: "complete", CohortState.CANCELLED: "cancel"}

CONFIRMATIONS = {
    CohortState.ACTIVE: (
        "Activate cohort?",
        "Activate “{name}”?",
        "Students can then be enrolled and sign the agreement. An active cohort cannot go back to draft.",
        "Activate",
    ),
    CohortState.COMPLETED: (
        "Complete cohort?",
        "Mark “{name}” as completed?",
        "A completed cohort takes no new enrollments and its configuration can no longer change. "
        "This cannot be undone.",
        "Complete cohort",
    ),
    CohortState.CANCELLED: (
        "Cancel cohort?",
        "Cancel “{name}”?",
        "A cancelled cohort takes no new enrollments and its configuration can no longer change. "
        "This cannot be undone.",
        "Cancel cohort",
    ),
}


class CohortForm(Form):
    noun = "cohort"
    #: A state change finished; the argument is the cohort's new row.
    state_changed = Signal(object)

    def __init__(
        self,
        runner: Runner,
        db: Any,
        institution_id: int,
        user_id: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(runner, "cohortForm", parent)
        self.db = db
        self.institution_id = institution_id
        self.user_id = user_id
        self.row: CohortRow | None = None
        self.enrolled = 0  # learners on the cohort shown (drafts with learners are worded for it)
        self._templates: tuple[TemplateChoice, ...] = ()
        self._sponsors: tuple[SponsorRow, ...] = ()
        self._custom_types: set[str] = set()

        self.heading = QLabel("New cohort")
        self.heading.setObjectName("cohortFormHeading")
        self.heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        self.state_badge = QLabel("Draft")
        self.state_badge.setObjectName("cohortStateBadge")
        self.state_badge.setProperty("role", "badge")
        self.state_badge.setAccessibleName("Cohort state")

        # details
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. 2026 Business Administration Learnership")
        self.program_type = QComboBox()
        for program in ProgramType:
            self.program_type.addItem(program.label, program.value)
        self.sponsor = QComboBox()
        self.start_date = OptionalDateEdit()
        self.end_date = OptionalDateEdit()
        self.student_count = QSpinBox()
        self.student_count.setRange(0, 100_000)
        self.student_count.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.student_count.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.student_count.setMaximumWidth(120)
        self.student_count.setToolTip("How many learners the cohort expects")
        for widget in (self.program_type, self.sponsor):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        for widget in (self.start_date, self.end_date):
            widget.setMinimumWidth(170)
            widget.setMaximumWidth(200)
        self.program_type.setMaximumWidth(260)
        details = QGroupBox("Details")
        details.setObjectName("cohortDetailsGroup")
        details_form = form_layout()
        self.add_field(details_form, "name", "&Name", self.name, required=True)
        self.add_field(details_form, "program_type", "&Programme type", self.program_type, required=True)
        self.add_field(details_form, "sponsor_id", "Spo&nsor", self.sponsor)
        self.start_date.setObjectName("start_date")
        self.end_date.setObjectName("end_date")
        self.add_field(details_form, "start_date", "&Starts", self.start_date)
        self.add_field(details_form, "end_date", "&Ends", self.end_date)
        self.add_field(details_form, "student_count", "E&xpected students", self.student_count)
        details.setLayout(details_form)

        # agreement templates
        self.main_template = QComboBox()
        self.main_template.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.supporting_templates = _checkable_list("supporting_templates")
        agreement = QGroupBox("Agreement templates (from DocuSeal)")
        agreement.setObjectName("cohortTemplatesGroup")
        agreement_form = form_layout()
        self.main_template.setObjectName("main_template_id")
        self.add_field(
            agreement_form,
            "main_template_id",
            "Main a&greement",
            self.main_template,
            "The tripartite agreement every learner signs. Needed before the cohort can be activated.",
        )
        self.add_field(
            agreement_form,
            "supporting_templates",
            "S&upporting",
            self.supporting_templates,
            "Further documents to sign, e.g. a POPIA consent or a stipend form.",
        )
        agreement.setLayout(agreement_form)

        # required document types
        self.document_types = _checkable_list("required_document_types")
        self.document_types.setAccessibleName("Required document types")
        self.custom_type = QLineEdit()
        self.custom_type.setObjectName("customDocumentType")
        self.custom_type.setPlaceholderText("Another document, e.g. Police clearance")
        self.custom_type.setAccessibleName("Name of another required document")
        self.add_type_button = QPushButton("Add &type")
        self.add_type_button.setObjectName("addDocumentTypeButton")
        self.add_type_button.setAutoDefault(False)
        self.add_type_button.clicked.connect(self.add_custom_type)
        self.custom_type.returnPressed.connect(self.add_custom_type)
        documents = QGroupBox("Documents learners upload")
        documents.setObjectName("cohortDocumentsGroup")
        documents_layout = QVBoxLayout(documents)
        documents_error = self.error_label("required_document_types")
        custom_row = QHBoxLayout()
        custom_row.addWidget(self.custom_type, 1)
        custom_row.addWidget(self.add_type_button)
        documents_layout.addWidget(self.document_types)
        documents_layout.addLayout(custom_row)
        documents_layout.addWidget(documents_error)
        self.register_field(
            "required_document_types", "Required documents", self.document_types, documents_error
        )
        self.register_field("custom_document_type", "Another document", self.custom_type, documents_error)
        self.certification_age = CertificationAgeEdit()
        certification_form = form_layout()
        self.add_field(
            certification_form,
            "certification_max_age_days",
            "Certi&fication age",
            self.certification_age,
            "Reading the uploads flags an ID or qualification certified longer ago than this "
            "(90 days is three months).",
        )
        self.watch(self.certification_age.mode)
        self.watch(self.certification_age.days)
        documents_layout.addLayout(certification_form)

        # state
        self.state_group = QGroupBox("State")
        self.state_group.setObjectName("cohortStateGroup")
        state_layout = QGridLayout(self.state_group)
        state_layout.setColumnStretch(1, 1)
        state_layout.setHorizontalSpacing(12)
        self.state_text = QLabel()
        self.state_text.setObjectName("cohortStateText")
        self.state_text.setWordWrap(True)
        state_layout.addWidget(self.state_text, 0, 0, 1, 2)
        self.transition_buttons: dict[CohortState, QPushButton] = {}
        self.guard_labels: dict[CohortState, QLabel] = {}
        for row_index, (target, text, key) in enumerate(TRANSITIONS, start=1):
            button = QPushButton(text)
            button.setObjectName(f"{key}CohortButton")
            button.setAutoDefault(False)
            button.setMinimumWidth(140)
            button.clicked.connect(lambda _checked=False, t=target: self.request_transition(t))
            guard = QLabel()
            guard.setObjectName(f"{key}Guard")
            guard.setWordWrap(True)
            guard.setProperty("role", "guard")
            button.setAccessibleDescription("")
            state_layout.addWidget(button, row_index, 0, Qt.AlignmentFlag.AlignTop)
            state_layout.addWidget(guard, row_index, 1)
            self.transition_buttons[target] = button
            self.guard_labels[target] = guard

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 8, 0)
        for group in (details, agreement, documents):
            content_layout.addWidget(group)
        content_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("cohortScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(content)

        heading_row = QHBoxLayout()
        heading_row.addWidget(self.heading)
        heading_row.addWidget(self.state_badge)
        heading_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.addLayout(heading_row)
        layout.addWidget(self.state_group)
        layout.addWidget(self.summary)
        layout.addWidget(scroll, 1)
        layout.addLayout(self.button_row())
        self.saved.connect(self.set_cohort)
        self.dirty_changed.connect(lambda _dirty: self.update_guards())
        self.set_choices((), (), ())

    # --- choices -------------------------------------------------------------------------------

    def set_choices(
        self,
        sponsors: Iterable[SponsorRow],
        templates: Iterable[TemplateChoice],
        custom_types: Iterable[str],
    ) -> None:
        """Refill the sponsor, template and document-type choices, keeping what is typed."""
        current = self.value() if self._baseline is not None else None
        self._sponsors = tuple(sponsors)
        self._templates = tuple(templates)
        self._custom_types |= set(custom_types)
        self._loading = True
        try:
            self.sponsor.clear()
            self.sponsor.addItem("— No sponsor —", None)
            for sponsor in self._sponsors:
                self.sponsor.addItem(sponsor.company_name, sponsor.id)
            self.main_template.clear()
            self.main_template.addItem("— Choose the agreement template —", None)
            for template in self._templates:
                self.main_template.addItem(template.name, template.id)
            if current is not None:
                self.show_value(current)
        finally:
            self._loading = False

    def add_sponsor_choice(self, sponsor: SponsorRow) -> None:
        others = [s for s in self._sponsors if s.id != sponsor.id]
        ordered = sorted([*others, sponsor], key=lambda s: s.company_name.lower())
        self.set_choices(ordered, self._templates, ())

    def add_custom_type(self) -> None:
        try:
            key = config.custom_document_type(self.custom_type.text())
        except ValidationError as exc:
            self.show_problems([FieldProblem(exc.field, exc.message)])
            return
        current = self.value()
        self._custom_types.add(key)
        types = current.required_document_types
        if key not in types:
            types = (*types, key)
        self._loading = True
        try:
            self.show_value(CohortEdit(**{**current.__dict__, "required_document_types": types}))
        finally:
            self._loading = False
        self.custom_type.clear()
        self._on_changed()

    # --- values --------------------------------------------------------------------------------

    def set_cohort(self, row: CohortRow | None, enrolled: int | None = None) -> None:
        """Show ``row`` (None: a new cohort); ``enrolled`` learners are on it (None: keep the count)."""
        if row is None or self.row is None or row.id != self.row.id:
            self.enrolled = enrolled or 0
        elif enrolled is not None:
            self.enrolled = enrolled
        self.row = row
        self.heading.setText(row.name if row else "New cohort")
        self.state_badge.setText(CohortState.label_of(row.state) if row else "Not saved yet")
        self.save_button.setText("&Save" if row else "&Create cohort")
        if row:
            self._custom_types |= {
                k for k in row.required_document_types if k not in validation.DOCUMENT_TYPES
            }
        value = (
            config.cohort_edit_of(row)
            if row
            else CohortEdit(
                name="",
                program_type=ProgramType.LEARNERSHIP.value,
                required_document_types=("id_document", "matric_certificate"),
            )
        )
        self.load(value)
        final = row is not None and row.state in (CohortState.COMPLETED.value, CohortState.CANCELLED.value)
        for widget in self._slots.values():
            widget.editor.setEnabled(not final)
        self.add_type_button.setEnabled(not final)
        self.update_guards()

    def value(self) -> CohortEdit:
        return CohortEdit(
            name=self.name.text(),
            program_type=self.program_type.currentData() or "",
            sponsor_id=self.sponsor.currentData(),
            start_date=self.start_date.value(),
            end_date=self.end_date.value(),
            student_count=self.student_count.value(),
            main_template_id=self.main_template.currentData(),
            supporting_templates=tuple(int(t) for t in _checked_data(self.supporting_templates)),
            required_document_types=tuple(str(t) for t in _checked_data(self.document_types)),
            certification_max_age_days=self.certification_age.value(),
        )

    def show_value(self, value: CohortEdit) -> None:
        self.name.setText(value.name)
        self.program_type.setCurrentIndex(max(0, self.program_type.findData(value.program_type)))
        self._select_data(self.sponsor, value.sponsor_id, "(sponsor not in the list)")
        self.start_date.set_value(value.start_date)
        self.end_date.set_value(value.end_date)
        self.student_count.setValue(value.student_count)
        self._select_data(self.main_template, value.main_template_id, "(archived or deleted template)")
        templates = [(t.id, t.name) for t in self._templates]
        known = {t.id for t in self._templates}
        templates += [
            (t, f"Template {t} (archived or deleted)") for t in value.supporting_templates if t not in known
        ]
        _fill_checkable(self.supporting_templates, templates, set(value.supporting_templates))
        keys = list(validation.DOCUMENT_TYPES)
        keys += sorted((self._custom_types | set(value.required_document_types)) - set(keys))
        entries = [
            (k, validation.document_label(k) + ("  (custom)" if k.startswith("custom_") else ""))
            for k in keys
        ]
        _fill_checkable(self.document_types, entries, set(value.required_document_types))
        self.certification_age.set_value(value.certification_max_age_days)

    @staticmethod
    def _select_data(combo: QComboBox, data: Any, missing_text: str) -> None:
        index = combo.findData(data)
        if index < 0 and data is not None:
            combo.addItem(f"{missing_text} #{data}", data)
            index = combo.count() - 1
        combo.setCurrentIndex(max(0, index))

    def check(self, value: CohortEdit) -> list[FieldProblem]:
        return config.check_cohort(value)

    def save_call(self, value: CohortEdit) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        if self.row is None:
            return config.save_cohort, (self.db, self.institution_id, None, value, None, self.user_id)
        return config.save_cohort, (self.db, self.institution_id, self.row.id, value, self.row.row_version)

    def after_change(self) -> None:
        self.update_guards()

    # --- state changes -------------------------------------------------------------------------

    def update_guards(self) -> None:
        """Say in words, for each state change, whether it can happen now and what is missing."""
        row = self.row
        if row is None:
            self.state_text.setText("Save the new cohort first; it starts as a draft.")
            for target in self.transition_buttons:
                self._show_guard(target, None, enabled=False)
            return
        current = CohortState(row.state)
        if current in (CohortState.COMPLETED, CohortState.CANCELLED):
            self.state_text.setText(f"This cohort is {current.value}. Nothing about it can change any more.")
            for target in self.transition_buttons:
                self._show_guard(target, None, enabled=False)
            return
        self.state_text.setText(state_words(current, self.enrolled))
        value = self.value()
        for target in self.transition_buttons:
            verb = VERBS[target]
            reasons = config.preview_blockers(row, value, target)
            allowed_from_here = not any("can only become" in r for r in reasons)
            if not allowed_from_here:
                self._show_guard(target, None, enabled=False, visible=False)
                continue
            if reasons:
                text = f"Cannot {verb} yet: " + "; ".join(reasons) + "."
                self._show_guard(target, text, enabled=False)
            elif self.is_dirty():
                self._show_guard(target, f"Save your changes before you {verb} the cohort.", enabled=False)
            elif (early := completing_early(target, value, date.today())) is not None:
                self._show_guard(target, early, enabled=True, ok=False)  # allowed, but not "ready"
            else:
                self._show_guard(
                    target, READY_TEXT[target], enabled=True, ok=target is not CohortState.CANCELLED
                )

    def _show_guard(
        self, target: CohortState, text: str | None, *, enabled: bool, ok: bool = False, visible: bool = True
    ) -> None:
        button, label = self.transition_buttons[target], self.guard_labels[target]
        button.setVisible(visible)
        label.setVisible(visible)
        button.setEnabled(enabled)
        label.setText(text or "")
        label.setProperty("role", "guardOk" if ok else ("guard" if not enabled else "hint"))
        label.style().unpolish(label)
        label.style().polish(label)
        button.setAccessibleDescription(text or "")
        button.setToolTip(text or "")

    def guard_text(self, target: CohortState | str) -> str:
        label = self.guard_labels[CohortState(target)]
        return label.text() if not label.isHidden() else ""

    def request_transition(self, target: CohortState) -> None:
        """Confirm, then change the state in the background."""
        row = self.row
        if row is None:
            return
        title, question, consequence, yes = CONFIRMATIONS[target]
        box = QMessageBox(QMessageBox.Icon.Question, title, question.format(name=row.name), parent=self)
        box.setObjectName("confirmStateChange")
        box.setInformativeText(consequence)
        confirm = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Go back", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(confirm)
        if not self.confirm(box, confirm):
            return
        for button in self.transition_buttons.values():
            button.setEnabled(False)

        def failed(error: BaseException) -> None:
            self.update_guards()
            show_error(self, error, "The state did not change")

        self.runner.db(config.change_cohort_state, self.db, row.id, target, row.row_version).success(
            self._after_transition
        ).failure(failed).start()

    def confirm(self, box: QMessageBox, confirm: QPushButton) -> bool:
        """Show a confirmation; separate so tests can answer it."""
        box.exec()
        return box.clickedButton() is confirm

    def _after_transition(self, row: CohortRow) -> None:
        self.set_cohort(row)
        self.state_changed.emit(row)


class CohortsPage(MasterDetailPage):
    #: Learners were imported into a cohort: the ``ImportResult``.
    enrollments_imported = Signal(object)

    def __init__(
        self,
        runner: Runner,
        db: Any,
        institution_id: int,
        user_id: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        self.cohort_form = CohortForm(runner, db, institution_id, user_id)
        super().__init__(
            object_name="cohortsPage",
            title="Cohorts",
            subtitle="Each cohort's programme, sponsor, dates, agreement and the documents learners upload.",
            model=CohortTableModel(),
            form=self.cohort_form,
            new_label="&New cohort",
            filter_hint="Filter cohorts",
            parent=parent,
        )
        for column in (
            CohortTableModel.PROGRAMME,
            CohortTableModel.SPONSOR,
            CohortTableModel.START,
            CohortTableModel.END,
        ):
            self.view.setColumnHidden(column, True)
        self._sponsor_names: dict[int, str] = {}
        self.cohort_form.state_changed.connect(self._after_save)
        self.splitter.setSizes([440, 620])
        self.runner = runner
        self.db = db
        self.import_dialog: ImportEnrollmentsDialog | None = None
        self.import_button = QPushButton("&Import enrollments…")
        self.import_button.setObjectName("importEnrollmentsButton")
        self.import_button.setAutoDefault(False)
        self.import_button.setToolTip(
            "Enroll learners from an Excel (.xlsx) or CSV file into the selected cohort"
        )
        self.import_button.clicked.connect(self.open_import)
        self.import_button.setEnabled(False)
        self.tools.addWidget(self.import_button)
        self.cohort_form.state_changed.connect(lambda _row: self._update_import_button())
        self.cohort_form.saved.connect(lambda _row: self._update_import_button())

    def set_data(
        self,
        items: list[CohortListItem],
        sponsors: Iterable[SponsorRow],
        templates: Iterable[TemplateChoice],
        custom_types: Iterable[str] = (),
    ) -> None:
        sponsors = tuple(sponsors)
        self._sponsor_names = {s.id: s.company_name for s in sponsors}
        self.cohort_form.set_choices(sponsors, templates, custom_types)
        self.set_rows(items)

    def sponsor_saved(self, sponsor: SponsorRow) -> None:
        self._sponsor_names[sponsor.id] = sponsor.company_name
        self.cohort_form.add_sponsor_choice(sponsor)

    def show_record(self, row: CohortListItem) -> None:
        self.cohort_form.set_cohort(row.cohort, row.enrolled)
        self._update_import_button()

    def show_new(self) -> None:
        self.cohort_form.set_cohort(None)
        self.cohort_form.name.setFocus()
        self._update_import_button()

    def selected_cohort(self) -> CohortRow | None:
        """The saved cohort shown in the form, if any."""
        if self._shown_id is None:
            return None
        position = self.model.position_of(self._shown_id)
        return self.model.row_at(position).cohort if position is not None else None

    def _update_import_button(self) -> None:
        if not hasattr(self, "import_button"):
            return  # the base class shows the first record before this page is fully built
        cohort = self.selected_cohort()
        open_states = (CohortState.DRAFT.value, CohortState.ACTIVE.value)
        self.import_button.setEnabled(cohort is not None and cohort.state in open_states)

    def open_import(self) -> ImportEnrollmentsDialog | None:
        """The import dialog for the selected cohort (one at a time)."""
        cohort = self.selected_cohort()
        if cohort is None:
            return None
        if self.import_dialog is not None:
            self.import_dialog.close()
        dialog = ImportEnrollmentsDialog(self.runner, self.db, cohort.id, cohort.name, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.imported.connect(self.enrollments_imported)
        dialog.destroyed.connect(lambda *_: setattr(self, "import_dialog", None))
        self.import_dialog = dialog
        dialog.open()
        return dialog

    def saved_list_row(self, saved: CohortRow) -> CohortListItem:
        position = self.model.position_of(saved.id)
        enrolled = self.model.row_at(position).enrolled if position is not None else 0
        return CohortListItem(saved, self._sponsor_names.get(saved.sponsor_id or -1), enrolled)

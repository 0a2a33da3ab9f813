"""Bulk decisions on the queue's selected enrollments: approve every document still to check (or the
chosen ones), or reject the chosen documents with one reason the learners read and one internal note.

Three steps in one dialog, every database call on the runner:

1. **Choose**: the action, the documents (offered from the selection's cohorts and uploads), a canned
   reason that pre-fills the learner-visible message, an internal note (not sent to the learner).
2. **Check** (``bulk_decisions.plan``): the dialog lists, learner by learner, exactly what will change
   and what will be skipped and why; the confirm button names the count ("Approve 14 documents").
   Changing anything in step 1 withdraws the plan, so what is confirmed is what was shown.
3. **Run** (``bulk_decisions.run``, with progress and Stop): each enrollment under its own claim
   through the one decision path; the list then says what was done and what was skipped and why.

Signals:
    finished_run(object): the run ended (its ``BulkOutcome``): the window reloads its rows and counts.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.services.access.identity import Identity
from cohortdesk.services.review import bulk as bulk_decisions
from cohortdesk.services.review.bulk import BulkChoices, BulkOutcome, BulkRequest
from cohortdesk.views.errors import user_message
from cohortdesk.views.runner import Op, Runner


class BulkDialog(QDialog):
    finished_run = Signal(object)

    def __init__(
        self,
        runner: Runner,
        db: Any,
        identity: Identity,
        enrollment_ids: list[int],
        action: str = "approved",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("bulkDialog")
        self.setWindowTitle("Decide for several learners")
        self.runner = runner
        self.db = db
        self.identity = identity
        self.enrollment_ids = list(enrollment_ids)
        self.choices: BulkChoices | None = None
        self.planned: BulkOutcome | None = None
        self.outcome: BulkOutcome | None = None
        self.running: Op | None = None
        self._build(action)
        self._set_busy("Reading the selection…")
        runner.db(bulk_decisions.choices, db, self.enrollment_ids).success(self._on_choices).failure(
            self._on_error
        ).start()

    # --- layout ------------------------------------------------------------------------------------

    def _build(self, action: str) -> None:
        layout = QVBoxLayout(self)
        count = len(self.enrollment_ids)
        self.title = QLabel(f"<b>{count:,} learner{'s' if count != 1 else ''} selected</b>", self)
        self.title.setObjectName("bulkTitle")
        layout.addWidget(self.title)

        actions = QHBoxLayout()
        self.approve_radio = QRadioButton("&Approve", self)
        self.approve_radio.setObjectName("bulkApprove")
        self.reject_radio = QRadioButton("Re&ject", self)
        self.reject_radio.setObjectName("bulkReject")
        group = QButtonGroup(self)
        group.addButton(self.approve_radio)
        group.addButton(self.reject_radio)
        (self.reject_radio if action == "rejected" else self.approve_radio).setChecked(True)
        actions.addWidget(self.approve_radio)
        actions.addWidget(self.reject_radio)
        actions.addStretch(1)
        layout.addLayout(actions)

        form = QFormLayout()
        self.documents = QListWidget(self)
        self.documents.setObjectName("bulkDocuments")
        self.documents.setAccessibleName("Documents to decide")
        self.documents.setMaximumHeight(150)
        self.documents_hint = QLabel("", self)
        self.documents_hint.setObjectName("panelHint")
        self.documents_hint.setWordWrap(True)
        documents_box = QWidget(self)
        documents_layout = QVBoxLayout(documents_box)
        documents_layout.setContentsMargins(0, 0, 0, 0)
        documents_layout.addWidget(self.documents)
        documents_layout.addWidget(self.documents_hint)
        form.addRow("&Documents", documents_box)
        self.reason_box = QComboBox(self)
        self.reason_box.setObjectName("bulkReasonChoice")
        self.reason_box.setAccessibleName("Canned rejection reason")
        form.addRow("&Reason", self.reason_box)
        self.reason = QPlainTextEdit(self)
        self.reason.setObjectName("bulkReason")
        self.reason.setAccessibleName("Message every learner reads")
        self.reason.setPlaceholderText("The message every selected learner reads in the rejection e-mail")
        self.reason.setMaximumHeight(90)
        form.addRow("&Message", self.reason)
        self.note = QLineEdit(self)
        self.note.setObjectName("bulkNote")
        self.note.setAccessibleName("Internal note, not sent to the learner")
        self.note.setPlaceholderText("Internal note: shown in History, not sent to the learner")
        form.addRow("Internal &note", self.note)
        layout.addLayout(form)

        self.summary = QLabel("", self)
        self.summary.setObjectName("bulkSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.items = QListWidget(self)
        self.items.setObjectName("bulkItems")
        self.items.setAccessibleName("What changes, learner by learner")
        self.items.setWordWrap(True)
        layout.addWidget(self.items, 1)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("bulkProgress")
        self.progress.hide()
        layout.addWidget(self.progress)

        self.buttons = QDialogButtonBox(self)
        self.check_button = QPushButton("&Check what will change", self)
        self.check_button.setObjectName("bulkCheck")
        self.confirm_button = QPushButton("Confirm", self)
        self.confirm_button.setObjectName("bulkConfirm")
        self.stop_button = QPushButton("&Stop", self)
        self.stop_button.setObjectName("bulkStop")
        self.close_button = QPushButton("Close", self)
        self.close_button.setObjectName("bulkClose")
        for button, role in (
            (self.check_button, QDialogButtonBox.ButtonRole.ActionRole),
            (self.confirm_button, QDialogButtonBox.ButtonRole.AcceptRole),
            (self.stop_button, QDialogButtonBox.ButtonRole.ActionRole),
            (self.close_button, QDialogButtonBox.ButtonRole.RejectRole),
        ):
            self.buttons.addButton(button, role)
            button.setAutoDefault(False)
        self.check_button.setDefault(True)
        self.stop_button.hide()
        layout.addWidget(self.buttons)
        self.check_button.clicked.connect(self.check)
        self.confirm_button.clicked.connect(self.confirm)
        self.stop_button.clicked.connect(self.stop)
        self.close_button.clicked.connect(self.reject)
        for sequence in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(sequence), self, activated=self._ctrl_enter)

        self.approve_radio.toggled.connect(self._on_action_changed)
        self.documents.itemChanged.connect(lambda _item: self._withdraw_plan())
        self.reason_box.currentIndexChanged.connect(self._on_reason_chosen)
        self.reason.textChanged.connect(self._withdraw_plan)
        self.note.textChanged.connect(self._withdraw_plan)
        self.resize(620, 640)

    # --- step 1: choose --------------------------------------------------------------------------

    def _on_choices(self, choices: BulkChoices) -> None:
        self.choices = choices
        self.documents.blockSignals(True)
        for document_type, label in choices.documents:
            item = QListWidgetItem(label, self.documents)
            item.setData(Qt.ItemDataRole.UserRole, document_type)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
        self.documents.blockSignals(False)
        self.reason_box.blockSignals(True)
        self.reason_box.addItem("Choose a canned reason…", None)
        for reason in choices.reasons:
            self.reason_box.addItem(reason.label, reason.code)
            self.reason_box.setItemData(
                self.reason_box.count() - 1, reason.message, Qt.ItemDataRole.ToolTipRole
            )
        self.reason_box.blockSignals(False)
        self._set_busy(None)
        self._on_action_changed()

    def _on_action_changed(self) -> None:
        rejecting = self.reject_radio.isChecked()
        for widget in (self.reason_box, self.reason):
            widget.setEnabled(rejecting)
        self.documents_hint.setText(
            "Tick the documents to reject; only those still waiting for a check are rejected."
            if rejecting
            else "Leave every box empty to approve every uploaded document still to check, or tick some."
        )
        self._withdraw_plan()

    def _on_reason_chosen(self, index: int) -> None:
        code = self.reason_box.itemData(index)
        reason = next((r for r in (self.choices.reasons if self.choices else ()) if r.code == code), None)
        if reason is not None:
            self.reason.setPlainText(reason.message)
        self._withdraw_plan()

    def chosen_documents(self) -> tuple[str, ...]:
        return tuple(
            self.documents.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.documents.count())
            if self.documents.item(i).checkState() == Qt.CheckState.Checked
        )

    def set_documents(self, document_types: tuple[str, ...]) -> None:
        for i in range(self.documents.count()):
            item = self.documents.item(i)
            wanted = item.data(Qt.ItemDataRole.UserRole) in document_types
            item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)

    def request(self) -> BulkRequest:
        rejecting = self.reject_radio.isChecked()
        return BulkRequest(
            enrollment_ids=tuple(self.enrollment_ids),
            action="rejected" if rejecting else "approved",
            document_types=self.chosen_documents() or None,
            reason=self.reason.toPlainText().strip() or None if rejecting else None,
            reason_code=self.reason_box.currentData() if rejecting else None,
            internal_note=self.note.text().strip() or None,
        )

    # --- step 2: check -------------------------------------------------------------------------

    def _withdraw_plan(self) -> None:
        if self.running is not None or self.outcome is not None:
            return
        self.planned = None
        self.items.clear()
        self.summary.setText("Check what will change before confirming." if self.choices else "")
        self.confirm_button.setText("Confirm")
        self.confirm_button.setEnabled(False)
        self.check_button.setEnabled(self.choices is not None)
        self.check_button.setDefault(True)

    def check(self) -> None:
        request = self.request()
        self._set_busy("Checking what will change…")
        self.runner.db(bulk_decisions.plan, self.db, self.identity, request).success(
            lambda planned: self._on_plan(request, planned)
        ).failure(self._on_error).start()

    def _on_plan(self, request: BulkRequest, planned: BulkOutcome) -> None:
        self._set_busy(None)
        if request != self.request():
            return  # changed meanwhile: that plan no longer describes the request
        self.planned = planned
        self.summary.setText(planned.summary(planned=True))
        self._list(planned, planned=True)
        count = planned.document_count
        verb = bulk_decisions.ACTIONS[request.action]
        self.confirm_button.setText(f"{verb} {count:,} document{'s' if count != 1 else ''}")
        self.confirm_button.setEnabled(count > 0)
        self.confirm_button.setDefault(count > 0)
        if count > 0:
            self.confirm_button.setFocus()

    def _list(self, outcome: BulkOutcome, planned: bool) -> None:
        self.items.clear()
        verb = bulk_decisions.ACTIONS[outcome.request.action]
        past = "approved" if outcome.request.action == "approved" else "rejected"
        for item in [*outcome.skipped, *[i for i in outcome.items if i.skipped is None]]:
            who = f"{item.student_name} · {item.cohort_name}"
            if item.skipped is not None:
                text = f"{who}\n   Skipped: {item.skipped}"
            elif planned:
                text = f"{who}\n   {verb}: {item.document_labels}"
            else:
                text = f"{who}\n   {past.capitalize()}: {item.document_labels}"
            row = QListWidgetItem(text, self.items)
            row.setData(Qt.ItemDataRole.UserRole, item.enrollment_id)
            if item.skipped is not None:
                row.setForeground(Qt.GlobalColor.darkRed)

    # --- step 3: run -------------------------------------------------------------------------------

    def _ctrl_enter(self) -> None:
        if self.confirm_button.isEnabled() and self.confirm_button.isVisible():
            self.confirm()
        elif self.check_button.isEnabled():
            self.check()

    def confirm(self) -> None:
        if self.planned is None or self.running is not None:
            return
        request = self.planned.request
        self.progress.setRange(0, len(request.enrollment_ids))
        self.progress.setValue(0)
        self.progress.show()
        self._set_busy("Deciding…")
        self.stop_button.show()
        self.stop_button.setEnabled(True)
        self.close_button.setEnabled(False)
        self.running = (
            self.runner.db(bulk_decisions.run, self.db, self.identity, request)
            .progress(lambda done, _total, _text: self.progress.setValue(done))
            .success(self._on_run)
            .failure(self._on_error)
            .finally_(self._after_run)
        )
        self.running.start()

    def stop(self) -> None:
        if self.running is not None:
            self.running.cancel()
            self.stop_button.setEnabled(False)
            self.summary.setText("Stopping after the current learner…")

    def _after_run(self) -> None:
        self.running = None
        self.stop_button.hide()
        self.close_button.setEnabled(True)
        self.close_button.setDefault(True)
        self.close_button.setFocus()

    def _on_run(self, outcome: BulkOutcome) -> None:
        self.outcome = outcome
        self._set_busy(None)
        self.progress.hide()
        self.summary.setText(outcome.summary())
        self._list(outcome, planned=False)
        for widget in (
            self.approve_radio,
            self.reject_radio,
            self.documents,
            self.reason_box,
            self.reason,
            self.note,
            self.check_button,
        ):
            widget.setEnabled(False)
        self.confirm_button.hide()
        self.finished_run.emit(outcome)

    def _on_error(self, error: BaseException) -> None:
        self._set_busy(None)
        self.progress.hide()
        self.summary.setText(user_message(error))

    def _set_busy(self, text: str | None) -> None:
        busy = text is not None
        if busy:
            self.summary.setText(text)
        self.check_button.setEnabled(not busy and self.choices is not None and self.outcome is None)
        if busy:
            self.confirm_button.setEnabled(False)

    def reject(self) -> None:
        if self.running is not None:
            return  # Stop first: the decisions already recorded stay, the rest is said
        super().reject()

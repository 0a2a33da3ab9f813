"""Remind learners of the documents they have not uploaded: the queue's selected learners (or the one
in view), after a confirmation that says what happens, with a result that says, learner by learner,
whether a reminder was queued and why not (nothing missing, no e-mail address, reminded too recently
for the institution's limit).

The reminder goes into the notification outbox through ``notify.outbox.remind`` on the runner; the
sender (``cohortdesk notify`` or *Send now*) delivers it in the learner's next digest.

Signals:
    finished_run(object): reminders were queued (the list of ``ReminderOutcome``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.services.access.identity import Identity
from cohortdesk.services.notify import outbox
from cohortdesk.services.notify.outbox import ReminderOutcome
from cohortdesk.services.validation import document_label
from cohortdesk.views.errors import user_message
from cohortdesk.views.runner import Runner

QUEUED = "Reminder queued: "


def worded(detail: str) -> str:
    """The outcome's words with document keys as people read them ("Certified ID", not id_document)."""
    if not detail.startswith(QUEUED):
        return detail
    keys = [k.strip() for k in detail[len(QUEUED) :].rstrip(".").split(",") if k.strip()]
    return QUEUED + ", ".join(document_label(k) for k in keys) + "."


class RemindDialog(QDialog):
    finished_run = Signal(object)

    def __init__(
        self,
        runner: Runner,
        db: Any,
        identity: Identity,
        enrollments: list[tuple[int, str]],  # (enrollment id, learner name)
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("remindDialog")
        self.setWindowTitle("Remind learners")
        self.runner = runner
        self.db = db
        self.identity = identity
        self.enrollments = list(enrollments)
        self.outcomes: list[ReminderOutcome] | None = None
        layout = QVBoxLayout(self)
        count = len(self.enrollments)
        who = self.enrollments[0][1] if count == 1 else f"{count:,} learners"
        self.question = QLabel(
            f"<b>Remind {who} of the documents not uploaded yet?</b><br>Each learner gets an e-mail listing "
            "what is missing, with their next digest. A learner with nothing missing, without an e-mail "
            "address, or reminded more recently than your institution allows is left out, and you are "
            "told why.",
            self,
        )
        self.question.setObjectName("remindQuestion")
        self.question.setWordWrap(True)
        self.question.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.question)
        self.items = QListWidget(self)
        self.items.setObjectName("remindItems")
        self.items.setAccessibleName("Learners to remind")
        self.items.setWordWrap(True)
        for _enrollment_id, name in self.enrollments:
            QListWidgetItem(name, self.items)
        layout.addWidget(self.items, 1)
        self.summary = QLabel("", self)
        self.summary.setObjectName("remindSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        buttons = QDialogButtonBox(self)
        self.confirm_button = QPushButton(
            f"&Remind {count:,} learner{'s' if count != 1 else ''}" if count > 1 else "&Remind", self
        )
        self.confirm_button.setObjectName("remindConfirm")
        self.close_button = QPushButton("Cancel", self)
        self.close_button.setObjectName("remindClose")
        buttons.addButton(self.confirm_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.confirm_button.setDefault(True)
        self.confirm_button.clicked.connect(self.confirm)
        self.close_button.clicked.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(540, 420)

    def confirm(self) -> None:
        if self.outcomes is not None:
            return
        self.confirm_button.setEnabled(False)
        self.summary.setText("Queuing reminders…")
        ids = [e for e, _name in self.enrollments]
        self.runner.db(outbox.remind, self.db, self.identity, ids).success(self._on_done).failure(
            self._on_error
        ).start()

    def _on_done(self, outcomes: list[ReminderOutcome]) -> None:
        self.outcomes = outcomes
        names = dict(self.enrollments)
        queued = [o for o in outcomes if o.queued]
        left = [o for o in outcomes if not o.queued]
        self.summary.setText(
            f"{len(queued):,} reminder{'s' if len(queued) != 1 else ''} queued"
            + (f", {len(left):,} learner{'s' if len(left) != 1 else ''} left out." if left else ".")
        )
        self.items.clear()
        for outcome in [*left, *queued]:
            item = QListWidgetItem(
                f"{names.get(outcome.enrollment_id, '?')}\n   {worded(outcome.detail)}", self.items
            )
            item.setData(Qt.ItemDataRole.UserRole, outcome.enrollment_id)
            if not outcome.queued:
                item.setForeground(Qt.GlobalColor.darkRed)
        self.confirm_button.hide()
        self.close_button.setText("Close")
        self.close_button.setDefault(True)
        self.close_button.setFocus()
        self.finished_run.emit(outcomes)

    def _on_error(self, error: BaseException) -> None:
        self.confirm_button.setEnabled(True)
        self.summary.setText(user_message(error))

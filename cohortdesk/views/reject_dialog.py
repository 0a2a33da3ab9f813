"""The reject form: pick a canned reason (which pre-fills the learner-visible message), edit the
message, confirm. A reason is required; an empty one is refused in the form, with the words why.

The workstation docks it beside the document (``docked=True``: a pane, not a window over the page the
officer is reading); on its own it is a modal dialog.

Keyboard: Up/Down (or 1–9) choose a reason, Tab moves to the message, Ctrl+Enter rejects, Esc cancels.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QResizeEvent, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.services.configuration.rejection_reasons import RejectionReason
from cohortdesk.views import theme


class _ReasonList(QListWidget):
    """The canned reasons: as tall as all of them (``full_height``) where there is room, shorter and
    scrolling where the form is short."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full_height = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        hint = super().sizeHint()
        return QSize(hint.width(), self.full_height or hint.height())


class RejectDialog(QDialog):
    def __init__(
        self,
        reasons: list[RejectionReason],
        document_label: str,
        student_name: str,
        parent: QWidget | None = None,
        message: str = "",
        docked: bool = False,
        note: str = "",
    ) -> None:
        super().__init__(parent)
        self.setObjectName("rejectDialog")
        self.setWindowTitle("Reject document")
        self.setAccessibleName("Reject document")
        self.docked = docked
        if docked:
            self.setWindowFlags(Qt.WindowType.Widget)
        else:
            self.setModal(True)
            self.resize(580, 560)
        self._reasons = list(reasons)
        self._prefilled = ""

        title = QLabel(f"<b>Reject {escape(document_label)}</b> of {escape(student_name)}", self)
        title.setObjectName("rejectTitle")
        title.setWordWrap(True)
        hint = QLabel("Choose a reason, then adjust the message the student will see.", self)
        hint.setObjectName("panelHint")
        hint.setWordWrap(True)

        reasons_label = QLabel("&Reason", self)
        self.reason_list = _ReasonList(self)
        self.reason_list.setObjectName("rejectReasons")
        self.reason_list.setAccessibleName("Canned rejection reasons")
        for number, reason in enumerate(self._reasons, start=1):
            text = f"{number}.  {reason.label}" if number <= 9 else f"     {reason.label}"
            item = QListWidgetItem(text, self.reason_list)
            item.setData(Qt.ItemDataRole.UserRole, reason.code)
            item.setToolTip(reason.message)
        self.reason_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.reason_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        reasons_label.setBuddy(self.reason_list)

        message_label = QLabel("&Message to the student (required)", self)
        message_label.setWordWrap(True)
        self.message_edit = QPlainTextEdit(self)
        self.message_edit.setObjectName("rejectReason")
        self.message_edit.setAccessibleName("Rejection reason")
        self.message_edit.setAccessibleDescription("The reason the student sees; required.")
        self.message_edit.setTabChangesFocus(True)
        self.message_edit.setPlaceholderText(
            "Explain what is wrong and what the student should upload instead."
        )
        self.message_edit.setPlainText(message)
        message_label.setBuddy(self.message_edit)

        note_label = QLabel("Internal &note (for colleagues, not sent)", self)
        note_label.setWordWrap(True)
        self.note_edit = QLineEdit(self)
        self.note_edit.setObjectName("rejectInternalNote")
        self.note_edit.setAccessibleName("Internal note")
        self.note_edit.setText(note)
        note_label.setBuddy(self.note_edit)

        self.error_label = QLabel("", self)
        self.error_label.setObjectName("rejectError")
        self.error_label.setStyleSheet(f"color: {theme.colours().error};")
        self.error_label.setWordWrap(True)
        self.error_label.hide()

        self.buttons = QDialogButtonBox(self)
        self.reject_button = QPushButton("&Reject document", self)
        self.reject_button.setObjectName("confirmRejectButton")
        self.buttons.addButton(self.reject_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.reject_button.setToolTip("Reject (Ctrl+Enter)")
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setObjectName("cancelRejectButton")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(*((10, 8, 10, 10) if docked else (18, 16, 18, 14)))
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(4)
        layout.addWidget(reasons_label)
        layout.addWidget(self.reason_list)
        layout.addWidget(message_label)
        layout.addWidget(self.message_edit, 1)
        layout.addWidget(note_label)
        layout.addWidget(self.note_edit)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

        self.reason_list.itemSelectionChanged.connect(self._on_reason_changed)
        self.reason_list.itemActivated.connect(lambda _item: self.message_edit.setFocus())
        for sequence in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(sequence), self, activated=self.accept)
        for number in range(1, min(9, len(self._reasons)) + 1):
            shortcut = QShortcut(QKeySequence(str(number)), self.reason_list)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(lambda n=number: self.reason_list.setCurrentRow(n - 1))
        self.message_edit.installEventFilter(self)
        self.reason_list.installEventFilter(self)
        self.reason_list.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Nothing is chosen until the officer chooses: the first Up/Down picks the highlighted reason
        # (the list marks its first row current on focus without selecting it).
        if (
            watched is self.reason_list
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up)
            and not self.reason_list.selectedItems()
            and self.reason_list.count()
        ):
            self.reason_list.setCurrentRow(max(self.reason_list.currentRow(), 0))
            return True
        # The text field takes Ctrl+Enter for itself; here it confirms, as everywhere in the dialog.
        if (
            watched is self.message_edit
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self.accept()
            return True
        return super().eventFilter(watched, event)

    def _list_height(self, rows: int | None = None) -> int:
        """Tall enough for every reason (up to ten) without scrolling, or for ``rows`` of them."""
        if rows is None:
            rows = min(max(self.reason_list.count(), 3), 10)
        row_height = self.reason_list.sizeHintForRow(0) if self.reason_list.count() else 24
        row_height = max(row_height, self.reason_list.fontMetrics().height() + 8)
        return rows * row_height + 2 * self.reason_list.frameWidth() + 4

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit()  # row heights are known once styled

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        """Docked beside the page on a small screen (1366x768 at 125 %) the form is narrow and short:
        the two buttons stack rather than cut their words, and the reasons list gives up rows (it
        scrolls; ``_ReasonList``) rather than the labels below it being drawn over it."""
        layout = self.layout()
        if layout is None:
            return
        margins = layout.contentsMargins()
        buttons = self.buttons.buttons()
        side_by_side = sum(b.sizeHint().width() for b in buttons) + 8 * max(len(buttons) - 1, 0)
        room = self.width() - margins.left() - margins.right()
        orientation = Qt.Orientation.Horizontal if side_by_side <= room else Qt.Orientation.Vertical
        if self.buttons.orientation() != orientation:
            self.buttons.setOrientation(orientation)
        full = self._list_height()
        if self.reason_list.full_height != full:
            self.reason_list.full_height = full
            self.reason_list.setMinimumHeight(self._list_height(min(3, self.reason_list.count() or 3)))
            self.reason_list.setMaximumHeight(full)
            self.reason_list.updateGeometry()

    # --- results -----------------------------------------------------------------------------

    @property
    def reason_text(self) -> str:
        return self.message_edit.toPlainText().strip()

    @property
    def note_text(self) -> str | None:
        return self.note_edit.text().strip() or None

    @property
    def reason_code(self) -> str | None:
        """The chosen canned reason's code (kept even when its message was edited), or None."""
        items = self.reason_list.selectedItems()
        return str(items[0].data(Qt.ItemDataRole.UserRole)) if items else None

    def select_reason(self, code: str) -> None:
        for row in range(self.reason_list.count()):
            if self.reason_list.item(row).data(Qt.ItemDataRole.UserRole) == code:
                self.reason_list.setCurrentRow(row)
                return

    def accept(self) -> None:
        if not self.reason_text:
            self.error_label.setText("A reason is required to reject a document: choose one or write it.")
            self.error_label.show()
            self.message_edit.setFocus()
            return
        super().accept()

    def _on_reason_changed(self) -> None:
        items = self.reason_list.selectedItems()
        if not items:
            return
        code = items[0].data(Qt.ItemDataRole.UserRole)
        reason = next((r for r in self._reasons if r.code == code), None)
        if reason is None:
            return
        text = self.message_edit.toPlainText().strip()
        # Replace the text only while it is empty or still an untouched canned message.
        if not text or text == self._prefilled:
            self.message_edit.setPlainText(reason.message)
            self._prefilled = reason.message
        self.error_label.hide()

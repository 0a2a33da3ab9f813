"""What every administration form shares: labelled fields with their own error line, one error summary,
Save / Cancel with dirty-state tracking, and the "save, discard or keep editing?" question.

A form keeps a *baseline*: the value its widgets showed when it was loaded or last saved. It is dirty
while its current value differs, so nothing typed is ever dropped without asking.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.errors import ValidationError
from cohortdesk.services.configuration.screens import FieldProblem
from cohortdesk.views.errors import show_error
from cohortdesk.views.runner import Runner


def set_invalid(widget: QWidget, invalid: bool) -> None:
    """Mark a field red (through the style sheet's ``invalid`` property)."""
    if bool(widget.property("invalid")) == invalid:
        return
    widget.setProperty("invalid", invalid)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class ErrorSummary(QFrame):
    """The one place a form lists everything that stops it being saved."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("formErrorSummary")
        self.setAccessibleName("Problems to correct")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        self.label = QLabel()
        self.label.setObjectName("formErrorSummaryText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label)
        self.hide()

    def show_messages(self, messages: list[str]) -> None:
        if not messages:
            self.label.clear()
            self.hide()
            return
        head = (
            "Please correct this before saving:"
            if len(messages) == 1
            else "Please correct these before saving:"
        )
        self.label.setText(head + "\n" + "\n".join(f"•  {m}" for m in messages))
        self.setAccessibleDescription(self.label.text())
        self.show()

    def messages(self) -> str:
        return self.label.text() if self.isVisible() else ""


class FieldSlot:
    """One field of a form: its label text, editor and error line."""

    def __init__(self, key: str, label: str, editor: QWidget, error: QLabel) -> None:
        self.key = key
        self.label = label
        self.editor = editor
        self.error = error

    def show(self, message: str | None) -> None:
        self.error.setText(field_sentence(self.label, message) if message else "")
        self.error.setVisible(bool(message))
        set_invalid(self.editor, bool(message))
        self.editor.setAccessibleDescription(message or "")


def field_sentence(label: str, message: str) -> str:
    """An error line that stands on its own: "Company name is required." """
    text = message.rstrip(".")
    if text.startswith(("is ", "cannot ", "must ")):
        return f"{label} {text}."
    return text[:1].upper() + text[1:] + "."


def changed_signals(widget: QWidget) -> Iterable[Any]:
    """The signals that mean a person changed ``widget``'s value."""
    if isinstance(widget, QLineEdit | QPlainTextEdit):
        yield widget.textChanged
    elif isinstance(widget, QComboBox):
        yield widget.currentIndexChanged
    elif isinstance(widget, QDateEdit):
        yield widget.dateChanged
    elif isinstance(widget, QSpinBox):
        yield widget.valueChanged
    elif isinstance(widget, QTableWidget):
        yield widget.itemChanged
        yield widget.model().rowsInserted
        yield widget.model().rowsRemoved
        yield widget.model().rowsMoved
    elif isinstance(widget, QListWidget):
        yield widget.itemChanged
        yield widget.model().rowsInserted
    elif isinstance(widget, QAbstractButton):
        yield widget.toggled


class Form(QWidget):
    """Base of the administration forms.

    Subclasses build their widgets with ``add_field`` and implement ``value`` (read the widgets),
    ``show_value`` (fill them), ``check`` (pure problems list) and ``save_call`` (the service call that
    saves). The form then handles dirty state, validation display, saving through the runner and the
    question before discarding.
    """

    #: The form's value now differs (True) or no longer differs (False) from what was saved.
    dirty_changed = Signal(bool)
    #: A save finished; the argument is the row the service returned.
    saved = Signal(object)

    #: Shown in the "unsaved changes" question, e.g. "sponsor".
    noun = "form"
    #: Width of the field captions, so the fields of several groups line up.
    caption_width = 150

    def __init__(self, runner: Runner, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.runner = runner
        self._slots: dict[str, FieldSlot] = {}
        self._baseline: Any = None
        self._dirty = False
        self._loading = False
        self._saving = False
        self.summary = ErrorSummary(self)
        self.save_button = QPushButton("&Save")
        self.save_button.setObjectName("saveButton")
        self.save_button.setAccessibleName(f"Save {self.noun}")
        self.save_button.setDefault(False)
        self.save_button.setAutoDefault(False)
        self.save_button.setEnabled(False)
        self.save_button.setToolTip("Save (Ctrl+S)")
        self.save_button.clicked.connect(lambda: self.save())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setAccessibleName("Cancel: discard unsaved changes")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_edits)
        shortcut = QShortcut(QKeySequence.StandardKey.Save, self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(lambda: self.save() if self.is_dirty() else None)

    # --- building ------------------------------------------------------------------------------

    def button_row(self, *extra: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        for widget in extra:
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        row.addWidget(self.save_button)
        return row

    def add_field(
        self,
        layout: QFormLayout,
        key: str,
        label: str,
        editor: QWidget,
        hint: str | None = None,
        *,
        required: bool = False,
    ) -> QWidget:
        """Add a labelled editor with an error line beneath it; ``label`` may carry an ``&`` mnemonic."""
        plain = label.replace("&", "")
        caption = QLabel(label + (" *" if required else ""))
        caption.setObjectName(f"{key}Label")
        caption.setBuddy(editor)
        caption.setMinimumWidth(self.caption_width)
        caption.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        editor.setObjectName(editor.objectName() or key)
        editor.setAccessibleName(plain + (" (required)" if required else ""))
        if hint:
            editor.setToolTip(hint)
        holder = QWidget()
        box = QVBoxLayout(holder)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(editor)
        if hint:
            hint_label = QLabel(hint)
            hint_label.setProperty("role", "hint")
            hint_label.setWordWrap(True)
            hint_label.setObjectName(f"{key}Hint")
            box.addWidget(hint_label)
        error = QLabel()
        error.setObjectName(f"{key}Error")
        error.setProperty("role", "fieldError")
        error.setWordWrap(True)
        error.hide()
        box.addWidget(error)
        layout.addRow(caption, holder)
        self.register_field(key, plain, editor, error)
        return holder

    def register_field(self, key: str, label: str, editor: QWidget, error: QLabel) -> None:
        self._slots[key] = FieldSlot(key, label, editor, error)
        self.watch(editor)

    def watch(self, widget: QWidget) -> None:
        for signal in changed_signals(widget):
            signal.connect(self._on_changed)

    def error_label(self, key: str) -> QLabel:
        label = QLabel()
        label.setObjectName(f"{key}Error")
        label.setProperty("role", "fieldError")
        label.setWordWrap(True)
        label.hide()
        return label

    # --- what subclasses provide -----------------------------------------------------------------

    def value(self) -> Any:
        raise NotImplementedError

    def show_value(self, value: Any) -> None:
        raise NotImplementedError

    def check(self, value: Any) -> list[FieldProblem]:
        return []

    def save_call(self, value: Any) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        raise NotImplementedError

    def field_label(self, key: str) -> str:
        slot = self._slot_for(key)
        return slot.label if slot else key.replace("_", " ").capitalize()

    # --- state ---------------------------------------------------------------------------------

    def load(self, value: Any) -> None:
        """Show ``value`` as the saved state (no longer dirty, no problems shown)."""
        self._loading = True
        try:
            self.show_value(value)
        finally:
            self._loading = False
        self._baseline = self.value()
        self.clear_problems()
        self._set_dirty(False)

    def is_dirty(self) -> bool:
        return self._dirty

    def _on_changed(self, *_args: Any) -> None:
        if self._loading:
            return
        self._set_dirty(self.value() != self._baseline)
        self.after_change()

    def after_change(self) -> None:
        """Hook: called after a person changed any field."""

    def _set_dirty(self, dirty: bool) -> None:
        self.save_button.setEnabled(dirty and not self._saving)
        self.cancel_button.setEnabled(dirty and not self._saving)
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)

    # --- problems --------------------------------------------------------------------------------

    def _slot_for(self, key: str) -> FieldSlot | None:
        # the write path names nested fields "settings.rejection_reasons[0].code": same slot
        key = re.sub(r"\[(\d+)\]", r".\1", key).removeprefix("settings.")
        best: FieldSlot | None = None
        for slot_key, slot in self._slots.items():
            if (key == slot_key or key.startswith(slot_key + ".")) and (
                best is None or len(slot_key) > len(best.key)
            ):
                best = slot
        return best

    def clear_problems(self) -> None:
        for slot in self._slots.values():
            slot.show(None)
        self.summary.show_messages([])

    def show_problems(self, problems: list[FieldProblem]) -> None:
        """Mark each problem at its field and list them all in the summary."""
        self.clear_problems()
        per_slot: dict[str, list[str]] = {}
        summary: list[str] = []
        for problem in problems:
            slot = self._slot_for(problem.field)
            label = slot.label if slot else problem.field.replace("_", " ").capitalize()
            summary.append(f"{label}: {problem.message}")
            if slot:
                per_slot.setdefault(slot.key, []).append(problem.message)
        for key, messages in per_slot.items():
            self._slots[key].show("; ".join(messages))
        self.summary.show_messages(summary)
        first = next((self._slot_for(p.field) for p in problems if self._slot_for(p.field)), None)
        if first is not None:
            first.editor.setFocus(Qt.FocusReason.OtherFocusReason)

    # --- saving and discarding -------------------------------------------------------------------

    def save(self, then: Callable[[], None] | None = None) -> bool:
        """Check, then save through the runner; ``then`` runs after a successful save."""
        if self._saving:
            return False
        value = self.value()
        problems = self.check(value)
        if problems:
            self.show_problems(problems)
            return False
        fn, args = self.save_call(value)
        self._saving = True
        self._set_dirty(self._dirty)

        def done(row: Any) -> None:
            self._saving = False
            self.saved.emit(row)
            if then is not None:
                then()

        def failed(error: BaseException) -> None:
            self._saving = False
            self._set_dirty(self._dirty)
            if isinstance(error, ValidationError):
                self.show_problems([FieldProblem(error.field, error.message)])
            else:
                show_error(self, error, f"Could not save the {self.noun}")

        self.runner.db(fn, *args).success(done).failure(failed).start()
        return True

    def cancel_edits(self) -> None:
        """Cancel: put the saved values back, after asking when something was typed."""
        if not self.is_dirty():
            return
        answer = QMessageBox.question(
            self,
            "Discard changes?",
            f"Discard the changes you made to this {self.noun}? They have not been saved.",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Discard:
            self.revert()

    def revert(self) -> None:
        self.load(self._baseline_value())

    def _baseline_value(self) -> Any:
        return self._baseline

    def maybe_leave(self, then: Callable[[], None]) -> None:
        """Run ``then`` once unsaved edits are saved or knowingly discarded; do nothing if cancelled."""
        if not self.is_dirty():
            then()
            return
        answer = ask_unsaved(self, self.noun)
        if answer == QMessageBox.StandardButton.Save:
            self.save(then)
        elif answer == QMessageBox.StandardButton.Discard:
            self.revert()
            then()


def ask_unsaved(parent: QWidget, noun: str) -> QMessageBox.StandardButton:
    """Save / Discard / Cancel question about unsaved edits (Cancel keeps editing)."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Unsaved changes",
        f"The {noun} has changes that are not saved yet.",
        QMessageBox.StandardButton.Save
        | QMessageBox.StandardButton.Discard
        | QMessageBox.StandardButton.Cancel,
        parent,
    )
    box.setObjectName("unsavedChangesQuestion")
    box.setInformativeText("Save them, discard them, or go back to editing?")
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    return QMessageBox.StandardButton(box.exec())


def page_header(title: str, subtitle: str = "") -> QWidget:
    header = QWidget()
    layout = QVBoxLayout(header)
    layout.setContentsMargins(0, 0, 0, 4)
    layout.setSpacing(2)
    title_label = QLabel(title)
    title_label.setObjectName("pageTitle")
    title_label.setAccessibleName(title)
    layout.addWidget(title_label)
    if subtitle:
        sub = QLabel(subtitle)
        sub.setObjectName("pageSubtitle")
        sub.setWordWrap(True)
        layout.addWidget(sub)
    return header


def form_layout() -> QFormLayout:
    layout = QFormLayout()
    layout.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
    layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    layout.setHorizontalSpacing(12)
    layout.setVerticalSpacing(8)
    return layout


def no_wheel(spin: QAbstractSpinBox) -> None:
    """Scrolling a form must not change a number or date under the mouse pointer."""
    spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

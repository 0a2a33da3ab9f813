"""The conflict inbox: every edit made on this laptop that the server could not apply as it was, one entry
per conflicting edit, with who changed the server side and when, the values side by side (Field | When
you started | Your value | Current value) and the choices that resolve it. Nothing is dropped: each
choice goes through the write path and syncs like any edit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.errors import ValidationError
from cohortdesk.services.configuration import sync_actions as admin_sync
from cohortdesk.services.configuration.sync_actions import ConflictEntry, ConflictLine
from cohortdesk.services.sync import conflicts
from cohortdesk.views.admin.form_support import page_header
from cohortdesk.views.admin.style import style_sheet
from cohortdesk.views.errors import show_error
from cohortdesk.views.runner import Runner
from cohortdesk.views.theme import colours

COLUMNS = ("Field", "When you started", "Your value", "Current value", "")
FIELD, BASE, MINE, THEIRS, ACTIONS = range(5)


def newer_side(entry: ConflictEntry) -> str | None:
    """``"theirs"`` when the server's change came after this laptop's edit began, ``"mine"`` if before."""
    if entry.changed_at is None or entry.started_at is None:
        return None
    return "theirs" if entry.changed_at >= entry.started_at else "mine"


def timing_sentence(entry: ConflictEntry) -> str:
    if not entry.timing:
        who = f" by {entry.changed_by}" if entry.changed_by else ""
        return f"Changed on the server{who}." if entry.kind != "rejected" else ""
    if not entry.per_field:
        return entry.timing[:1].upper() + entry.timing[1:] + "."
    side = newer_side(entry)
    newer = " The current value is the newer one." if side == "theirs" else " Your value is the newer one."
    return entry.timing[:1].upper() + entry.timing[1:] + "." + newer


class ConflictEntryView(QWidget):
    """One entry: header, explanation, the value grid, and its choices."""

    #: (action, conflict id, value or None) — the person chose how to resolve.
    chosen = Signal(str, int, object)

    def __init__(self, entry: ConflictEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conflictEntry")
        self.entry = entry
        title = QLabel(entry.what[:1].upper() + entry.what[1:])
        title.setObjectName("conflictWhat")
        title.setStyleSheet("font-size: 13pt; font-weight: 600;")
        explanation = QLabel(entry.explanation)
        explanation.setObjectName("conflictExplanation")
        explanation.setWordWrap(True)
        timing = QLabel(timing_sentence(entry))
        timing.setObjectName("conflictTiming")
        timing.setWordWrap(True)
        timing.setStyleSheet(f"color: {colours().warning};")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(explanation)
        if timing.text():
            layout.addWidget(timing)
        if entry.detail:
            detail = QLabel(f"Server's reason: {entry.detail}")
            detail.setObjectName("conflictDetail")
            detail.setWordWrap(True)
            layout.addWidget(detail)
        if entry.grouped:
            count = len(entry.conflict_ids)
            group = QLabel(
                f"<b>One decision for all {count}</b>: this {entry.what} and what waits under it, "
                f"{entry.contents()}."
            )
            group.setObjectName("conflictGroup")
            group.setWordWrap(True)
            group.setToolTip("\n".join(child.what for child in entry.children))
            layout.addWidget(group)

        self.grid = QTableWidget(len(entry.lines), len(COLUMNS) if entry.per_field else len(COLUMNS) - 1)
        self.grid.setObjectName("conflictGrid")
        self.grid.setAccessibleName("Conflicting values")
        side = newer_side(entry)
        headers = list(COLUMNS[: self.grid.columnCount()])
        if not entry.per_field:
            headers[THEIRS] = "On the server"
        elif side == "theirs":
            headers[THEIRS] = "Current value (newer)"
        elif side == "mine":
            headers[MINE] = "Your value (newer)"
        self.grid.setHorizontalHeaderLabels(headers)
        self.grid.verticalHeader().setVisible(False)
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.grid.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.grid.setWordWrap(True)
        header = self.grid.horizontalHeader()
        header.setMinimumSectionSize(120)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(FIELD, QHeaderView.ResizeMode.ResizeToContents)
        if entry.per_field:
            header.setSectionResizeMode(ACTIONS, QHeaderView.ResizeMode.ResizeToContents)
        self.line_buttons: dict[int, dict[str, QPushButton]] = {}
        for row, line in enumerate(entry.lines):
            for column, text in (
                (FIELD, line.label),
                (BASE, line.base),
                (MINE, line.mine),
                (THEIRS, line.theirs),
            ):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if column == FIELD:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.grid.setItem(row, column, item)
            if entry.per_field and line.conflict_id is not None:
                self.grid.setCellWidget(row, ACTIONS, self._line_actions(line))
        self.grid.resizeRowsToContents()
        layout.addWidget(self.grid, 1)

        self.entry_buttons: dict[str, QPushButton] = {}
        if not entry.per_field:
            row_layout = QHBoxLayout()
            row_layout.addStretch(1)
            for action in ("keep_theirs", "keep_mine"):
                label = entry.choices.get(action)
                if not label:
                    continue
                if entry.grouped:
                    label = f"{label} (all {len(entry.conflict_ids)})"
                button = QPushButton(label)
                button.setObjectName(f"{action}Button")
                button.setAccessibleName(label)
                button.clicked.connect(
                    lambda _c=False, a=action: self.chosen.emit(a, self.entry.conflict_ids[0], None)
                )
                row_layout.addWidget(button)
                self.entry_buttons[action] = button
            layout.addLayout(row_layout)

    def _line_actions(self, line: ConflictLine) -> QWidget:
        holder = QWidget()
        box = QHBoxLayout(holder)
        box.setContentsMargins(4, 2, 4, 2)
        box.setSpacing(4)
        buttons: dict[str, QPushButton] = {}
        hints = {
            "keep_mine": "Send your value to the server, replacing the other edit",
            "keep_theirs": "Keep the value now on the server and drop yours",
            "edit": "Type the value to keep (for example, both edits combined)",
        }
        for action, label in conflicts.CHOICES["field_conflict"].items():
            text = f"{label}…" if action == "edit" else label
            button = QPushButton(text)
            button.setToolTip(hints[action])
            button.setObjectName(f"{action}Button")
            button.setAccessibleName(f"{text.rstrip('…')}: {line.label}")
            button.setAutoDefault(False)
            conflict_id = line.conflict_id or 0
            button.clicked.connect(lambda _c=False, a=action, i=conflict_id: self.chosen.emit(a, i, None))
            box.addWidget(button)
            buttons[action] = button
        self.line_buttons[line.conflict_id or 0] = buttons
        return holder


class ConflictInboxDialog(QDialog):
    """The inbox; ``resolved`` fires after each resolution so the status bar and lists can refresh."""

    #: A conflict was resolved: the ``Resolution`` from ``services.sync.conflicts``.
    resolved = Signal(object)

    def __init__(self, runner: Runner, db: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conflictInbox")
        self.setWindowTitle("Conflicts to resolve")
        self.setStyleSheet(style_sheet())
        self.runner = runner
        self.db = db
        self.entries: list[ConflictEntry] = []

        self.list = QListWidget()
        self.list.setObjectName("conflictList")
        self.list.setAccessibleName("Conflicts")
        self.list.setMinimumWidth(220)
        self.list.setSpacing(2)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setWordWrap(True)
        self.list.currentRowChanged.connect(self._show_entry)
        self.detail = QStackedWidget()
        self.detail.setObjectName("conflictDetailStack")
        self.empty = QLabel(
            "No conflicts. Every change made on this laptop has been applied or is waiting to be sent."
        )
        self.empty.setObjectName("conflictsEmpty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.addWidget(self.empty)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.list)
        splitter.addWidget(self.detail)
        splitter.setSizes([250, 950])

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setObjectName("closeButton")

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 12)
        layout.addWidget(
            page_header(
                "Conflicts to resolve",
                "Changes made on this laptop that could not be applied as they were, because someone changed "
                "the same thing on the server. Nothing is lost: choose what to keep.",
            )
        )
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)
        self.resize(1220, 600)
        self.reload()

    # --- data ----------------------------------------------------------------------------------

    def reload(self) -> None:
        self.runner.db(admin_sync.conflict_entries, self.db).success(self.set_entries).start()

    def set_entries(self, entries: list[ConflictEntry]) -> None:
        current = self.list.currentRow()
        self.entries = list(entries)
        self.list.blockSignals(True)
        self.list.clear()
        while self.detail.count() > 1:
            widget = self.detail.widget(1)
            self.detail.removeWidget(widget)
            widget.deleteLater()
        for entry in self.entries:
            item = QListWidgetItem(entry.title + (f"\n{entry.timing}" if entry.timing else ""))
            item.setData(Qt.ItemDataRole.UserRole, entry.key)
            item.setToolTip(entry.explanation)
            self.list.addItem(item)
            view = ConflictEntryView(entry)
            view.chosen.connect(self.choose)
            self.detail.addWidget(view)
        self.list.blockSignals(False)
        if self.entries:
            self.list.setCurrentRow(min(max(current, 0), len(self.entries) - 1))
            self._show_entry(self.list.currentRow())
        else:
            self.detail.setCurrentWidget(self.empty)
        self.setWindowTitle(f"Conflicts to resolve ({len(self.entries)})" if self.entries else "No conflicts")

    def _show_entry(self, row: int) -> None:
        self.detail.setCurrentIndex(row + 1 if 0 <= row < len(self.entries) else 0)

    def current_view(self) -> ConflictEntryView | None:
        widget = self.detail.currentWidget()
        return widget if isinstance(widget, ConflictEntryView) else None

    # --- choices -------------------------------------------------------------------------------

    def choose(self, action: str, conflict_id: int, _value: object = None) -> None:
        view = self.current_view()
        entry = view.entry if view else None
        call: Callable[..., Any]
        args: tuple[Any, ...]
        if action == "edit":
            line = next((ln for ln in entry.lines if ln.conflict_id == conflict_id), None) if entry else None
            text = self.ask_edit(line)
            if text is None or line is None:
                return
            try:
                value = admin_sync.parse_edited(text, line.mine_value)
            except ValidationError as error:
                show_error(self, error, "That value cannot be used")
                return
            call, args = conflicts.edit, (self.db, conflict_id, value)
        elif entry is not None and entry.grouped:
            if action == "keep_theirs" and not self.confirm_discard(entry):
                return
            call, args = conflicts.resolve_group, (self.db, entry.conflict_ids, action)
        elif action == "keep_mine":
            call, args = conflicts.keep_mine, (self.db, conflict_id)
        else:
            if entry is not None and not entry.per_field and not self.confirm_discard(entry):
                return
            call, args = conflicts.keep_theirs, (self.db, conflict_id)

        def failed(error: BaseException) -> None:
            show_error(self, error, "The conflict was not resolved")
            self.reload()

        def done(resolution: Any) -> None:
            self.resolved.emit(resolution)
            self.reload()

        self.runner.db(call, *args).success(done).failure(failed).start()

    def ask_edit(self, line: ConflictLine | None) -> str | None:
        """Ask for the value to keep; separate so tests can answer it."""
        if line is None:
            return None
        text, ok = QInputDialog.getText(
            self,
            f"Edit {line.label}",
            f"{line.label}: yours is “{line.mine}”, the current one is “{line.theirs}”.\nThe value to keep:",
            text="" if line.mine == "—" else line.mine,
        )
        return text if ok else None

    def confirm_discard(self, entry: ConflictEntry) -> bool:
        """Discarding a whole edit is final: ask first (separate so tests can answer it)."""
        answer = QMessageBox.question(
            self,
            entry.choices.get("keep_theirs", "Discard"),
            f"{entry.choices.get('keep_theirs', 'Discard')} for {entry.what}"
            + (f" and the {len(entry.children)} waiting under it" if entry.grouped else "")
            + "? Your change will not be sent.",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

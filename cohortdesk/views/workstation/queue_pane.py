"""The workstation's left half: the cohort tree and the enrollment queue (search, filters, paging,
selection, moving from row to row, the empty state and "2 new · Show").

It knows nothing of the detail panes or decisions; the window listens to its signals.

Signals:
    row_chosen(int, bool): the current queue row is now this enrollment; the flag says the choice came
        from "next pending" (a held enrollment met there is skipped on).
    emptied(): the queue has no rows (nothing is selected any more).
    message(str, int): a line for the status bar and how long to show it (ms).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHeaderView, QMenu, QWidget

from cohortdesk.enums import VerificationState
from cohortdesk.lazy import lazy_module
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.review.queue_rows import InstitutionNode, QueueFilter, QueuePage, QueueRow, QueueSort
from cohortdesk.views.cohort_tree_model import CohortTreeModel, Scope
from cohortdesk.views.delegates import StateBadgeDelegate
from cohortdesk.views.queue_table_model import QueueTableModel
from cohortdesk.views.runner import Runner
from cohortdesk.views.workstation.layout import VERIFICATION_VIEWS, WorkstationView

if TYPE_CHECKING:
    from cohortdesk.services.review import queue
else:  # loaded on first use: the window is painted before SQLAlchemy loads
    queue = lazy_module("cohortdesk.services.review.queue")

DEFAULT_HIDDEN_COLUMNS = (
    QueueTableModel.COL_EMAIL,
    QueueTableModel.COL_PROGRAM,
    QueueTableModel.COL_ENROLLMENT,
)
DEFAULT_COLUMN_WIDTHS = {
    QueueTableModel.COL_STUDENT: 160,
    QueueTableModel.COL_EMAIL: 200,
    QueueTableModel.COL_COHORT: 150,
    QueueTableModel.COL_PROGRAM: 100,
    QueueTableModel.COL_ENROLLMENT: 100,
    QueueTableModel.COL_VERIFICATION: 92,
    QueueTableModel.COL_DOCUMENTS: 56,
    QueueTableModel.COL_WAITING: 70,
    QueueTableModel.COL_PRECHECK: 88,
}


def is_id_number_search(text: str) -> bool:
    """Digits only, six or more: (part of) an SA ID number, looked for whatever its state."""
    digits = text.strip().replace(" ", "")
    return len(digits) >= 6 and digits.isdigit()


def everywhere(flt: QueueFilter) -> QueueFilter:
    """The same search without the filters: every state, cohort, programme and enrollment state."""
    return QueueFilter(verification_state=None, account_id=flt.account_id, search=flt.search, decidable=None)


def decidable(item: QueueRow) -> bool:
    """Pending, with at least one uploaded document awaiting a decision ("next" stops only there)."""
    return item.verification_state == "pending" and item.documents_awaiting > 0


def summary_text(view: str | None, total: int) -> str:
    """The queue header's count in words: "15 to decide", "1 verified enrollment"."""
    noun = "enrollment" if total == 1 else "enrollments"
    if view == "to_decide":
        return f"{total:,} to decide"
    if view == "waiting_for_uploads":
        return f"{total:,} waiting for uploads"
    label = VerificationState(view).label.lower() if view in tuple(VerificationState) else ""
    return f"{total:,} {label + ' ' if label else ''}{noun}"


def _queue_page(db: Any, flt: QueueFilter, sort: QueueSort, offset: int, limit: int) -> QueuePage:
    return queue.queue_page(db, flt, sort, offset, limit)  # looked up when called (on the database lane)


def _queue_count(db: Any, flt: QueueFilter) -> int:
    return queue.queue_count(db, flt)


class QueuePane(QObject):
    row_chosen = Signal(int, bool)
    emptied = Signal()
    message = Signal(str, int)

    def __init__(self, ui: WorkstationView, runner: Runner, db: Any, page_size: int, parent: QWidget) -> None:
        super().__init__(parent)
        self.ui = ui
        self.runner = runner
        self.db = db
        self.identity: Identity | None = None
        #: The enrollment the detail panes show (set by the window): kept selected across reloads.
        self.current_id: int | None = None
        #: Narrows the filter further (the pre-check filter of ``views/workstation/reading.py``).
        self.extra_filter: Callable[[QueueFilter], QueueFilter] | None = None
        self.tree_model = CohortTreeModel(self)
        ui.cohort_browser.setModel(self.tree_model)
        self.queue_model = QueueTableModel(
            runner, partial(_queue_page, db), partial(_queue_count, db), page_size, self
        )
        table = ui.queue_table
        table.setModel(self.queue_model)
        for column in (QueueTableModel.COL_VERIFICATION, QueueTableModel.COL_ENROLLMENT):
            table.setItemDelegateForColumn(column, StateBadgeDelegate(QueueTableModel.StateRole, table))
        self.scope: Scope = ("all", None)
        self._tree_loaded = False
        self._pending_move = 0
        self._pending_advance = False
        self._advancing = False
        self._outside = 0  # the current search's matches that the filters hide
        self._new_rows = 0  # enrollments that entered the queue since it was loaded (note_new_rows)
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(250)
        self._connect()
        self.apply_default_columns()

    def _connect(self) -> None:
        ui = self.ui
        ui.cohort_browser.selectionModel().currentChanged.connect(self._on_scope_changed)
        ui.queue_table.selectionModel().currentRowChanged.connect(self._on_queue_row_changed)
        ui.queue_table.horizontalHeader().customContextMenuRequested.connect(self._column_menu)
        self.queue_model.page_loaded.connect(self._on_page_loaded)
        self.queue_model.total_changed.connect(self._on_total_changed)
        self.queue_model.loading_changed.connect(lambda _loading: self.update_empty_state())
        self.queue_model.modelReset.connect(self.update_empty_state)
        self.queue_model.modelReset.connect(self._clear_new_rows)
        for box in (ui.state_filter, ui.program_filter, ui.enrollment_filter):
            box.currentIndexChanged.connect(lambda _i: self.apply_filters())
        ui.queue_search.textChanged.connect(lambda _t: self.search_timer.start())
        ui.queue_search.returnPressed.connect(self._search_now)
        ui.queue_outside.clicked.connect(self.show_everywhere)
        self.search_timer.timeout.connect(self.apply_filters)

    def apply_default_columns(self) -> None:
        header = self.ui.queue_table.horizontalHeader()
        for column, width in DEFAULT_COLUMN_WIDTHS.items():
            header.resizeSection(column, width)
        for column in DEFAULT_HIDDEN_COLUMNS:
            header.setSectionHidden(column, True)
        header.setSectionResizeMode(QueueTableModel.COL_COHORT, QHeaderView.ResizeMode.Stretch)
        self.reset_sort_indicator()
        self.ui.queue_table.setSortingEnabled(True)

    def reset_sort_indicator(self) -> None:
        column, order = self.queue_model.sort_column()
        self.ui.queue_table.horizontalHeader().setSortIndicator(column, order)

    # --- loading -----------------------------------------------------------------------------

    def refresh(self) -> None:
        self.load_tree()
        self.queue_model.refresh()

    def load_tree(self) -> None:
        self.runner.db(queue.cohort_tree, self.db).success(self._on_tree).start()

    def _on_tree(self, tree: list[InstitutionNode]) -> None:
        browser = self.ui.cohort_browser
        model = browser.selectionModel()
        model.blockSignals(True)
        try:
            self.tree_model.set_tree(tree)
            browser.expandAll()
            index = self.tree_model.index_of(self.scope)
            if index.isValid():
                browser.setCurrentIndex(index)
        finally:
            model.blockSignals(False)
        self._tree_loaded = True
        self._update_scope_label()
        self.update_empty_state()

    def _on_scope_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        scope = current.data(CohortTreeModel.ScopeRole) if current.isValid() else None
        if scope is None:
            return
        scope = (scope[0], scope[1])
        if scope != self.scope:
            self.scope = scope
            self.apply_filters()

    def current_filter(self) -> QueueFilter:
        ui = self.ui
        kind, ident = self.scope
        verification_state, decidable = VERIFICATION_VIEWS.get(ui.state_filter.currentData(), (None, None))
        if is_id_number_search(ui.queue_search.text()):
            verification_state, decidable = None, None  # an ID number is looked for in every state
        flt = QueueFilter(
            verification_state=verification_state,
            decidable=decidable,
            enrollment_state=ui.enrollment_filter.currentData(),
            program_type=ui.program_filter.currentData(),
            cohort_id=ident if kind == "cohort" else None,
            institution_id=ident if kind == "institution" else None,
            search=ui.queue_search.text().strip(),
        )
        return self.extra_filter(flt) if self.extra_filter is not None else flt

    def apply_filters(self) -> None:
        self.search_timer.stop()
        flt = self.current_filter()
        if (
            flt == self.queue_model.query_filter
            and self.queue_model.total >= 0
            and self.queue_model.rowCount()
        ):
            return
        self._show_query(flt)
        self.queue_model.set_query(flt)
        self._update_scope_label()

    def show_first_page(self, flt: QueueFilter, page: QueuePage) -> None:
        """Show ``page``, read ahead as the first page of ``flt`` (the window's start); ``apply_filters``
        for the same filter keeps it once it is counted."""
        self._show_query(flt)
        self.queue_model.show_first_page(flt, self.queue_model.query_sort, page)
        self._update_scope_label()

    def _show_query(self, flt: QueueFilter) -> None:
        self._pending_move = 0
        self._pending_advance = False
        # One verification state in view: every row would say the same, so its column gives its room
        # to the names (it comes back for "All states" and whenever a search looks in every state).
        self.ui.queue_table.setColumnHidden(
            QueueTableModel.COL_VERIFICATION, flt.verification_state is not None
        )

    def _search_now(self) -> None:
        self.apply_filters()
        self.ui.queue_table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def focus_search(self) -> None:
        self.ui.queue_search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.ui.queue_search.selectAll()

    def clear_search_or_leave(self) -> None:
        """Esc in the search box: clear it, or (already empty) go back to the queue."""
        if self.ui.queue_search.text():
            self.ui.queue_search.clear()
            self.apply_filters()
        else:
            self.ui.queue_table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _update_scope_label(self) -> None:
        kind, ident = self.scope
        if kind == "cohort" and ident is not None:
            text = self.tree_model.cohort_name(ident)
        elif kind == "institution":
            index = self.tree_model.index_of(self.scope)
            text = str(index.data()) if index.isValid() else ""
        else:
            text = "All cohorts"
        self.ui.queue_scope.setText(text)

    def _on_total_changed(self, total: int) -> None:
        if total < 0:
            self.ui.queue_summary.setText("Counting…")
        else:
            self.ui.queue_summary.setText(summary_text(self.ui.state_filter.currentData(), total))
            self._count_outside(total)
        self.update_empty_state()

    def _count_outside(self, total: int) -> None:
        """A search: count its matches without the filters, and say how many the filters hide."""
        self.ui.queue_outside.hide()
        self._outside = -1  # not counted yet
        flt = self.queue_model.query_filter
        wider = everywhere(flt)
        if not flt.search or wider == flt:
            return

        def counted(everywhere_total: int) -> None:
            if self.queue_model.query_filter != flt:
                return  # the officer moved on
            self._outside = max(everywhere_total - total, 0)
            if self._outside:
                self.ui.queue_outside.setText(f"{self._outside:,} more outside this filter · Show")
                self.ui.queue_outside.setAccessibleName(
                    f"{self._outside:,} more matches outside this filter: show every match"
                )
                self.ui.queue_outside.show()
            self.update_empty_state()

        self.runner.db(queue.queue_count, self.db, wider).success(counted).failure(
            lambda _error: None
        ).start()

    def show_everywhere(self) -> None:
        """Drop the filters and keep the search ("… more outside this filter · Show")."""
        ui = self.ui
        for box, value in (
            (ui.state_filter, None),
            (ui.program_filter, None),
            (ui.enrollment_filter, None),
        ):
            box.blockSignals(True)
            box.setCurrentIndex(max(box.findData(value), 0))
            box.blockSignals(False)
        self.scope = ("all", None)
        index = self.tree_model.index_of(self.scope)
        if index.isValid():
            selection = ui.cohort_browser.selectionModel()
            selection.blockSignals(True)
            ui.cohort_browser.setCurrentIndex(index)
            selection.blockSignals(False)
        self.apply_filters()

    def note_new_rows(self, count: int) -> None:
        """``count`` more enrollments are in this queue than are loaded: say so, and let the officer
        bring them in (a click or F5) rather than moving the list under them."""
        self._new_rows += count
        noun = "enrollment" if self._new_rows == 1 else "enrollments"
        self.ui.queue_news.setText(f"↻ {self._new_rows:,} new · Show")
        self.ui.queue_news.setAccessibleName(f"{self._new_rows:,} new {noun} in this queue: show them")
        self.ui.queue_news.show()

    def _clear_new_rows(self) -> None:
        self._new_rows = 0
        self.ui.queue_news.hide()

    def _on_page_loaded(self, first: int, _count: int) -> None:
        if first == 0:
            row = self.queue_model.row_of(self.current_id) if self.current_id is not None else -1
            if row < 0 and self.queue_model.rowCount():
                row = 0
            if row >= 0:
                self.select_row(row)
            elif not self.queue_model.rowCount():
                self.current_id = None
                self.emptied.emit()
        if self._pending_move:
            step, self._pending_move = self._pending_move, 0
            self.move_enrollment(step)
        if self._pending_advance:
            self._pending_advance = False
            self.advance_to_next_pending()
        self.update_empty_state()

    def update_empty_state(self) -> None:
        label = self.ui.queue_empty
        model = self.queue_model
        if model.rowCount() or model.loading or model.total != 0:
            label.hide()
            return
        flt = model.query_filter
        if self._tree_loaded and not self.tree_model.tree:
            text = (
                "No institutions yet.\n\nUse File → Load demo data… to explore CohortDesk, or File → "
                "Switch connection… to open your institution's server."
            )
        elif flt.search and self._outside > 0:
            text = (
                f"No enrollments match “{flt.search}” with these filters, but {self._outside:,} "
                "elsewhere do (another state, cohort or programme).\n\nChoose “Show” above to see them."
            )
        elif flt.search:
            known = self._outside == 0 and everywhere(flt) != flt
            where = " in any state, cohort or programme" if known else ""
            text = (
                f"No enrollments match “{flt.search}”{where}.\n\nSearch looks in student names, e-mail "
                "addresses and SA ID numbers. Press Esc to clear it."
            )
        elif flt.verification_state == "pending":
            text = "All caught up.\n\nNo enrollments are waiting for verification here."
        else:
            text = "No enrollments match these filters."
        label.setText(text)
        self.place_empty_state()
        label.show()

    def place_empty_state(self) -> None:
        self.ui.queue_empty.setGeometry(self.ui.queue_table.viewport().rect())

    # --- moving around -----------------------------------------------------------------------

    def select_row(self, row: int) -> None:
        table = self.ui.queue_table
        header = table.horizontalHeader()
        column = header.logicalIndex(0)
        for visual in range(header.count()):
            logical = header.logicalIndex(visual)
            if not table.isColumnHidden(logical):
                column = logical
                break
        index = self.queue_model.index(row, column)
        flags = table.selectionModel().SelectionFlag
        table.selectionModel().setCurrentIndex(index, flags.ClearAndSelect | flags.Rows)
        table.scrollTo(index)

    def move_enrollment(self, step: int) -> None:
        model = self.queue_model
        current = self.ui.queue_table.currentIndex().row()
        target = current + step if current >= 0 else 0
        if target < 0:
            self.message.emit("This is the first enrollment in the queue.", 3000)
            return
        if target >= model.rowCount():
            if model.canFetchMore() or model.loading:
                self._pending_move = step
                model.fetchMore()
            else:
                self.message.emit("This is the last enrollment in the queue.", 3000)
            return
        self.select_row(target)

    def next_pending(self) -> QueueRow | None:
        """The loaded row "next pending" would select now (``advance_to_next_pending``), if any."""
        row = self._next_pending_row()
        return self.queue_model.row_at(row) if row >= 0 else None

    def _next_pending_row(self) -> int:
        model = self.queue_model
        start = self.ui.queue_table.currentIndex().row() + 1
        for row in range(max(start, 0), model.rowCount()):
            item = model.row_at(row)
            if item is not None and decidable(item) and not self.held_by_other(item):
                return row
        return -1

    def advance_to_next_pending(self) -> bool:
        """Select the next enrollment below the current one that still waits for a decision; False
        when there is none (not even in the rows still to be loaded)."""
        model = self.queue_model
        row = self._next_pending_row()
        if row >= 0:
            self._advancing = True
            self.select_row(row)
            return True
        if model.canFetchMore() or model.loading:
            self._pending_advance = True
            model.fetchMore()
            return True
        self.message.emit("Nothing more to decide in this view.", 5000)
        return False

    def back_to_previous_pending(self) -> None:
        """Select the nearest enrollment above the current one that still waits for a decision."""
        model = self.queue_model
        for row in range(self.ui.queue_table.currentIndex().row() - 1, -1, -1):
            item = model.row_at(row)
            if item is not None and decidable(item) and not self.held_by_other(item):
                self.select_row(row)
                return
        self.message.emit("Nothing to decide above this enrollment in this view.", 5000)

    def held_by_other(self, item: QueueRow) -> bool:
        """Another officer's review lease runs on this row ("next" passes over it)."""
        holder = item.holder_at(datetime.now(UTC))
        mine = self.identity is not None and item.claimed_by_user_id == self.identity.user_id
        return holder is not None and not mine

    def _on_queue_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.queue_model.row_at(current.row()) if current.isValid() else None
        advancing, self._advancing = self._advancing, False
        if row is None:
            return
        if row.enrollment_id != self.current_id:
            self.current_id = row.enrollment_id
            self.row_chosen.emit(row.enrollment_id, advancing)

    def _column_menu(self, position: Any) -> None:
        header = self.ui.queue_table.horizontalHeader()
        menu = QMenu(self.ui.queue_table)
        menu.setObjectName("columnMenu")
        visible = [c for c in range(QueueTableModel.COLUMN_COUNT) if not header.isSectionHidden(c)]
        for column, title in enumerate(QueueTableModel.HEADERS):
            action = menu.addAction(title)
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.setEnabled(not (len(visible) == 1 and column in visible))
            action.toggled.connect(lambda on, c=column: header.setSectionHidden(c, not on))
        menu.popup(header.mapToGlobal(position))

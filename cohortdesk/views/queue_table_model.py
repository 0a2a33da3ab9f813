"""The enrollment queue as a Qt table model: plain immutable ``QueueRow``s, filtered, sorted and paged
in SQL through the background runner.

The model never queries from ``data()``. ``set_query`` resets it and asks for the first page;
``canFetchMore``/``fetchMore`` ask for the next page (one request at a time) when the view scrolls near
the end. Answers to an older query (the user typed on, or sorted again) are dropped by generation.

Signals:
    page_loaded(int first_row, int count): a page arrived and its rows were inserted.
    total_changed(int total): the number of enrollments matching the query (``-1`` while unknown).
    loading_changed(bool loading): a page request started or finished.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from cohortdesk.enums import EnrollmentState, ProgramType, VerificationState
from cohortdesk.services.documents.reading.compare import PRECHECK_LABELS
from cohortdesk.services.review.queue_rows import SORT_KEYS, QueueFilter, QueuePage, QueueRow, QueueSort
from cohortdesk.views import theme
from cohortdesk.views.runner import Op, Runner

Index = QModelIndex | QPersistentModelIndex

PageFetcher = Callable[[QueueFilter, QueueSort, int, int], QueuePage]
Counter = Callable[[QueueFilter], int]

#: Pre-check result -> badge colours (``theme.Colours.badges`` key).
PRECHECK_BADGES = {"matches": "verified", "mismatch": "rejected", "unreadable": "missing"}


def waiting_text(since: datetime | None, now: datetime | None = None) -> str:
    """``3 days``, ``5 hours``, ``just now``: how long an item has waited, in words."""
    if since is None:
        return "—"
    seconds = max(0, int(((now or datetime.now(UTC)) - since).total_seconds()))
    days, rest = divmod(seconds, 86400)
    if days >= 1:
        return f"{days} day{'s' if days != 1 else ''}"
    hours = rest // 3600
    if hours >= 1:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = rest // 60
    return f"{minutes} min" if minutes else "just now"


_HOLDER_ICONS: dict[str, QIcon] = {}  # by colour


def holder_icon(mine: bool) -> QIcon:
    """A small padlock: amber for an enrollment another officer is reviewing, blue for one's own."""
    c = theme.colours()
    name = c.claim_mine if mine else c.claim_other
    if name not in _HOLDER_ICONS:
        pixmap = QPixmap(16, 16)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = QColor(name)
        pen = painter.pen()
        pen.setColor(colour)
        pen.setWidthF(1.8)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawArc(4, 1, 8, 10, 0, 180 * 16)
        painter.drawLine(QPointF(4, 6), QPointF(4, 8))
        painter.drawLine(QPointF(12, 6), QPointF(12, 8))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(2, 7, 12, 8, 2, 2)
        painter.end()
        _HOLDER_ICONS[name] = QIcon(pixmap)
    return _HOLDER_ICONS[name]


def documents_count(row: QueueRow) -> str:
    """ "3 / 5" required uploads of required, "+1" optional extras apart (never "4 / 3")."""
    text = f"{row.documents_required_uploaded} / {row.documents_required}"
    return f"{text} +{row.documents_extra}" if row.documents_extra else text


def documents_in_words(row: QueueRow) -> str:
    text = f"{row.documents_required_uploaded} of {row.documents_required} required documents uploaded"
    if row.documents_extra:
        text += f", and {row.documents_extra} optional"
    if row.documents_awaiting:
        text += f"; {row.documents_awaiting} to check"
    return text


class QueueTableModel(QAbstractTableModel):
    COL_STUDENT = 0
    COL_EMAIL = 1
    COL_COHORT = 2
    COL_PROGRAM = 3
    COL_ENROLLMENT = 4
    COL_VERIFICATION = 5
    COL_DOCUMENTS = 6
    COL_WAITING = 7
    COL_PRECHECK = 8  # what reading the documents found (views/workstation/reading.py); not in SQL
    COLUMN_COUNT = 9

    HEADERS = (
        "Student",
        "E-mail",
        "Cohort",
        "Programme",
        "Enrollment",
        "Verification",
        "Docs",
        "Waiting",
        "Pre-check",
    )
    HEADER_TIPS = (
        "Student name (sort by name)",
        "E-mail address",
        "Cohort",
        "Programme type",
        "Enrollment state",
        "Verification state",
        "Documents uploaded / required",
        "How long the enrollment has waited for a decision",
        "What reading the documents found: matches, mismatch or unreadable (the officer decides)",
    )
    #: The SQL sort key of each column.
    SORT_KEYS = SORT_KEYS

    IdRole = Qt.ItemDataRole.UserRole + 1  # enrollment id (int)
    SortRole = Qt.ItemDataRole.UserRole + 2  # native value the column sorts by
    RowRole = Qt.ItemDataRole.UserRole + 3  # the whole QueueRow
    StateRole = Qt.ItemDataRole.UserRole + 4  # raw state key, for badge painting

    page_loaded = Signal(int, int)
    total_changed = Signal(int)
    loading_changed = Signal(bool)

    def __init__(
        self,
        runner: Runner,
        fetch_page: PageFetcher,
        count: Counter,
        page_size: int = 200,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._fetch_page = fetch_page
        self._count = count
        self.page_size = page_size
        self._rows: list[QueueRow] = []
        self._index: dict[int, int] = {}
        self._filter = QueueFilter()
        self._sort = QueueSort()
        self._generation = 0
        self._loading: Op | None = None
        self._exhausted = True
        self._departed: set[int] = set()  # loaded rows that no longer match the filter (after decisions)
        self.total = -1
        self.last_error: BaseException | None = None
        #: The viewing officer's user id: their own claims show as theirs, not "being reviewed by".
        self.viewer_user_id: int | None = None
        #: Pre-check result per enrollment id ("matches", "mismatch", "unreadable"), from reading.
        self.prechecks: dict[int, str] = {}

    # --- the query ---------------------------------------------------------------------------

    @property
    def query_filter(self) -> QueueFilter:
        return self._filter

    @property
    def query_sort(self) -> QueueSort:
        return self._sort

    @property
    def loading(self) -> bool:
        return self._loading is not None

    def set_query(self, flt: QueueFilter | None = None, sort: QueueSort | None = None) -> None:
        """Show a new filter and/or sort: reset, then load the first page and the count."""
        self._reset(flt, sort)
        self.fetchMore(QModelIndex())  # the first page before the count: rows matter most
        self.count()

    def show_first_page(self, flt: QueueFilter, sort: QueueSort, page: QueuePage) -> None:
        """Show ``page``, read ahead as this query's first page (``services.review.first_page``); the
        count is asked for separately (``count``)."""
        self._reset(flt, sort)
        self._on_page(self._generation, page)

    def _reset(self, flt: QueueFilter | None, sort: QueueSort | None) -> None:
        self._filter = flt if flt is not None else self._filter
        self._sort = sort if sort is not None else self._sort
        self._generation += 1
        if self._loading is not None:
            self._loading.cancel()
            self._set_loading(None)
        self.beginResetModel()
        self._rows = []
        self._index = {}
        self._departed = set()
        self._exhausted = False
        self.endResetModel()
        self.total = -1
        self.total_changed.emit(-1)

    def count(self) -> None:
        """Count the rows of the current query (on the database lane)."""
        generation = self._generation
        self._runner.db(self._count, self._filter).success(
            lambda total: self._on_count(generation, total)
        ).failure(lambda error: self._on_error(generation, error)).start()

    def refresh(self) -> None:
        self.set_query()

    def set_total(self, total: int) -> None:
        """A fresher count from a poll (live refresh)."""
        if total != self.total:
            self.total = total
            self.total_changed.emit(total)

    def _on_count(self, generation: int, total: int) -> None:
        if generation == self._generation:
            self.total = total
            self.total_changed.emit(total)

    # --- paging ------------------------------------------------------------------------------

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008 - Qt's signature
        return not parent.isValid() and not self._exhausted and self._loading is None

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        generation = self._generation
        offset = len(self._rows) - len(self._departed)
        op = self._runner.db(self._fetch_page, self._filter, self._sort, offset, self.page_size)
        op.success(lambda page: self._on_page(generation, page)).failure(
            lambda error: self._on_error(generation, error)
        )
        self._set_loading(op)
        op.start()

    def _set_loading(self, op: Op | None) -> None:
        was = self._loading is not None
        self._loading = op
        if was != (op is not None):
            self.loading_changed.emit(op is not None)

    def _on_page(self, generation: int, page: QueuePage) -> None:
        if generation != self._generation:
            return
        self._set_loading(None)
        fresh = [row for row in page.rows if row.enrollment_id not in self._index]
        self._exhausted = not page.has_more
        first = len(self._rows)
        if fresh:
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            for row in fresh:
                self._index[row.enrollment_id] = len(self._rows)
                self._rows.append(row)
            self.endInsertRows()
        self.page_loaded.emit(first, len(fresh))

    def _on_error(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            return
        self.last_error = error
        self._set_loading(None)
        self._exhausted = True  # stop asking; a refresh tries again
        self._runner.error_occurred.emit(error, "loading the queue")

    # --- rows --------------------------------------------------------------------------------

    def row_at(self, row: int) -> QueueRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, enrollment_id: int) -> int:
        """The model row of an enrollment, or -1 when it is not loaded."""
        return self._index.get(enrollment_id, -1)

    def rows(self) -> tuple[QueueRow, ...]:
        return tuple(self._rows)

    def update_row(self, updated: QueueRow) -> None:
        """Replace a loaded row in place (after a decision); it stays visible even if it left the filter,
        and the next page's offset accounts for rows that left."""
        position = self._index.get(updated.enrollment_id)
        if position is None:
            return
        self._rows[position] = updated
        was_departed = updated.enrollment_id in self._departed
        if self._filter.matches(updated):
            self._departed.discard(updated.enrollment_id)
        else:
            self._departed.add(updated.enrollment_id)
        self.dataChanged.emit(self.index(position, 0), self.index(position, self.COLUMN_COUNT - 1))
        # The count follows at once (the tree's counts come with the same decision): the header and
        # the tree never disagree until the next reload.
        departed = updated.enrollment_id in self._departed
        if self.total >= 0 and departed != was_departed:
            self.set_total(max(self.total + (-1 if departed else 1), 0))

    # --- Qt model API ------------------------------------------------------------------------

    def set_precheck(self, enrollment_id: int, status: str) -> None:
        """Show an enrollment's pre-check result (from reading its documents)."""
        if self.prechecks.get(enrollment_id, "") == status:
            return
        self.prechecks[enrollment_id] = status
        row = self._index.get(enrollment_id)
        if row is not None:
            cell = self.index(row, self.COL_PRECHECK)
            self.dataChanged.emit(cell, cell)

    def ids_with_precheck(self, status: str) -> tuple[int, ...]:
        return tuple(sorted(i for i, s in self.prechecks.items() if s == status))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self.COLUMN_COUNT

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < self.COLUMN_COUNT:
            if role == Qt.ItemDataRole.DisplayRole:
                return self.HEADERS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return self.HEADER_TIPS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.parent().isValid():
            return None
        row = self.row_at(index.row())
        if row is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            held = self.holder_text(row) if column == self.COL_STUDENT else None
            return f"{self._display(row, column)}, {held}" if held else self._display(row, column)
        if role == Qt.ItemDataRole.DecorationRole and column == self.COL_STUDENT:
            if row.holder_at(datetime.now(UTC)) is None:
                return None
            return holder_icon(
                self.viewer_user_id is not None and row.claimed_by_user_id == self.viewer_user_id
            )
        if role == self.IdRole:
            return row.enrollment_id
        if role == self.SortRole:
            return self._sort_value(row, column)
        if role == self.RowRole:
            return row
        if role == self.StateRole:
            if column == self.COL_VERIFICATION:
                return row.verification_state
            if column == self.COL_ENROLLMENT:
                return row.enrollment_state
            if column == self.COL_PRECHECK:
                return PRECHECK_BADGES.get(self.prechecks.get(row.enrollment_id, ""))
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.COL_STUDENT:
                held = self.holder_text(row)
                return f"{row.student_name}\n{row.email}\n{row.cohort_name}" + (f"\n{held}" if held else "")
            if column == self.COL_WAITING and row.waiting_since is not None:
                return "Waiting since " + row.waiting_since.astimezone().strftime("%Y-%m-%d %H:%M")
            if column == self.COL_DOCUMENTS:
                return documents_in_words(row)
            return self._display(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (self.COL_DOCUMENTS, self.COL_WAITING):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def holder_text(self, row: QueueRow) -> str | None:
        """ "Being reviewed by …" for a row under a running review lease (``None``: nobody holds it)."""
        holder = row.holder_at(datetime.now(UTC))
        if holder is None:
            return None
        if self.viewer_user_id is not None and row.claimed_by_user_id == self.viewer_user_id:
            return "You are reviewing this enrollment"
        return f"Being reviewed by {holder}"

    def _display(self, row: QueueRow, column: int) -> str:
        match column:
            case self.COL_STUDENT:
                return row.student_name
            case self.COL_EMAIL:
                return row.email
            case self.COL_COHORT:
                return row.cohort_name
            case self.COL_PROGRAM:
                return ProgramType.label_of(row.program_type)
            case self.COL_ENROLLMENT:
                return EnrollmentState.label_of(row.enrollment_state)
            case self.COL_VERIFICATION:
                label = VerificationState.label_of(row.verification_state)
                return f"{label} · re-submitted" if row.resubmitted else label
            case self.COL_DOCUMENTS:
                return documents_count(row)
            case self.COL_WAITING:
                return waiting_text(row.waiting_since)
            case self.COL_PRECHECK:
                return PRECHECK_LABELS.get(self.prechecks.get(row.enrollment_id, ""), "")
        return ""

    def _sort_value(self, row: QueueRow, column: int) -> Any:
        match column:
            case self.COL_STUDENT:
                return row.student_name.lower()
            case self.COL_EMAIL:
                return row.email
            case self.COL_COHORT:
                return row.cohort_name.lower()
            case self.COL_PROGRAM:
                return row.program_type
            case self.COL_ENROLLMENT:
                return row.enrollment_state
            case self.COL_VERIFICATION:
                return row.verification_state
            case self.COL_DOCUMENTS:
                return row.documents_uploaded * 1000 + row.documents_required
            case self.COL_WAITING:
                return row.waiting_since.timestamp() if row.waiting_since else float("inf")
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting happens in SQL: a new query, first page again."""
        if not 0 <= column < len(self.SORT_KEYS):
            return
        sort = QueueSort(self.SORT_KEYS[column], order == Qt.SortOrder.DescendingOrder)
        if sort != self._sort:
            self.set_query(sort=sort)

    def sort_column(self) -> tuple[int, Qt.SortOrder]:
        column = self.SORT_KEYS.index(self._sort.key)
        order = Qt.SortOrder.DescendingOrder if self._sort.descending else Qt.SortOrder.AscendingOrder
        return column, order

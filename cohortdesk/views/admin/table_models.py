"""Qt table models of the administration lists: sponsors and cohorts, holding frozen rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from cohortdesk.enums import CohortState, ProgramType
from cohortdesk.services.configuration.screens import CohortListItem
from cohortdesk.services.rows import SponsorRow
from cohortdesk.views.theme import colours

IdRole = Qt.ItemDataRole.UserRole + 1
SortRole = Qt.ItemDataRole.UserRole + 2
RowRole = Qt.ItemDataRole.UserRole + 3

Index = QModelIndex | QPersistentModelIndex


def short_date(value: datetime | None) -> str:
    return value.strftime("%d %b %Y") if value else "—"


_MARK_ICONS: dict[str, QIcon] = {}


def mark_icon(kind: str) -> QIcon:
    """A small dot: amber for an open conflict, blue-grey for a change waiting to be sent."""
    if kind not in _MARK_ICONS:
        c = colours()
        colour = QColor(c.warning if kind == "conflict" else c.muted)
        pixmap = QPixmap(12, 12)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        size = 9 if kind == "conflict" else 7
        painter.drawEllipse((12 - size) / 2, (12 - size) / 2, size, size)
        painter.end()
        _MARK_ICONS[kind] = QIcon(pixmap)
    return _MARK_ICONS[kind]


MARK_TEXT = {
    "conflict": "Open conflict: see the conflict inbox (click the counts in the status bar).",
    "waiting": "Changed on this laptop; waiting to be sent at the next sync.",
}


class HeaderedRowsModel(QAbstractTableModel):
    """A flat table of ``_rows`` under the column titles ``HEADERS``: the part every admin table shares."""

    HEADERS: tuple[str, ...] = ()
    _rows: Sequence[Any]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None


class _RowsModel(HeaderedRowsModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Any] = []
        self._by_id: dict[int, int] = {}
        self._conflicts: frozenset[int] = frozenset()
        self._waiting: frozenset[int] = frozenset()

    def set_marks(self, conflicts: frozenset[int], waiting: frozenset[int]) -> None:
        """Rows with an open conflict or an unsent change get a dot in the first column."""
        self._conflicts, self._waiting = frozenset(conflicts), frozenset(waiting)
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, 0))

    def mark(self, row_id: int) -> str | None:
        if row_id in self._conflicts:
            return "conflict"
        if row_id in self._waiting:
            return "waiting"
        return None

    def set_rows(self, rows: list[Any]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._by_id = {self.row_id(r): i for i, r in enumerate(self._rows)}
        self.endResetModel()

    def upsert(self, row: Any) -> int:
        """Replace the row with the same id, or append it; returns its position."""
        position = self._by_id.get(self.row_id(row))
        if position is None:
            position = len(self._rows)
            self.beginInsertRows(QModelIndex(), position, position)
            self._rows.append(row)
            self._by_id[self.row_id(row)] = position
            self.endInsertRows()
        else:
            self._rows[position] = row
            self.dataChanged.emit(self.index(position, 0), self.index(position, self.columnCount() - 1))
        return position

    def row_at(self, position: int) -> Any:
        return self._rows[position]

    def position_of(self, row_id: int) -> int | None:
        return self._by_id.get(row_id)

    def rows(self) -> list[Any]:
        return list(self._rows)

    def row_id(self, row: Any) -> int:
        return row.id

    def cell(self, row: Any, column: int) -> tuple[str, Any]:
        """(display text, sort value) of one cell."""
        raise NotImplementedError

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cell(row, index.column())[0]
        if role == SortRole:
            return self.cell(row, index.column())[1]
        if role == IdRole:
            return self.row_id(row)
        if role == RowRole:
            return row
        if index.column() == 0 and role in (Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole):
            mark = self.mark(self.row_id(row))
            if mark and role == Qt.ItemDataRole.DecorationRole:
                return mark_icon(mark)
            if mark:
                return f"{self.cell(row, 0)[0]}\n{MARK_TEXT[mark]}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.cell(row, index.column())[0]
        return None


class SponsorTableModel(_RowsModel):
    COMPANY, CONTACT, EMAIL, PHONE = range(4)
    HEADERS = ("Company", "Contact", "E-mail", "Phone")

    def cell(self, row: SponsorRow, column: int) -> tuple[str, Any]:
        values = (row.company_name, row.contact_name or "", row.contact_email or "", row.contact_phone or "")
        text = values[column]
        return text, text.lower()


class CohortTableModel(_RowsModel):
    NAME, PROGRAMME, STATE, SPONSOR, START, END, STUDENTS = range(7)
    HEADERS = ("Cohort", "Programme", "State", "Sponsor", "Starts", "Ends", "Students")

    def row_id(self, row: CohortListItem) -> int:
        return row.cohort.id

    def cell(self, row: CohortListItem, column: int) -> tuple[str, Any]:
        cohort = row.cohort
        if column == self.NAME:
            return cohort.name, cohort.name.lower()
        if column == self.PROGRAMME:
            return ProgramType.label_of(cohort.program_type), cohort.program_type
        if column == self.STATE:
            return CohortState.label_of(cohort.state), cohort.state
        if column == self.SPONSOR:
            return row.sponsor_name or "—", (row.sponsor_name or "").lower()
        if column == self.START:
            return short_date(cohort.start_date), cohort.start_date.isoformat() if cohort.start_date else ""
        if column == self.END:
            return short_date(cohort.end_date), cohort.end_date.isoformat() if cohort.end_date else ""
        return f"{row.enrolled} / {cohort.student_count}", row.enrolled

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and role == Qt.ItemDataRole.TextAlignmentRole and index.column() == self.STUDENTS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if index.isValid() and role == Qt.ItemDataRole.ToolTipRole and index.column() == self.STUDENTS:
            row = self._rows[index.row()]
            return f"{row.enrolled} enrolled of {row.cohort.student_count} expected"
        return super().data(index, role)

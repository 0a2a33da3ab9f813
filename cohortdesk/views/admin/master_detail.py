"""A list on the left, the selected record's form on the right: the shape of the sponsors and cohorts
pages. Moving to another record (or starting a new one) with unsaved edits asks first."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.views.admin.form_support import Form, page_header
from cohortdesk.views.admin.table_models import IdRole, SortRole, _RowsModel


class MasterDetailPage(QWidget):
    """Subclasses implement ``show_record(row)`` and ``show_new()`` to fill the form."""

    def __init__(
        self,
        *,
        object_name: str,
        title: str,
        subtitle: str,
        model: _RowsModel,
        form: Form,
        new_label: str,
        filter_hint: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.model = model
        self.form = form
        self._shown_id: int | None = None

        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(SortRole)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

        self.view = QTableView()
        self.view.setObjectName(f"{object_name}List")
        self.view.setAccessibleName(f"{title} list")
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setTabKeyNavigation(False)
        self.view.setShowGrid(False)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().height() + 12)
        self.view.horizontalHeader().setHighlightSections(False)
        self.view.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        )
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.view.selectionModel().currentRowChanged.connect(self._on_current_changed)

        self.filter = QLineEdit()
        self.filter.setObjectName(f"{object_name}Filter")
        self.filter.setPlaceholderText(filter_hint)
        self.filter.setAccessibleName(f"Filter {title.lower()}")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)

        self.new_button = QPushButton(new_label)
        self.new_button.setObjectName(f"{object_name}NewButton")
        self.new_button.setAutoDefault(False)
        self.new_button.clicked.connect(self.start_new)

        self.count_label = QLabel()
        self.count_label.setProperty("role", "hint")
        self.count_label.setObjectName(f"{object_name}Count")
        model.modelReset.connect(self._update_count)
        model.rowsInserted.connect(self._update_count)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.tools = QHBoxLayout()
        self.tools.addWidget(self.filter, 1)
        self.tools.addWidget(self.new_button)
        left_layout.addLayout(self.tools)
        left_layout.addWidget(self.view, 1)
        left_layout.addWidget(self.count_label)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName(f"{object_name}Splitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(left)
        self.splitter.addWidget(form)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.addWidget(page_header(title, subtitle))
        layout.addWidget(self.splitter, 1)
        self.form.saved.connect(self._after_save)

    # --- for subclasses ------------------------------------------------------------------------

    def show_record(self, row: Any) -> None:
        raise NotImplementedError

    def show_new(self) -> None:
        raise NotImplementedError

    def saved_list_row(self, saved: Any) -> Any:
        """The list row of a record the form just saved."""
        return saved

    # --- behaviour -----------------------------------------------------------------------------

    def _update_count(self, *_args: Any) -> None:
        n = self.model.rowCount()
        self.count_label.setText(f"{n} {'record' if n == 1 else 'records'}")

    def set_rows(self, rows: list[Any]) -> None:
        shown = self._shown_id
        self.model.set_rows(rows)
        if shown is not None and self.model.position_of(shown) is not None:
            self._select(shown)
            if not self.form.is_dirty():
                self.show_record(self.model.row_at(self.model.position_of(shown)))  # type: ignore[arg-type]
        elif self.model.rowCount():
            first = self.proxy.index(0, 0)
            self._shown_id = None
            self.view.setCurrentIndex(first)
        else:
            self._shown_id = None
            self.show_new()

    def select_id(self, row_id: int) -> None:
        """Select and show a record (after asking about unsaved edits)."""
        self._select(row_id, notify=True)

    def _select(self, row_id: int | None, notify: bool = False) -> None:
        selection = self.view.selectionModel()
        if row_id is None:
            selection.blockSignals(not notify)
            selection.clearSelection()
            selection.setCurrentIndex(QModelIndex(), QItemSelectionModel.SelectionFlag.Clear)
            selection.blockSignals(False)
            return
        position = self.model.position_of(row_id)
        if position is None:
            return
        index = self.proxy.mapFromSource(self.model.index(position, 0))
        selection.blockSignals(not notify)
        self.view.setCurrentIndex(index)
        selection.select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        selection.blockSignals(False)
        self.view.scrollTo(index)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        new_id = current.data(IdRole) if current.isValid() else None
        if new_id is None or new_id == self._shown_id:
            return
        if self.form.is_dirty():
            self._select(self._shown_id)  # stay put until the person decides
            self.form.maybe_leave(lambda: self._open(new_id))
        else:
            self._open(new_id)

    def _open(self, row_id: int) -> None:
        position = self.model.position_of(row_id)
        if position is None:
            return
        self._shown_id = row_id
        self._select(row_id)
        self.show_record(self.model.row_at(position))

    def start_new(self) -> None:
        def begin() -> None:
            self._shown_id = None
            self._select(None)
            self.show_new()

        self.form.maybe_leave(begin)

    def _after_save(self, saved: Any) -> None:
        row = self.saved_list_row(saved)
        self.model.upsert(row)
        self._shown_id = self.model.row_id(row)
        self._select(self._shown_id)

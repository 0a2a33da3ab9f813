"""The cohort browser's model: "All enrollments", then institutions → cohorts, each with its state,
programme type and live counts, and the delegate that paints them as calm two-line items.

Items carry a ``ScopeRole`` value (``("all", None)``, ``("institution", id)`` or ``("cohort", id)``) that
the main window turns into a queue filter.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel

from cohortdesk.enums import CohortState, ProgramType
from cohortdesk.services.review.queue_rows import CohortCounts, CohortNode, InstitutionNode
from cohortdesk.views.delegates import BADGE_STATE_ROLE, BADGE_TEXT_ROLE, EMPHASIS_ROLE, SUBTITLE_ROLE

Scope = tuple[str, int | None]


class CohortTreeModel(QStandardItemModel):
    ScopeRole = Qt.ItemDataRole.UserRole + 1
    KindRole = Qt.ItemDataRole.UserRole + 4
    NodeRole = Qt.ItemDataRole.UserRole + 5

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setHorizontalHeaderLabels(["Cohorts"])
        self._cohort_items: dict[int, QStandardItem] = {}
        self._institution_items: dict[int, QStandardItem] = {}
        self._tree: list[InstitutionNode] = []

    @property
    def tree(self) -> list[InstitutionNode]:
        return list(self._tree)

    def set_tree(self, tree: list[InstitutionNode]) -> None:
        self._tree = list(tree)
        self.beginResetModel()
        self.blockSignals(True)
        try:
            self.removeRows(0, self.rowCount())
            self._cohort_items.clear()
            self._institution_items.clear()
            root = self.invisibleRootItem()
            total = sum((inst.counts for inst in tree), start=CohortCounts())
            everything = self._item("All enrollments", ("all", None), "all")
            self._apply_all(everything, total, sum(len(i.cohorts) for i in tree))
            root.appendRow(everything)
            for inst in tree:
                inst_item = self._item(inst.name, ("institution", inst.id), "institution")
                inst_item.setData(inst, self.NodeRole)
                self._apply_institution(inst_item, inst)
                self._institution_items[inst.id] = inst_item
                for cohort in inst.cohorts:
                    cohort_item = self._item(cohort.name, ("cohort", cohort.id), "cohort")
                    self._apply_cohort(cohort_item, cohort)
                    self._cohort_items[cohort.id] = cohort_item
                    inst_item.appendRow(cohort_item)
                root.appendRow(inst_item)
        finally:
            self.blockSignals(False)
        self.endResetModel()

    def update_counts(self, counts: dict[int, CohortCounts]) -> None:
        """New live counts for some cohorts (after a decision): items update in place."""
        changed = False
        new_tree: list[InstitutionNode] = []
        for inst in self._tree:
            cohorts = []
            for cohort in inst.cohorts:
                if cohort.id in counts and counts[cohort.id] != cohort.counts:
                    cohort = replace(cohort, counts=counts[cohort.id])
                    self._apply_cohort(self._cohort_items[cohort.id], cohort)
                    changed = True
                cohorts.append(cohort)
            inst = InstitutionNode(inst.id, inst.name, tuple(cohorts))
            if inst.id in self._institution_items:
                self._apply_institution(self._institution_items[inst.id], inst)
            new_tree.append(inst)
        self._tree = new_tree
        if changed and self.rowCount():
            total = sum((inst.counts for inst in new_tree), start=CohortCounts())
            self._apply_all(self.item(0), total, sum(len(i.cohorts) for i in new_tree))

    def index_of(self, scope: Scope) -> QModelIndex:
        kind, ident = scope
        if kind == "cohort" and ident in self._cohort_items:
            return self._cohort_items[ident].index()
        if kind == "institution" and ident in self._institution_items:
            return self._institution_items[ident].index()
        return self.index(0, 0) if self.rowCount() else QModelIndex()

    def cohort_name(self, cohort_id: int) -> str:
        item = self._cohort_items.get(cohort_id)
        return item.text() if item is not None else ""

    # --- item text ---------------------------------------------------------------------------

    def _item(self, text: str, scope: Scope, kind: str) -> QStandardItem:
        item = QStandardItem(text)
        item.setEditable(False)
        item.setData(scope, self.ScopeRole)
        item.setData(kind, self.KindRole)
        item.setData(kind in ("all", "institution"), EMPHASIS_ROLE)
        return item

    def _apply_all(self, item: QStandardItem, total: CohortCounts, cohorts: int) -> None:
        subtitle = f"{cohorts} cohort{'s' if cohorts != 1 else ''} · {total.enrolled} enrolled"
        self._apply_text(item, subtitle, total, "All enrollments")

    def _apply_institution(self, item: QStandardItem, inst: InstitutionNode) -> None:
        counts = inst.counts
        n = len(inst.cohorts)
        subtitle = f"{n} cohort{'s' if n != 1 else ''} · {counts.enrolled} enrolled"
        self._apply_text(item, subtitle, counts, inst.name)

    def _apply_cohort(self, item: QStandardItem, cohort: CohortNode) -> None:
        item.setData(cohort, self.NodeRole)
        program = ProgramType.label_of(cohort.program_type)
        state = CohortState.label_of(cohort.state)
        subtitle = f"{program} · {state} · {cohort.counts.enrolled} / {cohort.expected} enrolled"
        self._apply_text(item, subtitle, cohort.counts, cohort.name)

    def _apply_text(self, item: QStandardItem, subtitle: str, counts: CohortCounts, name: str) -> None:
        item.setData(subtitle, SUBTITLE_ROLE)
        item.setData(f"{counts.to_decide:,}" if counts.to_decide else "", BADGE_TEXT_ROLE)
        item.setData("pending", BADGE_STATE_ROLE)
        detail = (
            f"{counts.to_decide} to decide, {counts.pending - counts.to_decide} waiting for uploads, "
            f"{counts.verified} verified, {counts.rejected} rejected"
        )
        item.setToolTip(f"{name}\n{subtitle}\n{detail}")
        item.setData(f"{name}. {subtitle}. {detail}.", Qt.ItemDataRole.AccessibleTextRole)

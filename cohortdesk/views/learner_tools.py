"""What closes the loop with learners, added to the workstation window from outside it: the cohort
dashboard (cohort tree context menu, Tools → Cohort dashboard…), bulk decisions and reminders for the
queue's selected rows (Review menu and the queue's context menu), and the e-mail settings, templates
and outbox with *Send now* (Tools → Notifications…, super admins).

``install_learner_tools(window)`` is the one hook; the window offers ``runner``, ``db``, ``identity``,
``ui``, ``queue_pane``, ``menus``, ``add_menu_action`` and the ``opened`` signal.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QDialog, QMenu, QWidget

from cohortdesk.views.cohort_tree_model import CohortTreeModel


class LearnerTools(QObject):
    """The actions and windows this module adds to one workstation window."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.dashboards: dict[int, QWidget] = {}
        self.actions: dict[str, QAction] = {}
        dashboard = QAction("Cohort &dashboard…", window)
        dashboard.setObjectName("action_cohort_dashboard")
        dashboard.setStatusTip("Totals, completion and where learners are stuck, for the institution in view")
        dashboard.triggered.connect(lambda _checked=False: self.open_dashboard())
        self.actions["dashboard"] = dashboard
        window.add_menu_action("tools", dashboard)
        tree = window.ui.cohort_browser
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._tree_menu)
        # Several rows can be selected (Shift/Ctrl+click, Shift+arrows); the current row still opens.
        window.ui.queue_table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.bulk_dialog: QDialog | None = None
        self.remind_dialog: QDialog | None = None
        review = window.menus["review"]
        review.addSeparator()
        for key, text, keys, handler in (
            ("approve_selected", "Approve &selected…", "Ctrl+Shift+A", lambda: self.open_bulk("approved")),
            ("reject_selected", "Reject s&elected…", "Ctrl+Shift+R", lambda: self.open_bulk("rejected")),
            ("remind_selected", "Re&mind selected learners…", "Ctrl+Shift+M", self.open_remind),
        ):
            action = QAction(text, window)
            action.setObjectName(f"action_{key}")
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _checked=False, h=handler: h())
            window.addAction(action)
            review.addAction(action)
            self.actions[key] = action
        extenders = getattr(window, "queue_menu_extenders", None)
        if extenders is not None:
            extenders.append(self.extend_queue_menu)
        self.notify_dialog: QDialog | None = None
        notifications = QAction("&Notifications…", window)
        notifications.setObjectName("action_notifications")
        notifications.setStatusTip(
            "E-mail to learners: server, sender, rules, templates, outbox and Send now"
        )
        notifications.triggered.connect(lambda _checked=False: self.open_notifications())
        self.actions["notifications"] = notifications
        window.add_menu_action("tools", notifications)
        window.opened.connect(lambda _info: self.apply_identity())
        self.apply_identity()

    def apply_identity(self) -> None:
        identity = self.window.identity
        may_decide = identity is not None and identity.can("decide")
        for key in ("approve_selected", "reject_selected", "remind_selected"):
            self.actions[key].setVisible(may_decide)
        self.actions["notifications"].setVisible(identity is not None and identity.can("configure"))

    def open_notifications(self) -> QDialog | None:
        """The e-mail settings, templates and outbox (super admins); one dialog, brought to the front."""
        from cohortdesk.views.notify_settings import NotifySettingsDialog

        identity = self.window.identity
        if identity is None or not identity.can("configure"):
            self.window.statusBar().showMessage("Only a super admin changes the e-mail settings.", 5000)
            return None
        dialog = self.notify_dialog
        if dialog is None:
            dialog = NotifySettingsDialog(self.window.runner, self.window.db, identity, self.window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.destroyed.connect(lambda _o=None: setattr(self, "notify_dialog", None))
            self.notify_dialog = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    # --- the queue's selection: bulk decisions and reminders ---------------------------------------

    def selected(self) -> list[Any]:
        """The queue rows selected (in queue order), else the current one."""
        model = self.window.queue_model
        table = self.window.ui.queue_table
        rows = sorted({index.row() for index in table.selectionModel().selectedRows()})
        if not rows and table.currentIndex().isValid():
            rows = [table.currentIndex().row()]
        return [r for r in (model.row_at(row) for row in rows) if r is not None]

    def extend_queue_menu(self, menu: QMenu) -> None:
        identity = self.window.identity
        if identity is None or not identity.can("decide") or not self.selected():
            return
        count = len(self.selected())
        if menu.actions():
            menu.addSeparator()
        noun = f"{count:,} selected" if count > 1 else "this learner"
        for key, text in (
            ("approve_selected", f"Approve for {noun}…"),
            ("reject_selected", f"Reject for {noun}…"),
            ("remind_selected", f"Remind {noun} of missing uploads…"),
        ):
            item = menu.addAction(text)
            item.setObjectName(f"{key}MenuItem")
            item.triggered.connect(self.actions[key].trigger)

    def open_bulk(self, action: str) -> QDialog | None:
        from cohortdesk.views.bulk_dialog import BulkDialog

        rows = self.selected()
        identity = self.window.identity
        if not rows or identity is None:
            self.window.statusBar().showMessage("Select one or more learners in the queue first.", 5000)
            return None
        if self.bulk_dialog is not None:
            self.bulk_dialog.close()
        dialog = BulkDialog(
            self.window.runner, self.window.db, identity, [r.enrollment_id for r in rows], action, self.window
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished_run.connect(lambda _outcome: self.window.refresh())
        dialog.destroyed.connect(lambda _o=None: setattr(self, "bulk_dialog", None))
        self.bulk_dialog = dialog
        dialog.open()
        return dialog

    def open_remind(self) -> QDialog | None:
        rows = self.selected()
        if not rows or self.window.identity is None:
            self.window.statusBar().showMessage("Select one or more learners in the queue first.", 5000)
            return None
        return self.remind_learners([(r.enrollment_id, r.student_name) for r in rows])

    def remind_learners(
        self, learners: list[tuple[int, str]], parent: QWidget | None = None
    ) -> QDialog | None:
        """Ask, then remind ``learners`` ((enrollment id, name) pairs) of their missing uploads."""
        from cohortdesk.views.reminders import RemindDialog

        identity = self.window.identity
        if identity is None or not learners:
            return None
        if self.remind_dialog is not None:
            self.remind_dialog.close()
        dialog = RemindDialog(self.window.runner, self.window.db, identity, learners, parent or self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _o=None: setattr(self, "remind_dialog", None))
        self.remind_dialog = dialog
        dialog.open()
        return dialog

    # --- the dashboard -------------------------------------------------------------------------

    def _institution_of(self, scope: tuple[str, int | None]) -> tuple[int | None, int | None]:
        """(institution id, cohort id) for a cohort-tree scope; the first institution for "all"."""
        kind, ident = scope
        tree = self.window.tree_model.tree
        if kind == "institution":
            return ident, None
        if kind == "cohort":
            for institution in tree:
                if any(c.id == ident for c in institution.cohorts):
                    return institution.id, ident
            return None, None
        identity = self.window.identity
        if identity is not None and identity.institution_id is not None:
            return identity.institution_id, None
        return (tree[0].id if tree else None), None

    def open_dashboard(self, scope: tuple[str, int | None] | None = None) -> QWidget | None:
        """The dashboard of the institution in ``scope`` (default: the cohort tree's current scope),
        one window per institution, brought to the front and switched to the scope's cohort."""
        from cohortdesk.views.dashboard import DashboardWindow

        institution_id, cohort_id = self._institution_of(scope or self.window.queue_pane.scope)
        if institution_id is None:
            self.window.statusBar().showMessage("There is no institution to show yet.", 5000)
            return None
        existing = self.dashboards.get(institution_id)
        if existing is not None:
            if scope is not None or cohort_id is not None:
                existing.load(cohort_id)
        else:
            identity = self.window.identity
            may_remind = identity is not None and identity.can("decide")
            existing = DashboardWindow(
                self.window.runner,
                self.window.db,
                institution_id,
                cohort_id,
                self.window,
                remind=self.remind_learners if may_remind else None,
            )
            existing.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            existing.destroyed.connect(lambda _o=None, i=institution_id: self.dashboards.pop(i, None))
            self.dashboards[institution_id] = existing
            screen = self.window.screen().availableGeometry()
            existing.resize(min(1100, int(screen.width() * 0.9)), min(820, int(screen.height() * 0.9)))
        existing.show()
        existing.raise_()
        existing.activateWindow()
        return existing

    def _tree_menu(self, position: Any) -> None:
        tree = self.window.ui.cohort_browser
        index: QModelIndex = tree.indexAt(position)
        scope = index.data(CohortTreeModel.ScopeRole) if index.isValid() else None
        if scope is None:
            return
        scope = (scope[0], scope[1])
        menu = self.tree_menu(scope)
        menu.popup(tree.viewport().mapToGlobal(position))

    def tree_menu(self, scope: tuple[str, int | None]) -> QMenu:
        menu = QMenu(self.window.ui.cohort_browser)
        menu.setObjectName("cohortTreeMenu")
        label = "Cohort dashboard…" if scope[0] == "cohort" else "Institution dashboard…"
        action = menu.addAction(label)
        action.setObjectName("dashboardMenuItem")
        action.triggered.connect(lambda _checked=False, s=scope: self.open_dashboard(s))
        return menu


def install_learner_tools(window: Any) -> LearnerTools:
    tools = LearnerTools(window)
    window.learner_tools = tools
    return tools

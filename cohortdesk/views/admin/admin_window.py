"""The administration window of an institution super admin: institution, sponsors and cohorts pages
behind a navigation list, loaded in one background read. Closing it never drops typed edits."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.services.access.identity import Identity
from cohortdesk.services.configuration import screens as config
from cohortdesk.services.configuration.screens import AdminSnapshot
from cohortdesk.views import screens
from cohortdesk.views.admin import form_support
from cohortdesk.views.admin.cohorts_view import CohortsPage
from cohortdesk.views.admin.conflict_inbox import ConflictInboxDialog
from cohortdesk.views.admin.form_support import Form, page_header
from cohortdesk.views.admin.institution_view import InstitutionForm
from cohortdesk.views.admin.sponsors_view import SponsorsPage
from cohortdesk.views.admin.style import style_sheet
from cohortdesk.views.admin.sync_status import SyncStatusIndicator
from cohortdesk.views.errors import show_error
from cohortdesk.views.runner import Runner

#: The size the administration window asks for where the screen has room (logical pixels).
PREFERRED_SIZE = (1180, 780)


class AdminWindow(QMainWindow):
    """Institution configuration for super admins.

    ``identity`` says whose institution to configure; ``db`` is handed to the services through the
    runner and never used on the GUI thread.
    """

    #: The configuration was read and shown.
    loaded = Signal(object)

    PAGES = ("institution", "sponsors", "cohorts")

    def __init__(self, runner: Runner, db: Any, identity: Identity, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("adminWindow")
        self.setWindowTitle("CohortDesk · Institution configuration")
        self.setStyleSheet(style_sheet())
        self.runner = runner
        self.db = db
        self.identity = identity
        self.institution_id = identity.institution_id
        self.snapshot: AdminSnapshot | None = None
        self._message_after_load = ""

        self.navigation = QListWidget()
        self.navigation.setObjectName("adminNavigation")
        self.navigation.setAccessibleName("Administration sections")
        self.navigation.setFixedWidth(210)
        self.stack = QStackedWidget()
        self.stack.setObjectName("adminPages")

        institution_id = self.institution_id or 0
        self.institution_page = InstitutionForm(runner, db)
        self.sponsors_page = SponsorsPage(runner, db, institution_id)
        self.cohorts_page = CohortsPage(runner, db, institution_id, identity.user_id)
        self.sponsors_page.sponsor_form.saved.connect(self.cohorts_page.sponsor_saved)
        self.institution_page.saved.connect(self._institution_saved)
        self._pages: list[tuple[str, str, QWidget]] = [
            ("institution", "Institution", self.institution_page),
            ("sponsors", "Sponsors", self.sponsors_page),
            ("cohorts", "Cohorts", self.cohorts_page),
        ]
        for position, (key, title, page) in enumerate(self._pages, start=1):
            self.add_page(key, title, page, position)
        self.navigation.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.navigation.setCurrentRow(0)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.navigation)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.statusBar().setObjectName("adminStatusBar")
        self.sync_indicator = SyncStatusIndicator(runner, db, self)
        self.statusBar().addPermanentWidget(self.sync_indicator)
        self.sync_indicator.conflicts_requested.connect(self.open_conflict_inbox)
        self.sync_indicator.synced.connect(lambda _report: self.reload())
        for _key, form in self.forms():
            form.saved.connect(self._after_edit)
        self.cohorts_page.cohort_form.state_changed.connect(self._after_edit)
        self.cohorts_page.enrollments_imported.connect(self._after_import)
        sync_shortcut = QShortcut(QKeySequence("Shift+F5"), self)
        sync_shortcut.activated.connect(self.sync_indicator.sync_now)
        reload_shortcut = QShortcut(QKeySequence(Qt.Key.Key_F5), self)
        reload_shortcut.activated.connect(self.reload)
        self.conflict_inbox: ConflictInboxDialog | None = None
        self.resize(*PREFERRED_SIZE)
        self._placed = False
        if self.institution_id is None:
            self._show_no_institution()
        else:
            self.reload()

    def add_page(self, key: str, title: str, page: QWidget, position: int | None = None) -> None:
        """Add a section (other issues' screens plug in here too); Ctrl+<n> jumps to it."""
        if position is None:
            position = self.navigation.count() + 1
            self._pages.append((key, title, page))
        item = QListWidgetItem(title)
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setToolTip(f"{title} (Ctrl+{position})")
        self.navigation.addItem(item)
        self.stack.addWidget(page)
        if position <= 9:
            shortcut = QShortcut(QKeySequence(f"Ctrl+{position}"), self)
            shortcut.activated.connect(lambda row=position - 1: self.navigation.setCurrentRow(row))

    def show_page(self, key: str) -> None:
        for row in range(self.navigation.count()):
            if self.navigation.item(row).data(Qt.ItemDataRole.UserRole) == key:
                self.navigation.setCurrentRow(row)
                return

    def page(self, key: str) -> QWidget:
        return next(page for k, _title, page in self._pages if k == key)

    def _show_no_institution(self) -> None:
        empty = QWidget()
        layout = QVBoxLayout(empty)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.addWidget(
            page_header(
                "No institution yet",
                "This database holds no institution to configure. Load the demo data to try "
                "CohortDesk, or connect to your institution's server.",
            )
        )
        buttons = QHBoxLayout()
        for name, text in (
            ("action_load_demo", "Load demo data…"),
            ("action_switch_connection", "Connect to a server…"),
        ):
            action = self.parent().findChild(QAction, name) if self.parent() is not None else None
            if action is None or not action.isEnabled():
                continue
            button = QPushButton(text, empty)
            button.setObjectName(f"{name.removeprefix('action_')}Button")
            button.clicked.connect(lambda _checked=False, a=action: self._hand_over(a))
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.setCentralWidget(empty)

    def _hand_over(self, action: QAction) -> None:
        """Close this (empty) window and let the main window do it; reopen once there is an institution."""
        self.close()
        action.trigger()

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the institution, sponsors, cohorts and templates again (edits being typed are kept)."""
        if self.institution_id is None:
            return
        self.statusBar().showMessage("Loading…")
        self.runner.db(config.load_admin, self.db, self.institution_id).success(self._loaded).failure(
            self._load_failed
        ).start()

    def _loaded(self, snapshot: AdminSnapshot) -> None:
        self.snapshot = snapshot
        if not self.institution_page.is_dirty():
            self.institution_page.set_institution(snapshot.institution)
        self.sponsors_page.set_rows(list(snapshot.sponsors))
        self.sponsors_page.model.set_marks(
            snapshot.conflict_ids.get("sponsors", frozenset()),
            snapshot.waiting_ids.get("sponsors", frozenset()),
        )
        self.cohorts_page.model.set_marks(
            snapshot.conflict_ids.get("cohorts", frozenset()),
            snapshot.waiting_ids.get("cohorts", frozenset()),
        )
        self.cohorts_page.set_data(
            list(snapshot.cohorts), snapshot.sponsors, snapshot.templates, snapshot.custom_document_types
        )
        if self._message_after_load:
            self.statusBar().showMessage(self._message_after_load, 8000)
            self._message_after_load = ""
        else:
            self.statusBar().clearMessage()
        self.setWindowTitle(f"CohortDesk · {snapshot.institution.name} · Configuration")
        self.loaded.emit(snapshot)

    def refresh_marks(self) -> None:
        """Re-read which rows have open conflicts or unsent changes (cheap local queries)."""
        self.runner.db(config.row_marks, self.db).success(self._show_marks).start()

    def _show_marks(self, marks: dict[str, dict[str, frozenset[int]]]) -> None:
        for table, model in (("sponsors", self.sponsors_page.model), ("cohorts", self.cohorts_page.model)):
            model.set_marks(
                marks["conflict_ids"].get(table, frozenset()), marks["waiting_ids"].get(table, frozenset())
            )

    def _load_failed(self, error: BaseException) -> None:
        self.statusBar().showMessage("Could not load the configuration.")
        show_error(self, error, "Could not load the configuration")

    def _institution_saved(self, row: Any) -> None:
        self.setWindowTitle(f"CohortDesk · {row.name} · Configuration")
        self.statusBar().showMessage("Institution saved.", 4000)

    # --- sync ----------------------------------------------------------------------------------

    def open_conflict_inbox(self) -> ConflictInboxDialog:
        """Show the conflict inbox (one window, brought to the front when already open)."""
        if self.conflict_inbox is None:
            self.conflict_inbox = ConflictInboxDialog(self.runner, self.db, self)
            self.conflict_inbox.resolved.connect(self._conflict_resolved)
        else:
            self.conflict_inbox.reload()
        self.conflict_inbox.show()
        self.conflict_inbox.raise_()
        self.conflict_inbox.activateWindow()
        return self.conflict_inbox

    def _after_edit(self, _row: Any) -> None:
        self.sync_indicator.refresh()
        self.refresh_marks()

    def _after_import(self, result: Any) -> None:
        self.sync_indicator.refresh()
        self._message_after_load = result.summary()
        self.reload()  # the cohort list's enrolled counts

    def _conflict_resolved(self, _resolution: Any) -> None:
        self.sync_indicator.refresh()
        self.reload()

    # --- closing -------------------------------------------------------------------------------

    def forms(self) -> list[tuple[str, Form]]:
        return [
            ("institution", self.institution_page),
            ("sponsors", self.sponsors_page.sponsor_form),
            ("cohorts", self.cohorts_page.cohort_form),
        ]

    def showEvent(self, event: QShowEvent) -> None:
        """The first show: within the available area of the screen it opens on (a 1366×768 laptop, or
        a large screen at 150 %, keeps Save and the sync status on screen)."""
        super().showEvent(event)
        if self._placed:
            return
        self._placed = True
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is not None:
            area = screen.availableGeometry()
            if area.width() < PREFERRED_SIZE[0] / 0.95 or area.height() < PREFERRED_SIZE[1] / 0.95:
                self.setGeometry(area)
                self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)
            else:
                self.setGeometry(screens.centred_on(area, PREFERRED_SIZE))

    def changeEvent(self, event: QEvent) -> None:
        # The style sheet holds the theme's colours: a new theme, a new sheet.
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "_placed"):
            sheet = style_sheet()
            if sheet != self.styleSheet():
                self.setStyleSheet(sheet)
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask about each form with unsaved edits: save (then close), discard, or keep editing."""
        for key, form in self.forms():
            if not form.is_dirty():
                continue
            self.show_page(key)
            answer = form_support.ask_unsaved(self, form.noun)
            if answer == QMessageBox.StandardButton.Discard:
                form.revert()
                continue
            event.ignore()
            if answer == QMessageBox.StandardButton.Save:
                form.save(self.close)  # a refused save keeps the window open with its problems shown
            return
        event.accept()

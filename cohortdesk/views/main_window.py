"""The verification officer's workstation: cohort browser, enrollment queue, document preview, student
data and history, and keyboard-driven decisions.

Every database call goes through the one ``Runner`` (``runner.db``), file reads through its io lane;
nothing here runs SQL on the GUI thread. Other screens extend the window through ``menus`` (File,
Review, View, Tools, Administration, Help), ``add_menu_action`` and ``add_status_widget``.

Signals:
    opened(object): the database is open and up to date; the argument is a ``StartupInfo``.
    detail_loaded(int): the detail panes now show this enrollment id.
    document_shown(str): the preview shows (or explains) this document type.
    decision_recorded(object): a decision was saved; the argument is a ``QueueDecision``.

Many workstations on one database (issue 5): the window claims each enrollment it opens
(``review_session``), decides under that claim with an idempotency key, shows live what others do
(``live_refresh``) and goes offline and back by itself (``connection_monitor``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QTreeWidgetItem,
    QWidget,
)

from cohortdesk.errors import ClaimConflict, ConflictError, StorageError
from cohortdesk.services import access_log, claims, connectivity, privacy, queue, review, startup
from cohortdesk.services.identity import SPECIAL_PI, Identity
from cohortdesk.services.queue import (
    DocumentRow,
    EnrollmentDetail,
    QueueDecision,
    QueueFilter,
    RejectionReason,
    StudentDetails,
)
from cohortdesk.services.storage import DocumentStore
from cohortdesk.services.verification import DecisionCommand
from cohortdesk.views import enrollment_panels as panels
from cohortdesk.views import screens, style
from cohortdesk.views.cohort_tree_model import CohortTreeModel, Scope
from cohortdesk.views.connection_monitor import ConnectionMonitor
from cohortdesk.views.delegates import BADGE_STATE_ROLE, BADGE_TEXT_ROLE, SUBTITLE_ROLE, StateBadgeDelegate
from cohortdesk.views.errors import show_error, user_message
from cohortdesk.views.live_refresh import LiveRefresh
from cohortdesk.views.main_window_view import WorkstationView
from cohortdesk.views.preview import DocumentPreview
from cohortdesk.views.queue_table_model import VERIFICATION_STATE_LABELS, QueueTableModel
from cohortdesk.views.reject_dialog import RejectDialog
from cohortdesk.views.reveal_dialog import RevealDialog
from cohortdesk.views.review_session import ReviewSession
from cohortdesk.views.runner import Op, Runner
from cohortdesk.views.settings import window_settings
from cohortdesk.views.shortcuts import BY_ACTION, SHORTCUTS, ShortcutSheet

log = logging.getLogger(__name__)

ARROWS = {"Up", "Down", "Left", "Right"}
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
}
SETTINGS_VERSION = 1


class MainWindow(QMainWindow):
    opened = Signal(object)
    detail_loaded = Signal(int)
    document_shown = Signal(str)
    decision_recorded = Signal(object)

    def __init__(
        self,
        db: Any,
        runner: Runner,
        store: DocumentStore | None = None,
        identity: Identity | None = None,
        settings: Any = None,
        preview: QWidget | None = None,
        page_size: int = 200,
        parent: QWidget | None = None,
        lease_seconds: float = claims.LEASE_SECONDS,
        live: bool = True,
        poll_ms: int = 20000,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("CohortDesk")
        self.db = db
        self.runner = runner
        self.store = store or DocumentStore()
        self.identity = identity
        self.startup_info: startup.StartupInfo | None = None
        self.settings = settings if settings is not None else window_settings()
        self.preview = preview if preview is not None else DocumentPreview()
        self.preview.setObjectName("documentPreview")
        self.ui = WorkstationView(self, self.preview)

        self.tree_model = CohortTreeModel(self)
        self.ui.cohort_browser.setModel(self.tree_model)
        self.queue_model = QueueTableModel(
            runner, partial(queue.queue_page, db), partial(queue.queue_count, db), page_size, self
        )
        table = self.ui.queue_table
        table.setModel(self.queue_model)
        table.setItemDelegateForColumn(
            QueueTableModel.COL_VERIFICATION, StateBadgeDelegate(QueueTableModel.StateRole, table)
        )
        table.setItemDelegateForColumn(
            QueueTableModel.COL_ENROLLMENT, StateBadgeDelegate(QueueTableModel.StateRole, table)
        )

        self._scope: Scope = ("all", None)
        self._tree_loaded = False
        self._current_id: int | None = None
        self._detail: EnrollmentDetail | None = None
        self._detail_requested: int | None = None
        self._detail_loading = False
        self._prefer_document: str | None = None
        self._document_generation = 0
        self._preview_op: Op | None = None
        self._deciding = False
        self._pending_move = 0
        self._pending_advance = False
        self._reasons: dict[int | None, list[RejectionReason]] = {}
        self._unsent_reason: tuple[int, str, str] | None = None  # (enrollment, document type, text)
        self.reject_dialog: RejectDialog | None = None
        self.reveal_dialog: RevealDialog | None = None
        self.release_box: QMessageBox | None = None
        self._revealed: StudentDetails | None = None  # a logged reveal of the enrollment on show
        self._reveal_purpose: str | None = None  # the purpose given last, offered first next time
        self._pending_splitters: dict[str, Any] = {}
        self._default_splitters = False
        self.shortcut_sheet: ShortcutSheet | None = None
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(250)
        self._advancing = False  # the open request came from "next": skip on to another if held
        self._new_rows = 0  # enrollments that entered the queue since it was loaded (note_new_rows)
        self._detail_version = 0  # row_version of the enrollment as last read or written here
        self._seen_version: tuple[int | None, int] = (None, 0)  # newest version a notification named
        self.outbox = connectivity.DecisionOutbox()
        self.connection = ConnectionMonitor(runner, db, self)
        self.connection.install(self.centralWidget())
        self.connection.online_changed.connect(self._on_online_changed)
        self.review = ReviewSession(self, lease_seconds)
        self.review.install(self.ui.approve_button.parentWidget(), self._decide_bar())
        self.review.changed.connect(self._update_decision_controls)
        self.review.lost.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.live = LiveRefresh(self, poll_ms=poll_ms, listen=live)

        self.actions: dict[str, QAction] = {}
        self.menus: dict[str, QMenu] = {}
        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self._connect()
        self._apply_default_columns()
        self.restore_settings()
        self._show_no_enrollment()
        self._apply_identity()
        self._update_decision_controls()
        QApplication.instance().installEventFilter(self)  # arrow keys: see eventFilter

    # --- construction ----------------------------------------------------------------------------

    def _build_actions(self) -> None:
        handlers = {
            "approve": self.approve,
            "reject": self.reject_current,
            "save_and_next": None,
            "reveal": self.reveal_special_pi,
            "next_enrollment": lambda: self.move_enrollment(1),
            "previous_enrollment": lambda: self.move_enrollment(-1),
            "next_document": lambda: self.move_document(1),
            "previous_document": lambda: self.move_document(-1),
            "search": self.focus_search,
            "focus_cohorts": lambda: self._focus(self.ui.cohort_browser),
            "focus_queue": lambda: self._focus(self.ui.queue_table),
            "focus_documents": lambda: self._focus(self.ui.document_list),
            "focus_details": lambda: self._focus(self.ui.student_details),
            "focus_history": lambda: self._focus(self.ui.history),
            "zoom_in": self._preview_slot("zoom_in"),
            "zoom_out": self._preview_slot("zoom_out"),
            "zoom_reset": self._preview_slot("zoom_reset"),
            "fit_width": self._preview_slot("fit_width"),
            "fit_page": self._preview_slot("fit_page"),
            "rotate": self._preview_slot("rotate"),
            "next_page": self._preview_slot("next_page"),
            "previous_page": self._preview_slot("previous_page"),
            "refresh": self.refresh,
            "shortcuts": self.show_shortcuts,
            "quit": self.close,
        }
        for shortcut in SHORTCUTS:
            action = QAction(shortcut.text, self)
            action.setObjectName(f"action_{shortcut.action}")
            keys = [QKeySequence(k) for k in shortcut.keys if k not in ARROWS]
            # "?" and "+" are typed with Shift on many layouts; accept the key with Shift held too.
            keys += [QKeySequence(f"Shift+{k}") for k in shortcut.keys if len(k) == 1 and k in "?+"]
            action.setShortcuts(keys)
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            handler = handlers[shortcut.action]
            if handler is not None:
                action.triggered.connect(lambda _checked=False, h=handler: h())
            self.addAction(action)
            self.actions[shortcut.action] = action
        save_next = self.actions["save_and_next"]
        save_next.setCheckable(True)
        save_next.setChecked(self.ui.save_and_next.isChecked())
        save_next.toggled.connect(self.ui.save_and_next.setChecked)
        self.ui.save_and_next.toggled.connect(save_next.setChecked)
        load_demo = QAction("Load &demo data…", self)
        load_demo.setObjectName("action_load_demo")
        load_demo.triggered.connect(self.load_demo)
        load_demo.setEnabled(False)
        self.actions["load_demo"] = load_demo
        logs_action = QAction("&Logs", self)
        logs_action.setObjectName("action_logs")
        logs_action.triggered.connect(self.show_logs)
        self.actions["logs"] = logs_action
        about = QAction("&About CohortDesk", self)
        about.setObjectName("action_about")
        about.triggered.connect(self.show_about)
        self.actions["about"] = about
        release = QAction("Re&lease claim", self)
        release.setObjectName("action_release_claim")
        release.setToolTip("Free the current enrollment from another officer's review claim (super admin)")
        release.triggered.connect(lambda _checked=False: self.ask_release_claim())
        self.actions["release_claim"] = release

    def _build_menus(self) -> None:
        bar = self.menuBar()
        a = self.actions
        file_menu = bar.addMenu("&File")
        file_menu.addActions([a["refresh"], a["load_demo"]])
        file_menu.addSeparator()
        file_menu.addAction(a["quit"])
        review = bar.addMenu("&Review")
        review.addActions([a["approve"], a["reject"], a["save_and_next"]])
        review.addAction(a["reveal"])
        review.addSeparator()
        review.addActions(
            [a["next_enrollment"], a["previous_enrollment"], a["next_document"], a["previous_document"]]
        )
        review.addSeparator()
        review.addAction(a["release_claim"])
        view = bar.addMenu("&View")
        view.addAction(a["search"])
        view.addSeparator()
        view.addActions(
            [
                a[k]
                for k in ("focus_cohorts", "focus_queue", "focus_documents", "focus_details", "focus_history")
            ]
        )
        view.addSeparator()
        view.addActions(
            [a[k] for k in ("zoom_in", "zoom_out", "zoom_reset", "fit_width", "fit_page", "rotate")]
        )
        view.addActions([a["next_page"], a["previous_page"]])
        tools = bar.addMenu("&Tools")
        administration = tools.addMenu("&Administration")
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([a["shortcuts"], a["logs"], a["about"]])
        self.menus = {
            "file": file_menu,
            "review": review,
            "view": view,
            "tools": tools,
            "administration": administration,
            "help": help_menu,
        }
        for key, menu in self.menus.items():
            menu.setObjectName(f"menu_{key}")
        tools.menuAction().setVisible(False)  # shown once a screen adds a tool
        administration.menuAction().setVisible(False)
        # Arrow keys appear in the menus as text; the keys themselves are handled in eventFilter.
        for key in ("next_enrollment", "previous_enrollment", "next_document", "previous_document"):
            arrows = [k for k in BY_ACTION[key].keys if k in ARROWS]
            if arrows:
                a[key].setText(
                    f"{BY_ACTION[key].text}\t{' / '.join([*arrows, *[k for k in BY_ACTION[key].keys if k not in ARROWS]])}"
                )

    def add_menu_action(self, menu: str, action: QAction) -> None:
        """Add another screen's action to one of ``menus`` (Tools and Administration appear on first use)."""
        target = self.menus[menu]
        target.addAction(action)
        target.menuAction().setVisible(True)
        if menu == "administration":
            self.menus["tools"].menuAction().setVisible(True)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        status.setObjectName("statusBar")
        status.setSizeGripEnabled(True)
        self.status_area = QWidget(status)
        self.status_area.setObjectName("statusArea")
        area_layout = QHBoxLayout(self.status_area)
        area_layout.setContentsMargins(0, 0, 0, 0)
        area_layout.setSpacing(8)
        self.status_activity = QLabel("", status)
        self.status_activity.setObjectName("statusActivity")
        self.status_identity = QLabel("", status)
        self.status_identity.setObjectName("statusIdentity")
        self.status_database = QLabel("", status)
        self.status_database.setObjectName("statusDatabase")
        status.addPermanentWidget(self.status_area)
        status.addPermanentWidget(self.status_activity)
        status.addPermanentWidget(self.status_identity)
        status.addPermanentWidget(self.status_database)

    def add_status_widget(self, widget: QWidget) -> None:
        """A place in the status bar for other screens (sync state, claims, lock timer)."""
        layout = self.status_area.layout()
        assert layout is not None
        layout.addWidget(widget)

    def _connect(self) -> None:
        ui = self.ui
        ui.cohort_browser.selectionModel().currentChanged.connect(self._on_scope_changed)
        ui.queue_table.selectionModel().currentRowChanged.connect(self._on_queue_row_changed)
        ui.student_details.anchorClicked.connect(self._on_details_link)
        ui.queue_table.horizontalHeader().customContextMenuRequested.connect(self._column_menu)
        ui.queue_table.viewport().installEventFilter(self)
        ui.queue_table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        ui.queue_table.customContextMenuRequested.connect(self._queue_menu)
        self.queue_model.page_loaded.connect(self._on_page_loaded)
        self.queue_model.total_changed.connect(self._on_total_changed)
        self.queue_model.loading_changed.connect(lambda _loading: self._update_empty_state())
        self.queue_model.modelReset.connect(self._update_empty_state)
        self.queue_model.modelReset.connect(self._clear_new_rows)
        ui.queue_news.clicked.connect(self.refresh)
        for box in (ui.state_filter, ui.program_filter, ui.enrollment_filter):
            box.currentIndexChanged.connect(lambda _i: self.apply_filters())
        ui.queue_search.textChanged.connect(lambda _t: self._search_timer.start())
        ui.queue_search.returnPressed.connect(self._search_now)
        ui.queue_search.installEventFilter(self)
        self._search_timer.timeout.connect(self.apply_filters)
        ui.document_list.currentRowChanged.connect(self._on_document_changed)
        ui.approve_button.clicked.connect(self.approve)
        ui.reject_button.clicked.connect(self.reject_current)
        self.runner.busy_changed.connect(self._on_busy_changed)

    def _apply_default_columns(self) -> None:
        header = self.ui.queue_table.horizontalHeader()
        for column, width in DEFAULT_COLUMN_WIDTHS.items():
            header.resizeSection(column, width)
        for column in DEFAULT_HIDDEN_COLUMNS:
            header.setSectionHidden(column, True)
        header.setSectionResizeMode(QueueTableModel.COL_COHORT, QHeaderView.ResizeMode.Stretch)
        self._reset_sort_indicator()
        self.ui.queue_table.setSortingEnabled(True)

    def _reset_sort_indicator(self) -> None:
        column, order = self.queue_model.sort_column()
        self.ui.queue_table.horizontalHeader().setSortIndicator(column, order)

    # --- opening the database ------------------------------------------------------------------

    def open_database(self, demo_students: int = 0) -> None:
        """Bring the schema up to date and resolve the identity off the GUI thread, then start.

        ``demo_students`` > 0 fills an empty embedded store with that much demo data (the welcome
        screen's "Try with demo data"), behind a progress dialog."""
        self._set_activity("Opening the database…")
        self.runner.db(startup.open_database, self.db).success(
            lambda info: self._on_opened(info, demo_students)
        ).failure(self._on_open_failed).start()

    def _on_opened(self, info: startup.StartupInfo, demo_students: int = 0) -> None:
        self.startup_info = info
        self.set_identity(info.identity)
        self.status_database.setText(self._database_text(info))
        self.status_database.setToolTip(
            f"{info.database}\nSchema {info.schema_revision} ({info.install_mode})"
        )
        has_demo = startup.demo_loader() is not None
        self.actions["load_demo"].setEnabled(info.empty and has_demo)
        self._set_activity("")
        self.opened.emit(info)
        self.start()
        if info.empty and info.embedded and has_demo and demo_students > 0:
            self.load_demo(demo_students)

    def _on_open_failed(self, error: BaseException) -> None:
        self._set_activity("The database could not be opened.")
        self.ui.queue_empty.setText(f"The database could not be opened.\n{user_message(error)}")
        self.ui.queue_empty.show()
        show_error(self, error, "Opening the database")

    @staticmethod
    def _database_text(info: startup.StartupInfo) -> str:
        if info.embedded:
            return "Local database"
        text = info.database.split("@")[-1]
        return f"PostgreSQL · {text}"

    def set_identity(self, identity: Identity) -> None:
        self.identity = identity
        role = identity.role.replace("_", " ")
        self.status_identity.setText(f"{identity.display_name} · {role}")
        self._apply_identity()
        self._update_decision_controls()

    def _apply_identity(self) -> None:
        identity = self.identity
        self.queue_model.viewer_user_id = identity.user_id if identity else None
        self.actions["release_claim"].setVisible(identity is not None and identity.can("release_claims"))
        self.actions["reveal"].setVisible(identity is not None and identity.can(SPECIAL_PI))

    def load_demo(self, students: int = 200) -> None:
        progress = QProgressDialog("Creating demo institutions, cohorts and students…", "", 0, 0, self)
        progress.setObjectName("demoProgress")
        progress.setWindowTitle("Loading demo data")
        progress.setCancelButton(None)
        progress.setMinimumDuration(0)
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.show()
        self.actions["load_demo"].setEnabled(False)

        def on_progress(done: int, total: int, text: str) -> None:
            progress.setMaximum(max(total, 0))
            progress.setValue(done)
            if text:
                progress.setLabelText(text)

        def finished() -> None:
            progress.close()
            progress.deleteLater()

        def loaded(info: startup.StartupInfo) -> None:
            self.statusBar().showMessage("Demo data loaded.", 5000)
            self._on_opened(info)

        self.runner.db(startup.load_demo_data, self.db, students).progress(on_progress).success(
            loaded
        ).finally_(finished).start()

    # --- loading the cohort tree and the queue ------------------------------------------------

    def start(self) -> None:
        self.load_tree()
        self.apply_filters()
        self.live.start()

    def refresh(self) -> None:
        self.load_tree()
        self.queue_model.refresh()
        self._reasons.clear()
        if self._current_id is not None:
            self._request_detail(self._current_id, self._current_document_type())

    def load_tree(self) -> None:
        self.runner.db(queue.cohort_tree, self.db).success(self._on_tree).start()

    def _on_tree(self, tree: list[queue.InstitutionNode]) -> None:
        browser = self.ui.cohort_browser
        model = browser.selectionModel()
        model.blockSignals(True)
        try:
            self.tree_model.set_tree(tree)
            browser.expandAll()
            index = self.tree_model.index_of(self._scope)
            if index.isValid():
                browser.setCurrentIndex(index)
        finally:
            model.blockSignals(False)
        self._tree_loaded = True
        self._update_scope_label()
        self._update_empty_state()

    def _on_scope_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        scope = current.data(CohortTreeModel.ScopeRole) if current.isValid() else None
        if scope is None:
            return
        scope = (scope[0], scope[1])
        if scope != self._scope:
            self._scope = scope
            self.apply_filters()

    def current_filter(self) -> QueueFilter:
        ui = self.ui
        kind, ident = self._scope
        return QueueFilter(
            verification_state=ui.state_filter.currentData(),
            enrollment_state=ui.enrollment_filter.currentData(),
            program_type=ui.program_filter.currentData(),
            cohort_id=ident if kind == "cohort" else None,
            institution_id=ident if kind == "institution" else None,
            search=ui.queue_search.text().strip(),
        )

    def apply_filters(self) -> None:
        self._search_timer.stop()
        flt = self.current_filter()
        if (
            flt == self.queue_model.query_filter
            and self.queue_model.total >= 0
            and self.queue_model.rowCount()
        ):
            return
        self._pending_move = 0
        self._pending_advance = False
        self.queue_model.set_query(flt)
        self._update_scope_label()

    def _search_now(self) -> None:
        self.apply_filters()
        self.ui.queue_table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def focus_search(self) -> None:
        self.ui.queue_search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.ui.queue_search.selectAll()

    def _update_scope_label(self) -> None:
        kind, ident = self._scope
        if kind == "cohort" and ident is not None:
            text = self.tree_model.cohort_name(ident)
        elif kind == "institution":
            index = self.tree_model.index_of(self._scope)
            text = str(index.data()) if index.isValid() else ""
        else:
            text = "All cohorts"
        self.ui.queue_scope.setText(text)

    def _on_total_changed(self, total: int) -> None:
        if total < 0:
            self.ui.queue_summary.setText("Counting…")
        else:
            state = self.ui.state_filter.currentData()
            label = VERIFICATION_STATE_LABELS.get(state, "").lower() if state else ""
            noun = "enrollment" if total == 1 else "enrollments"
            self.ui.queue_summary.setText(f"{total:,} {label + ' ' if label else ''}{noun}")
        self._update_empty_state()

    def note_new_rows(self, count: int) -> None:
        """Live refresh found ``count`` more enrollments in this queue than are loaded: say so, and let
        the officer bring them in (a click or F5) rather than moving the list under them."""
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
            row = self.queue_model.row_of(self._current_id) if self._current_id is not None else -1
            if row < 0 and self.queue_model.rowCount():
                row = 0
            if row >= 0:
                self._select_row(row)
            elif not self.queue_model.rowCount():
                self._current_id = None
                self._detail = None
                self.review.forget()
                self._show_no_enrollment()
        if self._pending_move:
            step, self._pending_move = self._pending_move, 0
            self.move_enrollment(step)
        if self._pending_advance:
            self._pending_advance = False
            self.advance_to_next_pending()
        self._update_empty_state()

    def _update_empty_state(self) -> None:
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
        elif flt.search:
            text = (
                f"No enrollments match “{flt.search}”.\n\nSearch looks in student names, e-mail addresses "
                "and SA ID numbers. Press Esc to clear it."
            )
        elif flt.verification_state == "pending":
            text = "All caught up.\n\nNo enrollments are waiting for verification here."
        else:
            text = "No enrollments match these filters."
        label.setText(text)
        label.setGeometry(self.ui.queue_table.viewport().rect())
        label.show()

    # --- moving around ---------------------------------------------------------------------------

    def _select_row(self, row: int) -> None:
        table = self.ui.queue_table
        column = table.horizontalHeader().logicalIndex(0)
        for visual in range(table.horizontalHeader().count()):
            logical = table.horizontalHeader().logicalIndex(visual)
            if not table.isColumnHidden(logical):
                column = logical
                break
        index = self.queue_model.index(row, column)
        table.selectionModel().setCurrentIndex(
            index,
            table.selectionModel().SelectionFlag.ClearAndSelect | table.selectionModel().SelectionFlag.Rows,
        )
        table.scrollTo(index)

    def move_enrollment(self, step: int) -> None:
        model = self.queue_model
        current = self.ui.queue_table.currentIndex().row()
        target = current + step if current >= 0 else 0
        if target < 0:
            self.statusBar().showMessage("This is the first enrollment in the queue.", 3000)
            return
        if target >= model.rowCount():
            if model.canFetchMore() or model.loading:
                self._pending_move = step
                model.fetchMore()
            else:
                self.statusBar().showMessage("This is the last enrollment in the queue.", 3000)
            return
        self._select_row(target)

    def move_document(self, step: int) -> None:
        docs = self.ui.document_list
        if docs.count() == 0:
            return
        row = docs.currentRow()
        target = 0 if row < 0 else max(0, min(docs.count() - 1, row + step))
        if target != row:
            docs.setCurrentRow(target)

    def advance_to_next_pending(self) -> None:
        """Select the next enrollment below the current one that still waits for a decision."""
        model = self.queue_model
        start = self.ui.queue_table.currentIndex().row() + 1
        for row in range(max(start, 0), model.rowCount()):
            item = model.row_at(row)
            if item is not None and item.verification_state == "pending" and not self._held_by_other(item):
                self._advancing = True
                self._select_row(row)
                return
        if model.canFetchMore() or model.loading:
            self._pending_advance = True
            model.fetchMore()
            return
        self.statusBar().showMessage("No more pending enrollments in this view.", 5000)

    def _held_by_other(self, item: queue.QueueRow) -> bool:
        """Another officer's review lease runs on this row ("next" passes over it)."""
        holder = item.holder_at(datetime.now(UTC))
        mine = self.identity is not None and item.claimed_by_user_id == self.identity.user_id
        return holder is not None and not mine

    def _focus(self, widget: QWidget) -> None:
        widget.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.ui.queue_table.viewport():
            self.ui.queue_empty.setGeometry(self.ui.queue_table.viewport().rect())
        elif event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if watched is self.ui.queue_search and event.key() == Qt.Key.Key_Escape:
                if self.ui.queue_search.text():
                    self.ui.queue_search.clear()
                    self.apply_filters()
                else:
                    self.ui.queue_table.setFocus(Qt.FocusReason.ShortcutFocusReason)
                return True
            if self._handles_arrows(watched) and event.modifiers() in (
                Qt.KeyboardModifier.NoModifier,
                Qt.KeyboardModifier.KeypadModifier,
            ):
                key = event.key()
                if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                    self.move_enrollment(1 if key == Qt.Key.Key_Down else -1)
                    return True
                if key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
                    self.move_document(1 if key == Qt.Key.Key_Right else -1)
                    return True
        return super().eventFilter(watched, event)

    def _handles_arrows(self, watched: QObject) -> bool:
        """Arrow keys navigate enrollments and documents when the queue, the document list, the
        preview or the decision buttons have focus; elsewhere (tree, text, combos, history) they keep
        their usual meaning."""
        if not isinstance(watched, QWidget) or watched.window() is not self:
            return False
        ui = self.ui
        if watched in (ui.queue_table, ui.document_list) or isinstance(watched, QAbstractButton):
            return True
        return watched is self.preview or self.preview.isAncestorOf(watched)

    # --- the detail panes ------------------------------------------------------------------------

    def _on_queue_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.queue_model.row_at(current.row()) if current.isValid() else None
        if row is None:
            return
        if row.enrollment_id != self._current_id:
            self._current_id = row.enrollment_id
            self._request_detail(row.enrollment_id)
        else:
            self._advancing = False

    def _request_detail(self, enrollment_id: int, prefer_document: str | None = None) -> None:
        """Load one enrollment's detail; while one load runs, only the latest request is kept."""
        self._detail_requested = enrollment_id
        self._prefer_document = prefer_document
        if self.identity is None or self._detail_loading:
            return
        self._load_detail()

    def _load_detail(self) -> None:
        """Open the requested enrollment for review: claim it (giving back the previous claim), then
        read it; without a claim to take (report viewers) just read it."""
        enrollment_id = self._detail_requested
        if enrollment_id is None or self.identity is None:
            return
        self._detail_loading = True
        if review.can_claim(self.identity) and self.connection.online:
            op = self.runner.db(
                review.open_for_review,
                self.db,
                self.identity,
                enrollment_id,
                self.review.claim,
                lease_seconds=self.review.lease_seconds,
            )
        else:
            op = self.runner.db(
                lambda: review.ReviewOpening(
                    queue.enrollment_detail(self.db, enrollment_id, self.identity), None
                )
            )
        op.success(self._on_opening).failure(self._on_detail_failed).start()

    def _on_opening(self, opening: review.ReviewOpening) -> None:
        self._detail_loading = False
        detail = opening.detail
        if review.can_claim(self.identity) and (opening.claim is not None or self.connection.online):
            previous = self.review.enrollment_id
            self.review.opened(opening)
            self._mark_own_claim(previous, opening.claim)
        if detail.student.enrollment_id != self._detail_requested:
            self._load_detail()
            return
        self._detail_version = max(
            detail.student.row_version, opening.claim.row_version if opening.claim else 0
        )
        advancing, self._advancing = self._advancing, False
        self._show_detail(detail, self._prefer_document)
        self._reload_if_moved()
        if advancing and opening.claim is None and opening.holder is not None:
            # "Next" met an enrollment someone claimed a moment ago: carry on past it.
            self.statusBar().showMessage(f"Skipped one that {opening.holder.name} is reviewing.", 4000)
            self.advance_to_next_pending()

    def _on_detail_failed(self, error: BaseException) -> None:
        self._detail_loading = False
        self._advancing = False
        if self.connection.report_error(error):
            # Offline: what is on screen stays readable; the enrollment reopens on reconnect.
            self._update_decision_controls()
            return
        if (
            self._detail_requested is not None
            and self._detail is not None
            and (self._detail.student.enrollment_id != self._detail_requested)
        ):
            self._detail = None
        self.ui.student_details.setHtml(f"<p>{user_message(error)}</p>")
        self.runner.error_occurred.emit(error, "loading the enrollment")

    def _show_no_enrollment(self) -> None:
        ui = self.ui
        ui.document_list.blockSignals(True)
        ui.document_list.clear()
        ui.document_list.blockSignals(False)
        ui.document_title.setText("Document")
        ui.document_status.setText("")
        ui.student_details.setHtml(
            "<p style='color:#687078'>Select an enrollment in the queue to see the student's details, "
            "their documents and the decisions made so far.</p>"
        )
        ui.history.clear()
        ui.history.hide()
        ui.history_empty.setText("No enrollment selected.")
        ui.history_empty.show()
        self.preview.show_message("Select an enrollment to see its documents.")
        self._update_decision_controls()

    def _show_detail(self, detail: EnrollmentDetail, prefer_document: str | None = None) -> None:
        self._detail = detail
        ui = self.ui
        docs = ui.document_list
        docs.blockSignals(True)
        docs.clear()
        for doc in detail.documents:
            item = QListWidgetItem(doc.label, docs)
            badge, state = panels.document_badge(doc)
            item.setData(SUBTITLE_ROLE, panels.document_subtitle(doc))
            item.setData(BADGE_TEXT_ROLE, badge)
            item.setData(BADGE_STATE_ROLE, state)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, panels.document_accessible_text(doc))
            item.setToolTip(panels.document_accessible_text(doc))
            item.setData(Qt.ItemDataRole.UserRole, doc.document_type)
        docs.blockSignals(False)
        if self._revealed is not None and self._revealed.enrollment_id != detail.student.enrollment_id:
            self._revealed = None
        self._render_student()
        ui.history.clear()
        for row in detail.history:
            columns = panels.history_columns(row)
            item = QTreeWidgetItem(list(columns))
            item.setForeground(3, style.badge_colors(row.action)[0])
            item.setToolTip(4, row.reason or "")
            ui.history.addTopLevelItem(item)
        for column in range(4):
            ui.history.resizeColumnToContents(column)
        ui.history.setVisible(bool(detail.history))
        ui.history_empty.setText("No decisions yet.")
        ui.history_empty.setVisible(not detail.history)
        self._prefetch_reasons(detail.student.institution_id)
        target = self._choose_document(detail.documents, prefer_document)
        self.detail_loaded.emit(detail.student.enrollment_id)
        if target >= 0 and docs.currentRow() != target:
            docs.setCurrentRow(target)  # emits currentRowChanged: loads the preview
        else:
            self._on_document_changed(target)

    @staticmethod
    def _choose_document(documents: tuple[DocumentRow, ...], prefer: str | None) -> int:
        if not documents:
            return -1
        if prefer is not None:
            for position, doc in enumerate(documents):
                if doc.document_type == prefer:
                    return position
        for position, doc in enumerate(documents):
            if doc.uploaded and (doc.latest_action is None or not doc.decision_current):
                return position
        return 0

    def current_document(self) -> DocumentRow | None:
        row = self.ui.document_list.currentRow()
        if self._detail is None or not 0 <= row < len(self._detail.documents):
            return None
        return self._detail.documents[row]

    def _current_document_type(self) -> str | None:
        doc = self.current_document()
        return doc.document_type if doc is not None else None

    def _on_document_changed(self, row: int) -> None:
        doc = self.current_document() if row >= 0 else None
        ui = self.ui
        self._document_generation += 1
        generation = self._document_generation
        if self._preview_op is not None:
            self._preview_op.cancel()
            self._preview_op = None
        self._update_decision_controls()
        if doc is None:
            ui.document_title.setText("Document")
            ui.document_status.setText("")
            self.preview.show_message("This enrollment has no documents.")
            return
        ui.document_title.setText(doc.label)
        ui.document_status.setText(self._document_status(doc))
        if not doc.uploaded:
            self.preview.show_message(f"{doc.label} has not been uploaded yet.")
            self.document_shown.emit(doc.document_type)
            return
        if not doc.upload:
            self.preview.show_message(
                f"{doc.label} holds health information. Viewing it needs the special personal "
                "information permission."
            )
            self.document_shown.emit(doc.document_type)
            return
        self.preview.show_message(f"Opening {doc.file_name or doc.label}…")
        self._preview_op = (
            self.runner.io(self.store.read, doc.upload)
            .success(lambda data: self._on_document_bytes(generation, doc, data))
            .failure(lambda error: self._on_document_error(generation, doc, error))
        )
        self._preview_op.start()

    def _on_document_bytes(self, generation: int, doc: DocumentRow, data: bytes) -> None:
        if generation != self._document_generation:
            return
        self._preview_op = None
        self.preview.show_document(data, doc.content_type or "", doc.file_name or doc.label)
        self._log_document_view(doc)
        self.document_shown.emit(doc.document_type)

    def _log_document_view(self, doc: DocumentRow) -> None:
        """POPIA: every document shown goes into the access log (enrollment id and document type only).
        Written beside the preview, not before it, so flipping through a pack stays quick."""
        if self.identity is None:
            return
        self.runner.db(
            access_log.log_document_view, self.db, self.identity, doc.enrollment_id, doc.document_type
        ).failure(
            lambda error: log.warning("Recording the view of %s failed: %r", doc.document_type, error)
        ).start()

    def _on_document_error(self, generation: int, doc: DocumentRow, error: BaseException) -> None:
        if generation != self._document_generation:
            return
        self._preview_op = None
        if isinstance(error, StorageError):
            self.preview.show_message(str(error))
        else:
            log.warning("Reading %s failed: %r", doc.document_type, error)
            self.preview.show_message(f"{doc.label} cannot be shown. {user_message(error)}")
        self.document_shown.emit(doc.document_type)

    @staticmethod
    def _document_status(doc: DocumentRow) -> str:
        if not doc.uploaded:
            return "Not uploaded yet" + (" · required" if doc.required else "")
        if doc.latest_action is None:
            return f"Not checked yet · {panels.human_size(doc.size)}"
        verb = panels.ACTION_LABELS.get(doc.latest_action, doc.latest_action)
        text = f"{verb} by {doc.latest_by} on {panels.local_time(doc.latest_at)}"
        if doc.latest_action == "rejected" and doc.latest_reason:
            text += f": {doc.latest_reason}"
        if not doc.decision_current:
            text += " · the file was replaced since"
        return text

    # --- decisions ---------------------------------------------------------------------------

    def _decision_blocker(self, action: str) -> str | None:
        """Why the current document cannot be decided now (None when it can)."""
        identity = self.identity
        if identity is None:
            return "CohortDesk is still opening the database."
        if not identity.can("decide"):
            return "Your role can look at the queue but not record decisions."
        if identity.user_id is None:
            return "This login is not linked to a CohortDesk user."
        doc = self.current_document()
        if self._detail is None or doc is None:
            return "Select an enrollment and a document first."
        if self._deciding:
            return "The previous decision is still being saved."
        if not self.connection.online:
            return "Offline — decisions wait until the connection to the database is back."
        if len(self.outbox):
            return "A decision made while offline is still being sent."
        claim_blocker = self.review.blocker(self._detail.student.enrollment_id)
        if claim_blocker is not None:
            return claim_blocker
        if doc.uploaded and not doc.upload:
            return "This document needs the special personal information permission."
        if action == "approved" and not doc.uploaded:
            return "A document that was not uploaded cannot be approved."
        return None

    def _update_decision_controls(self) -> None:
        ui = self.ui
        approve_blocker = self._decision_blocker("approved")
        reject_blocker = self._decision_blocker("rejected")
        ui.approve_button.setEnabled(approve_blocker is None)
        ui.reject_button.setEnabled(reject_blocker is None)
        ui.approve_button.setToolTip(approve_blocker or "Approve this document (A)")
        ui.reject_button.setToolTip(reject_blocker or "Reject this document with a reason (R)")

    def approve(self) -> None:
        self._decide("approved")

    def reject_current(self) -> None:
        blocker = self._decision_blocker("rejected")
        if blocker is not None:
            self.statusBar().showMessage(blocker, 5000)
            return
        assert self._detail is not None
        institution_id = self._detail.student.institution_id
        cached = self._reasons.get(institution_id)
        if cached is not None:
            self._open_reject_dialog(cached)
            return
        self.runner.db(queue.rejection_reasons, self.db, institution_id).success(
            lambda reasons: (
                self._reasons.__setitem__(institution_id, reasons),
                self._open_reject_dialog(reasons),
            )
        ).start()

    def _prefetch_reasons(self, institution_id: int) -> None:
        if institution_id not in self._reasons:
            self.runner.db(queue.rejection_reasons, self.db, institution_id).success(
                lambda reasons: self._reasons.__setitem__(institution_id, reasons)
            ).failure(lambda _error: None).start()

    def _open_reject_dialog(self, reasons: list[RejectionReason]) -> None:
        doc, detail = self.current_document(), self._detail
        if (
            doc is None
            or detail is None
            or (self.reject_dialog is not None and self.reject_dialog.isVisible())
        ):
            return
        kept = ""
        if self._unsent_reason and self._unsent_reason[:2] == (
            detail.student.enrollment_id,
            doc.document_type,
        ):
            kept = self._unsent_reason[2]
        dialog = RejectDialog(reasons, doc.label, detail.student.student_name, self, message=kept)
        enrollment_id, document_type = detail.student.enrollment_id, doc.document_type

        def confirmed() -> None:
            self._decide("rejected", dialog.reason_text, dialog.reason_code, enrollment_id, document_type)

        dialog.accepted.connect(confirmed)
        dialog.finished.connect(lambda _result: self.ui.queue_table.setFocus(Qt.FocusReason.OtherFocusReason))
        self.reject_dialog = dialog
        dialog.open()

    def _decide(
        self,
        action: str,
        reason: str | None = None,
        reason_code: str | None = None,
        enrollment_id: int | None = None,
        document_type: str | None = None,
    ) -> None:
        blocker = self._decision_blocker(action)
        doc, detail = self.current_document(), self._detail
        if blocker is not None or doc is None or detail is None:
            self.statusBar().showMessage(blocker or "Nothing to decide.", 5000)
            return
        if enrollment_id is not None and (
            enrollment_id != detail.student.enrollment_id or document_type != doc.document_type
        ):
            self.statusBar().showMessage("The selection changed; the decision was not recorded.", 5000)
            return
        assert self.identity is not None and self.identity.user_id is not None
        claim = self.review.claim_for(detail.student.enrollment_id)
        command = DecisionCommand(
            enrollment_id=detail.student.enrollment_id,
            document_type=doc.document_type,
            action=action,
            actor_user_id=self.identity.user_id,
            reason=reason,
            reason_code=reason_code,
            # Under a claim the claim's row_version is the condition; without one (no claims for
            # this login) the version read.
            expected_row_version=None if claim is not None else detail.student.row_version,
            idempotency_key=str(uuid.uuid4()),
            claim=claim,
        )
        # Kept until answered: a decision whose reply is lost is replayed with its key on reconnect.
        self.outbox.add(command)
        self._deciding = True
        self._update_decision_controls()
        self._set_activity("Saving the decision…")
        student = detail.student.student_name
        self.runner.db(review.decide, self.db, command, self.identity).success(
            lambda outcome: self._on_decided(outcome, doc, student, command)
        ).failure(lambda error: self._on_decide_failed(error, command)).start()

    def _on_decided(
        self, outcome: QueueDecision, doc: DocumentRow, student: str, command: DecisionCommand | None = None
    ) -> None:
        if command is not None:
            self.outbox.done(command)
        self._deciding = False
        self._unsent_reason = None
        self._set_activity("")
        self.review.decided(outcome.result.claim, outcome.row.enrollment_id)
        if self._detail is not None and self._detail.student.enrollment_id == outcome.row.enrollment_id:
            self._detail_version = max(self._detail_version, outcome.row.row_version)
        self.queue_model.update_row(outcome.row)
        self.tree_model.update_counts(outcome.counts)
        verb = "Approved" if outcome.result.verification.action == "approved" else "Rejected"
        self.statusBar().showMessage(f"{verb} {doc.label} of {student}.", 5000)
        self.decision_recorded.emit(outcome)
        if self._detail is None or self._detail.student.enrollment_id != outcome.row.enrollment_id:
            self._update_decision_controls()
            return  # the officer moved on meanwhile
        if not self.ui.save_and_next.isChecked():
            self._show_detail(outcome.detail, doc.document_type)
            return
        documents = outcome.detail.documents
        position = next((i for i, d in enumerate(documents) if d.document_type == doc.document_type), -1)
        ordered = [*documents[position + 1 :], *documents[: position + 1]]
        following = next(
            (
                d
                for d in ordered
                if d.uploaded and d.upload and (d.latest_action is None or not d.decision_current)
            ),
            None,
        )
        if following is not None:
            self._show_detail(outcome.detail, following.document_type)
        else:
            self._show_detail(outcome.detail, doc.document_type)
            self.advance_to_next_pending()

    def _on_decide_failed(self, error: BaseException, command: DecisionCommand) -> None:
        self._deciding = False
        self._set_activity("")
        if command.action == "rejected" and command.reason:
            self._unsent_reason = (command.enrollment_id, command.document_type, command.reason)
        if self.connection.report_error(error):
            # The outcome is unknown: the command stays in the outbox and is replayed with its key.
            self.statusBar().showMessage(
                "The connection dropped while saving. The decision is kept and will be sent when the "
                "database is back.",
                10000,
            )
            self._update_decision_controls()
            return
        self.outbox.done(command)
        if isinstance(error, ClaimConflict):
            self.review.conflict(error)
        self._update_decision_controls()
        if isinstance(error, ConflictError):
            self.statusBar().showMessage(str(error), 15000)
            self._request_detail(command.enrollment_id, command.document_type)
            self.live.poll()
        show_error(self, error, "Recording the decision")

    # --- many workstations: claims, live changes, going offline and back --------------------

    def _decide_bar(self) -> object:
        """The layout holding the decide buttons (the claim banner goes just above it)."""
        viewer = self.ui.approve_button.parentWidget()
        layout = viewer.layout() if viewer is not None else None
        if layout is None:
            return None
        for i in range(layout.count()):
            inner = layout.itemAt(i).layout()
            if inner is not None and inner.indexOf(self.ui.approve_button) >= 0:
                return inner
        return None

    def _mark_own_claim(self, previous: int | None, claim: Any) -> None:
        """Show our own padlock at once (no need to wait for the notification or the poll), and take
        it off the enrollment we just gave back."""
        model = self.queue_model
        if previous is not None and (claim is None or previous != claim.enrollment_id):
            row = model.row_at(model.row_of(previous))
            if (
                row is not None
                and self.identity is not None
                and row.claimed_by_user_id == self.identity.user_id
            ):
                model.update_row(
                    replace(row, claimed_by_user_id=None, claim_holder=None, claim_expires_at=None)
                )
        if claim is not None and self.identity is not None:
            row = model.row_at(model.row_of(claim.enrollment_id))
            if row is not None:
                model.update_row(
                    replace(
                        row,
                        claimed_by_user_id=self.identity.user_id,
                        claim_holder=self.identity.display_name,
                        claim_expires_at=claim.expires_at,
                        row_version=max(row.row_version, claim.row_version),
                    )
                )

    def background_error(self, error: BaseException, label: str) -> None:
        """Where the composition root sends the runner's unhandled errors: a lost connection turns
        into the offline banner (not one message box per failed call); anything else is shown."""
        if self.connection.report_error(error):
            log.info("While %s: the database went away (%s)", label, error)
            return
        show_error(self, error, label[:1].upper() + label[1:] if label else "CohortDesk")

    def on_live_change(self, versions: dict[int, int]) -> None:
        """Another workstation changed enrollments (``versions``: id → new row_version): reopen the
        one on screen if it moved past what this window last read or wrote."""
        current = self._current_id
        if current is None or current not in versions:
            return
        self._seen_version = (current, max(versions[current], self._seen_for(current)))
        if not self._detail_loading and not self._deciding:
            self._reload_if_moved()

    def _seen_for(self, enrollment_id: int) -> int:
        seen_id, version = self._seen_version
        return version if seen_id == enrollment_id else 0

    def _reload_if_moved(self) -> None:
        """Reopen the enrollment on screen if a notification named a newer version than we hold."""
        current = self._current_id
        if current is None or self._detail is None or self._detail.student.enrollment_id != current:
            return
        claim = self.review.claim_for(current)
        known = max(self._detail_version, claim.row_version if claim else 0)
        if self._seen_for(current) > known:
            self._request_detail(current, self._current_document_type())

    def _on_online_changed(self, online: bool) -> None:
        self._update_decision_controls()
        if not online:
            self._set_activity("Offline")
            return
        self._set_activity("")
        self.statusBar().showMessage("Connected to the database again.", 5000)
        if len(self.outbox):
            self._deciding = True
            self.runner.db(self.outbox.replay, self.db).success(self._on_replayed).failure(
                self._on_replay_failed
            ).start()
        else:
            self._after_reconnect()

    def _on_replayed(self, outcomes: list[Any]) -> None:
        self._deciding = False
        for cmd, result, error in outcomes:
            if result is not None:
                self._unsent_reason = None
                verb = "Approved" if cmd.action == "approved" else "Rejected"
                self.statusBar().showMessage(
                    f"{verb} the decision kept while offline ({'it had already arrived' if result.duplicate else 'sent now'}).",
                    8000,
                )
                if self._current_id == cmd.enrollment_id:
                    self.review.decided(result.claim, cmd.enrollment_id)
            elif error is not None and not connectivity.is_transient(error):
                if isinstance(error, ClaimConflict):
                    self.review.conflict(error)
                show_error(self, error, "Sending the decision kept while offline")
            elif error is not None:
                self.connection.report_error(error)
        self._after_reconnect()

    def _on_replay_failed(self, error: BaseException) -> None:
        self._deciding = False
        if not self.connection.report_error(error):
            show_error(self, error, "Sending the decision kept while offline")
        self._update_decision_controls()

    def _after_reconnect(self) -> None:
        """Re-claim the open enrollment, redraw it, the rows and the counts."""
        self._update_decision_controls()
        if not self.connection.online:
            return
        if self._current_id is not None:
            self._request_detail(self._current_id, self._current_document_type())
        self.live.poll()

    def _queue_menu(self, position: Any) -> None:
        index = self.ui.queue_table.indexAt(position)
        item = self.queue_model.row_at(index.row()) if index.isValid() else None
        if item is None or self.identity is None or not self.identity.can("release_claims"):
            return
        menu = QMenu(self)
        menu.setObjectName("queueMenu")
        holder = item.holder_at(datetime.now(UTC))
        action = menu.addAction(f"Release {holder}'s claim" if holder else "Release claim")
        action.setObjectName("releaseClaimMenuItem")
        action.setEnabled(holder is not None)
        action.triggered.connect(lambda _checked=False, i=item.enrollment_id: self.ask_release_claim(i))
        menu.popup(self.ui.queue_table.viewport().mapToGlobal(position))

    def _release_target(self, enrollment_id: int | None) -> int | None:
        """The enrollment a release is for (the current one by default), if this login may release."""
        target = enrollment_id if enrollment_id is not None else self._current_id
        if target is None or self.identity is None:
            return None
        if not self.identity.can("release_claims"):
            self.statusBar().showMessage("Only a super admin can release another officer's claim.", 5000)
            return None
        return target

    def ask_release_claim(self, enrollment_id: int | None = None) -> None:
        """Confirm, naming who loses the claim, before a super admin takes an enrollment (the current
        one by default) back."""
        target = self._release_target(enrollment_id)
        if target is None:
            return
        row = self.queue_model.row_at(self.queue_model.row_of(target))
        holder = row.holder_at(datetime.now(UTC)) if row is not None else None
        if row is None or holder is None:
            self.statusBar().showMessage("Nobody is reviewing this enrollment.", 5000)
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Release claim",
            f"Release {holder}'s claim on {row.student_name}?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("releaseClaimBox")
        box.setInformativeText(
            f"{holder} will no longer be able to decide on this enrollment until they open it again; a "
            "decision they are about to record is refused, and they are told why. Decisions already "
            "recorded stay as they are."
        )
        release = box.addButton("Release claim", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.release_box = box

        def answered() -> None:
            if box.clickedButton() is release:
                self.release_claim(target)

        box.finished.connect(lambda _result: answered())
        box.finished.connect(lambda _result: self._forget_dialog("release_box", box))
        box.open()

    def release_claim(self, enrollment_id: int | None = None) -> None:
        """A super admin frees an enrollment from whoever holds it (the current one by default)."""
        target = self._release_target(enrollment_id)
        if target is None:
            return

        def released(former: Any) -> None:
            if former is None:
                self.statusBar().showMessage("Nobody was reviewing that enrollment.", 5000)
            else:
                self.statusBar().showMessage(f"Released {former.name}'s claim.", 5000)
            self.runner.db(queue.queue_row, self.db, target).success(self.queue_model.update_row).failure(
                lambda _error: None
            ).start()
            if target == self._current_id:
                self._request_detail(target, self._current_document_type())

        self.runner.db(claims.force_release, self.db, self.identity, target).success(released).failure(
            lambda error: show_error(self, error, "Releasing the claim")
        ).start()

    def _forget_dialog(self, attribute: str, dialog: QWidget) -> None:
        """Drop a finished dialog: ``self.<attribute>`` no longer names it, and Qt deletes it."""
        if getattr(self, attribute) is dialog:
            setattr(self, attribute, None)
        dialog.deleteLater()

    # --- special personal information: masked until a logged reveal --------------------------------

    def _render_student(self) -> None:
        if self._detail is None:
            return
        student = panels.with_revealed(self._detail.student, self._revealed)
        bar = self.ui.student_details.verticalScrollBar()
        position = bar.value()
        self.ui.student_details.setHtml(panels.student_details_html(student))
        bar.setValue(position)

    def _on_details_link(self, url: QUrl) -> None:
        link = url.toString()
        if link == panels.REVEAL_LINK:
            self.reveal_special_pi()
        elif link == panels.HIDE_LINK:
            self.hide_special_pi()

    def reveal_special_pi(self) -> None:
        """Ask for a purpose, log the reveal, then show this learner's race, disability and ID number."""
        detail, identity = self._detail, self.identity
        if detail is None or identity is None:
            return
        if not identity.can(SPECIAL_PI):
            self.statusBar().showMessage("Your role may not see special personal information.", 5000)
            return
        student = detail.student
        if self._revealed is not None and self._revealed.enrollment_id == student.enrollment_id:
            return
        if not student.has_special_pi:
            self.statusBar().showMessage(
                "No special personal information was captured for this learner.", 5000
            )
            return
        dialog = RevealDialog(student.student_name, privacy.REVEAL_PURPOSES, self, self._reveal_purpose)
        self.reveal_dialog = dialog

        def chosen() -> None:
            purpose = dialog.purpose_text()
            self._reveal_purpose = purpose
            enrollment_id = student.enrollment_id
            self.runner.db(privacy.reveal_details, self.db, identity, enrollment_id, purpose).success(
                self._on_revealed
            ).failure(lambda error: show_error(self, error, "Revealing special personal information")).start()

        dialog.accepted.connect(chosen)
        dialog.finished.connect(lambda _result: self._forget_dialog("reveal_dialog", dialog))
        dialog.open()

    def _on_revealed(self, revealed: StudentDetails) -> None:
        if self._detail is None or self._detail.student.enrollment_id != revealed.enrollment_id:
            return  # the officer moved on meanwhile; the reveal is logged but nothing is shown
        self._revealed = revealed
        self._render_student()
        self.statusBar().showMessage(
            "Special personal information shown; the reveal is in the access log.", 5000
        )

    def hide_special_pi(self) -> None:
        self._revealed = None
        self._render_student()

    # --- preview forwarding, sheets, about ------------------------------------------------------

    def _preview_slot(self, name: str) -> Any:
        def call() -> None:
            slot = getattr(self.preview, name, None)
            if callable(slot):
                slot()

        return call

    def show_shortcuts(self) -> None:
        if self.shortcut_sheet is None:
            self.shortcut_sheet = ShortcutSheet(self)
        self.shortcut_sheet.open()

    def show_about(self) -> None:
        from cohortdesk.services.system_info import database_facts
        from cohortdesk.views.about_dialog import AboutDialog

        def show(facts: Any) -> None:
            dialog = AboutDialog(facts, self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.open()

        self.runner.db(database_facts, self.db).success(show).failure(lambda _error: show(None)).start()

    def show_logs(self) -> None:
        from cohortdesk.views.log_view import LogViewDialog

        dialog = LogViewDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _set_activity(self, text: str) -> None:
        self.status_activity.setText(text)

    def _on_busy_changed(self, count: int) -> None:
        if not self.status_activity.text() or self.status_activity.text() == "Working…":
            self.status_activity.setText("Working…" if count else "")

    def _column_menu(self, position: Any) -> None:
        header = self.ui.queue_table.horizontalHeader()
        menu = QMenu(self)
        menu.setObjectName("columnMenu")
        visible = [c for c in range(QueueTableModel.COLUMN_COUNT) if not header.isSectionHidden(c)]
        for column, title in enumerate(QueueTableModel.HEADERS):
            action = menu.addAction(title)
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.setEnabled(not (len(visible) == 1 and column in visible))
            action.toggled.connect(lambda on, c=column: header.setSectionHidden(c, not on))
        menu.popup(header.mapToGlobal(position))

    # --- remembered window state -------------------------------------------------------------

    def restore_settings(self) -> None:
        s = self.settings
        if s.value("version") is None:
            self.resize(1600, 960)
            self._default_splitters = True
            return
        if geometry := s.value("window/geometry"):
            self.restoreGeometry(geometry)
            screens.keep_on_present_screens(self, (1600, 960))
        if state := s.value("window/state"):
            self.restoreState(state)
        # Splitters are restored once the window has its final size (first show): restoring them
        # earlier lets the later resize redistribute the space by stretch factor.
        self._pending_splitters = {
            key: value for key in self._splitters() if (value := s.value(f"splitters/{key}"))
        }
        if header := s.value("queue/header"):
            self.ui.queue_table.horizontalHeader().restoreState(header)
            self._reset_sort_indicator()  # every start opens on the default view: oldest first
        save_next = s.value("review/save_and_next")
        if save_next is not None:
            self.ui.save_and_next.setChecked(str(save_next).lower() in ("true", "1"))

    def apply_default_layout(self) -> None:
        """First start: share the width and height out in proportions that suit the window's size."""
        width = max(self.ui.main_splitter.width(), 900)
        cohorts, queue_width = int(width * 0.165), int(width * 0.345)
        self.ui.main_splitter.setSizes([cohorts, queue_width, width - cohorts - queue_width])
        detail = max(self.ui.detail_splitter.width(), 600)
        self.ui.detail_splitter.setSizes([int(detail * 0.56), detail - int(detail * 0.56)])
        height = max(self.ui.side_splitter.height(), 500)
        documents, history = int(height * 0.3), int(height * 0.18)
        self.ui.side_splitter.setSizes([documents, height - documents - history, history])

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("version", SETTINGS_VERSION)
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        for key, splitter in self._splitters().items():
            s.setValue(f"splitters/{key}", splitter.saveState())
        s.setValue("queue/header", self.ui.queue_table.horizontalHeader().saveState())
        s.setValue("review/save_and_next", self.ui.save_and_next.isChecked())
        s.sync()

    def _splitters(self) -> dict[str, Any]:
        return {
            "main": self.ui.main_splitter,
            "detail": self.ui.detail_splitter,
            "side": self.ui.side_splitter,
        }

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._default_splitters:
            self._default_splitters = False
            self.apply_default_layout()
        if self._pending_splitters:
            pending, self._pending_splitters = self._pending_splitters, {}
            splitters = self._splitters()
            for key, value in pending.items():
                splitters[key].restoreState(value)

    def changeEvent(self, event: QEvent) -> None:
        # The student pane's HTML takes its link colour when it is set: redraw it for a new theme.
        if event.type() == QEvent.Type.PaletteChange and getattr(self, "_detail", None) is not None:
            self._render_student()
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.live.stop()
        self.connection.close()
        self.review.release()
        self.save_settings()
        shutdown = getattr(self.preview, "shutdown", None)
        if callable(shutdown):
            shutdown()  # the preview's render worker process
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        super().closeEvent(event)

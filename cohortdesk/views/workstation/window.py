"""The verification officer's workstation window: it composes the parts of ``views.workstation`` and
owns what spans them (actions and menus, the status bar, opening the database, claiming an enrollment
as it is opened, live changes and going offline and back).

The parts talk by signals: ``QueuePane`` (cohort tree and queue) says which enrollment is chosen; the
window claims and reads it (``services.review.workstation.open_for_review``) and hands it to ``DetailPane``
(documents, preview, student, history); ``Decisions`` records Approve/Reject and says what was
recorded; ``WindowState`` remembers the layout. ``ReviewSession`` keeps the claim alive,
``LiveRefresh`` redraws what other officers do, ``ConnectionMonitor`` goes offline and back.

Every database call goes through the one ``Runner`` (``runner.db``), file reads through its io lane;
nothing here runs SQL on the GUI thread. Other screens extend the window through ``menus`` (File,
Review, View, Tools, Administration, Help), ``add_menu_action`` and ``add_status_widget``.

An ``A`` (or a reject sent) moves on at once: the decision is written on the runner while the window
shows it as decided and goes to the next document (``_on_decision_sending``); the write's read-back
reconciles the row, the counts and the panes when it arrives (``_on_decided``), and a refusal brings
the document back (``_on_refused``). The next enrollment's detail is read ahead (``ENROLLMENT_AHEAD``)
and its first document drawn ahead, so going on to it needs no round trip before the page shows; it
is claimed and read again as it opens, and what is shown is put right from that.

Signals:
    opened(object): the database is open and up to date; the argument is a ``StartupInfo``.
    detail_loaded(int): the detail panes now show this enrollment id.
    document_shown(str): the preview shows (or explains) this document type.
    decision_recorded(object): a decision was saved; the argument is a ``QueueDecision``.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QWidget,
)

from cohortdesk.lazy import lazy_module
from cohortdesk.services.access.identity import SPECIAL_PI, Identity
from cohortdesk.services.connection import startup
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import first_page
from cohortdesk.services.review.queue_rows import (
    DocumentRow,
    EnrollmentDetail,
    QueueDecision,
    QueueFilter,
    QueuePage,
)
from cohortdesk.services.rows import LEASE_SECONDS
from cohortdesk.views.cohort_tree_model import CohortTreeModel
from cohortdesk.views.connection_monitor import ConnectionMonitor
from cohortdesk.views.errors import show_error, user_message
from cohortdesk.views.preview import DocumentPreview
from cohortdesk.views.queue_table_model import QueueTableModel
from cohortdesk.views.reject_dialog import RejectDialog
from cohortdesk.views.reveal_dialog import RevealDialog
from cohortdesk.views.runner import Runner
from cohortdesk.views.settings import window_settings
from cohortdesk.views.shortcuts import BY_ACTION, SHORTCUTS, ShortcutSheet
from cohortdesk.views.workstation.decisions import Decisions
from cohortdesk.views.workstation.detail_pane import (
    DetailPane,
    choose_document,
    following_document,
    needs_decision,
)
from cohortdesk.views.workstation.layout import WorkstationView
from cohortdesk.views.workstation.live_refresh import LiveRefresh
from cohortdesk.views.workstation.queue_pane import QueuePane
from cohortdesk.views.workstation.review_session import ReviewSession
from cohortdesk.views.workstation.window_state import WindowState

if TYPE_CHECKING:
    from cohortdesk.services.review import claims, queue
    from cohortdesk.services.review import workstation as review
else:  # loaded on first use: the window is painted before SQLAlchemy loads
    claims = lazy_module("cohortdesk.services.review.claims")
    queue = lazy_module("cohortdesk.services.review.queue")
    review = lazy_module("cohortdesk.services.review.workstation")

log = logging.getLogger(__name__)

ARROWS = {"Up", "Down", "Left", "Right"}
#: How long an enrollment's detail read ahead may be shown while it is opened afresh (seconds).
ENROLLMENT_AHEAD = 120.0


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
        lease_seconds: float = LEASE_SECONDS,
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
        # The preview's render worker (a process of its own) waits for the first queue page to be shown
        # (``_start_render_worker``): started here it took the CPU from the start-up on a small machine.
        self.preview = preview if preview is not None else DocumentPreview(start_worker=False)
        self.preview.setObjectName("documentPreview")
        self.ui = WorkstationView(self, self.preview)

        self._detail_requested: int | None = None
        self._detail_loading = False
        self._prefer_document: str | None = None
        self._advancing = False  # the open request came from "next": skip on to another if held
        self._detail_version = 0  # row_version of the enrollment as last read or written here
        self._seen_version: tuple[int | None, int] = (None, 0)  # newest version a notification named
        #: The next enrollments' details read ahead: id -> (monotonic time read, detail).
        self._ahead: OrderedDict[int, tuple[float, EnrollmentDetail]] = OrderedDict()
        self._reading_ahead: int | None = None
        self.release_box: QMessageBox | None = None
        self.shortcut_sheet: ShortcutSheet | None = None

        self.queue_pane = QueuePane(self.ui, runner, db, page_size, self)
        self.detail_pane = DetailPane(self.ui, self.preview, runner, db, self.store, self)
        self.connection = ConnectionMonitor(runner, db, self)
        self.connection.install(self.centralWidget())
        self.review = ReviewSession(self, runner, db, self.connection, lambda: self.identity, lease_seconds)
        self.review.install(self.ui.approve_button.parentWidget(), self._decide_bar())
        self.decisions = Decisions(self.ui, self.detail_pane, self.review, self.connection, runner, db, self)
        self.live = LiveRefresh(
            self,
            runner,
            db,
            self.connection,
            lambda: self.identity,
            self.queue_pane.queue_model,
            self.queue_pane.tree_model,
            poll_ms=poll_ms,
            listen=live,
        )
        self.state = WindowState(self, self.ui, self.settings)
        self.identity = identity  # hands it to the parts

        self.actions: dict[str, QAction] = {}
        self.menus: dict[str, QMenu] = {}
        #: Other screens add entries to the queue's context menu: each is called with the menu.
        self.queue_menu_extenders: list[Callable[[QMenu], None]] = []
        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self.add_status_widget(self.live.status_label)
        self._connect()
        self.restore_settings()
        self.detail_pane.show_no_enrollment()
        self._apply_identity()
        self._update_decision_controls()
        self._filtering = False
        if getattr(db, "sqlite_path", None) is None:
            self._filter_events()
        # else: the start paints a first page read ahead first (open_database), and then installs it
        if preview is None:
            self.queue_model.page_loaded.connect(self._start_render_worker)

    # --- the parts, as the rest of the application and the tests reach them ----------------

    @property
    def identity(self) -> Identity | None:
        return self._identity

    @identity.setter
    def identity(self, identity: Identity | None) -> None:
        """Who works at this window; every part that acts for them learns it at once."""
        self._identity = identity
        for part in ("queue_pane", "detail_pane", "decisions"):
            if (target := getattr(self, part, None)) is not None:
                target.identity = identity

    @property
    def queue_model(self) -> QueueTableModel:
        return self.queue_pane.queue_model

    @property
    def tree_model(self) -> CohortTreeModel:
        return self.queue_pane.tree_model

    @property
    def outbox(self) -> Any:
        return self.decisions.outbox

    @property
    def reject_dialog(self) -> RejectDialog | None:
        return self.decisions.reject_dialog

    @property
    def reveal_dialog(self) -> RevealDialog | None:
        return self.detail_pane.reveal_dialog

    @property
    def _search_timer(self) -> Any:
        return self.queue_pane.search_timer

    @property
    def _current_id(self) -> int | None:
        return self.queue_pane.current_id

    @property
    def _detail(self) -> EnrollmentDetail | None:
        return self.detail_pane.detail

    def current_document(self) -> DocumentRow | None:
        return self.detail_pane.current_document()

    def _current_document_type(self) -> str | None:
        return self.detail_pane.current_document_type()

    def current_filter(self) -> QueueFilter:
        return self.queue_pane.current_filter()

    def apply_filters(self) -> None:
        self.queue_pane.apply_filters()

    def focus_search(self) -> None:
        self.queue_pane.focus_search()

    def move_enrollment(self, step: int) -> None:
        self.queue_pane.move_enrollment(step)

    def move_document(self, step: int) -> None:
        self.detail_pane.move_document(step)

    def advance_to_next_pending(self) -> bool:
        return self.queue_pane.advance_to_next_pending()

    def _select_row(self, row: int) -> None:
        self.queue_pane.select_row(row)

    def note_new_rows(self, count: int) -> None:
        self.queue_pane.note_new_rows(count)

    def approve(self) -> None:
        self.decisions.approve()

    def reject_current(self) -> None:
        self.decisions.reject_current()

    def reveal_special_pi(self) -> None:
        self.detail_pane.reveal_special_pi()

    def hide_special_pi(self) -> None:
        self.detail_pane.hide_special_pi()

    def _update_decision_controls(self) -> None:
        self.decisions.update_controls()

    # --- construction ----------------------------------------------------------------------------

    def _build_actions(self) -> None:
        handlers = {
            "approve": self.approve,
            "reject": self.reject_current,
            "undo": lambda: self.decisions.undo(),
            "save_and_next": None,
            "reveal": self.reveal_special_pi,
            "next_enrollment": lambda: self.move_enrollment(1),
            "previous_enrollment": lambda: self.move_enrollment(-1),
            "next_to_decide": self.advance_to_next_pending,
            "previous_to_decide": self.queue_pane.back_to_previous_pending,
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
        review.addActions([a["approve"], a["reject"], a["undo"], a["save_and_next"]])
        review.addAction(a["reveal"])
        review.addSeparator()
        review.addActions(
            [
                a["next_to_decide"],
                a["previous_to_decide"],
                a["next_enrollment"],
                a["previous_enrollment"],
                a["next_document"],
                a["previous_document"],
            ]
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
        qp, dp, dec = self.queue_pane, self.detail_pane, self.decisions
        ui.queue_table.viewport().installEventFilter(self)
        ui.queue_table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        ui.queue_table.customContextMenuRequested.connect(self._queue_menu)
        ui.queue_news.clicked.connect(self.refresh)
        ui.queue_search.installEventFilter(self)
        qp.row_chosen.connect(self._on_row_chosen)
        qp.emptied.connect(self._on_queue_emptied)
        qp.message.connect(self._show_message)
        dp.detail_loaded.connect(self._on_detail_shown)
        dp.document_changed.connect(self._update_decision_controls)
        dp.document_shown.connect(self.document_shown)
        dp.message.connect(self._show_message)
        dec.sending.connect(self._on_decision_sending)
        dec.recorded.connect(self._on_decided)
        dec.refused.connect(self._on_refused)
        dec.undone.connect(self._on_undone)
        dec.stale.connect(self._on_stale_decision)
        dec.activity.connect(self._set_activity)
        dec.message.connect(self._show_message)
        self.review.changed.connect(self._update_decision_controls)
        self.review.lost.connect(lambda text: self._show_message(text, 10000))
        self.live.versions_changed.connect(self.on_live_change)
        self.live.new_rows.connect(qp.note_new_rows)
        self.connection.online_changed.connect(self._on_online_changed)
        self.runner.busy_changed.connect(self._on_busy_changed)

    def _show_message(self, text: str, timeout: int) -> None:
        self.statusBar().showMessage(text, timeout)

    # --- opening the database ------------------------------------------------------------------

    def open_database(self, demo_students: int = 0) -> None:
        """Bring the schema up to date and resolve the identity off the GUI thread, then start.

        ``demo_students`` > 0 fills an empty embedded store with that much demo data (the welcome
        screen's "Try with demo data"), behind a progress dialog.

        On the embedded store not opened yet (``db.deferred``), the queue's first page is read first,
        with ``sqlite3`` on the database lane (``services.review.first_page``), and painted; then the
        database is opened as usual (SQLAlchemy and the ORM load meanwhile, on the database lane)."""
        self._set_activity("Opening the database…")
        path = getattr(self.db, "sqlite_path", None)
        flt, sort = self.queue_pane.current_filter(), self.queue_model.query_sort
        if isinstance(path, Path) and not demo_students and first_page.answers(flt, sort, 0):
            self.runner.db(first_page.read_first_page, path, flt, sort, self.queue_model.page_size).success(
                lambda page: self._on_first_page(page, flt, demo_students)
            ).failure(lambda _error: self._open(demo_students)).start()
            return
        self._open(demo_students)

    def _on_first_page(self, page: QueuePage | None, flt: QueueFilter, demo_students: int) -> None:
        if page is not None:
            self.queue_pane.show_first_page(flt, page)
            # The rows are painted before the next turn; the count and the opening follow on the lane.
            QTimer.singleShot(0, lambda: self._open(demo_students, count=True))
        else:
            self._open(demo_students)

    def _open(self, demo_students: int = 0, *, count: bool = False) -> None:
        self._filter_events()
        if count:
            self.queue_model.count()  # ahead of the opening: ``start`` then keeps the rows shown
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
        has_demo = startup.demo_available()
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
        return f"PostgreSQL · {info.database}"

    def set_identity(self, identity: Identity) -> None:
        self.identity = identity
        role = identity.role.replace("_", " ")
        self.status_identity.setText(f"{identity.display_name} · {role}")
        self._apply_identity()
        self._update_decision_controls()

    def _apply_identity(self) -> None:
        identity = self.identity
        viewer = identity.user_id if identity else None
        if viewer != self.queue_model.viewer_user_id:
            self.queue_model.viewer_user_id = viewer
            self.ui.queue_table.viewport().update()  # rows shown before: their own claims say so now
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

    def _start_render_worker(self, first: int, _count: int) -> None:
        """Start the preview's render worker once the first queue page is on screen, ahead of the first
        document (a document asked for sooner starts it at once)."""
        if first != 0:
            return
        self.queue_model.page_loaded.disconnect(self._start_render_worker)
        QTimer.singleShot(0, self.preview.client.start)  # after the rows are painted

    # --- loading the cohort tree and the queue ------------------------------------------------

    def start(self) -> None:
        # The queue's first page first (the database lane runs in order): the officer's work is there;
        # the tree with its counts over every enrollment follows a moment later.
        self.queue_pane.apply_filters()
        self.queue_pane.load_tree()
        self.live.start()

    def refresh(self) -> None:
        self.queue_pane.refresh()
        self.decisions.reasons.clear()
        if self._current_id is not None:
            self._request_detail(self._current_id, self._current_document_type())

    def _on_queue_emptied(self) -> None:
        self.review.forget()
        self.detail_pane.show_no_enrollment()

    # --- opening an enrollment: claim, then read ----------------------------------------------

    def _on_row_chosen(self, enrollment_id: int, advancing: bool) -> None:
        self._advancing = advancing
        self._request_detail(enrollment_id)

    def _request_detail(self, enrollment_id: int, prefer_document: str | None = None) -> None:
        """Load one enrollment's detail; while one load runs, only the latest request is kept. A detail
        read ahead is shown at once meanwhile (deciding waits for the claim)."""
        self._detail_requested = enrollment_id
        self._prefer_document = prefer_document
        ahead = self._ahead_detail(enrollment_id)
        self._ahead.pop(enrollment_id, None)
        if ahead is not None:
            self.detail_pane.show_detail(ahead, prefer_document)
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
        identity = self.identity
        if review.can_claim(identity) and self.connection.online:
            op = self.runner.db(
                review.open_for_review,
                self.db,
                identity,
                enrollment_id,
                self.review.claim,
                lease_seconds=self.review.lease_seconds,
            )
        else:
            op = self.runner.db(
                lambda: review.ReviewOpening(queue.enrollment_detail(self.db, enrollment_id, identity), None)
            )
        op.success(self._on_opening).failure(self._on_detail_failed).start()

    def _on_opening(self, opening: review.ReviewOpening) -> None:
        self._detail_loading = False
        detail = opening.detail
        if review.can_claim(self.identity) and (opening.claim is not None or self.connection.online):
            previous = self.review.enrollment_id
            self.review.opened(opening)
            self._mark_own_claim(previous, opening.claim)
        # Decisions made while it was being opened go now (before the next opening gives it back).
        self.decisions.claimed(opening, self._detail_requested)
        if detail.student.enrollment_id != self._detail_requested:
            self._load_detail()
            return
        self._detail_version = max(
            detail.student.row_version, opening.claim.row_version if opening.claim else 0
        )
        advancing, self._advancing = self._advancing, False
        detail = self._as_decided(detail)
        self.detail_pane.show_detail(detail, self._prefer_document or self._kept_document(detail))
        self._reload_if_moved()
        if advancing and opening.claim is None and opening.holder is not None:
            # "Next" met an enrollment someone claimed a moment ago: carry on past it.
            self._show_message(f"Skipped one that {opening.holder.name} is reviewing.", 4000)
            self.advance_to_next_pending()

    def _kept_document(self, detail: EnrollmentDetail) -> str | None:
        """Reopening the enrollment on screen (its detail read ahead, or shown as decided) keeps the
        document the officer is on while it still needs a decision."""
        shown = self.detail_pane.detail
        current = self.detail_pane.current_document_type()
        if shown is None or current is None or shown.student.enrollment_id != detail.student.enrollment_id:
            return None
        doc = next((d for d in detail.documents if d.document_type == current), None)
        return current if doc is not None and needs_decision(doc) else None

    def _on_detail_shown(self, enrollment_id: int) -> None:
        detail = self.detail_pane.detail
        if detail is not None:
            self.decisions.prefetch_reasons(detail.student.institution_id)
        self.detail_loaded.emit(enrollment_id)
        self._read_ahead_next_enrollment()

    def _read_ahead_next_enrollment(self) -> None:
        """Read the detail of the enrollment "next pending" goes to, and have its first document to
        decide drawn ahead (reads only: nothing is claimed or logged until it is opened)."""
        following = self.queue_pane.next_pending()
        identity = self.identity
        if following is None or identity is None or self._reading_ahead is not None:
            return
        enrollment_id = following.enrollment_id
        ahead = self._ahead.get(enrollment_id)
        if ahead is not None and time.monotonic() - ahead[0] < ENROLLMENT_AHEAD / 2:
            self.detail_pane.read_ahead([self._first_to_decide(ahead[1])])
            return
        self._reading_ahead = enrollment_id

        def read(detail: EnrollmentDetail) -> None:
            self._ahead[enrollment_id] = (time.monotonic(), detail)
            while len(self._ahead) > 2:
                self._ahead.popitem(last=False)
            self.detail_pane.read_ahead([self._first_to_decide(detail)])

        self.runner.db(queue.enrollment_detail, self.db, enrollment_id, identity).success(read).failure(
            lambda _error: None
        ).finally_(lambda: setattr(self, "_reading_ahead", None)).start()

    def _ahead_detail(self, enrollment_id: int) -> EnrollmentDetail | None:
        """The detail read ahead for ``enrollment_id``, if recent enough to show while it is opened
        afresh (and not already on screen)."""
        ahead = self._ahead.get(enrollment_id)
        shown = self.detail_pane.detail
        if ahead is None or time.monotonic() - ahead[0] >= ENROLLMENT_AHEAD:
            return None
        if shown is not None and shown.student.enrollment_id == enrollment_id:
            return None
        return ahead[1]

    @staticmethod
    def _first_to_decide(detail: EnrollmentDetail) -> DocumentRow | None:
        """The document an enrollment opens on (``choose_document`` without a preference)."""
        position = choose_document(detail.documents, None)
        return detail.documents[position] if position >= 0 else None

    def _on_detail_failed(self, error: BaseException) -> None:
        self._detail_loading = False
        self._advancing = False
        self.decisions.abandon_waiting(f"the enrollment could not be opened ({user_message(error)})")
        if self.connection.report_error(error):
            # Offline: what is on screen stays readable; the enrollment reopens on reconnect.
            self._update_decision_controls()
            return
        self.detail_pane.show_load_error(error, self._detail_requested)
        self.runner.error_occurred.emit(error, "loading the enrollment")

    # --- after a decision ------------------------------------------------------------------------

    def _on_decision_sending(self, command: Any, doc: DocumentRow) -> None:
        """A decision is being written: show it as made and move on now, without waiting for the
        write (``_on_decided`` reconciles with what the database says; ``_on_refused`` undoes this).

        The next document's page goes on screen first when it was read ahead (``show_ahead``); the
        panes around it are redrawn right after, in this same turn."""
        detail = self.detail_pane.detail
        identity = self.identity
        if detail is None or identity is None or detail.student.enrollment_id != command.enrollment_id:
            return
        decided = replace(
            doc,
            latest_action=command.action,
            latest_reason=command.reason,
            latest_by=identity.display_name,
            latest_at=datetime.now(UTC),
            decision_current=True,
        )
        documents = tuple(decided if d.document_type == doc.document_type else d for d in detail.documents)
        shown = replace(detail, documents=documents)
        onward = self.ui.save_and_next.isChecked()
        following = following_document(documents, doc.document_type) if onward else None
        if following is not None:
            self.detail_pane.show_ahead(following)
        elif onward and (upcoming := self.queue_pane.next_pending()) is not None:
            ahead = self._ahead_detail(upcoming.enrollment_id)
            if ahead is not None:
                self.detail_pane.show_ahead(self._first_to_decide(ahead))
        row = self.queue_model.row_at(self.queue_model.row_of(command.enrollment_id))
        was = next((d for d in detail.documents if d.document_type == doc.document_type), doc)
        if row is not None and needs_decision(was):  # (not when the answer came first: tests' runner)
            self.queue_model.update_row(replace(row, documents_awaiting=max(row.documents_awaiting - 1, 0)))
        if following is not None:
            self.detail_pane.show_detail(shown, following.document_type)
            return
        if onward:
            self.detail_pane.detail = shown  # what the guards see until the next enrollment is shown
            if self.advance_to_next_pending() and self.detail_pane.detail is not shown:
                return  # the next enrollment is on screen (read ahead)
        self.detail_pane.show_detail(shown, doc.document_type)  # the same file: only its words change

    def _on_decided(self, outcome: QueueDecision, doc: DocumentRow) -> None:
        """The database recorded a decision: its row, counts and (if still on screen) its enrollment
        as read back; the document on screen stays."""
        detail = self.detail_pane.detail
        if detail is not None and detail.student.enrollment_id == outcome.row.enrollment_id:
            self._detail_version = max(self._detail_version, outcome.row.row_version)
        self.queue_model.update_row(self._row_as_decided(outcome.row, outcome.detail))
        self.tree_model.update_counts(outcome.counts)
        verb = "Approved" if outcome.result.verification.action == "approved" else "Rejected"
        student = outcome.detail.student.student_name
        self._show_message(f"{verb} {doc.label} of {student}.", 5000)
        self.decision_recorded.emit(outcome)
        if detail is None or detail.student.enrollment_id != outcome.row.enrollment_id:
            return  # moved on to another enrollment meanwhile
        self.detail_pane.show_detail(self._as_decided(outcome.detail), self.detail_pane.current_document_type())

    def _as_decided(self, detail: EnrollmentDetail) -> EnrollmentDetail:
        """``detail`` as read, with the decisions made on it and not yet answered shown as made."""
        identity = self.identity
        pending = {
            command.document_type: command
            for command, _doc in self.decisions.pending()
            if command.enrollment_id == detail.student.enrollment_id
        }
        if not pending or identity is None:
            return detail
        documents = tuple(
            replace(
                d,
                latest_action=pending[d.document_type].action,
                latest_reason=pending[d.document_type].reason,
                latest_by=identity.display_name,
                latest_at=datetime.now(UTC),
                decision_current=True,
            )
            if d.document_type in pending
            else d
            for d in detail.documents
        )
        return replace(detail, documents=documents)

    def _row_as_decided(self, row: Any, detail: EnrollmentDetail) -> Any:
        """A queue row as read back, less the documents whose decisions are still on their way."""
        on_their_way = {
            command.document_type
            for command, _doc in self.decisions.pending()
            if command.enrollment_id == row.enrollment_id
        }
        waiting = sum(1 for d in detail.documents if d.document_type in on_their_way and needs_decision(d))
        if not waiting:
            return row
        return replace(row, documents_awaiting=max(row.documents_awaiting - waiting, 0))

    def _on_refused(self, enrollment_id: int, document_type: str) -> None:
        """The database refused a decision (the person is told why by ``Decisions``): its row as it
        is, and back to its document, wherever the window moved on to meanwhile."""
        self.runner.db(queue.queue_row, self.db, enrollment_id).success(self.queue_model.update_row).failure(
            lambda _error: None
        ).start()
        detail = self.detail_pane.detail
        if detail is None or detail.student.enrollment_id != enrollment_id:
            row = self.queue_model.row_of(enrollment_id)
            if row >= 0:
                self.queue_pane.current_id = enrollment_id  # selecting it must not open it twice
                self._select_row(row)
        self._advancing = False  # going back on purpose: a holder met there is shown, not skipped
        self._request_detail(enrollment_id, document_type)

    def _on_undone(self, outcome: QueueDecision, document_type: str) -> None:
        """A decision was taken back: redraw its row and counts and show its document again, to decide
        afresh (going back to its learner if the officer had moved on)."""
        enrollment_id = outcome.row.enrollment_id
        self.queue_model.update_row(outcome.row)
        self.tree_model.update_counts(outcome.counts)
        detail = self.detail_pane.detail
        if detail is not None and detail.student.enrollment_id == enrollment_id:
            self._detail_version = max(self._detail_version, outcome.row.row_version)
            self.detail_pane.show_detail(outcome.detail, document_type)
            return
        row = self.queue_model.row_of(enrollment_id)
        if row >= 0:
            self.queue_pane.current_id = enrollment_id  # selecting it must not open it a second time
            self._select_row(row)
        self._request_detail(enrollment_id, document_type)

    def _on_stale_decision(self, _enrollment_id: int, _document_type: str) -> None:
        self.live.poll()  # others changed it: redraw what they did (``_on_refused`` reopens it)

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
        for changed in versions:
            self._ahead.pop(changed, None)  # read ahead before this change: read it again
        if current is None or current not in versions:
            return
        self._seen_version = (current, max(versions[current], self._seen_for(current)))
        if not self._detail_loading and not self.decisions.deciding:
            self._reload_if_moved()

    def _seen_for(self, enrollment_id: int) -> int:
        seen_id, version = self._seen_version
        return version if seen_id == enrollment_id else 0

    def _reload_if_moved(self) -> None:
        """Reopen the enrollment on screen if a notification named a newer version than we hold."""
        current = self._current_id
        detail = self._detail
        if current is None or detail is None or detail.student.enrollment_id != current:
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
        self._show_message("Connected to the database again.", 5000)
        if not self.decisions.replay(self._after_reconnect):
            self._after_reconnect()

    def _after_reconnect(self) -> None:
        """Re-claim the open enrollment, redraw it, the rows and the counts."""
        self._update_decision_controls()
        if not self.connection.online:
            return
        if self._current_id is not None:
            self._request_detail(self._current_id, self._current_document_type())
        self.live.poll(reconnected=True)

    def _queue_menu(self, position: Any) -> None:
        index = self.ui.queue_table.indexAt(position)
        item = self.queue_model.row_at(index.row()) if index.isValid() else None
        if item is None:
            return
        menu = QMenu(self)
        menu.setObjectName("queueMenu")
        if self.identity is not None and self.identity.can("release_claims"):
            holder = item.holder_at(datetime.now(UTC))
            action = menu.addAction(f"Release {holder}'s claim" if holder else "Release claim")
            action.setObjectName("releaseClaimMenuItem")
            action.setEnabled(holder is not None)
            action.triggered.connect(lambda _checked=False, i=item.enrollment_id: self.ask_release_claim(i))
        for extend in self.queue_menu_extenders:
            extend(menu)
        if menu.actions():
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
        from cohortdesk.services.connection.system_info import database_facts
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

    # --- keys ------------------------------------------------------------------------------------

    def _focus(self, widget: QWidget) -> None:
        self.ui.show_side_panel(widget)
        widget.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.ui.queue_table.viewport():
            self.queue_pane.place_empty_state()
        elif (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and isinstance(watched, QWidget)
            and self.ui.reject_dock.isAncestorOf(watched)
            and event.text().isprintable()
            and event.text()
            and not event.modifiers()
            & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier)
        ):
            event.accept()  # typed into the reject form: a letter is a letter there, not A/R/J
            return True
        elif event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if watched is self.ui.queue_search and event.key() == Qt.Key.Key_Escape:
                self.queue_pane.clear_search_or_leave()
                return True
            if self._handles_arrows(watched) and event.modifiers() in (
                Qt.KeyboardModifier.NoModifier,
                Qt.KeyboardModifier.KeypadModifier,
            ):
                key = event.key()
                if self._preview_pans(watched, key):
                    return super().eventFilter(watched, event)  # the zoomed page moves
                if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                    self.move_enrollment(1 if key == Qt.Key.Key_Down else -1)
                    return True
                if key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
                    self.move_document(1 if key == Qt.Key.Key_Right else -1)
                    return True
        return super().eventFilter(watched, event)

    def _filter_events(self) -> None:
        """Arrow keys and typing in the reject form (``eventFilter``). The filter sees every event of
        the application, some 1,700 while the window is first laid out and painted, each a call into
        Python: a window opening on a first page read ahead installs it once that page is painted."""
        app = QApplication.instance()
        if app is not None and not self._filtering:
            app.installEventFilter(self)
            self._filtering = True

    def _preview_pans(self, watched: QObject, key: int) -> bool:
        """An arrow key on the focused preview pans a zoomed page while it can move that way; at the
        edge (or not zoomed) the arrow goes on to the next learner or document as everywhere."""
        in_preview = watched is self.preview or (
            isinstance(watched, QWidget) and self.preview.isAncestorOf(watched)
        )
        can_pan = getattr(self.preview, "can_pan", None)
        return in_preview and callable(can_pan) and bool(can_pan(key))

    def _handles_arrows(self, watched: QObject) -> bool:
        """Arrow keys navigate enrollments and documents when the queue, the document list, the
        preview or the decision buttons have focus; elsewhere (tree, text, combos, history) they keep
        their usual meaning."""
        if not isinstance(watched, QWidget) or watched.window() is not self:
            return False
        ui = self.ui
        if ui.reject_dock.isAncestorOf(watched):
            return False
        if watched in (ui.queue_table, ui.document_list) or isinstance(watched, QAbstractButton):
            return True
        return watched is self.preview or self.preview.isAncestorOf(watched)

    # --- remembered window state -------------------------------------------------------------

    def restore_settings(self) -> None:
        self.state.restore(self.queue_pane.reset_sort_indicator)

    def apply_default_layout(self) -> None:
        self.state.apply_default_layout()

    def save_settings(self) -> None:
        self.state.save()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.state.shown()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.state.adapt()

    def _close_when_sent(self) -> None:
        if self.decisions.waiting() and time.monotonic() < self._close_deadline:
            QTimer.singleShot(50, self._close_when_sent)
        else:
            self.close()

    def changeEvent(self, event: QEvent) -> None:
        # The student pane's HTML takes its link colour when it is set: redraw it for a new theme.
        if event.type() == QEvent.Type.PaletteChange and getattr(self, "detail_pane", None) is not None:
            self.detail_pane.render_student()
        super().changeEvent(event)

    #: How long closing waits for decisions made on an enrollment still being opened (its claim).
    CLOSE_WAIT_SECONDS = 15.0

    def closeEvent(self, event: QCloseEvent) -> None:
        # A decision made on an enrollment still being opened is sent when its claim comes: the
        # window stays until then (or it is refused in words), so none is dropped unsaid. Decisions
        # already on their way are written by the runner before the claim is given back.
        deadline = getattr(self, "_close_deadline", None)
        if self.decisions.waiting() and (deadline is None or time.monotonic() < deadline):
            event.ignore()
            if deadline is None:
                self._close_deadline = time.monotonic() + self.CLOSE_WAIT_SECONDS
                self.statusBar().showMessage("Saving the decisions still on their way before closing…")
                self._close_when_sent()
            return
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

"""Composition root of the desktop application: builds the Qt application, decides which database to
open, and builds the database, the one background runner, the document store and the main window.

Which database:

* ``--url`` / ``COHORTDESK_DATABASE_URL`` name it directly; nothing is asked.
* First run on this machine (``AppSettings.first_run_done`` false): the welcome screen offers "Try with
  demo data" (the embedded SQLite store, filled with demo data behind a progress dialog) or "Connect to
  your institution's server" (the login dialog: connection profiles, password from the keyring or typed).
* Later runs reopen the remembered choice: the embedded store directly, a server profile through the
  login dialog with that profile preselected.

The password of a server login goes from the login dialog straight into the engine's ``connect_args``
(``services.connection.profiles.open_database``); it is never written to the settings, the profiles file or a log.
The profile also says where the uploaded documents are stored, whether a pooler is in front, and
which standby serves reports. When the server later refuses the password (it was changed, the login
was removed), the window stops retrying and the login dialog asks again, saying why.
The schema is brought up to date off the GUI thread by ``MainWindow.open_database``. The embedded
store's ``Database`` is built on first use (``db.deferred``): the window shows the queue's first page,
read with ``sqlite3``, before SQLAlchemy and the ORM load.
``COHORTDESK_SQL_GUARD=1`` makes any SQL on the GUI thread raise (as the tests do).
``COHORTDESK_EXIT_WHEN_READY=1`` (``bench/startup.py``) prints ``COHORTDESK_READY <unix time>`` once
the first queue page is painted and quits.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import QApplication, QWidget

from cohortdesk import logs, paths
from cohortdesk.db.deferred import SQLITE_PREFIX, DeferredDatabase
from cohortdesk.services.connection import profiles
from cohortdesk.services.connection.profiles import ConnectionProfile
from cohortdesk.services.connection.startup import StartupInfo
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.settings import THEMES, AppSettings, load_settings, save_settings
from cohortdesk.views import style
from cohortdesk.views.runner import Runner
from cohortdesk.views.welcome_dialog import CONNECT, DEMO, WelcomeDialog
from cohortdesk.views.workstation import MainWindow
from cohortdesk.views.workstation.reading import install_reading

if TYPE_CHECKING:
    from cohortdesk.db import Database
    from cohortdesk.views.login_dialog import LoginResult

log = logging.getLogger(__name__)

EMBEDDED = "embedded"
DEMO_STUDENTS = 200
THEME_LABELS = {"system": "&System", "light": "&Light", "dark": "&Dark"}


def application(argv: Sequence[str] | None = None, theme: str = "system") -> QApplication:
    """The QApplication, created once with CohortDesk's name, icon and look."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv or sys.argv))
    assert isinstance(app, QApplication)
    app.setApplicationName(paths.APP_NAME)
    app.setOrganizationName(paths.APP_AUTHOR)
    app.setApplicationDisplayName(paths.APP_NAME)
    icon = _icon()
    if icon is not None:
        app.setWindowIcon(icon)
    style.apply(app, theme)
    return app


def _icon() -> QIcon | None:
    folder = paths.resources_dir() / "icons"
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        candidate = folder / f"cohortdesk-{size}.png"
        if candidate.is_file():
            icon.addFile(str(candidate))
    return None if icon.isNull() else icon


def settle_heap() -> None:
    """Move every object alive now into the collector's permanent generation.

    The start-up leaves some hundred thousand long-lived objects (Qt wrappers, SQLAlchemy's mappers and
    caches, modules); each full collection walked all of them, 70–150 ms with the GIL held, and a
    background export triggers one every few seconds, freezing the window (bench/responsiveness.py).
    Frozen objects are never scanned again, so full collections only walk what came later.

    ``cli.main`` turns collection off while the window starts (it found only a few hundred cyclic
    garbage objects among them, which stay frozen); this turns it back on."""
    gc.freeze()
    gc.enable()


# --- which database -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The database to open. ``password`` lives in memory only (and never in ``repr``)."""

    url: str
    password: str | None = field(default=None, repr=False)
    profile: str | None = None  # connection profile name; None: the embedded store or a given URL
    demo: bool = False  # fill an empty embedded store with the demo data
    connection: ConnectionProfile | None = field(default=None, repr=False, compare=False)

    @property
    def choice(self) -> str:
        """What ``AppSettings.database_choice`` remembers for this target."""
        return self.profile or EMBEDDED


def embedded_url() -> str:
    return f"sqlite:///{paths.default_sqlite_path()}"


def _ask_welcome(parent: QWidget | None) -> str | None:
    gc.enable()  # a dialog waits for a person: collect again (cli.main paused it for the start)
    dialog = WelcomeDialog(parent)
    dialog.exec()
    return dialog.choice


def _ask_login(parent: QWidget | None, profile: str | None, message: str | None = None) -> LoginResult | None:
    from cohortdesk.views.login_dialog import choose_connection  # the keyring: only when asked

    gc.enable()  # a dialog waits for a person: collect again (cli.main paused it for the start)
    return choose_connection(parent, allow_local=True, profile=profile, message=message)


def _from_login(result: LoginResult) -> Target:
    if result.local or result.url is None:
        return Target(embedded_url())
    assert result.profile is not None
    return Target(result.url, result.password, result.profile.name, connection=result.profile)


def choose_target(
    settings: AppSettings,
    url: str | None = None,
    *,
    ask_welcome: Callable[[], str | None] | None = None,
    ask_login: Callable[[str | None], LoginResult | None] | None = None,
) -> tuple[Target | None, AppSettings]:
    """Decide which database to open; returns it (None: the person closed the screens) and the
    settings with the choice remembered (saved already when they changed)."""
    if url or os.environ.get("COHORTDESK_DATABASE_URL"):
        return Target(url or os.environ["COHORTDESK_DATABASE_URL"]), settings
    welcome = ask_welcome or (lambda: _ask_welcome(None))
    login = ask_login or (lambda name: _ask_login(None, name))
    if settings.first_run_done:
        if settings.database_choice == EMBEDDED:
            return Target(embedded_url()), settings
        result = login(settings.database_choice)
        if result is None:
            return None, settings
        return _remember(settings, _from_login(result))
    while True:
        choice = welcome()
        if choice == DEMO:
            return _remember(settings, Target(embedded_url(), demo=True))
        if choice != CONNECT:
            return None, settings
        result = login(None)
        if result is not None:
            return _remember(settings, _from_login(result))
        # Cancelled the login: back to the welcome screen.


def _remember(settings: AppSettings, target: Target) -> tuple[Target, AppSettings]:
    changed = settings.with_changes(first_run_done=True, database_choice=target.choice)
    if changed != settings:
        try:
            save_settings(changed)
        except OSError as exc:
            log.warning("Could not remember the database choice: %s", exc)
    return target, changed


# --- building the window --------------------------------------------------------------------------


def build_window(
    url: str | None = None,
    settings: AppSettings | None = None,
    *,
    password: str | None = None,
    profile: ConnectionProfile | None = None,
) -> tuple[MainWindow, Runner, Database | DeferredDatabase]:
    settings = settings or load_settings()
    url = url or os.environ.get("COHORTDESK_DATABASE_URL") or embedded_url()
    db: Database | DeferredDatabase
    if profile is not None:
        db = profiles.open_database(profile, password)
    elif _plain_sqlite_file(url) and not password:
        db = DeferredDatabase(url)  # built on first use, after the first queue page is painted
    else:
        from cohortdesk.db import Database

        extra = {"connect_args": profiles.connect_args(password)} if password else {}
        db = Database(url, **extra)
    if os.environ.get("COHORTDESK_SQL_GUARD") == "1":
        from cohortdesk.db.guard import ThreadGuard

        ThreadGuard(db.engine).install()
    runner = Runner()
    window = MainWindow(db, runner, DocumentStore(db.document_storage), page_size=settings.queue_page_size)
    install_reading(window)  # reads documents ahead, in a worker process (views/workstation/reading.py)
    runner.error_occurred.connect(window.background_error)  # disconnects become the offline banner
    return window, runner, db


def _plain_sqlite_file(url: str) -> bool:
    return url.startswith(SQLITE_PREFIX) and "?" not in url and url != SQLITE_PREFIX + ":memory:"


class Desktop(QObject):
    """The running application: one main window on one database at a time, its runner, and the menu
    entries that live outside the main window's own module (export, administration, theme,
    switching connection)."""

    def __init__(self, app: QApplication, settings: AppSettings) -> None:
        super().__init__(app)
        self.app = app
        self.settings = settings
        self.window: MainWindow | None = None
        self.runner: Runner | None = None
        self.db: Database | DeferredDatabase | None = None
        self.target: Target | None = None
        self.admin_window: QWidget | None = None
        self.theme_actions: dict[str, QAction] = {}
        hints = QGuiApplication.styleHints()
        if hints is not None:
            hints.colorSchemeChanged.connect(self._system_scheme_changed)

    def open(self, target: Target, demo_students: int = DEMO_STUDENTS) -> MainWindow:
        """Build the window on ``target`` (closing the previous one) and start opening the database."""
        old = (self.window, self.runner, self.db)
        window, runner, db = build_window(
            target.url, self.settings, password=target.password, profile=target.connection
        )
        self.window, self.runner, self.db, self.target = window, runner, db, target
        log.info("Opening %s", db.describe())
        self._wire(window)
        window.show()
        window.open_database(demo_students=demo_students if target.demo else 0)
        if isinstance(db, DeferredDatabase):
            # SQLAlchemy and the ORM load after the first page, on the database lane: collecting stays
            # paused until the database is open, and their objects are frozen with the rest.
            window.opened.connect(lambda _info: settle_heap())
        else:
            settle_heap()
        window.queue_model.page_loaded.connect(
            lambda first, _count: settle_heap() if first == 0 and window.startup_info is not None else None
        )
        self._close(*old)
        return window

    def _close(
        self, window: MainWindow | None, runner: Runner | None, db: Database | DeferredDatabase | None
    ) -> None:
        if window is not None:
            window.close()
            window.deleteLater()
        if runner is not None:
            runner.shutdown(wait=True)
        if db is not None:
            db.dispose()

    def shutdown(self) -> None:
        self._close(None, self.runner, self.db)
        self.runner = self.db = None

    # --- menus -------------------------------------------------------------------------------

    def _wire(self, window: MainWindow) -> None:
        from cohortdesk.views.export_dialog import install_export_action
        from cohortdesk.views.learner_tools import install_learner_tools

        install_export_action(window)
        install_learner_tools(window)
        switch = QAction("S&witch connection…", window)
        switch.setObjectName("action_switch_connection")
        switch.setStatusTip("Open another database: your institution's server or this computer's")
        switch.triggered.connect(self.switch_connection)
        _insert_before_last_separator(window.menus["file"], switch)
        self._add_theme_menu(window)
        window.opened.connect(lambda info: self._on_opened(window, info))
        window.connection.credentials_refused.connect(self.sign_in_again)
        window.installEventFilter(self)  # closing asks the administration window about unsaved edits

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close and watched is self.window and not self._close_admin():
            event.ignore()
            return True
        return super().eventFilter(watched, event)

    def _close_admin(self) -> bool:
        """Close the administration window; False when it stays open (the person kept editing)."""
        admin = self.admin_window
        return admin is None or not admin.isVisible() or admin.close()

    def _add_theme_menu(self, window: MainWindow) -> None:
        view = window.menus["view"]
        view.addSeparator()
        menu = view.addMenu("&Theme")
        menu.setObjectName("menu_theme")
        group = QActionGroup(menu)
        group.setExclusive(True)
        self.theme_actions = {}
        for theme in THEMES:
            action = QAction(THEME_LABELS[theme], menu)
            action.setObjectName(f"action_theme_{theme}")
            action.setCheckable(True)
            action.setChecked(theme == self.settings.theme)
            action.triggered.connect(lambda _checked=False, t=theme: self.set_theme(t))
            group.addAction(action)
            menu.addAction(action)
            self.theme_actions[theme] = action

    def set_theme(self, theme: str) -> None:
        """Apply ``theme`` at once and remember it."""
        if theme not in THEMES:
            return
        style.apply(self.app, theme)
        if theme in self.theme_actions:
            self.theme_actions[theme].setChecked(True)
        if theme != self.settings.theme:
            self.settings = self.settings.with_changes(theme=theme)
            try:
                save_settings(self.settings)
            except OSError as exc:
                log.warning("Could not remember the theme: %s", exc)

    def _system_scheme_changed(self, *_args: Any) -> None:
        if self.settings.theme == "system":
            style.apply(self.app, "system")

    def _on_opened(self, window: MainWindow, info: StartupInfo) -> None:
        if window is not self.window or not info.identity.can("configure"):
            return
        if window.findChild(QAction, "action_institution_configuration") is not None:
            return
        action = QAction("&Institution configuration…", window)
        action.setObjectName("action_institution_configuration")
        action.setStatusTip("Institution, sponsors and cohorts (super admins)")
        action.setShortcut(QKeySequence("Ctrl+Shift+I"))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(self.open_admin)
        window.add_menu_action("administration", action)

    def open_admin(self) -> QWidget | None:
        """The administration window for the current identity (one, brought to the front)."""
        window = self.window
        if window is None or window.identity is None or not window.identity.can("configure"):
            return None
        from cohortdesk.views.admin.admin_window import AdminWindow

        admin = self.admin_window
        if admin is not None and getattr(admin, "identity", None) != window.identity and admin.close():
            admin = None  # opened before the demo data gave the store its institution
        if admin is None or admin.parent() is not window:
            admin = AdminWindow(window.runner, window.db, window.identity, window)
            admin.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            admin.destroyed.connect(lambda _obj=None: setattr(self, "admin_window", None))
            self.admin_window = admin
        admin.show()
        admin.raise_()
        admin.activateWindow()
        return admin

    def sign_in_again(self, message: str) -> None:
        """The server refused the login the window was opened with (a changed password, a removed
        login): ask again, saying why, and reopen on the answer."""
        self.switch_connection(message)

    def switch_connection(self, message: str | None = None) -> None:
        """File → Switch connection…: the login dialog, then the chosen database in a new window."""
        current = self.target.profile if self.target is not None else None
        result = _ask_login(self.window, current, message if isinstance(message, str) else None)
        if result is None or not self._close_admin():
            return
        target, self.settings = _remember(self.settings, _from_login(result))
        self.open(target)


def _insert_before_last_separator(menu: Any, action: QAction) -> None:
    separators = [a for a in menu.actions() if a.isSeparator()]
    if separators:
        menu.insertAction(separators[-1], action)
    else:
        menu.addAction(action)


def _exit_when_ready(window: MainWindow, app: QApplication) -> None:
    """For ``bench/startup.py``: report the moment the first queue page is painted, then quit."""

    def page_loaded(first: int, _count: int) -> None:
        if first != 0 or not window.queue_model.rowCount():
            return
        window.repaint()  # paint now, synchronously, with the rows in
        sys.stdout.write(f"COHORTDESK_READY {time.time():.6f}\n")
        sys.stdout.flush()
        QTimer.singleShot(0, app.quit)

    window.queue_model.page_loaded.connect(page_loaded)


def run_gui(url: str | None = None, argv: Sequence[str] | None = None) -> int:
    settings = load_settings()
    app = application(argv, settings.theme)
    logs.configure()
    target, settings = choose_target(settings, url)
    if target is None:
        return 0
    desktop = Desktop(app, settings)
    window = desktop.open(target)
    if os.environ.get("COHORTDESK_EXIT_WHEN_READY") == "1":
        _exit_when_ready(window, app)
    try:
        return app.exec()
    finally:
        desktop.shutdown()

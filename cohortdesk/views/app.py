"""Composition root of the desktop application: builds the Qt application, the database, the one
background runner, the document store and the main window, once.

The database is the embedded SQLite store unless ``--url`` or ``COHORTDESK_DATABASE_URL`` names
another; the schema is brought up to date off the GUI thread by ``MainWindow.open_database``.
``COHORTDESK_SQL_GUARD=1`` makes any SQL on the GUI thread raise (as the tests do).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from cohortdesk import logs, paths
from cohortdesk.db import Database, default_url
from cohortdesk.services.storage import DocumentStore
from cohortdesk.settings import AppSettings, load_settings
from cohortdesk.views import style
from cohortdesk.views.errors import show_error
from cohortdesk.views.main_window import MainWindow
from cohortdesk.views.runner import Runner

log = logging.getLogger(__name__)


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


def build_window(
    url: str | None = None, settings: AppSettings | None = None
) -> tuple[MainWindow, Runner, Database]:
    settings = settings or load_settings()
    db = Database(url or default_url())
    if os.environ.get("COHORTDESK_SQL_GUARD") == "1":
        from cohortdesk.db.guard import ThreadGuard

        ThreadGuard(db.engine).install()
    runner = Runner()
    window = MainWindow(db, runner, DocumentStore(), page_size=settings.queue_page_size)
    runner.error_occurred.connect(lambda error, label: show_error(window, error, _title(label)))
    return window, runner, db


def _title(label: str) -> str:
    return label[:1].upper() + label[1:] if label else "CohortDesk"


def run_gui(url: str | None = None, argv: Sequence[str] | None = None) -> int:
    settings = load_settings()
    app = application(argv, settings.theme)
    logs.configure()
    window, runner, db = build_window(url, settings)
    log.info("Opening %s", db.describe())
    window.show()
    window.open_database()
    try:
        return app.exec()
    finally:
        runner.shutdown(wait=True)
        db.dispose()

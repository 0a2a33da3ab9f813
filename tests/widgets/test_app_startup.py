"""The composition root: which database opens at start-up (welcome screen, login, remembered choice),
the demo path, the menus wired around the main window (export, administration, theme, switching
connection) and window placement on the monitors present."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QApplication

from cohortdesk.services.connection.profiles import ConnectionProfile, connection_url
from cohortdesk.settings import AppSettings, load_settings, save_settings, settings_path
from cohortdesk.views import screens
from cohortdesk.views.app import EMBEDDED, Desktop, Target, build_window, choose_target, embedded_url
from cohortdesk.views.login_dialog import LoginDialog, LoginResult
from cohortdesk.views.welcome_dialog import CONNECT, DEMO
from cohortdesk.views.workstation import MainWindow

PROFILE = ConnectionProfile(
    name="Head office", host="db.example.co.za", database="docuseal", user="thandi", sslmode="require"
)
SECRET = "correct horse battery"


class Script:
    """Scripted answers to the welcome and login screens, with a record of what was asked."""

    def __init__(self, welcome: list[str | None], login: list[LoginResult | None]) -> None:
        self.welcome_answers, self.login_answers = welcome, login
        self.asked: list[tuple[str, str | None]] = []

    def welcome(self) -> str | None:
        self.asked.append(("welcome", None))
        return self.welcome_answers.pop(0)

    def login(self, profile: str | None) -> LoginResult | None:
        self.asked.append(("login", profile))
        return self.login_answers.pop(0)


def _choose(settings: AppSettings, script: Script, url: str | None = None):
    return choose_target(settings, url, ask_welcome=script.welcome, ask_login=script.login)


def test_first_run_demo_opens_the_embedded_store_with_demo_data_and_remembers_it(cohortdesk_home):
    script = Script([DEMO], [])
    target, settings = _choose(load_settings(), script)
    assert target == Target(embedded_url(), demo=True)
    assert settings.first_run_done and settings.database_choice == EMBEDDED
    assert load_settings() == settings
    # Next start: straight to the embedded store, nothing asked, no demo loaded again.
    again = Script([], [])
    target, _ = _choose(load_settings(), again)
    assert target == Target(embedded_url()) and again.asked == []


def test_first_run_connect_keeps_the_password_in_memory_only(cohortdesk_home):
    result = LoginResult(PROFILE, connection_url(PROFILE), SECRET)
    script = Script([CONNECT, CONNECT], [None, result])  # cancelled login goes back to the welcome
    target, settings = _choose(load_settings(), script)
    assert script.asked == [("welcome", None), ("login", None), ("welcome", None), ("login", None)]
    assert target is not None and target.password == SECRET and target.profile == "Head office"
    assert SECRET not in target.url and SECRET not in repr(target)
    assert settings.database_choice == "Head office"
    assert SECRET not in settings_path().read_text(encoding="utf-8")
    # Next start: the login screen with that profile preselected.
    script = Script([], [None])
    target, _ = _choose(load_settings(), script)
    assert target is None and script.asked == [("login", "Head office")]


def test_closing_the_welcome_screen_opens_nothing(cohortdesk_home):
    target, settings = _choose(load_settings(), Script([None], []))
    assert target is None and not settings.first_run_done
    assert not settings_path().exists()


def test_local_choice_in_the_login_dialog_opens_the_embedded_store(cohortdesk_home):
    target, settings = _choose(load_settings(), Script([CONNECT], [LoginResult(None, None, None)]))
    assert target == Target(embedded_url()) and settings.database_choice == EMBEDDED


def test_a_given_url_skips_every_screen(cohortdesk_home, sqlite_url, monkeypatch):
    script = Script([], [])
    target, _ = _choose(load_settings(), script, url=sqlite_url)
    assert target == Target(sqlite_url) and script.asked == []
    monkeypatch.setenv("COHORTDESK_DATABASE_URL", sqlite_url)
    target, _ = _choose(load_settings(), script)
    assert target == Target(sqlite_url) and script.asked == []


def test_build_window_passes_the_password_to_the_driver_only(qtbot, cohortdesk_home):
    window, runner, db = build_window(connection_url(PROFILE), AppSettings(), password=SECRET)
    qtbot.addWidget(window)
    try:
        assert SECRET not in db.describe() and SECRET not in str(db.url)
        assert db.engine.pool._creator is not None  # built; the password sits in the dialect's args only
        assert db.engine.url.password is None
    finally:
        runner.shutdown()
        db.dispose()


def test_login_dialog_preselects_the_remembered_profile(qtbot, cohortdesk_home):
    from cohortdesk.services.connection import profiles

    for name in ("Branch", "Head office"):
        profiles.save_profile(
            ConnectionProfile(name=name, host="h", database="d", user="u", sslmode="require")
        )
    profiles.mark_used("Branch")
    dialog = LoginDialog(profile="Head office")
    qtbot.addWidget(dialog)
    assert dialog.profile_combo.currentText() == "Head office"
    assert LoginDialog().profile_combo.currentText() == "Branch"


@pytest.fixture
def desktop(qapp, cohortdesk_home, monkeypatch):
    monkeypatch.setenv("COHORTDESK_SQL_GUARD", "1")
    desktop = Desktop(qapp, load_settings())
    yield desktop
    if desktop.window is not None:
        desktop.window.close()
    desktop.shutdown()
    from cohortdesk.views import style

    style.apply(qapp, "light")


def test_demo_path_loads_the_demo_and_wires_the_menus(qtbot, desktop):
    window = desktop.open(Target(embedded_url(), demo=True), demo_students=12)
    qtbot.waitUntil(lambda: window.queue_model.rowCount() > 0, timeout=60000)
    qtbot.waitUntil(lambda: window.runner.in_flight == 0, timeout=30000)
    titles = [a.objectName() for a in window.menus["file"].actions()]
    assert "exportAction" in titles
    assert "action_switch_connection" in titles
    assert titles.index("action_switch_connection") < titles.index("action_quit")
    # The local person of an embedded store is its super admin: Administration is offered.
    admin_action = window.findChild(QAction, "action_institution_configuration")
    assert admin_action is not None and window.menus["administration"].menuAction().isVisible()
    # The documented shortcut opens it from the workstation.
    assert admin_action.shortcut().toString() == "Ctrl+Shift+I"
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    window.ui.queue_table.setFocus()
    qtbot.keyClick(
        window.ui.queue_table,
        Qt.Key.Key_I,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(lambda: desktop.admin_window is not None, timeout=5000)
    admin = desktop.admin_window
    assert admin is not None and admin.isVisible()
    qtbot.waitUntil(lambda: admin.snapshot is not None, timeout=15000)
    assert desktop.open_admin() is admin  # one window, brought to the front
    admin.close()


def _embedded_store_with_demo(students: int = 30) -> None:
    """The embedded store, made and filled the way "Try with demo data" does."""
    from cohortdesk.db import Database, migrate
    from cohortdesk.services import demo

    db = Database(embedded_url())
    migrate.upgrade(db)
    demo.load_demo(db, students=students)
    db.dispose()


def test_the_embedded_store_shows_its_first_page_then_opens_as_usual(qtbot, desktop):
    from cohortdesk.db import Database
    from cohortdesk.db.deferred import DeferredDatabase
    from cohortdesk.services.review import first_page, queue

    _embedded_store_with_demo()
    window = desktop.open(Target(embedded_url()))
    assert isinstance(desktop.db, DeferredDatabase)
    pages: list[tuple[int, bool]] = []
    window.queue_model.page_loaded.connect(
        lambda first, _count: pages.append((first, window.startup_info is None))
    )
    qtbot.waitUntil(lambda: window.startup_info is not None, timeout=30000)
    qtbot.waitUntil(lambda: window.runner.in_flight == 0, timeout=30000)
    # Shown before the database was opened, and kept once it was (no second read).
    assert pages == [(0, True)]
    assert window.queue_model.total >= window.queue_model.rowCount() > 0
    assert window.queue_model.viewer_user_id == window.identity.user_id
    db = Database(embedded_url())
    try:
        usual = queue.queue_page(
            db, first_page.START_FILTER, first_page.START_SORT, 0, window.queue_model.page_size
        )
    finally:
        db.dispose()
    assert window.queue_model.rows() == usual.rows


def test_the_first_page_is_painted_before_sqlalchemy_loads(cohortdesk_home):
    import os
    import subprocess
    import sys
    from pathlib import Path

    _embedded_store_with_demo(20)
    save_settings(AppSettings(first_run_done=True, database_choice=EMBEDDED))
    watch = (
        "import sys\n"
        "write = sys.stdout.write\n"
        "def ready(text):\n"
        "    if text.startswith('COHORTDESK_READY'):\n"
        "        loaded = sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'cohortdesk.models', 'psycopg')))\n"
        "        sys.stderr.write(f'LOADED {loaded}\\n')\n"
        "    return write(text)\n"
        "sys.stdout.write = ready\n"
        "sys.argv = ['cohortdesk']\n"
        "from cohortdesk.cli import main\n"
        "raise SystemExit(main())\n"
    )
    env = {**os.environ, "COHORTDESK_EXIT_WHEN_READY": "1", "QT_QPA_PLATFORM": "offscreen"}
    env.pop("COHORTDESK_SQL_GUARD", None)
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", watch], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "COHORTDESK_READY" in out.stdout
    assert "LOADED []" in out.stderr


def test_theme_menu_applies_live_and_is_remembered(qtbot, desktop, qapp):
    window = desktop.open(Target(embedded_url()))
    qtbot.waitUntil(lambda: window.identity is not None, timeout=30000)
    actions = {t: window.findChild(QAction, f"action_theme_{t}") for t in ("system", "light", "dark")}
    assert all(actions.values()) and actions["system"].isChecked()
    actions["dark"].trigger()
    assert qapp.property("cohortdesk_theme") == "dark"
    assert qapp.palette().window().color().lightness() < 80
    assert load_settings().theme == "dark" and actions["dark"].isChecked()
    actions["light"].trigger()
    assert qapp.property("cohortdesk_theme") == "light" and load_settings().theme == "light"


def test_switch_connection_opens_the_chosen_database_in_a_new_window(qtbot, desktop, monkeypatch, tmp_path):
    from cohortdesk.views import app as app_module

    first = desktop.open(Target(embedded_url()))
    qtbot.waitUntil(lambda: first.identity is not None, timeout=30000)
    monkeypatch.setattr(
        app_module, "_ask_login", lambda _parent, _profile, *_rest: LoginResult(None, None, None)
    )
    desktop.switch_connection()
    assert desktop.window is not first and isinstance(desktop.window, MainWindow)
    assert not first.isVisible() and desktop.window.isVisible()
    qtbot.waitUntil(lambda: desktop.window.identity is not None, timeout=30000)
    assert load_settings().database_choice == EMBEDDED


def test_welcome_dialog_runs_modally_before_the_window(qtbot, cohortdesk_home):
    from cohortdesk.views.app import _ask_welcome

    def click() -> None:
        dialog = QApplication.activeModalWidget()
        assert dialog is not None
        dialog.demo_button.click()

    QTimer.singleShot(50, click)
    assert _ask_welcome(None) == DEMO


# --- window placement --------------------------------------------------------------------------

LAPTOP = QRect(0, 0, 1920, 1080)
DOCKED = QRect(1920, 0, 2560, 1440)


def test_on_present_screens():
    assert screens.on_present_screens(QRect(100, 100, 1200, 800), [LAPTOP])
    assert screens.on_present_screens(QRect(2200, 100, 1600, 900), [LAPTOP, DOCKED])
    assert not screens.on_present_screens(QRect(2200, 100, 1600, 900), [LAPTOP])  # undocked
    assert not screens.on_present_screens(QRect(100, -500, 1200, 800), [LAPTOP])  # title bar off-screen
    assert not screens.on_present_screens(QRect(1500, 100, 1600, 900), [LAPTOP])  # mostly off-screen
    assert screens.on_present_screens(QRect(1500, 100, 1600, 900), [LAPTOP, DOCKED])
    centred = screens.centred_on(LAPTOP, (1600, 960))
    assert centred.size().width() == 1600 and centred.center() == LAPTOP.center()
    assert screens.centred_on(QRect(0, 0, 1280, 720), (1600, 960)).width() <= 1280


def test_window_saved_on_a_missing_monitor_opens_centred_on_the_primary_screen(
    qtbot, cohortdesk_home, sqlite_db
):
    from cohortdesk.views.runner import Runner
    from cohortdesk.views.settings import window_settings

    runner = Runner()
    window = MainWindow(sqlite_db, runner)
    qtbot.addWidget(window)
    area = QGuiApplication.primaryScreen().availableGeometry()
    window.setGeometry(area.right() + 3000, area.top() + 50, 900, 600)  # where a second monitor was
    window.save_settings()
    assert window_settings().value("window/geometry") is not None
    reopened = MainWindow(sqlite_db, runner)
    qtbot.addWidget(reopened)
    assert screens.on_present_screens(reopened.geometry(), screens.available_areas())
    assert area.contains(reopened.geometry().center())
    runner.shutdown()


def test_settings_never_hold_a_password(cohortdesk_home):
    save_settings(AppSettings(first_run_done=True, database_choice="Head office"))
    assert set(json.loads(settings_path().read_text(encoding="utf-8"))) == set(AppSettings().__dict__)


def test_logging_goes_on_after_a_log_view_is_destroyed(qtbot, cohortdesk_home):
    import logging

    from shiboken6 import delete

    from cohortdesk import logs
    from cohortdesk.views.log_view import LogViewDialog

    ring = logs.configure(to_file=False)
    dialog = LogViewDialog()
    before = len(ring._listeners)
    delete(dialog)  # destroyed without being closed (e.g. with its parent window)
    logging.getLogger("cohortdesk.test").warning("still logging")
    assert len(ring._listeners) < before or before == 0
    assert "still logging" in ring.text()


def test_closing_the_main_window_asks_about_unsaved_administration_edits(qtbot, desktop, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from cohortdesk.views.admin import form_support

    window = desktop.open(Target(embedded_url(), demo=True), demo_students=5)
    qtbot.waitUntil(lambda: window.queue_model.rowCount() > 0, timeout=60000)
    qtbot.waitUntil(
        lambda: window.findChild(QAction, "action_institution_configuration") is not None, timeout=60000
    )
    admin = desktop.open_admin()
    qtbot.waitUntil(lambda: admin.snapshot is not None, timeout=15000)
    admin.institution_page.name.setText("Renamed but not saved")
    assert admin.institution_page.is_dirty()
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Discard]
    monkeypatch.setattr(form_support, "ask_unsaved", lambda *_a: answers.pop(0))
    assert not window.close()  # kept editing: nothing closes
    assert window.isVisible() and admin.isVisible()
    assert window.close()  # discarded: both close
    assert not window.isVisible()

"""Welcome screen, themes, log view and About box: the finish around the main window."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt

from cohortdesk import logs
from cohortdesk.services.connection.system_info import DatabaseFacts
from cohortdesk.settings import AppSettings, load_settings, save_settings
from cohortdesk.views.about_dialog import AboutDialog
from cohortdesk.views.log_view import LogViewDialog
from cohortdesk.views.theme import apply_theme
from cohortdesk.views.welcome_dialog import CONNECT, DEMO, WelcomeDialog


def test_welcome_offers_exactly_two_choices(qtbot):
    dialog = WelcomeDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClick(dialog.demo_button, Qt.Key.Key_Space)
    assert dialog.choice == DEMO
    other = WelcomeDialog()
    qtbot.addWidget(other)
    other.connect_button.click()
    assert other.choice == CONNECT


def test_themes_apply(qapp):
    assert apply_theme(qapp, "dark") == "dark"
    dark_window = qapp.palette().window().color().lightness()
    assert apply_theme(qapp, "light") == "light"
    assert qapp.palette().window().color().lightness() > dark_window
    assert apply_theme(qapp, "system") in ("light", "dark")


def test_settings_round_trip_and_bad_file(cohortdesk_home):
    assert load_settings() == AppSettings()
    save_settings(AppSettings(theme="dark", first_run_done=True))
    assert load_settings().theme == "dark" and load_settings().first_run_done
    from cohortdesk.settings import settings_path

    settings_path().write_text("{not json", encoding="utf-8")
    assert load_settings() == AppSettings()
    settings_path().write_text('{"theme": "purple", "queue_page_size": "x"}', encoding="utf-8")
    assert load_settings() == AppSettings()


def test_log_view_shows_live_lines_and_copies(qtbot, cohortdesk_home):
    logs.configure(to_file=False)
    dialog = LogViewDialog()
    qtbot.addWidget(dialog)
    logging.getLogger("cohortdesk.test").warning("queue refreshed in 12 ms")
    qtbot.waitUntil(lambda: "queue refreshed" in dialog.text.toPlainText())
    dialog.copy_to_clipboard()
    from PySide6.QtGui import QGuiApplication

    assert "queue refreshed" in QGuiApplication.clipboard().text()
    dialog.level.setCurrentIndex(3)  # errors only
    assert "queue refreshed" not in dialog.text.toPlainText()


def test_about_lists_versions(qtbot):
    facts = DatabaseFacts(
        "PostgreSQL 15.20", "postgresql+psycopg://officer@db/cohortdesk", "0004", "0004", "attach"
    )
    dialog = AboutDialog(facts)
    qtbot.addWidget(dialog)
    text = dialog.text()
    for needle in ("CohortDesk:", "Qt:", "PostgreSQL 15.20", "Schema revision: 0004"):
        assert needle in text

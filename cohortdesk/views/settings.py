"""Window state (size, splitters, column widths) in ``QSettings``, stored as an INI file in the
platformdirs config folder, so it follows ``COHORTDESK_HOME`` like every other path."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from cohortdesk import paths

SETTINGS_FILE = "window-state.ini"


def window_settings() -> QSettings:
    return QSettings(str(paths.config_dir() / SETTINGS_FILE), QSettings.Format.IniFormat)

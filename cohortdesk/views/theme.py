"""Theme System / Light / Dark on the Fusion style, so every platform looks the same and high-DPI
rendering stays crisp. "System" follows the desktop's colour scheme."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

ACCENT = QColor("#1f7a6d")


def _light_palette() -> QPalette:
    p = QPalette()
    roles = QPalette.ColorRole
    p.setColor(roles.Window, QColor("#f5f6f7"))
    p.setColor(roles.WindowText, QColor("#1d2327"))
    p.setColor(roles.Base, QColor("#ffffff"))
    p.setColor(roles.AlternateBase, QColor("#f0f3f4"))
    p.setColor(roles.ToolTipBase, QColor("#ffffff"))
    p.setColor(roles.ToolTipText, QColor("#1d2327"))
    p.setColor(roles.Text, QColor("#1d2327"))
    p.setColor(roles.PlaceholderText, QColor("#5f6870"))
    p.setColor(roles.Button, QColor("#eceff1"))
    p.setColor(roles.ButtonText, QColor("#1d2327"))
    p.setColor(roles.Highlight, ACCENT)
    p.setColor(roles.HighlightedText, QColor("#ffffff"))
    p.setColor(roles.Link, QColor("#176b9c"))
    p.setColor(QPalette.ColorGroup.Disabled, roles.Text, QColor("#9aa3a8"))
    p.setColor(QPalette.ColorGroup.Disabled, roles.ButtonText, QColor("#9aa3a8"))
    p.setColor(QPalette.ColorGroup.Disabled, roles.WindowText, QColor("#9aa3a8"))
    return p


def _dark_palette() -> QPalette:
    p = QPalette()
    roles = QPalette.ColorRole
    p.setColor(roles.Window, QColor("#202427"))
    p.setColor(roles.WindowText, QColor("#e6e9eb"))
    p.setColor(roles.Base, QColor("#16191b"))
    p.setColor(roles.AlternateBase, QColor("#1d2124"))
    p.setColor(roles.ToolTipBase, QColor("#2a2f33"))
    p.setColor(roles.ToolTipText, QColor("#e6e9eb"))
    p.setColor(roles.Text, QColor("#e6e9eb"))
    p.setColor(roles.PlaceholderText, QColor("#939ea5"))
    p.setColor(roles.Button, QColor("#2a2f33"))
    p.setColor(roles.ButtonText, QColor("#e6e9eb"))
    p.setColor(roles.Highlight, QColor("#1f7a6d"))
    p.setColor(roles.HighlightedText, QColor("#ffffff"))
    p.setColor(roles.Link, QColor("#6cb8e6"))
    p.setColor(QPalette.ColorGroup.Disabled, roles.Text, QColor("#697277"))
    p.setColor(QPalette.ColorGroup.Disabled, roles.ButtonText, QColor("#697277"))
    p.setColor(QPalette.ColorGroup.Disabled, roles.WindowText, QColor("#697277"))
    return p


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints is not None and hints.colorScheme() == Qt.ColorScheme.Dark


def effective_theme(choice: str) -> str:
    if choice in ("light", "dark"):
        return choice
    return "dark" if system_prefers_dark() else "light"


def apply_theme(app: QApplication, choice: str) -> str:
    """Apply ``system``, ``light`` or ``dark``; returns the theme actually shown."""
    app.setStyle(QStyleFactory.create("Fusion"))
    shown = effective_theme(choice)
    app.setPalette(_dark_palette() if shown == "dark" else _light_palette())
    app.setProperty("cohortdesk_theme", shown)
    return shown

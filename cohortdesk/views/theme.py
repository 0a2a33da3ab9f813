"""Theme System / Light / Dark on the Fusion style, so every platform looks the same and high-DPI
rendering stays crisp. "System" follows the desktop's colour scheme.

The one palette: the Qt palettes of both themes and, beside them, the status colours (errors,
warnings, success, muted text, borders, banners) each theme uses. Screens, style sheets and banners
take their colours from here (``colours()``, ``banner_style``), never hard-coded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

ACCENT = QColor("#1f7a6d")


@dataclass(frozen=True)
class Colours:
    """Status colours of one theme, as CSS colour strings."""

    error: str
    error_background: str
    error_border: str
    warning: str
    warning_background: str
    warning_border: str
    ok: str
    muted: str
    accent: str
    selected: str
    border: str


LIGHT = Colours(
    error="#b42318",
    error_background="#fdecea",
    error_border="#e7a19d",
    warning="#8a5300",
    warning_background="#fff4e0",
    warning_border="#e6c56f",
    ok="#1d6b3a",
    muted="#5f6b7a",
    accent="#1f7a6d",
    selected="#e1efec",
    border="#cfd6dc",
)
DARK = Colours(
    error="#f28b82",
    error_background="#3b2321",
    error_border="#7a3b36",
    warning="#f2b45a",
    warning_background="#3a2e1a",
    warning_border="#75602f",
    ok="#7fd69b",
    muted="#9aa5ad",
    accent="#2a9d8c",
    selected="#1f3b37",
    border="#3b4348",
)


def is_dark() -> bool:
    """Whether the application shows the dark theme now (read from its palette)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def colours() -> Colours:
    """The status colours of the theme shown now."""
    return DARK if is_dark() else LIGHT


def banner_style(
    object_name: str, tone: Literal["error", "warning"], *, padding: str = "6px 10px", bold: bool = False
) -> str:
    """The style sheet of a banner (offline, claim held, login error) in the theme shown now."""
    c = colours()
    text, background, border = (
        (c.error, c.error_background, c.error_border)
        if tone == "error"
        else (c.warning, c.warning_background, c.warning_border)
    )
    return (
        f"QLabel#{object_name} {{ background: {background}; color: {text}; border: 1px solid {border}; "
        f"border-radius: 4px; padding: {padding};{' font-weight: 600;' if bold else ''} }}"
    )


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

"""The workstation's look on top of the shared theme (``views/theme.py``: Fusion with a Light or Dark
palette): a small stylesheet written only in palette roles, so it follows either theme, plus the
state badge colours and font helpers. Screens ask here instead of hard-coding colours."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from cohortdesk.views import theme

#: Colours used inside HTML (student details) and for text that must stay readable on either theme.
MUTED_TEXT = "#6b747b"
BORDER = "#d3d8dc"
MISMATCH_TEXT = "#a0221b"
MISMATCH_BACKGROUND = "#fdecea"
OK_TEXT = "#176b36"

#: state key → (text colour, background colour) of a badge; light pills read well on both themes.
BADGES: dict[str, tuple[str, str]] = {
    "pending": ("#8a5300", "#fdf0d5"),
    "verified": ("#176b36", "#dcf3e3"),
    "approved": ("#176b36", "#dcf3e3"),
    "rejected": ("#a0221b", "#fbe0de"),
    "missing": ("#5b636b", "#eceef1"),
    "waiting": ("#5b636b", "#eceef1"),
    "in_progress": ("#1d4f9c", "#e0eafb"),
    "complete": ("#176b36", "#dcf3e3"),
    "stale": ("#6b4fa0", "#ece6f7"),
}


def badge_colors(state: str) -> tuple[QColor, QColor]:
    fg, bg = BADGES.get(state, BADGES["missing"])
    return QColor(fg), QColor(bg)


def muted(palette: QPalette) -> QColor:
    return palette.color(QPalette.ColorRole.PlaceholderText)


def small_font(base: QFont, bold: bool = False) -> QFont:
    font = QFont(base)
    size = base.pointSizeF()
    if size > 0:
        font.setPointSizeF(max(7.0, size * 0.88))
    font.setBold(bold)
    return font


STYLESHEET = """
QFrame#panel { background: palette(base); border: 1px solid palette(midlight); border-radius: 6px; }
QLabel#panelTitle { font-weight: 600; padding: 1px 0 3px 0; }
QLabel#panelHint, QLabel#queueSummary, QLabel#documentStatus, QLabel#queueScope {
    color: palette(placeholder-text);
}
QLabel#emptyState { color: palette(placeholder-text); padding: 24px; font-size: 11pt; }
QFrame#panel QTreeView, QFrame#panel QTableView, QFrame#panel QListWidget, QFrame#panel QTextBrowser,
QFrame#panel QTreeWidget { border: 1px solid transparent; border-radius: 4px; }
QFrame#panel QTreeView:focus, QFrame#panel QTableView:focus, QFrame#panel QListWidget:focus,
QFrame#panel QTextBrowser:focus, QFrame#panel QTreeWidget:focus { border: 1px solid palette(highlight); }
QTableView { gridline-color: transparent; }
QHeaderView::section {
    background: palette(base); color: palette(placeholder-text); border: none;
    border-bottom: 1px solid palette(midlight); padding: 4px 6px; font-weight: 600;
}
QPushButton#approveButton, QPushButton#rejectButton { padding: 5px 16px; font-weight: 600; border-radius: 5px; }
QPushButton#approveButton { background: #1f7a3f; color: white; border: 1px solid #1a6a36; }
QPushButton#approveButton:hover { background: #1a6a36; }
QPushButton#approveButton:focus { border: 2px solid palette(highlight); }
QPushButton#approveButton:disabled { background: #a9cdb6; border-color: #a9cdb6; color: #eef6f0; }
QPushButton#rejectButton { background: palette(base); color: #b0271f; border: 1px solid #dca9a5; }
QPushButton#rejectButton:hover { background: #fbe0de; }
QPushButton#rejectButton:focus { border: 2px solid palette(highlight); }
QPushButton#rejectButton:disabled { color: #d9a9a5; border-color: #eed7d5; }
QListWidget#rejectReasons::item { padding: 4px 6px; }
QPushButton#confirmRejectButton {
    background: #b0271f; color: white; border: 1px solid #9a211a; border-radius: 5px;
    padding: 5px 16px; font-weight: 600;
}
QPushButton#confirmRejectButton:hover { background: #9a211a; }
QPushButton#confirmRejectButton:focus { border: 2px solid palette(highlight); }
QStatusBar QLabel { color: palette(placeholder-text); padding: 0 6px; }
QPushButton#queueNews {
    background: #e0eafb; color: #1d4f9c; border: 1px solid #b9cdf0; border-radius: 9px;
    padding: 1px 10px; font-weight: 600;
}
QPushButton#queueNews:hover { background: #cfdef8; }
QPushButton#queueNews:focus { border: 2px solid palette(highlight); }
"""


def apply(app: QApplication, choice: str = "system") -> str:
    """The shared theme (``system``, ``light`` or ``dark``) and the workstation's stylesheet."""
    shown = theme.apply_theme(app, choice)
    app.setStyleSheet(STYLESHEET)
    return shown

"""The look of the application in one place: a calm light palette on Qt's Fusion style, state badge
colours, a small stylesheet, and font helpers. Screens ask here instead of hard-coding colours."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = "#2458c6"
ACCENT_SOFT = "#dce6fa"
WINDOW = "#f4f5f7"
SURFACE = "#ffffff"
BORDER = "#d8dbe0"
TEXT = "#1f2328"
MUTED_TEXT = "#687078"
FOCUS = "#2458c6"

#: state key → (text colour, background colour) of a badge.
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
MISMATCH_TEXT = "#a0221b"
MISMATCH_BACKGROUND = "#fdecea"
OK_TEXT = "#176b36"


def badge_colors(state: str) -> tuple[QColor, QColor]:
    fg, bg = BADGES.get(state, BADGES["missing"])
    return QColor(fg), QColor(bg)


def small_font(base: QFont, bold: bool = False) -> QFont:
    font = QFont(base)
    size = base.pointSizeF()
    if size > 0:
        font.setPointSizeF(max(7.0, size * 0.86))
    font.setBold(bold)
    return font


STYLESHEET = f"""
QMainWindow, QDialog {{ background: {WINDOW}; }}
QSplitter::handle {{ background: {WINDOW}; }}
QSplitter::handle:horizontal {{ width: 6px; }}
QSplitter::handle:vertical {{ height: 6px; }}
QFrame#panel {{ background: {SURFACE}; border: 1px solid {BORDER}; border-radius: 6px; }}
QLabel#panelTitle {{ font-weight: 600; color: {TEXT}; padding: 2px 0; }}
QLabel#panelHint, QLabel#queueSummary {{ color: {MUTED_TEXT}; }}
QLabel#emptyState {{ color: {MUTED_TEXT}; padding: 24px; }}
QTreeView, QTableView, QListWidget, QTextBrowser, QTreeWidget {{
    background: {SURFACE}; border: none; selection-background-color: {ACCENT_SOFT};
    selection-color: {TEXT}; outline: 0;
}}
QTableView {{ gridline-color: transparent; alternate-background-color: #fafbfc; }}
QTreeView:focus, QTableView:focus, QListWidget:focus, QTextBrowser:focus, QTreeWidget:focus {{
    border: 2px solid {FOCUS}; border-radius: 4px;
}}
QHeaderView::section {{
    background: {SURFACE}; color: {MUTED_TEXT}; border: none; border-bottom: 1px solid {BORDER};
    padding: 5px 6px; font-weight: 600;
}}
QLineEdit, QComboBox {{
    background: {SURFACE}; border: 1px solid {BORDER}; border-radius: 5px; padding: 4px 8px; min-height: 20px;
}}
QLineEdit:focus, QComboBox:focus, QPlainTextEdit:focus {{ border: 2px solid {FOCUS}; padding: 3px 7px; }}
QPlainTextEdit {{ background: {SURFACE}; border: 1px solid {BORDER}; border-radius: 5px; padding: 4px; }}
QPushButton {{
    background: {SURFACE}; border: 1px solid {BORDER}; border-radius: 5px; padding: 6px 14px; color: {TEXT};
}}
QPushButton:hover {{ background: #eef1f5; }}
QPushButton:focus {{ border: 2px solid {FOCUS}; padding: 5px 13px; }}
QPushButton:disabled {{ color: #a3a9b0; background: #f7f8f9; }}
QPushButton#approveButton {{ background: #1f7a3f; color: white; border-color: #1a6a36; font-weight: 600; }}
QPushButton#approveButton:hover {{ background: #1a6a36; }}
QPushButton#approveButton:disabled {{ background: #b8d9c3; border-color: #b8d9c3; color: #f4faf6; }}
QPushButton#rejectButton {{ background: {SURFACE}; color: #a0221b; border-color: #e2b4b0; font-weight: 600; }}
QPushButton#rejectButton:hover {{ background: #fbe0de; }}
QPushButton#rejectButton:disabled {{ color: #d9a9a5; border-color: #eed7d5; }}
QPushButton#approveButton:focus, QPushButton#rejectButton:focus {{ border: 2px solid {FOCUS}; }}
QStatusBar {{ background: {SURFACE}; border-top: 1px solid {BORDER}; color: {MUTED_TEXT}; }}
QStatusBar QLabel {{ color: {MUTED_TEXT}; padding: 0 6px; }}
QMenuBar {{ background: {SURFACE}; border-bottom: 1px solid {BORDER}; }}
QToolTip {{ background: {TEXT}; color: white; border: none; padding: 4px 6px; }}
"""


def apply(app: QApplication) -> None:
    """Fusion style, a light palette and the stylesheet; a sensible UI font where one is available."""
    app.setStyle("Fusion")
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, QColor(WINDOW))
    palette.setColor(QPalette.ColorRole.Base, QColor(SURFACE))
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor("#fafbfc"))
    palette.setColor(QPalette.ColorRole.Text, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.WindowText, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.ButtonText, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.Button, QColor(SURFACE))
    palette.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT_SOFT))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor("#8c939a"))
    palette.setColor(QPalette.ColorRole.Link, QColor(ACCENT))
    palette.setColor(QPalette.ColorRole.ToolTipBase, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.ToolTipText, QColor("white"))
    app.setPalette(palette)
    app.setStyleSheet(STYLESHEET)

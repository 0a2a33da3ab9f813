"""The workstation's look on top of the shared theme (``views/theme.py``: Fusion with a Light or Dark
palette): a small style sheet written in palette roles and the theme's named colours (``@name`` below
is ``theme.Colours.name``), so it follows either theme, plus badge and font helpers."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from cohortdesk.paths import resources_dir
from cohortdesk.views import theme


def muted(palette: QPalette) -> QColor:
    return palette.color(QPalette.ColorRole.PlaceholderText)


def small_font(base: QFont, bold: bool = False) -> QFont:
    font = QFont(base)
    size = base.pointSizeF()
    if size > 0:
        font.setPointSizeF(max(7.0, size * 0.88))
    font.setBold(bold)
    return font


STYLESHEET_TEMPLATE = """
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
QPushButton#approveButton { background: @approve; color: white; border: 1px solid @approve_hover; }
QPushButton#approveButton:hover { background: @approve_hover; }
QPushButton#approveButton:focus { border: 2px solid palette(highlight); }
QPushButton#approveButton:disabled {
    background: @approve_disabled; border-color: @approve_disabled; color: @approve_disabled_text;
}
QPushButton#rejectButton { background: palette(base); color: @error; border: 1px solid @reject_border; }
QPushButton#rejectButton:hover { background: @reject_hover; }
QPushButton#rejectButton:focus { border: 2px solid palette(highlight); }
QPushButton#rejectButton:disabled { color: @reject_disabled_text; border-color: @reject_disabled_border; }
QListWidget#rejectReasons::item { padding: 4px 6px; }
QPushButton#confirmRejectButton {
    background: @confirm_reject; color: white; border: 1px solid @confirm_reject_hover; border-radius: 5px;
    padding: 5px 16px; font-weight: 600;
}
QPushButton#confirmRejectButton:hover { background: @confirm_reject_hover; }
QPushButton#confirmRejectButton:focus { border: 2px solid palette(highlight); }
QStatusBar QLabel { color: palette(placeholder-text); padding: 0 6px; }
QPushButton#queueNews {
    background: @news_background; color: @news_text; border: 1px solid @news_border; border-radius: 9px;
    padding: 1px 10px; font-weight: 600;
}
QPushButton#queueNews:hover, QPushButton#queueOutside:hover { background: @news_hover; }
QPushButton#queueNews:focus, QPushButton#queueOutside:focus { border: 2px solid palette(highlight); }
QPushButton#queueOutside {
    background: transparent; color: @news_text; border: 1px solid @news_border; border-radius: 9px;
    padding: 1px 10px;
}
QLineEdit, QPlainTextEdit, QAbstractSpinBox, QComboBox {
    border: 1px solid @field_border; border-radius: 3px; padding: 2px 4px; background: palette(base);
}
QComboBox { padding-right: 20px; }
QAbstractSpinBox QLineEdit, QComboBox QLineEdit { border: none; padding: 0; background: transparent; }
QLineEdit:focus, QPlainTextEdit:focus, QAbstractSpinBox:focus, QComboBox:focus {
    border: 1px solid palette(highlight);
}
QLineEdit:disabled, QPlainTextEdit:disabled, QAbstractSpinBox:disabled, QComboBox:disabled {
    border-color: @border;
}
QComboBox::drop-down, QDateEdit::drop-down { border: none; width: 20px; subcontrol-position: center right; }
QComboBox::down-arrow, QDateEdit::down-arrow { image: url("@icons/chevron-down.svg"); width: 10px; height: 10px; }
QAbstractSpinBox::up-button, QAbstractSpinBox::down-button { border: none; width: 16px; }
QAbstractSpinBox::up-arrow { image: url("@icons/chevron-up.svg"); width: 9px; height: 9px; }
QAbstractSpinBox::down-arrow { image: url("@icons/chevron-down.svg"); width: 9px; height: 9px; }
"""


def stylesheet(dark: bool) -> str:
    """The workstation's stylesheet with the theme's colours filled in."""
    colours = {**(theme.DARK if dark else theme.LIGHT).css(), "icons": (resources_dir() / "icons").as_posix()}
    text = STYLESHEET_TEMPLATE
    for key in sorted(colours, key=len, reverse=True):
        text = text.replace(f"@{key}", colours[key])
    return text


def apply(app: QApplication, choice: str = "system") -> str:
    """The shared theme (``system``, ``light`` or ``dark``) and the workstation's stylesheet."""
    shown = theme.apply_theme(app, choice)
    app.setStyleSheet(stylesheet(shown == "dark"))
    return shown

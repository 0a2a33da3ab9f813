"""The workstation's look on top of the shared theme (``views/theme.py``: Fusion with a Light or Dark
palette): a small stylesheet written only in palette roles, so it follows either theme, plus the
state badge colours and font helpers. Screens ask here instead of hard-coding colours."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from cohortdesk.paths import resources_dir
from cohortdesk.views import theme

#: Colours of each theme that are not palette roles (HTML in the student pane, badges, the decide
#: buttons, field borders). Every text colour reaches WCAG AA (4.5:1) on the background it is drawn on
#: and field borders 3:1 (``tests/widgets/test_contrast.py`` computes it from these values).
LIGHT_COLOURS: dict[str, str] = {
    "muted_text": "#5f6870",
    "border": "#d3d8dc",
    "field_border": "#858f96",
    "mismatch_text": "#a0221b",
    "mismatch_background": "#fdecea",
    "ok_text": "#176b36",
    "reject_text": "#a3241c",
    "reject_border": "#c98b86",
    "reject_hover": "#fbe0de",
    "news_text": "#1d4f9c",
    "news_background": "#e0eafb",
    "news_border": "#b9cdf0",
    "news_hover": "#cfdef8",
}
DARK_COLOURS: dict[str, str] = {
    "muted_text": "#a3adb4",
    "border": "#3b4348",
    "field_border": "#7b868d",
    "mismatch_text": "#f4a29b",
    "mismatch_background": "#3b2321",
    "ok_text": "#86d9a2",
    "reject_text": "#f4a29b",
    "reject_border": "#a8544d",
    "reject_hover": "#3b2321",
    "news_text": "#b4cffa",
    "news_background": "#1d2f4a",
    "news_border": "#37507a",
    "news_hover": "#243a5c",
}
#: state key → (text colour, background colour) of a badge, per theme.
LIGHT_BADGES: dict[str, tuple[str, str]] = {
    "pending": ("#8a5300", "#fdf0d5"),
    "verified": ("#176b36", "#dcf3e3"),
    "approved": ("#176b36", "#dcf3e3"),
    "rejected": ("#a0221b", "#fbe0de"),
    "missing": ("#515a62", "#eceef1"),
    "waiting": ("#515a62", "#eceef1"),
    "in_progress": ("#1d4f9c", "#e0eafb"),
    "complete": ("#176b36", "#dcf3e3"),
    "stale": ("#6b4fa0", "#ece6f7"),
}
DARK_BADGES: dict[str, tuple[str, str]] = {
    "pending": ("#f5c875", "#3a2e1a"),
    "verified": ("#86d9a2", "#1b3325"),
    "approved": ("#86d9a2", "#1b3325"),
    "rejected": ("#f4a29b", "#3b2321"),
    "missing": ("#c2c9ce", "#2c3236"),
    "waiting": ("#c2c9ce", "#2c3236"),
    "in_progress": ("#b4cffa", "#1d2f4a"),
    "complete": ("#86d9a2", "#1b3325"),
    "stale": ("#cdb8f2", "#2e2640"),
}

#: The current theme's colours (``apply`` switches them; HTML is rendered with what is current).
COLOURS: dict[str, str] = dict(LIGHT_COLOURS)
BADGES: dict[str, tuple[str, str]] = dict(LIGHT_BADGES)
MUTED_TEXT = COLOURS["muted_text"]
BORDER = COLOURS["border"]
MISMATCH_TEXT = COLOURS["mismatch_text"]
MISMATCH_BACKGROUND = COLOURS["mismatch_background"]
OK_TEXT = COLOURS["ok_text"]


def _use_colours(dark: bool) -> None:
    global MUTED_TEXT, BORDER, MISMATCH_TEXT, MISMATCH_BACKGROUND, OK_TEXT
    COLOURS.clear()
    COLOURS.update(DARK_COLOURS if dark else LIGHT_COLOURS)
    BADGES.clear()
    BADGES.update(DARK_BADGES if dark else LIGHT_BADGES)
    MUTED_TEXT = COLOURS["muted_text"]
    BORDER = COLOURS["border"]
    MISMATCH_TEXT = COLOURS["mismatch_text"]
    MISMATCH_BACKGROUND = COLOURS["mismatch_background"]
    OK_TEXT = COLOURS["ok_text"]


def badge_colors(state: str) -> tuple[QColor, QColor]:
    fg, bg = BADGES.get(state, BADGES["missing"])
    return QColor(fg), QColor(bg)


def relative_luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance of an opaque colour."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())
    )


def contrast(first: QColor | str, second: QColor | str) -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21)."""
    a, b = relative_luminance(QColor(first)), relative_luminance(QColor(second))
    light, dark = max(a, b), min(a, b)
    return (light + 0.05) / (dark + 0.05)


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
QPushButton#approveButton { background: #1f7a3f; color: white; border: 1px solid #1a6a36; }
QPushButton#approveButton:hover { background: #1a6a36; }
QPushButton#approveButton:focus { border: 2px solid palette(highlight); }
QPushButton#approveButton:disabled { background: #a9cdb6; border-color: #a9cdb6; color: #eef6f0; }
QPushButton#rejectButton { background: palette(base); color: @reject_text; border: 1px solid @reject_border; }
QPushButton#rejectButton:hover { background: @reject_hover; }
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
    colours = {**(DARK_COLOURS if dark else LIGHT_COLOURS), "icons": (resources_dir() / "icons").as_posix()}
    text = STYLESHEET_TEMPLATE
    for key in sorted(colours, key=len, reverse=True):
        text = text.replace(f"@{key}", colours[key])
    return text


STYLESHEET = stylesheet(False)


def apply(app: QApplication, choice: str = "system") -> str:
    """The shared theme (``system``, ``light`` or ``dark``) and the workstation's stylesheet."""
    shown = theme.apply_theme(app, choice)
    _use_colours(shown == "dark")
    app.setStyleSheet(stylesheet(shown == "dark"))
    return shown

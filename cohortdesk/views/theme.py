"""Theme System / Light / Dark on the Fusion style, so every platform looks the same and high-DPI
rendering stays crisp. "System" follows the desktop's colour scheme.

The one palette: every colour CohortDesk draws, per theme, in one ``Colours`` value (``LIGHT``,
``DARK``): the surfaces and text the Qt palette is built from, the status colours (errors, warnings,
success, muted text, borders; banners take theirs through ``banner_style``), the workstation's
controls (decide buttons, the new-rows pill, fields, key chips, claim padlocks) and the state badges.
``views/style.py`` (the workstation's style sheet), ``views/admin/style.py`` (the administration's) and
the HTML panes read their colours here (``colours()``: the theme shown now), never hard-coded. Every
text colour reaches WCAG AA (4.5:1) on what it is drawn on and field borders 3:1; the contrast test
(``tests/widgets/test_contrast.py``) computes that from these values (``contrast``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory


@dataclass(frozen=True)
class Colours:
    """Every colour of one theme, as CSS colour strings."""

    # surfaces and text: the Qt palette's roles
    window: str
    base: str
    alternate_base: str
    button: str
    tooltip_base: str
    text: str  # also window, button and tool-tip text
    muted: str  # secondary text: hints, headers, labels (and the palette's placeholder text)
    disabled_text: str
    link: str
    highlight: str  # selected rows
    highlighted_text: str
    # status
    error: str
    error_background: str
    error_border: str
    warning: str
    warning_background: str
    warning_border: str
    ok: str
    accent: str  # the brand colour as text and marks (headings, the admin's current page, checks)
    selected: str  # the admin navigation's current page
    border: str
    field_border: str
    # the workstation's controls
    approve: str  # the Approve button (white text)
    approve_hover: str
    approve_disabled: str
    approve_disabled_text: str
    confirm_reject: str  # the reject form's Reject button (white text)
    confirm_reject_hover: str
    reject_border: str  # the decision bar's Reject button (text: ``error``)
    reject_hover: str
    reject_disabled_text: str
    reject_disabled_border: str
    news_text: str  # the "new rows" pill over the queue
    news_background: str
    news_border: str
    news_hover: str
    key_text: str  # a key chip on the shortcut sheet
    key_background: str
    claim_mine: str  # the padlock of an enrollment one reviews oneself
    claim_other: str  # ... and of one another officer reviews
    #: state key -> (text colour, background colour) of a badge.
    badges: Mapping[str, tuple[str, str]]

    def css(self) -> dict[str, str]:
        """The plain colours by name (everything but the badges), for filling in style sheets."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "badges"}


#: Colours that stay the same in both themes.
_DECIDE_BUTTONS = {
    "approve": "#1f7a3f",
    "approve_hover": "#1a6a36",
    "approve_disabled": "#a9cdb6",
    "approve_disabled_text": "#eef6f0",
    "confirm_reject": "#b0271f",
    "confirm_reject_hover": "#9a211a",
    "reject_disabled_text": "#d9a9a5",
    "reject_disabled_border": "#eed7d5",
    "claim_mine": "#2f6fb2",
    "claim_other": "#c98a00",
}

LIGHT = Colours(
    window="#f5f6f7",
    base="#ffffff",
    alternate_base="#f0f3f4",
    button="#eceff1",
    tooltip_base="#ffffff",
    text="#1d2327",
    muted="#5f6870",
    disabled_text="#9aa3a8",
    link="#176b9c",
    highlight="#1f7a6d",
    highlighted_text="#ffffff",
    error="#a0221b",
    error_background="#fdecea",
    error_border="#e7a19d",
    warning="#8a5300",
    warning_background="#fff4e0",
    warning_border="#e6c56f",
    ok="#176b36",
    accent="#1f7a6d",
    selected="#e1efec",
    border="#cfd6dc",
    field_border="#858f96",
    reject_border="#c98b86",
    reject_hover="#fbe0de",
    news_text="#1d4f9c",
    news_background="#e0eafb",
    news_border="#b9cdf0",
    news_hover="#cfdef8",
    key_text="#1d2327",
    key_background="#eef1f4",
    badges={
        "pending": ("#8a5300", "#fdf0d5"),
        "verified": ("#176b36", "#dcf3e3"),
        "approved": ("#176b36", "#dcf3e3"),
        "rejected": ("#a0221b", "#fbe0de"),
        "missing": ("#515a62", "#eceef1"),
        "waiting": ("#515a62", "#eceef1"),
        "in_progress": ("#1d4f9c", "#e0eafb"),
        "complete": ("#176b36", "#dcf3e3"),
        "stale": ("#6b4fa0", "#ece6f7"),
    },
    **_DECIDE_BUTTONS,
)
DARK = Colours(
    window="#202427",
    base="#16191b",
    alternate_base="#1d2124",
    button="#2a2f33",
    tooltip_base="#2a2f33",
    text="#e6e9eb",
    muted="#9aa5ad",
    disabled_text="#697277",
    link="#6cb8e6",
    highlight="#1f7a6d",
    highlighted_text="#ffffff",
    error="#f4a29b",
    error_background="#3b2321",
    error_border="#7a3b36",
    warning="#f5c875",
    warning_background="#3a2e1a",
    warning_border="#75602f",
    ok="#86d9a2",
    accent="#2a9d8c",
    selected="#1f3b37",
    border="#3b4348",
    field_border="#7b868d",
    reject_border="#a8544d",
    reject_hover="#3b2321",
    news_text="#b4cffa",
    news_background="#1d2f4a",
    news_border="#37507a",
    news_hover="#243a5c",
    key_text="#e6e9eb",
    key_background="#2c3236",
    badges={
        "pending": ("#f5c875", "#3a2e1a"),
        "verified": ("#86d9a2", "#1b3325"),
        "approved": ("#86d9a2", "#1b3325"),
        "rejected": ("#f4a29b", "#3b2321"),
        "missing": ("#c2c9ce", "#2c3236"),
        "waiting": ("#c2c9ce", "#2c3236"),
        "in_progress": ("#b4cffa", "#1d2f4a"),
        "complete": ("#86d9a2", "#1b3325"),
        "stale": ("#cdb8f2", "#2e2640"),
    },
    **_DECIDE_BUTTONS,
)

#: The dashboard's chart series: mid-tones that read on either theme's background.
CHART: Mapping[str, str] = {
    "learners": "#2e86c1",
    "not_uploaded": "#8a949b",
    "rejected": "#c0392b",
    "check": "#d68910",
    "learner_signature": "#2e86c1",
    "sponsor": "#8e44ad",
    "institution": "#16a085",
}


def is_dark() -> bool:
    """Whether the application shows the dark theme now (read from its palette)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def colours() -> Colours:
    """The colours of the theme shown now."""
    return DARK if is_dark() else LIGHT


def badge_colours(state: str) -> tuple[QColor, QColor]:
    """(text, background) of a state's badge in the theme shown now (unknown states look *missing*)."""
    badges = colours().badges
    fg, bg = badges.get(state, badges["missing"])
    return QColor(fg), QColor(bg)


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


def qt_palette(c: Colours) -> QPalette:
    """The Qt palette of a theme's colours."""
    p = QPalette()
    roles = QPalette.ColorRole
    for role, value in (
        (roles.Window, c.window),
        (roles.WindowText, c.text),
        (roles.Base, c.base),
        (roles.AlternateBase, c.alternate_base),
        (roles.ToolTipBase, c.tooltip_base),
        (roles.ToolTipText, c.text),
        (roles.Text, c.text),
        (roles.PlaceholderText, c.muted),
        (roles.Button, c.button),
        (roles.ButtonText, c.text),
        (roles.Highlight, c.highlight),
        (roles.HighlightedText, c.highlighted_text),
        (roles.Link, c.link),
    ):
        p.setColor(role, QColor(value))
    for role in (roles.Text, roles.ButtonText, roles.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(c.disabled_text))
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
    app.setPalette(qt_palette(DARK if shown == "dark" else LIGHT))
    app.setProperty("cohortdesk_theme", shown)
    return shown

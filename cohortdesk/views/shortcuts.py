"""Every keyboard shortcut of the workstation in one table, and the ``?`` sheet that lists them.

The main window builds its actions from ``SHORTCUTS``, so the sheet cannot drift from what the keys do.
On macOS Qt shows Ctrl as ⌘ in the sheet (``QKeySequence.NativeText``).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from cohortdesk.views import theme


@dataclass(frozen=True)
class Shortcut:
    action: str  # the key of the QAction in MainWindow.actions
    keys: tuple[str, ...]  # QKeySequence portable strings
    text: str  # menu text (with & mnemonic)
    group: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("approve", ("A",), "&Approve document", "Decide"),
    Shortcut("reject", ("R",), "&Reject document…", "Decide"),
    Shortcut("save_and_next", ("Ctrl+Shift+N",), "&Save and next", "Decide"),
    Shortcut("undo", ("Ctrl+Z",), "&Undo the last decision", "Decide"),
    Shortcut("reveal", ("Ctrl+I",), "Re&veal special personal information…", "Decide"),
    Shortcut("next_enrollment", ("Down",), "&Next enrollment", "Move"),
    Shortcut("previous_enrollment", ("Up",), "&Previous enrollment", "Move"),
    Shortcut("next_to_decide", ("J",), "Next &to decide", "Move"),
    Shortcut("previous_to_decide", ("K",), "Previous to decid&e", "Move"),
    Shortcut("next_document", ("Right",), "Next &document", "Move"),
    Shortcut("previous_document", ("Left",), "Previous d&ocument", "Move"),
    Shortcut("search", ("Ctrl+F",), "&Search the queue", "Move"),
    Shortcut("focus_cohorts", ("Alt+1",), "Go to &cohorts", "Move"),
    Shortcut("focus_queue", ("Alt+2",), "Go to the &queue", "Move"),
    Shortcut("focus_documents", ("Alt+3",), "Go to the d&ocuments", "Move"),
    Shortcut("focus_details", ("Alt+4",), "Go to the student &details", "Move"),
    Shortcut("focus_history", ("Alt+5",), "Go to the &history", "Move"),
    Shortcut("zoom_in", ("+", "="), "Zoom &in", "Preview"),
    Shortcut("zoom_out", ("-",), "Zoom &out", "Preview"),
    Shortcut("zoom_reset", ("0",), "&Actual size", "Preview"),
    Shortcut("fit_width", ("W",), "Fit &width", "Preview"),
    Shortcut("fit_page", ("P",), "Fit &page", "Preview"),
    Shortcut("rotate", ("]",), "&Rotate", "Preview"),
    Shortcut("next_page", ("PgDown",), "Ne&xt page", "Preview"),
    Shortcut("previous_page", ("PgUp",), "Pre&vious page", "Preview"),
    Shortcut("refresh", ("F5",), "&Refresh", "Application"),
    Shortcut("shortcuts", ("?", "F1"), "&Keyboard shortcuts", "Application"),
    Shortcut("quit", ("Ctrl+Q",), "&Quit", "Application"),
)

BY_ACTION = {s.action: s for s in SHORTCUTS}


def key_text(shortcut: Shortcut) -> str:
    return " or ".join(
        QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) or k for k in shortcut.keys
    )


def _keys_html(keys: tuple[str, ...] | list[str]) -> str:
    c = theme.colours()
    chips = []
    for key in keys:
        text = QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText) or key
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(" ", "&nbsp;")
        chips.append(
            f"<span style='background-color:{c.key_background}; color:{c.key_text}; font-family:monospace; "
            f"font-weight:600'>&nbsp;{text}&nbsp;</span>"
        )
    return "&nbsp;".join(chips)


def _group_html(title: str, rows: list[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><td width='150' style='padding:3px 10px 3px 0'>{keys}</td><td style='padding:3px 0'>{text}</td></tr>"
        for keys, text in rows
    )
    return (
        f"<p style='margin:12px 0 4px 0; font-weight:600; color:{theme.colours().accent}'>{title}</p>"
        f"<table cellspacing='0' cellpadding='0'>{body}</table>"
    )


def preview_keys() -> list[tuple[str, str]]:
    """Keys the preview itself answers to while it has focus (from the preview package)."""
    try:
        from cohortdesk.views.preview.widget import SHORTCUTS as PREVIEW_SHORTCUTS
    except ImportError:  # pragma: no cover - the preview is part of every build
        return []
    mine = {k for s in SHORTCUTS if s.group == "Preview" for k in s.keys}
    return [
        (keys, text)
        for keys, text in PREVIEW_SHORTCUTS
        if keys not in mine and keys != "+ / -" and not keys.startswith("Page")
    ]


def sheet_html() -> str:
    groups: dict[str, list[tuple[str, str]]] = {}
    for s in SHORTCUTS:
        text = s.text.replace("&", "").replace("…", "")
        groups.setdefault(s.group, []).append((_keys_html(s.keys), text))
    inside = [(_keys_html([k.strip() for k in keys.split(" / ")]), text) for keys, text in preview_keys()]
    left = _group_html("Decide", groups["Decide"]) + _group_html("Move around", groups["Move"])
    right = _group_html("Preview", groups["Preview"]) + _group_html("Application", groups["Application"])
    if inside:
        right += _group_html("Inside the preview (when it has focus)", inside)
    return (
        "<table width='100%' cellspacing='0' cellpadding='0'><tr>"
        f"<td width='50%' valign='top' style='padding-right:18px'>{left}</td>"
        f"<td width='50%' valign='top'>{right}</td></tr></table>"
        f"<p style='color:{theme.colours().muted}; margin-top:14px'>Single-letter keys act while the queue, the document "
        "list or the preview has focus; in a text field they type. Up/Down and Left/Right keep their "
        "usual meaning in the cohort browser, the history and text fields. Alt opens the menus, where "
        "every action is listed as well.</p>"
    )


class ShortcutSheet(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutSheet")
        self.setWindowTitle("Keyboard shortcuts")
        self.setAccessibleName("Keyboard shortcuts")
        self.resize(860, 580)
        title = QLabel("<span style='font-size:13pt; font-weight:600'>Keyboard shortcuts</span>", self)
        body = QTextBrowser(self)
        body.setObjectName("shortcutList")
        body.setHtml(sheet_html())
        body.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        body.setFrameShape(QTextBrowser.Shape.NoFrame)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.addWidget(title)
        layout.addWidget(body, 1)
        layout.addWidget(buttons)

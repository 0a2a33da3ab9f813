"""Every keyboard shortcut of the workstation in one table, and the ``?`` sheet that lists them.

The main window builds its actions from ``SHORTCUTS``, so the sheet cannot drift from what the keys do.
On macOS Qt shows Ctrl as ⌘ in the sheet (``QKeySequence.NativeText``).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget


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
    Shortcut("next_enrollment", ("Down", "J"), "&Next enrollment", "Move"),
    Shortcut("previous_enrollment", ("Up", "K"), "&Previous enrollment", "Move"),
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


def sheet_html() -> str:
    groups: dict[str, list[Shortcut]] = {}
    for s in SHORTCUTS:
        groups.setdefault(s.group, []).append(s)
    parts = []
    for group, items in groups.items():
        rows = "".join(
            "<tr><td style='padding:3px 18px 3px 0'>"
            + " ".join(
                f"<span style='background:#eef1f5; border:1px solid #d8dbe0; padding:1px 6px; "
                f"font-family:monospace'>&nbsp;{(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) or k).replace('&', '&amp;')}&nbsp;</span>"
                for k in s.keys
            )
            + f"</td><td style='padding:3px 0'>{s.text.replace('&', '').replace('…', '')}</td></tr>"
            for s in items
        )
        parts.append(f"<h4 style='margin:10px 0 4px 0'>{group}</h4><table cellspacing='0'>{rows}</table>")
    parts.append(
        "<p style='color:#687078; margin-top:12px'>Single-letter keys work while the queue, the documents or "
        "the preview have focus; in a text field they type. Alt opens the menus, where every action is "
        "listed too.</p>"
    )
    return "".join(parts)


class ShortcutSheet(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutSheet")
        self.setWindowTitle("Keyboard shortcuts")
        self.setAccessibleName("Keyboard shortcuts")
        self.resize(520, 640)
        title = QLabel("<b>Keyboard shortcuts</b>", self)
        body = QTextBrowser(self)
        body.setObjectName("shortcutList")
        body.setHtml(sheet_html())
        body.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.addWidget(title)
        layout.addWidget(body, 1)
        layout.addWidget(buttons)

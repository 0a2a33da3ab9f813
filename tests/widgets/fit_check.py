"""Opens the workstation and the administration window on demo data on a virtual screen of a given
size and scale, and prints (as JSON) every way they do not fit: a window outside the available screen,
a word broken across lines in a label or a rich-text pane, Save or the sync status off screen.

Run by ``test_screen_sizes.py`` in a child process per size (the scale factor is fixed when Qt
starts):  python -m tests.widgets.fit_check WIDTH HEIGHT SCALE [--x11]

Without ``--x11`` the screen is Qt's offscreen one; with it, the X server of ``DISPLAY`` (a screen of
WIDTHxHEIGHT started by ``xvfb-run``), where a window is held to its least size when it is shown.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path


def _screen(folder: Path, width: int, height: int) -> None:
    config = folder / "screen.json"
    config.write_text(
        json.dumps(
            {
                "screens": [
                    {
                        "name": "laptop",
                        "x": 0,
                        "y": 0,
                        "width": width,
                        "height": height,
                        "logicalDpiX": 96,
                        "logicalDpiY": 96,
                        "dpr": 1,
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"


def broken_words_in_document(document) -> list[str]:  # noqa: ANN001 - a QTextDocument
    """Lines of a laid-out document that end inside a word ("Capt|ured")."""
    broken: list[str] = []
    block = document.begin()
    while block.isValid():
        layout = block.layout()
        text = block.text()
        for index in range(max(layout.lineCount() - 1, 0)):
            line = layout.lineAt(index)
            end = line.textStart() + line.textLength()
            if 0 < end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
                broken.append(f"{text[max(0, end - 12) : end]}|{text[end : end + 12]}")
        block = block.next()
    return broken


def broken_words_in_label(label) -> list[str]:  # noqa: ANN001 - a QLabel
    """Words of a word-wrapping label wider than the label (Qt breaks them anywhere)."""
    text = re.sub(r"<[^>]+>", " ", label.text()) if "<" in label.text() else label.text()
    metrics = label.fontMetrics()
    room = label.contentsRect().width() - 2 * label.margin() - label.indent() * 0
    return [
        word for word in text.replace("\u200b", " ").split() if metrics.horizontalAdvance(word) > room > 0
    ]


def check(width: int, height: int) -> dict:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication, QLabel, QStyle, QStyleOptionComboBox, QTextBrowser, QWidget

    from cohortdesk.db import Database, default_url, migrate
    from cohortdesk.services import demo
    from cohortdesk.services.access.identity import resolve_identity
    from cohortdesk.services.documents.storage import DocumentStore
    from cohortdesk.views.app import application
    from cohortdesk.views.runner import Runner
    from cohortdesk.views.workstation import MainWindow

    db = Database(default_url())
    migrate.upgrade(db)
    store = DocumentStore()
    demo.load_demo(db, students=24, store=store)
    identity = resolve_identity(db)
    app = application([sys.argv[0]], theme="light")

    def pump(until, timeout: float = 30.0) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            if until():
                break
            time.sleep(0.01)
        app.processEvents()

    problems: list[str] = []

    def within_screen(window: QWidget, name: str) -> None:
        # A fractional scale (125 %) rounds the logical screen (1092.8 px) one way and the window the
        # other: one pixel is rounding, not a window off screen.
        area = window.screen().availableGeometry().adjusted(0, 0, 1, 1)
        frame = window.frameGeometry()
        if not area.contains(frame):
            problems.append(f"{name} at {frame.getRect()} is not within the screen {area.getRect()}")

    def visible_on_screen(widget: QWidget, name: str) -> None:
        area = widget.screen().availableGeometry().adjusted(0, 0, 1, 1)
        top_left = widget.mapToGlobal(widget.rect().topLeft())
        bottom_right = widget.mapToGlobal(widget.rect().bottomRight())
        if not (widget.isVisible() and area.contains(top_left) and area.contains(bottom_right)):
            problems.append(f"{name} is not wholly on screen")

    def words(window: QWidget, name: str) -> None:
        for label in window.findChildren(QLabel):
            if label.isVisible() and label.wordWrap() and label.text():
                for word in broken_words_in_label(label):
                    problems.append(
                        f"{name}: label {label.objectName() or label.text()[:30]!r} breaks {word!r}"
                    )
        for pane in window.findChildren(QTextBrowser):
            if pane.isVisible():
                for piece in broken_words_in_document(pane.document()):
                    problems.append(f"{name}: {pane.objectName()} breaks a word: {piece!r}")

    runner = Runner()
    window = MainWindow(db, runner, store, identity=identity)
    window.show()
    window.open_database()
    pump(lambda: window.current_document() is not None and runner.in_flight == 0)
    pump(lambda: False, timeout=0.5)
    within_screen(window, "workstation")
    visible_on_screen(window.statusBar(), "the status bar")
    visible_on_screen(window.ui.approve_button, "Approve")
    words(window, "workstation")
    window.ui.show_side_panel(window.ui.student_details)
    pump(lambda: False, timeout=0.3)
    words(window, "student pane")
    for scrolled, name in ((window.ui.document_list, "document list"), (window.ui.queue_table, "queue")):
        if scrolled.horizontalScrollBar().isVisible():
            problems.append(f"the {name} scrolls sideways")
    for box in (window.ui.state_filter, window.ui.program_filter, window.ui.enrollment_filter):
        # A choice too long for its box ends in "…" and is said whole in the tooltip, never cut.
        box.grab()  # paints it: the tooltip is set where the label's room is measured
        option = QStyleOptionComboBox()
        box.initStyleOption(option)
        room = box.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, box
        )
        needed = box.fontMetrics().horizontalAdvance(box.currentText())
        if needed > room.width() and box.toolTip() != box.currentText():
            problems.append(f"the {box.accessibleName()} cuts {box.currentText()!r} without a tooltip")

    from cohortdesk.views.admin.admin_window import AdminWindow

    admin = AdminWindow(runner, db, identity, window)
    admin.show()
    pump(lambda: admin.snapshot is not None and runner.in_flight == 0)
    pump(lambda: False, timeout=0.3)
    within_screen(admin, "administration")
    visible_on_screen(admin.sync_indicator, "the sync status")
    for save in admin.findChildren(QWidget, "saveButton"):
        if save.isVisible():
            visible_on_screen(save, "Save")
    admin.close()
    result = {"compact": window.ui.compact, "problems": problems}
    window.close()
    runner.shutdown()
    db.dispose()
    QApplication.processEvents()
    return result


def main() -> int:
    width, height, scale = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    home = Path(tempfile.mkdtemp(prefix="cohortdesk-fit-"))
    os.environ["COHORTDESK_HOME"] = str(home)
    os.environ.pop("COHORTDESK_DATABASE_URL", None)
    os.environ["QT_SCALE_FACTOR"] = str(scale)
    if "--x11" in sys.argv[4:]:
        os.environ["QT_QPA_PLATFORM"] = "xcb"
    else:
        _screen(home, width, height)
    sys.stdout.write("FIT " + json.dumps(check(width, height)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

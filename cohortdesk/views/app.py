"""Composition root of the desktop application: builds the database, services and main window once."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtWidgets import QApplication, QLabel, QMainWindow


def run_gui(url: str | None = None, argv: Sequence[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(list(argv or sys.argv))
    window = QMainWindow()
    window.setWindowTitle("CohortDesk")
    window.setCentralWidget(QLabel("CohortDesk"))
    window.show()
    return app.exec()

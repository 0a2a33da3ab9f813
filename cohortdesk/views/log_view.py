"""Help → Logs: the application's recent log lines, live, with a level filter and copy-to-clipboard
for support."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cohortdesk import logs

LEVELS = [
    ("Everything", logging.DEBUG),
    ("Information", logging.INFO),
    ("Warnings", logging.WARNING),
    ("Errors", logging.ERROR),
]


class _Bridge(QObject):
    """Carries log lines from any thread to the GUI thread (queued signal)."""

    line_logged = Signal(str, int)


class LogViewDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("logView")
        self.setWindowTitle("CohortDesk logs")
        self.resize(900, 520)
        self._ring = logs.ring_buffer()
        self._bridge = _Bridge(self)
        self._bridge.line_logged.connect(self._append)

        self.level = QComboBox(objectName="logLevel")
        self.level.setAccessibleName("Show log level")
        for label, value in LEVELS:
            self.level.addItem(label, value)
        self.level.setCurrentIndex(1)
        self.level.currentIndexChanged.connect(self._reload)

        self.text = QPlainTextEdit(objectName="logText")
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Log lines")
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setMaximumBlockCount(5000)

        copy = QPushButton("&Copy to clipboard", objectName="copyLogs")
        copy.clicked.connect(self.copy_to_clipboard)
        open_folder = QPushButton("Open log &folder", objectName="openLogFolder")
        open_folder.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(logs.log_file_path().parent)))
        )
        top = QHBoxLayout()
        top.addWidget(QLabel("&Show:", buddy=self.level))
        top.addWidget(self.level)
        top.addStretch(1)
        top.addWidget(QLabel(f"Log file: {logs.log_file_path()}"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(open_folder, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)

        self._reload()
        # Keep one bound method: a fresh ``emit`` would not match it on removal.
        self._listener = self._bridge.line_logged.emit
        self._ring.add_listener(self._listener)
        ring, listener = self._ring, self._listener  # not self: the slot runs while it is destroyed
        self.destroyed.connect(lambda _obj=None: ring.remove_listener(listener))

    def done(self, result: int) -> None:
        self._ring.remove_listener(self._listener)
        super().done(result)

    def _minimum(self) -> int:
        return int(self.level.currentData())

    @staticmethod
    def _line_level(line: str) -> int:
        parts = line.split()
        name = parts[2] if len(parts) > 2 else "INFO"
        return logging.getLevelName(name) if isinstance(logging.getLevelName(name), int) else logging.INFO

    def _reload(self) -> None:
        minimum = self._minimum()
        lines = [line for line in list(self._ring.records) if self._line_level(line) >= minimum]
        self.text.setPlainText("\n".join(lines))
        self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())

    @Slot(str, int)
    def _append(self, line: str, level: int) -> None:
        if level >= self._minimum():
            self.text.appendPlainText(line)

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())

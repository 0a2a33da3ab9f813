"""Logging, configured once: a rotating file in the platformdirs log folder, a ring buffer that feeds
the in-app log view (Help → Logs), and SQLAlchemy's engine logger kept quiet unless asked.

Secrets never reach the log: database URLs are logged with their password hidden, and nothing in
CohortDesk logs personal data beyond record ids.
"""

from __future__ import annotations

import logging
import logging.handlers
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from cohortdesk import paths

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_FILE_NAME = "cohortdesk.log"


class RingBufferHandler(logging.Handler):
    """Keeps the last ``capacity`` formatted records in memory and tells listeners about new ones."""

    def __init__(self, capacity: int = 2000) -> None:
        super().__init__()
        self.records: deque[str] = deque(maxlen=capacity)
        self._listeners: list[Callable[[str, int], None]] = []
        self._lock_listeners = threading.Lock()
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)
            return
        self.records.append(line)
        with self._lock_listeners:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(line, record.levelno)
            except RuntimeError:  # a log view whose window was destroyed: forget it
                self.remove_listener(listener)

    def add_listener(self, listener: Callable[[str, int], None]) -> None:
        with self._lock_listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[str, int], None]) -> None:
        with self._lock_listeners:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def text(self) -> str:
        return "\n".join(self.records)


_ring: RingBufferHandler | None = None
_file_handler: logging.Handler | None = None


def configure(
    level: int = logging.INFO, *, to_file: bool = True, sql_echo: bool = False
) -> RingBufferHandler:
    """Set up logging for the application (idempotent); returns the ring buffer for the log view."""
    global _ring, _file_handler
    root = logging.getLogger()
    root.setLevel(min(level, logging.INFO))
    if _ring is None:
        _ring = RingBufferHandler()
        _ring.setLevel(logging.DEBUG)
        root.addHandler(_ring)
    if to_file and _file_handler is None:
        _file_handler = logging.handlers.RotatingFileHandler(
            log_file_path(), maxBytes=2 * 1024 * 1024, backupCount=5, encoding="utf-8"
        )
        _file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
        _file_handler.setLevel(level)
        root.addHandler(_file_handler)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO if sql_echo else logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return _ring


def ring_buffer() -> RingBufferHandler:
    return _ring if _ring is not None else configure(to_file=False)


def log_file_path() -> Path:
    return paths.log_dir() / LOG_FILE_NAME

"""A guard that makes SQL on a forbidden thread (the GUI thread) fail loudly.

The GUI installs it with the GUI thread's id; tests turn it on so any query that slips onto the GUI
thread raises instead of freezing a window in production.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event


class SqlOnForbiddenThread(RuntimeError):
    """SQL ran on the thread that must never run SQL (the GUI thread)."""


class ThreadGuard:
    def __init__(self, engine: Engine, forbidden_thread_id: int | None = None) -> None:
        self.engine = engine
        self.forbidden_thread_id = forbidden_thread_id or threading.get_ident()
        self.enabled = False

    def _check(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.enabled and threading.get_ident() == self.forbidden_thread_id:
            raise SqlOnForbiddenThread(f"SQL on the GUI thread: {statement[:120]}")

    def install(self) -> ThreadGuard:
        event.listen(self.engine, "before_cursor_execute", self._check)
        self.enabled = True
        return self

    def remove(self) -> None:
        self.enabled = False
        if event.contains(self.engine, "before_cursor_execute", self._check):
            event.remove(self.engine, "before_cursor_execute", self._check)

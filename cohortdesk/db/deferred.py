"""The embedded store's ``Database``, built on first use: the window opens the SQLite file, and shows
its first queue page (``services.review.first_page``), before SQLAlchemy loads.

Every attribute the window or a service asks of it comes from the real ``Database``, which is built
the first time one is asked for, on whichever thread asks (the database lane, after the first page is
painted). What the window needs before then is known from the URL alone: the file's path, the
dialect, the description for the log.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cohortdesk.db.engine import Database

SQLITE_PREFIX = "sqlite:///"


class DeferredDatabase:
    """A ``Database`` on a SQLite file, made when first used (``sqlite:///<path>`` URLs only)."""

    dialect = "sqlite"
    is_sqlite = True
    document_storage = None  # the uploaded documents' place: the default store on this computer
    reports = None
    pooler = "none"

    def __init__(self, url: str) -> None:
        if not url.startswith(SQLITE_PREFIX) or url == SQLITE_PREFIX + ":memory:" or "?" in url:
            raise ValueError("A deferred database is a plain SQLite file URL.")
        self.url_text = url
        self.sqlite_path = Path(url[len(SQLITE_PREFIX) :])
        self._database: Database | None = None
        self._lock = threading.Lock()

    @property
    def database(self) -> Database:
        """The real ``Database`` (built now if it was not yet)."""
        with self._lock:
            if self._database is None:
                from cohortdesk.db.engine import Database

                self._database = Database(self.url_text)
            return self._database

    @property
    def built(self) -> bool:
        return self._database is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.database, name)

    def describe(self) -> str:
        return self.url_text  # a file URL: no password to hide

    def short_name(self) -> str:
        return "Local database"

    def dispose(self) -> None:
        if self._database is not None:
            self._database.dispose()

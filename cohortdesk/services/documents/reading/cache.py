"""Readings kept per document version, so each file is read once on this machine.

The key is the upload's storage key and checksum (a re-upload is a new version and is read again)
plus the engine and rules version (an update that reads better reads again). The cache is a small
SQLite file in the user cache folder holding extracted fields only, never the page text.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from cohortdesk import paths
from cohortdesk.services.documents.reading.model import DocumentReading

#: Bump when extraction rules change, so old readings are not trusted.
RULES_VERSION = "1"


class ReadingCache:
    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else paths.cache_dir() / "readings.sqlite3"
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=5)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS readings (storage_key TEXT NOT NULL, checksum TEXT NOT NULL,"
                " version TEXT NOT NULL, reading TEXT NOT NULL, PRIMARY KEY (storage_key, checksum, version))"
            )
            self._local.connection = connection
        return connection

    @staticmethod
    def version(engine: str) -> str:
        return f"{engine}/{RULES_VERSION}"

    def get(self, storage_key: str, checksum: str, engine: str) -> DocumentReading | None:
        row = (
            self._connection()
            .execute(
                "SELECT reading FROM readings WHERE storage_key = ? AND checksum = ? AND version = ?",
                (storage_key, checksum, self.version(engine)),
            )
            .fetchone()
        )
        return DocumentReading.from_json(json.loads(row[0])) if row else None

    def put(self, storage_key: str, checksum: str, engine: str, reading: DocumentReading) -> None:
        with self._connection() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?)",
                (storage_key, checksum, self.version(engine), json.dumps(reading.to_json())),
            )

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

"""Benchmark: ``cohortdesk demo --students N`` on PostgreSQL and SQLite against a raw ``executemany``.

For each backend the demo is loaded into a fresh database (PostgreSQL: a database this script creates
and drops; SQLite: a temporary file), recording every chunk of rows it inserts. The same rows (same
tables, same order, same values) are then inserted into a second fresh database with nothing but the
DBAPI driver's ``executemany`` in one transaction: the baseline. Printed per backend:

* the whole demo command (planning, writing the document files, inserting): rows per second;
* the demo's insert phase alone (from the first insert to the commit): rows per second;
* the raw ``executemany`` of the same rows: rows per second;
* the ratios of the two demo figures to the baseline (1.00 = as fast as the bare driver).

    python bench/seed.py [--students 100000] [--backend both|sqlite|postgresql]

PostgreSQL: ``COHORTDESK_BENCH_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``)
names the server; the script needs the right to create databases.
"""

# ruff: noqa: E402 - the import path is fixed before the imports (see below)
from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the standard library's ``queue`` (psycopg, concurrent.futures import it):
# keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import os
import sqlite3
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import URL, create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cohortdesk.db import Database, migrate  # noqa: E402
from cohortdesk.services import demo  # noqa: E402
from cohortdesk.services.documents.storage import DocumentStore  # noqa: E402

ADMIN_URL = os.environ.get("COHORTDESK_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Recording:
    chunks: list[tuple[str, str, list[tuple[Any, ...]]]]
    hook_seconds: float = 0.0
    insert_started: float = 0.0

    @property
    def rows(self) -> int:
        return sum(len(params) for _table, _sql, params in self.chunks)


def _admin_engine():
    return create_engine(
        make_url(ADMIN_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )


def create_pg_database() -> URL:
    name = f"cdbench_{uuid.uuid4().hex[:10]}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name)


def drop_pg_database(url: URL) -> None:
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": url.database},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
    engine.dispose()


def run_demo(
    url: URL | str, students: int, storage: Path, unique_files: int
) -> tuple[float, float, Recording]:
    """Load the demo; returns seconds end to end, seconds inserting (recording excluded), the rows."""
    db = Database(url)
    try:
        migrate.upgrade(db)
        recording = Recording(chunks=[])

        def on_rows(table: Any, sql: str, params: list[tuple[Any, ...]]) -> None:
            started = time.perf_counter()
            recording.chunks.append((table.name, sql, params))
            recording.hook_seconds += time.perf_counter() - started

        def progress(done: int, total: int, message: str = "") -> None:
            if message == "Saving rows":
                recording.insert_started = time.perf_counter()

        started = time.perf_counter()
        demo.load_demo(
            db,
            students=students,
            store=DocumentStore(storage),
            progress=progress,
            on_rows=on_rows,
            unique_file_students=unique_files,
        )
        finished = time.perf_counter()
        total = finished - started - recording.hook_seconds
        return total, finished - recording.insert_started - recording.hook_seconds, recording
    finally:
        db.dispose()


def raw_postgres(url: URL, recording: Recording) -> float:
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        cur = conn.cursor()
        started = time.perf_counter()
        for _table, sql, params in recording.chunks:
            cur.executemany(sql, params)
        conn.commit()
        return time.perf_counter() - started


def raw_sqlite(path: Path, recording: Recording) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in (
            "foreign_keys = ON",
            "journal_mode = WAL",
            "synchronous = NORMAL",
            "temp_store = MEMORY",
        ):
            conn.execute(f"PRAGMA {pragma}")
        started = time.perf_counter()
        conn.execute("BEGIN")
        for _table, sql, params in recording.chunks:
            conn.executemany(sql, params)
        conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def report(backend: str, total: float, insert: float, raw: float, rows: int) -> None:
    print(f"\n{backend}: {rows:,} rows")
    print(
        f"  demo command, end to end : {total:8.1f} s  {rows / total:10,.0f} rows/s  ratio {raw / total:5.2f}"
    )
    print(
        f"  demo insert phase        : {insert:8.1f} s  {rows / insert:10,.0f} rows/s  ratio {raw / insert:5.2f}"
    )
    print(f"  raw DBAPI executemany    : {raw:8.1f} s  {rows / raw:10,.0f} rows/s  (baseline 1.00)")


def bench_postgres(students: int, unique_files: int, folder: Path) -> None:
    first, second = create_pg_database(), create_pg_database()
    try:
        total, insert, recording = run_demo(first, students, folder / "pg-storage", unique_files)
        migrate.upgrade(db := Database(second))
        db.dispose()
        raw = raw_postgres(second, recording)
        report("PostgreSQL", total, insert, raw, recording.rows)
    finally:
        drop_pg_database(first)
        drop_pg_database(second)


def bench_sqlite(students: int, unique_files: int, folder: Path) -> None:
    url = f"sqlite:///{folder / 'demo.sqlite3'}"
    total, insert, recording = run_demo(url, students, folder / "sqlite-storage", unique_files)
    baseline = folder / "raw.sqlite3"
    migrate.upgrade(db := Database(f"sqlite:///{baseline}"))
    db.dispose()
    raw = raw_sqlite(baseline, recording)
    report("SQLite", total, insert, raw, recording.rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument(
        "--unique-files", type=int, default=2000, help="students whose files are all their own"
    )
    args = parser.parse_args()
    print(f"cohortdesk demo --students {args.students:,}: demo path against raw executemany of the same rows")
    with tempfile.TemporaryDirectory(prefix="cohortdesk-bench-") as tmp:
        folder = Path(tmp)
        if args.backend in ("both", "postgresql"):
            bench_postgres(args.students, args.unique_files, folder)
        if args.backend in ("both", "sqlite"):
            bench_sqlite(args.students, args.unique_files, folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The enrollment queue at 100,000 enrollments on PostgreSQL: time from opening the queue (and from
changing a filter, and from a search) to the first page of rows in the Qt model, against the raw
psycopg query for the same page in the same run; peak memory; the plans PostgreSQL chose. Then the
preview's first-page figure from ``bench/preview.py``.

    QT_QPA_PLATFORM=offscreen python bench/queue.py [--students 100000] [--runs 7] [--keep]

Creates its own database on ``COHORTDESK_BENCH_PG_URL`` (default the local server's ``postgres``
database as admin), loads ``cohortdesk demo`` into it (in a child process), measures, and drops it (``--keep``
keeps it and prints its URL; ``--url`` measures an existing, already loaded database instead).
"""

# ruff: noqa: E402 - the import path is fixed before the imports (see below)
from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's ``queue``: keep its folder off the import path so
# ``import queue`` (psycopg, concurrent.futures) finds the real one.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.dialects import postgresql

from cohortdesk.db import Database, migrate
from cohortdesk.services.review import queue
from cohortdesk.services.review.queue import QueueFilter, QueueSort
from cohortdesk.views.queue_table_model import QueueTableModel
from cohortdesk.views.runner import Runner

ADMIN_URL = os.environ.get("COHORTDESK_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PAGE = 200


def _admin():
    return create_engine(
        ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )


def create_database() -> str:
    name = f"cdbench_{uuid.uuid4().hex[:10]}"
    engine = _admin()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(False)


def drop_database(url: str) -> None:
    name = make_url(url).database
    engine = _admin()
    with engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()


def raw_sql(flt: QueueFilter, sort: QueueSort, offset: int = 0, limit: int = PAGE) -> str:
    """The model's page query as plain SQL (literal parameters), for psycopg and EXPLAIN."""
    stmt = queue.queue_statement("postgresql", flt, sort, offset, limit)
    return str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def time_raw(dsn: str, sql: str) -> float:
    """One psycopg round trip for the page: execute and fetch every row (own connection, warm)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(sql).fetchall()  # warm the connection and the plan cache alike
        started = time.perf_counter()
        rows = conn.execute(sql).fetchall()
        elapsed = time.perf_counter() - started
    assert rows is not None
    return elapsed


def time_model(app: QApplication, model: QueueTableModel, flt: QueueFilter, sort: QueueSort) -> float:
    """From ``set_query`` to the first page's rows inserted in the model (threaded runner, and the GUI
    thread waiting in a real event loop, as in the application, not spinning)."""
    arrived: list[float] = []
    loop = QEventLoop()

    def on_page(first: int, _count: int) -> None:
        if first == 0 and not arrived:
            arrived.append(time.perf_counter())
            loop.quit()

    model.page_loaded.connect(on_page)
    QTimer.singleShot(60_000, loop.quit)
    started = time.perf_counter()
    model.set_query(flt, sort)
    if not arrived:
        loop.exec()
    model.page_loaded.disconnect(on_page)
    if not arrived:
        raise RuntimeError("the first page did not arrive within 60 s")
    # let the count finish too, so it does not overlap the next measurement
    deadline = time.perf_counter() + 60
    while model.total < 0 and time.perf_counter() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
    return arrived[0] - started


def explain(dsn: str, sql: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + sql).fetchall()]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pick_search_word(db: Database) -> str:
    """A surname that occurs a few times, so the search returns a realistic handful of rows."""
    with db.read_session() as s:
        word = s.execute(
            text(
                "SELECT u.last_name FROM users u JOIN cohort_enrollments e ON e.user_id = u.id "
                "GROUP BY u.last_name ORDER BY count(*) ASC, u.last_name LIMIT 1 OFFSET 5"
            )
        ).scalar()
    return str(word or "Nkosi")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--url", help="measure this already loaded database instead of creating one")
    parser.add_argument("--keep", action="store_true", help="keep the database created for the run")
    parser.add_argument("--no-preview", action="store_true", help="skip the preview figure")
    args = parser.parse_args()

    url = args.url or create_database()
    db = Database(url)
    try:
        if not args.url:
            migrate.upgrade(db)
            # The demo loads in a child process (the real ``cohortdesk demo`` command), so this
            # process's peak memory is the queue's, not the loader's.
            home = tempfile.mkdtemp(prefix="cdbench-home-")
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "cohortdesk", "--url", url, "demo", "--students", str(args.students)],
                check=True,
                cwd=ROOT,
                env={**os.environ, "COHORTDESK_HOME": home},
                stdout=subprocess.DEVNULL,
            )
            print(
                f"Loaded {args.students:,} enrollments with `cohortdesk demo` in {time.perf_counter() - started:.1f} s"
            )
            shutil.rmtree(home, ignore_errors=True)
            with db.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        return run(db, url, args)
    finally:
        db.dispose()
        if not args.url and not args.keep:
            drop_database(url)
        elif args.keep:
            print(f"Kept the database: {url}")


def run(db: Database, url: str, args: argparse.Namespace) -> int:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
    total = queue.queue_count(db, QueueFilter(verification_state=None))
    app = QApplication.instance() or QApplication([sys.argv[0]])
    runner = Runner()
    model = QueueTableModel(runner, partial(queue.queue_page, db), partial(queue.queue_count, db), PAGE)
    search_word = pick_search_word(db)
    cases: list[tuple[str, QueueFilter, QueueSort]] = [
        ("open the queue (pending, oldest first)", QueueFilter(), QueueSort()),
        ("change a filter (programme: internship)", QueueFilter(program_type="internship"), QueueSort()),
        (
            "change a filter (all states, newest first)",
            QueueFilter(verification_state=None),
            QueueSort(descending=True),
        ),
        (f"search “{search_word}”", QueueFilter(verification_state=None, search=search_word), QueueSort()),
        ("search by ID number “9001”", QueueFilter(verification_state=None, search="9001"), QueueSort()),
        ("sort by student name", QueueFilter(), QueueSort("student")),
    ]
    print(
        f"\nEnrollment queue on PostgreSQL, {total:,} enrollments, first page of {PAGE} rows (median of {args.runs}):"
    )
    print(f"  {'case':46} {'Qt model':>10} {'raw psycopg':>12} {'ratio':>7}")
    results: list[dict[str, Any]] = []
    for label, flt, sort in cases:
        model_times, raw_times = [], []
        sql = raw_sql(flt, sort)
        for _ in range(args.runs):  # interleaved, so background load falls on both sides alike
            model_times.append(time_model(app, model, flt, sort))
            raw_times.append(time_raw(dsn, sql))
        model_ms = statistics.median(model_times) * 1000
        raw_ms = statistics.median(raw_times) * 1000
        results.append({"case": label, "model_ms": model_ms, "raw_ms": raw_ms})
        print(f"  {label:46} {model_ms:8.1f} ms {raw_ms:9.1f} ms {model_ms / raw_ms:6.2f}x")

    # Scrolling: the next pages through fetchMore, as the view asks for them (timed without tracing).
    def scroll(pages_wanted: int) -> tuple[int, float]:
        model.set_query(QueueFilter(verification_state=None), QueueSort())
        while model.loading:
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
        started = time.perf_counter()
        pages = 0
        while pages < pages_wanted and model.canFetchMore():
            model.fetchMore()
            pages += 1
            while model.loading:
                app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
        return pages, (time.perf_counter() - started) * 1000

    pages, scroll_ms = scroll(25)
    print(
        f"  scrolling: {model.rowCount():,} rows after {pages} more pages, {scroll_ms / max(pages, 1):.1f} ms a page"
    )
    # Memory, apart from the timings (tracemalloc slows Python down): open the queue and scroll.
    tracemalloc.start()
    scroll(25)
    _current, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  peak Python memory, opening and scrolling (tracemalloc): {traced_peak / 1024 / 1024:.1f} MB")
    print(
        f"  peak resident set of this process (ru_maxrss; the demo loaded in a child): {peak_rss_mb():.0f} MB"
    )

    print("\nPlans (EXPLAIN ANALYZE) of the page queries:")
    for label, flt, sort in cases[:3]:
        plan = explain(dsn, raw_sql(flt, sort))
        indexes = sorted({line.split(" using ")[1].split()[0] for line in plan if " using " in line})
        summary = next((line.strip() for line in plan if line.strip().startswith("Execution Time")), "")
        print(f"  {label}: indexes {', '.join(indexes) or 'none'}; {summary}")
    default_plan = explain(dsn, raw_sql(QueueFilter(), QueueSort()))
    print("  default view, full plan:")
    for line in default_plan:
        print(f"    {line}")

    runner.shutdown()
    if not args.no_preview:
        preview_figures(app)
    return 0


def preview_figures(app: QApplication) -> None:
    import importlib.util

    measure: Callable[..., dict[str, Any]] | None = None
    path = ROOT / "bench" / "preview.py"
    if path.is_file():
        spec = importlib.util.spec_from_file_location("cohortdesk_bench_preview", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        measure = getattr(module, "measure_first_page", None)
    if measure is None:
        print("\nPreview: bench/preview.py is not in this build; its figure is not included.")
        return
    result = measure(pages=10, runs=7)
    print(
        f"\nPreview, first rendered page of a 10-page PDF ({result['page_pixels']} px): "
        f"{result['preview_first_page_ms']:.1f} ms in DocumentPreview vs {result['baseline_render_ms']:.1f} ms "
        f"for QPdfDocument.render alone (ratio {result['ratio_to_render']:.2f}x; "
        f"{result['ratio_to_load_and_render']:.2f}x against load + render in process); "
        f"render worker peak RSS {result['worker_peak_rss_mb']} MB."
    )
    del app


if __name__ == "__main__":
    raise SystemExit(main())

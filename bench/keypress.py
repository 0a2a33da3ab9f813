"""One keypress at the workstation: from an ``A`` (approve, Save and next on) to the next document's
first page painted, on demo data, on SQLite and PostgreSQL; p50/p95 against a floor measured in the
same run: one INSERT, one SELECT of the next row and one ``QPdfDocument.render`` of a demo page at the
preview's size (what any implementation must at least do). Goal: p95 within 2x the floor.

The time runs from the key event to the preview's ``rendered`` signal for the next document (its first
page painted into the window). Before each press the bench waits until the window is idle, as while an
officer reads a page: no background op in flight (the previous decision answered, the next enrollment
claimed) and the render worker done with what it reads ahead. Two more figures say what follows the
page: when the decision is answered (written and read back, the row and panes reconciled), and the
longest the GUI thread's event loop was busy from the key until idle (the longest gap between the
ticks of a 1 ms timer: how long a second key would have waited at most).

    QT_QPA_PLATFORM=offscreen python bench/keypress.py [--backend sqlite|postgresql|both]
                                                     [--presses 30] [--students 80]

Each backend gets a fresh store in a throw-away ``COHORTDESK_HOME`` (PostgreSQL: a database created and
dropped here on ``COHORTDESK_BENCH_PG_URL``, default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ADMIN_URL = os.environ.get("COHORTDESK_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def pg_database() -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, make_url, text

    admin = create_engine(
        make_url(ADMIN_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    name = f"cdbench_keypress_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False), drop


def run(backend: str, presses: int, students: int) -> dict[str, list[float]]:
    """Seconds for one backend: "keypress", "floor", "answered", "longest_busy" (per press)."""
    from PySide6.QtCore import QEventLoop, QSize, Qt, QTimer
    from PySide6.QtGui import QImage
    from PySide6.QtPdf import QPdfDocument
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from sqlalchemy import select, text

    from cohortdesk.db import Database, default_url, migrate
    from cohortdesk.models import CohortEnrollment, Institution, User
    from cohortdesk.services import demo
    from cohortdesk.services.access.identity import ROLE_CAPABILITIES, Identity
    from cohortdesk.services.documents.storage import DocumentStore
    from cohortdesk.views.runner import Runner
    from cohortdesk.views.workstation import MainWindow

    drop: Callable[[], None] = lambda: None  # noqa: E731
    url = default_url()
    if backend == "postgresql":
        url, drop = pg_database()
    db = Database(url)
    try:
        migrate.upgrade(db)
        store = DocumentStore()
        demo.load_demo(db, students=students, store=store)
        with db.read_session() as s:
            inst = s.scalars(select(Institution).order_by(Institution.id).limit(1)).one()
            admin = s.get(User, inst.super_admin_id)
            identity = Identity(
                user_id=admin.id,
                display_name=f"{admin.first_name} {admin.last_name}",
                account_id=inst.account_id,
                institution_id=inst.id,
                role="super_admin",
                capabilities=ROLE_CAPABILITIES["super_admin"],
            )
        app = QApplication.instance() or QApplication([sys.argv[0]])

        def pump(until: Callable[[], bool], timeout: float = 20.0) -> bool:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
                if until():
                    return True
            return False

        ticks: list[float] = []  # a 1 ms heartbeat on the GUI thread
        heartbeat = QTimer()
        heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
        heartbeat.setInterval(1)
        heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))

        runner = Runner()
        window = MainWindow(db, runner, store, identity=identity, live=False)
        window.resize(1600, 960)
        window.show()
        window.open_database()
        pump(lambda: window.current_document() is not None and runner.in_flight == 0, 60)
        window.ui.save_and_next.setChecked(True)
        painted: list[float] = []
        window.preview.rendered.connect(lambda: painted.append(time.perf_counter()))
        answered: list[float] = []
        window.decision_recorded.connect(lambda _outcome: answered.append(time.perf_counter()))
        pump(lambda: bool(painted), 20)

        timings: list[float] = []
        answers: list[float] = []
        longest: list[float] = []
        for _ in range(presses):
            # The officer reads the page before deciding: meanwhile the window goes idle (no
            # background op, the render worker done with what it reads ahead).
            pump(lambda: runner.in_flight == 0 and not window.preview.client.busy, 10)
            if not window.ui.approve_button.isEnabled():
                break
            painted.clear()
            answered.clear()
            window.ui.queue_table.setFocus()
            heartbeat.start()
            started = time.perf_counter()
            ticks[:] = [started]
            QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
            if pump(lambda: bool(painted), 20):
                timings.append(painted[0] - started)
            if pump(lambda: bool(answered), 20):
                answers.append(answered[0] - started)
            pump(lambda: runner.in_flight == 0 and not window.preview.client.busy, 10)
            heartbeat.stop()
            ticks.append(time.perf_counter())
            longest.append(max(b - a for a, b in itertools.pairwise(ticks)))

        # The floor: one INSERT, one SELECT of the next row, one render of a demo page.
        doc = next(
            (
                d
                for d in (window._detail.documents if window._detail else ())
                if d.content_type == "application/pdf"
            ),
            None,
        )
        pdf_bytes = store.read(doc.upload) if doc is not None else None
        size = window.preview.view.viewport().size()
        floors: list[float] = []
        with db.engine.begin() as conn:
            conn.execute(
                text("CREATE TABLE IF NOT EXISTS bench_keypress_floor (id INTEGER PRIMARY KEY, note TEXT)")
            )
        for i in range(max(presses, 10)):
            started = time.perf_counter()
            with db.engine.begin() as conn:
                conn.execute(
                    text("INSERT INTO bench_keypress_floor (id, note) VALUES (:i, 'approved')"), {"i": i}
                )
            with db.engine.connect() as conn:
                conn.execute(
                    select(CohortEnrollment.id)
                    .where(CohortEnrollment.document_verification_state == "pending")
                    .order_by(CohortEnrollment.pending_since, CohortEnrollment.id)
                    .limit(1)
                ).first()
            if pdf_bytes:
                from PySide6.QtCore import QBuffer, QByteArray, QIODevice

                buffer = QBuffer()
                buffer.setData(QByteArray(pdf_bytes))
                buffer.open(QIODevice.OpenModeFlag.ReadOnly)
                document = QPdfDocument()
                document.load(buffer)
                page = document.pagePointSize(0)
                width = max(size.width() - 32, 100)
                image: QImage = document.render(
                    0, QSize(width, round(width * page.height() / max(page.width(), 1)))
                )
                assert not image.isNull()
                document.close()
            floors.append(time.perf_counter() - started)
        window.close()
        runner.shutdown()
        return {"keypress": timings, "floor": floors, "answered": answers, "longest_busy": longest}
    finally:
        db.dispose()
        drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--students", type=int, default=80)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="cohortdesk-keypress-"))
    os.environ["COHORTDESK_HOME"] = str(home)
    os.environ.pop("COHORTDESK_DATABASE_URL", None)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print(
        f"A keypress → next document's first page painted ({args.presses} presses, {args.students} demo students)"
    )
    for backend in backends:
        figures = run(backend, args.presses, args.students)
        timings, floors = figures["keypress"], figures["floor"]
        if not timings:
            print(f"  {backend:<10} no keypress reached a painted page")
            continue
        p50, p95 = statistics.median(timings), percentile(timings, 0.95)
        f50, f95 = statistics.median(floors), percentile(floors, 0.95)
        print(
            f"  {backend:<10} keypress p50 {p50 * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  (n={len(timings)})   "
            f"floor p50 {f50 * 1000:6.1f} ms  p95 {f95 * 1000:6.1f} ms   ratio p50 {p50 / f50:4.2f}x  "
            f"p95 {p95 / f95:4.2f}x  (goal p95 ≤ 2x)"
        )
        answers, longest = figures["answered"], figures["longest_busy"]
        if answers and longest:
            print(
                f"  {'':<10} decision answered p50 {statistics.median(answers) * 1000:6.1f} ms  "
                f"p95 {percentile(answers, 0.95) * 1000:6.1f} ms   GUI busy at most p50 "
                f"{statistics.median(longest) * 1000:5.1f} ms  p95 {percentile(longest, 0.95) * 1000:5.1f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Cold start: a fresh interpreter running ``python -m cohortdesk`` to a painted main window with the
queue's first page loaded from the embedded SQLite store, against a bare PySide6 window showing a 50-row
table, measured in the same run; median of several runs each, the ratio, and the peak memory (RSS) of
each process.

    python bench/startup.py [--runs 7] [--students 2000] [--home /tmp/cohortdesk-bench-startup]

The embedded store with its demo data is created once in ``--home`` and reused, and the package's
bytecode is compiled first, as an installed copy has it (with ``PYTHONDONTWRITEBYTECODE`` set and no
``__pycache__``, every run would compile some ninety modules, a third of a second). The application is
started with ``COHORTDESK_EXIT_WHEN_READY=1``: it prints ``COHORTDESK_READY <unix time>`` as soon as
the first queue page is painted and quits; the baseline prints the same once its table is painted.
Time is from just before the process is spawned to that line; peak RSS comes from ``wait4``.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# bench/queue.py is named like the standard library's ``queue``: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROOT = Path(__file__).resolve().parents[1]

BASELINE = r"""
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QTableWidget, QTableWidgetItem
app = QApplication(sys.argv)
table = QTableWidget(50, 8)
table.setHorizontalHeaderLabels([f"Column {c}" for c in range(8)])
for r in range(50):
    for c in range(8):
        table.setItem(r, c, QTableWidgetItem(f"Row {r} · {c}"))
table.resize(1600, 960)
table.show()
def ready():
    table.repaint()
    sys.stdout.write(f"COHORTDESK_READY {time.time():.6f}\n")
    sys.stdout.flush()
    app.quit()
QTimer.singleShot(0, ready)
app.exec()
"""


def prepare(home: Path, students: int) -> None:
    """The embedded store with demo data, and settings that skip the welcome screen (once)."""
    os.environ["COHORTDESK_HOME"] = str(home)
    os.environ.pop("COHORTDESK_DATABASE_URL", None)
    os.environ.pop("COHORTDESK_STORAGE", None)
    sys.path.insert(0, str(ROOT))
    from cohortdesk import paths
    from cohortdesk.settings import AppSettings, save_settings

    marker = home / f"demo-{students}.done"
    if not marker.exists():
        from cohortdesk.db import Database, migrate
        from cohortdesk.services import demo
        from cohortdesk.services.documents.storage import DocumentStore

        paths.default_sqlite_path().unlink(missing_ok=True)
        db = Database(f"sqlite:///{paths.default_sqlite_path()}")
        migrate.upgrade(db)
        print(f"creating the embedded store with {students:,} demo students in {home} (once)…")
        demo.load_demo(db, students=students, store=DocumentStore(), unique_file_students=50)
        db.dispose()
        marker.write_text("ok", encoding="utf-8")
    save_settings(AppSettings(first_run_done=True, database_choice="embedded"))
    compileall.compile_dir(ROOT / "cohortdesk", quiet=1)


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds from spawn to the READY line, peak RSS in MiB) of one fresh process."""
    started = time.time()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    ready: float | None = None
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("COHORTDESK_READY "):
            ready = float(line.split()[1])
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read() if process.stderr else ""
    if ready is None or process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} did not report ready (exit {process.returncode}):\n{stderr}")
    return ready - started, usage.ru_maxrss / 1024  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--home", type=Path, default=Path("/tmp/cohortdesk-bench-startup"))
    args = parser.parse_args(argv)
    prepare(args.home, args.students)

    env = {k: v for k, v in os.environ.items() if not k.startswith("COHORTDESK_")}
    env.update(
        COHORTDESK_HOME=str(args.home),
        COHORTDESK_EXIT_WHEN_READY="1",
        QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        PYTHONPATH=str(ROOT),
    )
    app_cmd = [sys.executable, "-m", "cohortdesk"]
    base_cmd = [sys.executable, "-c", BASELINE]
    measure(app_cmd, env)  # warm the file cache once for both (not counted)
    measure(base_cmd, env)
    app_runs: list[tuple[float, float]] = []
    base_runs: list[tuple[float, float]] = []
    for _ in range(args.runs):  # interleaved, so machine noise hits both alike
        app_runs.append(measure(app_cmd, env))
        base_runs.append(measure(base_cmd, env))

    def med(runs: list[tuple[float, float]], i: int) -> float:
        return statistics.median(r[i] for r in runs)

    app_s, base_s = med(app_runs, 0), med(base_runs, 0)
    app_mb, base_mb = med(app_runs, 1), med(base_runs, 1)
    print(f"runs: {args.runs} each, embedded store with {args.students:,} demo students")
    print(
        f"  CohortDesk   start to painted queue: median {app_s * 1000:7.0f} ms  "
        f"(min {min(r[0] for r in app_runs) * 1000:.0f}, max {max(r[0] for r in app_runs) * 1000:.0f})  "
        f"peak RSS {app_mb:6.1f} MiB"
    )
    print(
        f"  bare PySide6 50-row table painted:   median {base_s * 1000:7.0f} ms  "
        f"(min {min(r[0] for r in base_runs) * 1000:.0f}, max {max(r[0] for r in base_runs) * 1000:.0f})  "
        f"peak RSS {base_mb:6.1f} MiB"
    )
    print(f"  ratio CohortDesk / baseline: time {app_s / base_s:.2f}x, peak RSS {app_mb / base_mb:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Render the learner-loop screens under real X windows (Xvfb) into ``docs/screenshots/learner/``:

    python scripts/learner_screenshots.py [--out docs/screenshots/learner] [--students 600]

For each screen (1366x768, 1920x1080, 1920x1080 at 150 %) an Xvfb server of that size is started and
a child process draws, on demo data in a throw-away ``COHORTDESK_HOME``: the cohort dashboard, the bulk
reject confirmation, the reminder result, and the notification settings' template editor. Each picture
is the whole X screen (the workstation behind, the window or dialog where it opens), so what does not
fit on that screen shows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCREENS = {"1366x768": (1366, 768, 1.0), "1920x1080": (1920, 1080, 1.0), "1920x1080-150": (1920, 1080, 1.5)}


def render(screen: str, out: Path, students: int) -> None:  # noqa: PLR0915 - one scripted walk
    width, height, scale = SCREENS[screen]
    home = Path(tempfile.mkdtemp(prefix="cohortdesk-learner-shots-"))
    os.environ["COHORTDESK_HOME"] = str(home)
    os.environ.pop("COHORTDESK_DATABASE_URL", None)
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    if scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(scale)

    from PySide6.QtCore import QEventLoop, QItemSelectionModel
    from PySide6.QtWidgets import QScrollArea

    from cohortdesk.db import Database, default_url, migrate
    from cohortdesk.services import demo
    from cohortdesk.services.access.identity import resolve_identity
    from cohortdesk.services.documents.storage import DocumentStore
    from cohortdesk.views.app import application
    from cohortdesk.views.learner_tools import install_learner_tools
    from cohortdesk.views.runner import Runner
    from cohortdesk.views.workstation import MainWindow

    db = Database(default_url())
    migrate.upgrade(db)
    store = DocumentStore()
    demo.load_demo(db, students=students, store=store, unique_file_students=40)
    identity = resolve_identity(db)
    app = application([sys.argv[0]], theme="light")

    def pump(until: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            if until():
                break
            time.sleep(0.01)
        app.processEvents()

    runner = Runner()
    runner.error_occurred.connect(
        lambda error, label: print(f"error while {label}: {error!r}", file=sys.stderr)
    )
    window = MainWindow(db, runner, store, identity=identity)
    tools = install_learner_tools(window)
    available = app.primaryScreen().availableGeometry()
    window.setGeometry(available)
    window.show()
    window.open_database()
    pump(lambda: window.identity is not None and window.queue_model.rowCount() > 0 and runner.in_flight == 0)
    pump(lambda: False, timeout=1.0)

    def save(name: str) -> None:
        pump(lambda: runner.in_flight == 0)
        pump(lambda: False, timeout=0.5)
        path = out / f"{name}-{screen}.png"
        app.primaryScreen().grabWindow(0).save(str(path))
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    # The dashboard of the first institution, all cohorts.
    first = window.tree_model.tree[0]
    dashboard = tools.open_dashboard(("institution", first.id))
    assert dashboard is not None
    pump(lambda: getattr(dashboard, "dashboard", None) is not None and not dashboard._loading)
    save("dashboard")
    scroll = dashboard.findChild(QScrollArea)
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
    save("dashboard-stuck")
    dashboard.close()

    # Five learners selected, one document rejected with one reason: the confirmation.
    table = window.ui.queue_table
    selection = table.selectionModel()
    for row in range(min(5, window.queue_model.rowCount())):
        selection.select(
            window.queue_model.index(row, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    bulk = tools.open_bulk("rejected")
    assert bulk is not None
    pump(lambda: bulk.choices is not None)
    bulk.set_documents(("id_document",))
    bulk.reason_box.setCurrentIndex(1)
    bulk.note.setText("Batch from the Soweto intake: every ID copy older than three months")
    bulk.check()
    pump(lambda: bulk.planned is not None or "reason" in bulk.summary.text())
    save("bulk-reject")
    bulk.reject()

    # Learners still waiting for uploads, reminded: the result says who was left out and why.
    bulk.deleteLater()
    pump(lambda: False, timeout=0.2)
    window.ui.state_filter.setCurrentIndex(window.ui.state_filter.findData("waiting_for_uploads"))
    pump(lambda: window.queue_model.rowCount() > 0 and runner.in_flight == 0)
    selection.clearSelection()
    for row in range(min(6, window.queue_model.rowCount())):
        selection.select(
            window.queue_model.index(row, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    remind = tools.open_remind()
    assert remind is not None
    remind.confirm()
    pump(lambda: remind.outcomes is not None)
    save("remind-result")
    remind2 = tools.open_remind()
    assert remind2 is not None
    remind2.confirm()
    pump(lambda: remind2.outcomes is not None)
    save("remind-again")
    remind = remind2
    remind.reject()

    notify = tools.open_notifications()
    assert notify is not None
    pump(lambda: notify.current is not None)
    notify.host.setText("smtp.ikhwezi.example")
    notify.username.setText("notifications@ikhwezi.example")
    notify.sender_name.setText("Ikhwezi Admissions")
    notify.sender_address.setText("admissions@ikhwezi.example")
    notify.reply_to.setText("help@ikhwezi.example")
    save("notify-server")
    notify.tabs.setCurrentIndex(2)
    save("notify-templates")
    notify.dirty = False
    notify.close()
    window.close()
    runner.shutdown(wait=True)
    db.dispose()
    shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "learner")
    parser.add_argument("--students", type=int, default=600)
    parser.add_argument("--screen", choices=tuple(SCREENS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.screen:
        render(args.screen, args.out, args.students)
        return 0
    for number, (screen, (width, height, _scale)) in enumerate(SCREENS.items(), start=71):
        display = f":{number}"
        xvfb = subprocess.Popen(
            ["Xvfb", display, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.0)
            env = {**os.environ, "DISPLAY": display}
            env.pop("QT_QPA_PLATFORM", None)
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--screen",
                    screen,
                    "--out",
                    str(args.out),
                    "--students",
                    str(args.students),
                ],
                env=env,
                check=True,
            )
        finally:
            xvfb.terminate()
            xvfb.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

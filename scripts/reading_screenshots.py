"""The student pane comparing documents with captured data, on demo data, at one screen size:

    python scripts/reading_screenshots.py --size 1366x768 [--name reading-1366x768.png]
    QT_SCALE_FACTOR=1.5 python scripts/reading_screenshots.py --size 1920x1080 --name reading-1920x1080-150.png

Runs on the display it is given (Xvfb for real windows) or offscreen, in a throw-away
``COHORTDESK_HOME``; reads the documents of the first pending enrollments with the real engine, picks one
whose ID document disagrees with the captured number, outlines the number on the page (as hovering its
line does) and saves the window to ``docs/screenshots/``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--name", default="")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--students", type=int, default=120)
    parser.add_argument("--want", default="mismatch", choices=("mismatch", "matches", "unreadable"))
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    home = Path(tempfile.mkdtemp(prefix="cohortdesk-reading-shots-"))
    os.environ["COHORTDESK_HOME"] = str(home)
    os.environ.pop("COHORTDESK_DATABASE_URL", None)

    from PySide6.QtCore import QEventLoop

    from cohortdesk.db import Database, default_url, migrate
    from cohortdesk.services import demo
    from cohortdesk.services.access.identity import resolve_identity
    from cohortdesk.services.documents.storage import DocumentStore
    from cohortdesk.views.app import application
    from cohortdesk.views.runner import Runner
    from cohortdesk.views.workstation import MainWindow
    from cohortdesk.views.workstation.reading import install_reading

    db = Database(default_url())
    migrate.upgrade(db)
    store = DocumentStore()
    demo.load_demo(db, students=args.students, store=store)
    identity = resolve_identity(db)
    app = application([sys.argv[0]], theme="light")

    def pump(until: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            if until():
                break
            time.sleep(0.01)
        app.processEvents()

    runner = Runner()
    window = MainWindow(db, runner, store, identity=identity)
    presenter = install_reading(window)
    reader = presenter.reader
    screen = app.primaryScreen().availableGeometry()
    window.resize(min(width, screen.width()), min(height, screen.height()))
    window.show()
    window.open_database()
    pump(lambda: window.current_document() is not None and runner.in_flight == 0)
    model = window.queue_model
    ids = [row.enrollment_id for row in model.rows()][:40]
    reader.want(ids)
    pump(lambda: all(i in reader.statuses for i in ids), 400)
    wanted = [i for i in ids if reader.statuses.get(i) == args.want]

    def id_mismatch(enrollment_id: int) -> bool:
        return any(
            c.key == "sa_id_number" and c.status == "mismatch"
            for c in reader.checks(enrollment_id, reveal=False)
        )

    chosen = next((i for i in wanted if id_mismatch(i)), wanted[0] if wanted else ids[0])
    rendered: list[bool] = []
    window.preview.rendered.connect(lambda: rendered.append(True))
    window._select_row(model.row_of(chosen))
    pump(
        lambda: (
            window._detail is not None and window._detail.student.enrollment_id == chosen and bool(rendered)
        )
    )
    for position, doc in enumerate(window._detail.documents):
        if doc.document_type == "id_document":
            rendered.clear()
            window.ui.document_list.setCurrentRow(position)
            break
    pump(lambda: bool(rendered) and runner.in_flight == 0)
    pump(lambda: False, 1.0)
    tabs = getattr(window.ui, "side_tabs", None)
    if tabs is not None and tabs.isVisible():
        for index in range(tabs.count()):
            if tabs.tabText(index).replace("&", "") == "Student":
                tabs.setCurrentIndex(index)
    pump(lambda: False, 0.3)
    presenter._show_box("id_document", "sa_id_number")
    pump(lambda: False, 0.5)
    args.out.mkdir(parents=True, exist_ok=True)
    name = args.name or f"reading-{args.size}.png"
    window.grab().save(str(args.out / name))
    print(f"wrote {args.out / name}; pre-check of enrollment {chosen}: {reader.statuses.get(chosen)}")
    print("checks:", [c.message for c in reader.checks(chosen, reveal=False)])
    reader.shutdown()
    window.close()
    runner.shutdown(wait=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

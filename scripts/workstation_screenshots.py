"""Screenshots of the main screens under a real X server at the sizes officers use, into
``docs/screenshots/sizes/``:

    python scripts/workstation_screenshots.py [--out docs/screenshots/sizes] [--only 1366x768]

Sizes: 1366×768, 1920×1080, 1920×1080 at 150 % and 1366×768 at 125 % (``QT_SCALE_FACTOR``). Each
size runs in a child process with its own ``Xvfb`` (started and stopped here, on a free display
number) and a throw-away ``COHORTDESK_HOME`` with demo data, so nothing of yours is touched. The
window places itself as on a first start (no forced size): the pictures show what a person sees.
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

#: name → (screen width, screen height, scale factor)
SIZES: dict[str, tuple[int, int, float]] = {
    "1366x768": (1366, 768, 1.0),
    "1920x1080": (1920, 1080, 1.0),
    "1920x1080-150": (1920, 1080, 1.5),
    "1366x768-125": (1366, 768, 1.25),
}


def free_display() -> int:
    for number in range(140, 200):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise SystemExit("No free X display number between :140 and :199.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "sizes")
    parser.add_argument("--only", choices=sorted(SIZES), action="append")
    parser.add_argument("--child", choices=sorted(SIZES), help=argparse.SUPPRESS)
    parser.add_argument("--students", type=int, default=80)
    args = parser.parse_args(argv)
    if args.child:
        return shoot(args.child, args.out, args.students)
    if shutil.which("Xvfb") is None:
        raise SystemExit("Xvfb is needed (apt-get install xvfb).")
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in args.only or list(SIZES):
        width, height, scale = SIZES[name]
        display = free_display()
        server = subprocess.Popen(
            ["Xvfb", f":{display}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.8)
            env = dict(os.environ, DISPLAY=f":{display}", QT_QPA_PLATFORM="xcb", QT_SCALE_FACTOR=str(scale))
            env.pop("COHORTDESK_DATABASE_URL", None)
            result = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    name,
                    "--out",
                    str(args.out),
                    "--students",
                    str(args.students),
                ],
                env=env,
                check=False,
            )
            failed += result.returncode != 0
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 1 if failed else 0


def shoot(name: str, out: Path, students: int) -> int:
    home = Path(tempfile.mkdtemp(prefix="cohortdesk-sizes-"))
    os.environ["COHORTDESK_HOME"] = str(home)

    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication, QWidget

    from cohortdesk.db import Database, default_url, migrate
    from cohortdesk.services import demo
    from cohortdesk.services.access.identity import resolve_identity
    from cohortdesk.services.documents.storage import DocumentStore
    from cohortdesk.views import style
    from cohortdesk.views.app import application
    from cohortdesk.views.runner import Runner
    from cohortdesk.views.workstation import MainWindow

    db = Database(default_url())
    migrate.upgrade(db)
    store = DocumentStore()
    demo.load_demo(db, students=students, store=store)
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

    def save(widget: QWidget, screen: str) -> None:
        """The whole screen, as a person sees it (the window and what is over it)."""
        pump(lambda: False, timeout=0.4)
        target = out / f"{screen}-{name}.png"
        widget.screen().grabWindow(0).save(str(target))
        print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")

    runner = Runner()
    window = MainWindow(db, runner, store, identity=identity)
    window.show()
    window.open_database()
    pump(lambda: window.current_document() is not None and runner.in_flight == 0)
    # A learner who uploaded a PDF, on its first document.
    for row in range(min(window.queue_model.rowCount(), 40)):
        window._select_row(row)
        pump(lambda: runner.in_flight == 0 and window._detail is not None, timeout=10)
        doc = window.current_document()
        if doc is not None and doc.content_type == "application/pdf" and doc.upload:
            break
    rendered: list[bool] = []
    window.preview.rendered.connect(lambda: rendered.append(True))
    pump(lambda: bool(rendered) and runner.in_flight == 0, timeout=20)
    pump(lambda: False, timeout=0.8)
    window.ui.queue_table.setFocus()
    save(window, "workstation")

    for tab in range(window.ui.side_tabs.count() if window.ui.compact else 0):
        if window.ui.side_tabs.tabText(tab) == "Student":
            window.ui.side_tabs.setCurrentIndex(tab)
            save(window, "workstation-student")
            window.ui.side_tabs.setCurrentIndex(0)

    window.reject_current()
    pump(lambda: window.reject_dialog is not None and window.reject_dialog.isVisible())
    if window.reject_dialog is not None:
        window.reject_dialog.select_reason("not_certified")
        save(window, "reject-form")
        window.reject_dialog.reject()
        pump(lambda: window.reject_dialog is None)

    style.apply(app, "dark")
    window.detail_pane.render_student()
    save(window, "workstation-dark")
    style.apply(app, "light")
    window.detail_pane.render_student()

    from cohortdesk.views.admin.admin_window import AdminWindow

    admin = AdminWindow(runner, db, identity, window)
    admin.show()
    pump(lambda: admin.snapshot is not None and runner.in_flight == 0)
    save(admin, "admin")
    for position in range(admin.navigation.count()):
        if "ohort" in admin.navigation.item(position).text():
            admin.navigation.setCurrentRow(position)
            pump(lambda: runner.in_flight == 0)
            save(admin, "admin-cohorts")
    style.apply(app, "dark")
    save(admin, "admin-dark")
    style.apply(app, "light")
    admin.close()

    from cohortdesk.views.export_dialog import ExportDialog

    export = ExportDialog(runner, db, identity, window)
    export.show()
    pump(lambda: runner.in_flight == 0)
    save(export, "export")
    export.close()

    window.show_shortcuts()
    pump(lambda: window.shortcut_sheet is not None and window.shortcut_sheet.isVisible())
    if window.shortcut_sheet is not None:
        save(window.shortcut_sheet, "shortcuts")
        window.shortcut_sheet.reject()

    window.close()
    runner.shutdown()
    db.dispose()
    QApplication.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

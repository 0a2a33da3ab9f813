"""Render the workstation on demo data into ``docs/screenshots/*.png``, headless, in one command:

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--out docs/screenshots] [--students 200]

Everything happens in a throw-away ``COHORTDESK_HOME`` (embedded SQLite store, document storage,
window settings), so the run touches nothing of yours. The offscreen platform gets a 1920×1200
virtual screen so the window can have its real size.
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

WINDOW_SIZE = (1760, 1000)


def _offscreen_screen(folder: Path) -> None:
    """A large virtual screen for the offscreen platform (its default is 800×800)."""
    if os.environ.get("QT_QPA_PLATFORM", "offscreen").startswith("offscreen"):
        config = folder / "offscreen.json"
        config.write_text(
            '{"screens": [{"name": "screenshots", "x": 0, "y": 0, "width": 1920, "height": 1200, '
            '"logicalDpiX": 96, "logicalDpiY": 96, "dpr": 1}]}',
            encoding="utf-8",
        )
        os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--students", type=int, default=200)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    home = Path(tempfile.mkdtemp(prefix="cohortdesk-screens-"))
    os.environ["COHORTDESK_HOME"] = str(home)
    os.environ.pop("COHORTDESK_DATABASE_URL", None)
    os.environ.pop("COHORTDESK_STORAGE", None)
    _offscreen_screen(home)

    from PySide6.QtCore import QEventLoop, QPoint, Qt
    from PySide6.QtGui import QColor, QPainter, QPixmap
    from PySide6.QtWidgets import QWidget

    from cohortdesk.db import Database, default_url, migrate
    from cohortdesk.services import demo
    from cohortdesk.services.access.identity import resolve_identity
    from cohortdesk.services.documents.storage import DocumentStore
    from cohortdesk.services.review import queue
    from cohortdesk.views.app import application
    from cohortdesk.views.runner import Runner
    from cohortdesk.views.workstation import MainWindow

    db = Database(default_url())
    migrate.upgrade(db)
    store = DocumentStore()
    print(f"Loading demo data ({args.students} students)…")
    demo.load_demo(db, students=args.students, store=store)
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
    window.resize(*WINDOW_SIZE)
    window.show()
    window.open_database()
    pump(lambda: window.current_document() is not None and runner.in_flight == 0)

    # A pending learner whose ID number disagrees with the captured data and who uploaded a PDF.
    chosen = _pick_showcase(db, identity, queue)
    if chosen is not None:
        row = window.queue_model.row_of(chosen)
        while row < 0 and window.queue_model.canFetchMore():
            window.queue_model.fetchMore()
            pump(lambda: not window.queue_model.loading)
            row = window.queue_model.row_of(chosen)
        if row >= 0:
            window._select_row(row)
    rendered: list[bool] = []
    window.preview.rendered.connect(lambda: rendered.append(True))
    pump(lambda: runner.in_flight == 0 and window._detail is not None)
    doc = window.current_document()
    if doc is None or doc.content_type != "application/pdf":
        for position, candidate in enumerate(window._detail.documents if window._detail else ()):
            if candidate.content_type == "application/pdf" and candidate.upload:
                window.ui.document_list.setCurrentRow(position)
                break
    pump(lambda: bool(rendered) and runner.in_flight == 0, timeout=60)
    pump(lambda: False, timeout=0.8)  # let the sharper render replace the first one
    window.ui.queue_table.setFocus()
    pump(lambda: False, timeout=0.2)

    def save(widget_pixmap: QPixmap, name: str) -> None:
        path = args.out / name
        widget_pixmap.save(str(path))
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    save(window.grab(), "workstation.png")
    save(window.ui.detail_splitter.grab(), "document-preview.png")

    def over_window(dialog: QWidget) -> QPixmap:
        """The window dimmed, with ``dialog`` drawn centred on it, as a person sees a modal dialog."""
        base = window.grab()
        shot = dialog.grab()
        painter = QPainter(base)
        painter.fillRect(base.rect(), QColor(20, 24, 28, 90))
        at = QPoint((base.width() - shot.width()) // 2, (base.height() - shot.height()) // 2)
        painter.setPen(Qt.PenStyle.NoPen)
        for spread, alpha in ((10, 18), (6, 26), (3, 40)):
            painter.setBrush(QColor(0, 0, 0, alpha))
            painter.drawRoundedRect(
                at.x() - spread,
                at.y() - spread + 4,
                shot.width() + 2 * spread,
                shot.height() + 2 * spread,
                10,
                10,
            )
        painter.drawPixmap(at, shot)
        painter.end()
        return base

    window.reject_current()
    pump(lambda: window.reject_dialog is not None and window.reject_dialog.isVisible())
    dialog = window.reject_dialog
    if dialog is not None:
        dialog.reason_list.setCurrentRow(0)
        dialog.select_reason("not_certified")
        pump(lambda: False, timeout=0.3)
        save(over_window(dialog), "reject-dialog.png")
        dialog.reject()
        pump(lambda: not dialog.isVisible())

    window.show_shortcuts()
    pump(lambda: window.shortcut_sheet is not None and window.shortcut_sheet.isVisible())
    if window.shortcut_sheet is not None:
        pump(lambda: False, timeout=0.3)
        save(over_window(window.shortcut_sheet), "shortcuts.png")
        window.shortcut_sheet.reject()

    # Special personal information: masked for everyone, shown after a reveal with a logged purpose.
    save(window.ui.student_details.grab(), "student-details-masked.png")
    window.reveal_special_pi()
    pump(lambda: window.reveal_dialog is not None and window.reveal_dialog.isVisible())
    reveal = window.reveal_dialog
    if reveal is not None:
        pump(lambda: False, timeout=0.3)
        save(over_window(reveal), "reveal-dialog.png")
        reveal.accept()
        pump(lambda: window.detail_pane.revealed is not None and runner.in_flight == 0)
        save(window.ui.student_details.grab(), "student-details-revealed.png")
        window.hide_special_pi()
        window.statusBar().clearMessage()

    # Start-up screens, the dark theme and the administration window.
    from cohortdesk.services.connection import profiles
    from cohortdesk.views import style
    from cohortdesk.views.admin.admin_window import AdminWindow
    from cohortdesk.views.login_dialog import LoginDialog
    from cohortdesk.views.welcome_dialog import WelcomeDialog

    welcome = WelcomeDialog()
    welcome.show()
    pump(lambda: False, timeout=0.3)
    save(welcome.grab(), "welcome.png")
    welcome.close()
    profiles.save_profile(
        profiles.ConnectionProfile(
            name="Head office",
            host="db.ikhwezi.example.co.za",
            database="docuseal",
            user="nomsa_dube",
            sslmode="require",
        )
    )
    login = LoginDialog()
    login.show()
    pump(lambda: False, timeout=0.3)
    save(login.grab(), "login.png")
    login.close()

    admin = AdminWindow(runner, db, identity, window)
    admin.resize(1280, 800)
    admin.show()
    pump(lambda: admin.snapshot is not None and runner.in_flight == 0)
    pump(lambda: False, timeout=0.3)
    save(admin.grab(), "admin.png")
    admin.close()

    style.apply(app, "dark")
    pump(lambda: False, timeout=0.5)
    save(window.grab(), "workstation-dark.png")
    style.apply(app, "light")

    # Many workstations: another officer is reviewing the enrollment on screen (and two more rows);
    # then the database goes away and the window shows it is offline.
    _claim_for_another_officer(db, identity, window)
    window.refresh()
    pump(lambda: runner.in_flight == 0 and window.review.banner.isVisible(), timeout=30)
    window._select_row(window.queue_model.row_of(window._current_id))
    window.ui.queue_table.scrollTo(
        window.ui.queue_table.currentIndex(), window.ui.queue_table.ScrollHint.PositionAtCenter
    )
    pump(lambda: runner.in_flight == 0, timeout=30)
    pump(lambda: False, timeout=0.5)
    save(window.grab(), "claimed-by-other.png")
    window.connection.first_delay_ms = 3_600_000  # hold the offline state still for the picture
    window.connection.go_offline("the screenshot cut the connection")
    window._set_activity("Offline")
    pump(lambda: False, timeout=0.3)
    save(window.grab(), "offline.png")

    window.close()
    runner.shutdown()
    db.dispose()
    return 0


def _claim_for_another_officer(db, identity, window) -> None:  # noqa: ANN001
    """Thandeka (another user of the same institution) claims the enrollment on screen and the two
    rows below it; the window's own claim on it is released first, as a super admin would."""
    from sqlalchemy import select

    from cohortdesk.errors import NotFoundError
    from cohortdesk.models import User
    from cohortdesk.services.access.identity import ROLE_CAPABILITIES, Identity
    from cohortdesk.services.review import claims

    with db.session() as s:
        other = s.scalars(
            select(User).where(User.account_id == identity.account_id, User.id != identity.user_id).limit(1)
        ).one()
        other.first_name, other.last_name = "Thandeka", "Mthembu"
        other_id = other.id
    officer = Identity(
        other_id,
        "Thandeka Mthembu",
        identity.account_id,
        identity.institution_id,
        "officer",
        ROLE_CAPABILITIES["officer"],
    )
    current = window.ui.queue_table.currentIndex().row()
    others = 0
    for row in (current, current - 2, current + 1, current - 3, current + 2, current - 4, current + 3):
        item = window.queue_model.row_at(row)
        if item is None or (row != current and others >= 2):
            continue
        try:
            claims.force_release(db, identity, item.enrollment_id)
            claims.claim(db, officer, item.enrollment_id)
        except NotFoundError:
            continue  # the other demo institution's enrollment
        others += row != current


def _pick_showcase(db, identity, queue) -> int | None:  # noqa: ANN001
    page = queue.queue_page(db, queue.QueueFilter(account_id=identity.account_id), queue.QueueSort(), 0, 200)
    fallback = None
    for row in page.rows:
        details = queue.student_details(db, row.enrollment_id, identity)
        docs = queue.documents(db, row.enrollment_id)
        has_pdf = any(d.content_type == "application/pdf" and d.latest_action is None for d in docs[:1])
        if has_pdf and fallback is None:
            fallback = row.enrollment_id
        if has_pdf and details.mismatches and len(docs) >= 3:
            return row.enrollment_id
    return fallback


if __name__ == "__main__":
    raise SystemExit(main())

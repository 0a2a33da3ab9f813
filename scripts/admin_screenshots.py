"""Render every administration screen to PNG on demo data: ``python scripts/admin_screenshots.py [OUT]``.

Runs headless (``QT_QPA_PLATFORM=offscreen``) on a throw-away SQLite store.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from cohortdesk.db import Database, migrate  # noqa: E402
from cohortdesk.services.identity import resolve_identity  # noqa: E402
from cohortdesk.views.runner import Runner  # noqa: E402


def seed(db: Database, folder: Path) -> None:
    from cohortdesk.services.demo import load_demo
    from cohortdesk.services.storage import DocumentStore

    load_demo(db, students=120, store=DocumentStore(folder / "storage"))


def grab(widget: QWidget, path: Path) -> None:
    QApplication.processEvents()
    widget.grab().save(str(path))
    print(path)


def main(out: Path) -> None:
    from cohortdesk.views.admin.admin_window import AdminWindow

    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    app.setProperty("cohortdesk_quiet_errors", True)
    from cohortdesk.views.theme import apply_theme

    apply_theme(app, "light")
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/admin.sqlite3")
        migrate.upgrade(db)
        seed(db, Path(tmp))
        runner = Runner(synchronous=True)
        window = AdminWindow(runner, db, resolve_identity(db))
        window.resize(1280, 820)
        window.show()
        for key in AdminWindow.PAGES:
            window.show_page(key)
            grab(window, out / f"admin-{key}.png")
        # the draft cohort with its guards, and a form showing its validation errors
        cohorts = window.cohorts_page
        for row in range(cohorts.proxy.rowCount()):
            cohorts.view.setCurrentIndex(cohorts.proxy.index(row, 0))
            if cohorts.cohort_form.row and cohorts.cohort_form.row.state == "draft":
                break
        window.show_page("cohorts")
        grab(window, out / "admin-cohort-draft-guards.png")
        window.show_page("sponsors")
        window.sponsors_page.start_new()
        form = window.sponsors_page.sponsor_form
        form.contact_email.setText("not-an-email")
        form.tax_number.setText("12345")
        form.save()
        grab(window, out / "admin-sponsor-errors.png")
        form.revert()

        # the status bar and the conflict inbox, with conflicts as a pull leaves them
        from tests.admin_world import seed_inbox
        from tests.widgets.conftest import pair_store

        snapshot = window.snapshot
        assert snapshot is not None
        pair_store(db, snapshot.institution.account_id)
        draft = next(
            (i.cohort for i in snapshot.cohorts if i.cohort.state == "draft"), snapshot.cohorts[0].cohort
        )
        seed_inbox(db, snapshot.institution.account_id, draft, snapshot.sponsors[0])
        window.reload()
        window.sync_indicator.refresh()
        window.show_page("cohorts")
        grab(window, out / "admin-with-conflicts.png")
        bar = window.statusBar()
        grab(bar, out / "admin-status-bar.png")
        inbox = window.open_conflict_inbox()
        grab(inbox, out / "admin-conflict-inbox.png")
        inbox.list.setCurrentRow(1)
        grab(inbox, out / "admin-conflict-inbox-deleted.png")
        inbox.close()
        window.close()
        apply_theme(app, "dark")
        dark = AdminWindow(runner, db, resolve_identity(db))
        dark.resize(1280, 820)
        dark.show()
        dark.show_page("cohorts")
        grab(dark, out / "admin-cohorts-dark.png")
        dark.close()
        runner.shutdown()
        db.dispose()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("screenshots"))

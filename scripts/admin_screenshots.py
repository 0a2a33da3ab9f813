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
from cohortdesk.services.access.identity import resolve_identity  # noqa: E402
from cohortdesk.views.runner import Runner  # noqa: E402


def seed(db: Database, folder: Path) -> None:
    from cohortdesk.services.demo import load_demo
    from cohortdesk.services.documents.storage import DocumentStore

    load_demo(db, students=120, store=DocumentStore(folder / "storage"))


def write_import_sample(db: Database, window: QWidget, path: Path) -> None:
    """A learner list as offices send them: mostly fine, a few typical mistakes."""
    import xlsxwriter

    from cohortdesk.services.configuration import edits as ce
    from cohortdesk.services.validation import luhn_valid

    def sa_id(first12: str) -> str:
        return next(first12 + str(d) for d in range(10) if luhn_valid(first12 + str(d)))

    snapshot = window.snapshot  # type: ignore[attr-defined]
    active = next(i.cohort for i in snapshot.cohorts if i.cohort.state == "active")
    taken = next(
        e.student_data["sa_id_number"]
        for e in ce.list_enrollments(db, active.id)
        if e.student_data.get("sa_id_number")
    )
    rows = [
        ["thabo.mokoena@gmail.com", "Thabo", "Mokoena", sa_id("920315512308"), "M", "BA", "N", "7", "Soweto"],
        [
            "zoe.vdmerwe@outlook.com",
            "Zoë",
            "van der Merwe",
            sa_id("981129023408"),
            "F",
            "Wh",
            "N",
            "1",
            "Stellenbosch",
        ],
        [
            "sibusiso.oneill@gmail.com",
            "Sibusiso",
            "O'Neill",
            sa_id("010410567808"),
            "M",
            "BC",
            "01",
            "5",
            "Durban",
        ],
        [
            "nomvula.ndlovu@yahoo.com",
            "Nomvula",
            "Ndlovu",
            sa_id("950707012308"),
            "F",
            "BA",
            "N",
            "7",
            "Tembisa",
        ],
        [
            "keabetswe.gmail.com",
            "Keabetswe",
            "Molefe",
            sa_id("990202456708"),
            "F",
            "BA",
            "N",
            "6",
            "Rustenburg",
        ],
        ["pieter.botha@gmail.com", "Pieter", "Botha", "9001015009088", "M", "Wh", "N", "3", "Kimberley"],
        ["aisha.patel@gmail.com", "Aisha", "Patel", taken, "F", "BI", "N", "5", "Pietermaritzburg"],
        ["", "Lwazi", "Dlamini", sa_id("960414534508"), "M", "BA", "N", "2", "Mthatha"],
        ["thabo.mokoena@gmail.com", "Thabo", "Mokoena", "", "M", "BA", "N", "7", "Soweto"],
        [
            "refilwe.sithole@gmail.com",
            "Refilwe",
            "",
            sa_id("970909034508"),
            "F",
            "African",
            "N",
            "9",
            "Polokwane",
        ],
        [
            "jacques.dutoit@gmail.com",
            "Jacques",
            "du Toit",
            sa_id("931231500008"),
            "M",
            "Wh",
            "08",
            "4",
            "Bloemfontein",
        ],
        [
            "lindiwe.zulu@gmail.com",
            "Lindiwe",
            "Zulu",
            sa_id("030228045608"),
            "F",
            "BA",
            "N",
            "5",
            "Newcastle",
        ],
    ]
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(
        0,
        0,
        ["Email", "First name", "Surname", "ID number", "Gender", "Race", "Disability", "Province", "City"],
    )
    for r, values in enumerate(rows, start=1):
        sheet.write_row(r, 0, values)
    workbook.close()


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

        # the enrollment import on the draft cohort: a preview with errors and warnings
        from PySide6.QtWidgets import QDialog

        window.show_page("cohorts")
        for row in range(cohorts.proxy.rowCount()):
            cohorts.view.setCurrentIndex(cohorts.proxy.index(row, 0))
            if cohorts.cohort_form.row and cohorts.cohort_form.row.state == "draft":
                break
        learners = Path(tmp) / "learners.xlsx"
        write_import_sample(db, window, learners)
        dialog = cohorts.open_import()
        assert isinstance(dialog, QDialog)
        dialog.load(learners)
        grab(dialog, out / "admin-import-preview.png")
        dialog.problems_only.setChecked(True)
        dialog.table.setCurrentIndex(dialog.model.index(2, 0))  # the learner enrolled in another cohort
        grab(dialog, out / "admin-import-problems.png")
        dialog.problems_only.setChecked(False)
        dialog.commit()
        grab(dialog, out / "admin-import-done.png")
        dialog.close()

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
        indicator = window.sync_indicator
        indicator._set_busy(True)  # as during a sync: progress and Cancel
        indicator._on_progress(3, 10, "Sending changes (3 of 10)")
        grab(bar, out / "admin-status-bar-syncing.png")
        indicator._set_busy(False)
        from dataclasses import replace
        from datetime import UTC, datetime

        from cohortdesk.errors import SyncSchemaTooOld

        assert indicator.status is not None
        refused = str(SyncSchemaTooOld(1, 2, indicator.status.waiting))
        indicator.show_status(
            replace(indicator.status, last_error=refused, last_attempt_at=datetime.now(UTC))
        )
        grab(bar, out / "admin-status-bar-update.png")
        indicator.refresh()
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

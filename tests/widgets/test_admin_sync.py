"""The sync indicator and the conflict inbox on real stores: a conflict seeded into a laptop's SQLite
inbox (as a pull leaves it), and a real one made by two laptops syncing with a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cohortdesk.models import SyncConflict, SyncOutbox
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration import sync_actions as admin_sync
from cohortdesk.services.sync import conflicts, sync_status
from cohortdesk.views.admin.conflict_inbox import ConflictInboxDialog
from cohortdesk.views.admin.sync_status import SyncStatusIndicator, relative_time
from tests.admin_world import seed_inbox
from tests.widgets.conftest import pair_store


@pytest.fixture
def seeded(sqlite_db, world):
    pair_store(sqlite_db, world["account"])
    return seed_inbox(sqlite_db, world["account"], world["cohorts"]["draft"], world["sponsors"]["retail"])


def _outbox(db) -> list:
    table = SyncOutbox.__table__
    with db.read_session() as s:
        return list(s.execute(select(table).order_by(table.c.mutation_id)))


def test_entries_group_field_conflicts_and_say_who_and_when(sqlite_db, seeded):
    entries = admin_sync.conflict_entries(sqlite_db)
    assert [(e.kind, len(e.lines)) for e in entries] == [("field_conflict", 2), ("row_deleted", 1)]
    cohort = entries[0]
    assert cohort.title == "Cohort “Retail Graduate Internship Programme”: 2 fields"
    assert cohort.timing == "changed on the server by thabo 2 h after you started"
    assert [(ln.label, ln.base, ln.mine, ln.theirs) for ln in cohort.lines] == [
        (
            "Name",
            "Retail Graduate Internship",
            "Retail Graduate Internship (2026)",
            "Retail Graduate Internship Programme",
        ),
        ("Expected students", "0", "30", "24"),
    ]
    deleted = entries[1]
    assert deleted.choices == {"keep_mine": "Restore and apply my change", "keep_theirs": "Discard my change"}
    assert [(ln.label, ln.mine, ln.theirs) for ln in deleted.lines] == [
        ("Contact phone", "011 555 0199", "(deleted)")
    ]
    assert admin_sync.parse_edited("27", 30) == 27 and admin_sync.parse_edited(" a, b ", ["x"]) == ["a", "b"]


def test_inbox_resolves_each_field_and_the_deleted_row(qtbot, runner, sqlite_db, world, seeded, monkeypatch):
    dialog = ConflictInboxDialog(runner, sqlite_db)
    qtbot.addWidget(dialog)
    resolutions: list = []
    dialog.resolved.connect(resolutions.append)
    assert dialog.list.count() == 2 and dialog.windowTitle() == "Conflicts to resolve (2)"
    view = dialog.current_view()
    grid = view.grid
    assert [grid.horizontalHeaderItem(c).text() for c in range(4)] == [
        "Field",
        "When you started",
        "Your value",
        "Current value (newer)",
    ]
    assert view.findChild(type(view.grid.parent()), "conflictEntry") is None  # the view is the entry itself
    timing = view.findChild(type(dialog.empty), "conflictTiming").text()
    assert timing == (
        "Changed on the server by thabo 2 h after you started. The current value is the newer one."
    )

    # Keep mine for the name, Edit for the student count
    view.line_buttons[seeded["name"]]["keep_mine"].click()
    monkeypatch.setattr(ConflictInboxDialog, "ask_edit", lambda self, line: "27")
    dialog.current_view().line_buttons[seeded["student_count"]]["edit"].click()
    cohort = ce.get_cohort(sqlite_db, world["cohorts"]["draft"].id)
    assert cohort.name == "Retail Graduate Internship (2026)" and cohort.student_count == 27
    assert dialog.list.count() == 1 and len(resolutions) == 2

    # the deleted sponsor's edit: discarding asks first
    monkeypatch.setattr(ConflictInboxDialog, "confirm_discard", lambda self, entry: False)
    dialog.current_view().entry_buttons["keep_theirs"].click()
    assert dialog.list.count() == 1
    monkeypatch.setattr(ConflictInboxDialog, "confirm_discard", lambda self, entry: True)
    dialog.current_view().entry_buttons["keep_theirs"].click()
    assert dialog.list.count() == 0 and dialog.detail.currentWidget() is dialog.empty

    with sqlite_db.read_session() as s:
        statuses = dict(s.execute(select(SyncConflict.id, SyncConflict.status)).all())
    assert statuses == {
        seeded["name"]: "kept_mine",
        seeded["student_count"]: "merged",
        seeded["row_deleted"]: "kept_theirs",
    }
    ops = [(e.table_name, e.op) for e in _outbox(sqlite_db)]
    assert ops.count(("sync_conflict", "resolve_conflict")) == 3
    assert ("cohorts", "update") in ops and ("sponsors", "restore") not in ops


def test_indicator_shows_counts_and_opens_the_inbox(qtbot, runner, sqlite_db, world, seeded):
    indicator = SyncStatusIndicator(runner, sqlite_db, poll=False)
    qtbot.addWidget(indicator)
    assert sync_status(sqlite_db).waiting == 1  # the pull-like edit of the seed
    assert indicator.counts_button.text() == "1 change waiting · 3 conflicts"
    assert "Not synced yet" in indicator.state_label.text()
    assert indicator.last_label.text() == "Last synced never"
    with qtbot.waitSignal(indicator.conflicts_requested, timeout=1000):
        indicator.counts_button.click()
    conflicts.keep_theirs(sqlite_db, seeded["name"])
    indicator.refresh()
    assert indicator.counts_button.text().endswith("· 2 conflicts")


def test_relative_times():
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert relative_time(None, now) == "never"
    assert relative_time(now - timedelta(seconds=20), now) == "just now"
    assert relative_time(now - timedelta(minutes=12), now) == "12 min ago"
    assert relative_time(now - timedelta(hours=3), now) == "3 h ago"


def test_admin_window_marks_rows_and_opens_the_inbox(qtbot, runner, sqlite_db, world, seeded, answers):
    from PySide6.QtCore import Qt

    from cohortdesk.services.access.identity import resolve_identity
    from cohortdesk.views.admin.admin_window import AdminWindow

    window = AdminWindow(runner, sqlite_db, resolve_identity(sqlite_db))
    qtbot.addWidget(window)
    model = window.cohorts_page.model
    draft = model.index(model.position_of(world["cohorts"]["draft"].id), 0)
    active = model.index(model.position_of(world["cohorts"]["active"].id), 0)
    assert draft.data(Qt.ItemDataRole.DecorationRole) is not None
    assert "Open conflict" in draft.data(Qt.ItemDataRole.ToolTipRole)
    assert active.data(Qt.ItemDataRole.DecorationRole) is None
    assert window.sync_indicator.counts_button.text() == "1 change waiting · 3 conflicts"

    window.sync_indicator.counts_button.click()
    inbox = window.conflict_inbox
    assert inbox is not None and inbox.isVisible() and inbox.list.count() == 2
    view = inbox.current_view()
    for conflict_id in view.entry.conflict_ids:
        inbox.current_view().line_buttons[conflict_id]["keep_theirs"].click()
    assert inbox.list.count() == 1
    assert window.sync_indicator.counts_button.text().endswith("· 1 conflict")
    draft = model.index(model.position_of(world["cohorts"]["draft"].id), 0)
    assert "waiting to be sent" in draft.data(Qt.ItemDataRole.ToolTipRole)

"""The queue's Qt table model and the cohort tree model, checked by pytest-qt's model tester, with the
synchronous runner over a real SQLite database (no windows)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import pytest
from PySide6.QtCore import QModelIndex, Qt

from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import decisions as vs
from cohortdesk.services.review import queue
from cohortdesk.views.cohort_tree_model import CohortTreeModel
from cohortdesk.views.delegates import BADGE_TEXT_ROLE, SUBTITLE_ROLE
from cohortdesk.views.queue_table_model import QueueTableModel, waiting_text
from cohortdesk.views.runner import Runner
from tests import review_factories
from tests.factories import queue_world


@pytest.fixture
def world(sqlite_db, tmp_path):
    return queue_world(sqlite_db, DocumentStore(tmp_path / "store"))


@pytest.fixture
def model(qtbot, sqlite_db, world):
    runner = Runner(synchronous=True)
    m = QueueTableModel(
        runner, partial(queue.queue_page, sqlite_db), partial(queue.queue_count, sqlite_db), page_size=2
    )
    m.set_query(queue.QueueFilter())
    return m


def test_model_tester_over_pages(qtmodeltester, model):
    assert model.rowCount() == 2 and model.total == 6 and model.canFetchMore()
    qtmodeltester.check(model, force_py=True)
    while model.canFetchMore():
        model.fetchMore(QModelIndex())
    assert model.rowCount() == 6 and not model.canFetchMore()
    qtmodeltester.check(model, force_py=True)


def test_roles(model):
    index = model.index(0, QueueTableModel.COL_STUDENT)
    row = index.data(QueueTableModel.RowRole)
    assert index.data() == "Sipho Dlamini" == row.student_name
    assert index.data(QueueTableModel.IdRole) == row.enrollment_id
    assert index.data(QueueTableModel.SortRole) == "sipho dlamini"
    assert "sipho@example.co.za" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, QueueTableModel.COL_VERIFICATION).data() == "Pending"
    assert model.index(0, QueueTableModel.COL_VERIFICATION).data(QueueTableModel.StateRole) == "pending"
    assert model.index(0, QueueTableModel.COL_DOCUMENTS).data() == "2 / 2"
    assert model.index(0, QueueTableModel.COL_WAITING).data() == "10 days"
    assert model.headerData(QueueTableModel.COL_WAITING, Qt.Orientation.Horizontal) == "Waiting"
    assert model.row_of(row.enrollment_id) == 0 and model.row_of(-1) == -1


def test_sort_goes_to_sql_and_resets(qtbot, model):
    with qtbot.waitSignal(model.modelReset):
        model.sort(QueueTableModel.COL_STUDENT, Qt.SortOrder.DescendingOrder)
    assert model.query_sort == queue.QueueSort("student", True)
    assert [model.row_at(i).student_name for i in range(model.rowCount())] == [
        "Zanele Khumalo",
        "Thabo Nkosi",
    ]
    assert model.sort_column() == (QueueTableModel.COL_STUDENT, Qt.SortOrder.DescendingOrder)


def test_rows_that_leave_the_filter_keep_paging_exact(sqlite_db, world, model):
    # Decide the first row so it leaves "pending": it stays visible, and the next page starts right.
    first = model.row_at(0)
    for doc in ("id_document", "matric_certificate"):
        vs.record_decision(
            sqlite_db,
            vs.DecisionCommand(first.enrollment_id, doc, "approved"),
            review_factories.identity_for_user(sqlite_db, world["officer"]),
        )
    model.update_row(queue.queue_row(sqlite_db, first.enrollment_id))
    assert model.row_at(0).verification_state == "verified"
    while model.canFetchMore():
        model.fetchMore(QModelIndex())
    ids = [model.row_at(i).enrollment_id for i in range(model.rowCount())]
    assert len(ids) == len(set(ids)) == 6


def test_stale_pages_are_dropped(qtbot, sqlite_db, world):
    # A real threaded runner: set the query twice quickly; only the second query's rows arrive.
    runner = Runner()
    m = QueueTableModel(runner, partial(queue.queue_page, sqlite_db), partial(queue.queue_count, sqlite_db))
    m.set_query(queue.QueueFilter(program_type="learnership"))
    m.set_query(queue.QueueFilter(program_type="internship"))
    qtbot.waitUntil(lambda: runner.in_flight == 0 and m.total >= 0)
    assert {m.row_at(i).program_type for i in range(m.rowCount())} == {"internship"}
    assert m.total == 2
    runner.shutdown()


def test_update_row_emits_data_changed(qtbot, model):
    row = model.row_at(1)
    with qtbot.waitSignal(model.dataChanged):
        model.update_row(replace(row, verification_state="rejected"))
    assert model.index(1, QueueTableModel.COL_VERIFICATION).data() == "Rejected"


def test_waiting_text():
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 10, tzinfo=UTC)
    assert waiting_text(now - timedelta(days=1, hours=3), now) == "1 day"
    assert waiting_text(now - timedelta(hours=5), now) == "5 hours"
    assert waiting_text(now - timedelta(minutes=7), now) == "7 min"
    assert waiting_text(now, now) == "just now" and waiting_text(None) == "—"


def test_cohort_tree_model(qtmodeltester, sqlite_db, world):
    model = CohortTreeModel()
    model.set_tree(queue.cohort_tree(sqlite_db))
    qtmodeltester.check(model, force_py=True)
    assert model.index(0, 0).data() == "All enrollments"
    institution = model.index(1, 0)
    assert institution.data() == "Acme Training" and model.rowCount(institution) == 2
    learnership = model.index_of(("cohort", world["cohorts"]["learnership"]))
    assert learnership.data() == "Q1 2026 Learnership"
    assert learnership.data(SUBTITLE_ROLE) == "Learnership · Active · 4 / 20 enrolled"
    assert learnership.data(BADGE_TEXT_ROLE) == "4"
    counts = {
        world["cohorts"]["learnership"]: queue.CohortCounts(enrolled=4, pending=1, verified=3, to_decide=1)
    }
    model.update_counts(counts)
    assert learnership.data(BADGE_TEXT_ROLE) == "1"
    assert model.index(0, 0).data(BADGE_TEXT_ROLE) == "3"  # 1 + the internship's 2
    qtmodeltester.check(model, force_py=True)


def test_admin_list_models(qapp, qtmodeltester, sqlite_db):
    """The administration lists (sponsors, cohorts) hold frozen rows and pass Qt's model checks through
    reset, upsert and marks."""
    from dataclasses import replace

    from cohortdesk.services.configuration import screens as config
    from cohortdesk.views.admin.table_models import CohortTableModel, SponsorTableModel
    from tests.admin_world import admin_world

    world = admin_world(sqlite_db)
    snapshot = config.load_admin(sqlite_db, world["institution"].id)
    assert snapshot.sponsors and snapshot.cohorts
    for model, rows in ((SponsorTableModel(), snapshot.sponsors), (CohortTableModel(), snapshot.cohorts)):
        qtmodeltester.check(model, force_py=True)
        model.set_rows(list(rows))
        qtmodeltester.check(model, force_py=True)
        first = rows[0]
        model.set_marks(frozenset({model.row_id(first)}), frozenset())
        assert model.mark(model.row_id(first)) == "conflict"
        if isinstance(first, config.CohortListItem):
            changed = replace(first, enrolled=first.enrolled + 1)
        else:
            changed = replace(first, company_name=first.company_name + " (Pty) Ltd")
        assert model.upsert(changed) == 0 and model.rowCount() == len(rows)
        qtmodeltester.check(model, force_py=True)

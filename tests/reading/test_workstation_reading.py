"""The workstation reads documents ahead (real worker process, real engine) and shows what they say:
the student pane's section, the value outlined on the page on hover, the queue's Pre-check column
and filter, and the cache that makes a second reading free."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QApplication

from cohortdesk.db import Database, migrate
from cohortdesk.services import demo
from cohortdesk.services.access.identity import resolve_identity
from cohortdesk.services.documents.reading import engine
from cohortdesk.services.documents.reading.cache import ReadingCache
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.views.queue_table_model import QueueTableModel
from cohortdesk.views.runner import Runner
from cohortdesk.views.workstation import MainWindow
from cohortdesk.views.workstation.reading import DocumentReader, ReadingPresenter, install_reading

pytestmark = pytest.mark.skipif(not engine.available(), reason="the OCR engine is not installed")
WAIT_S = 180


def wait(qtbot, until, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out"
        qtbot.wait(20)


@pytest.fixture
def demo_window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("COHORTDESK_HOME", str(tmp_path))
    QApplication.instance().setProperty("cohortdesk_quiet_errors", True)
    db = Database(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    migrate.upgrade(db)
    store = DocumentStore(tmp_path / "storage")
    demo.load_demo(db, students=24, seed=3, store=store)
    runner = Runner()
    window = MainWindow(db, runner, store, identity=resolve_identity(db))
    qtbot.addWidget(window)
    window.resize(1600, 900)
    yield window, db, store, runner
    if getattr(window, "reading", None) is not None:
        window.reading.reader.shutdown()
    window.close()
    runner.shutdown(wait=True)
    db.dispose()


def test_reading_ahead_fills_the_pane_the_column_and_the_filter(qtbot, demo_window, monkeypatch) -> None:
    window, db, store, runner = demo_window
    monkeypatch.setattr("cohortdesk.views.workstation.reading.READ_AHEAD", 2)
    presenter = install_reading(window)
    reader = presenter.reader
    window.show()
    window.open_database()
    wait(qtbot, lambda: window.detail_pane.detail is not None and window.current_document() is not None)
    shown = window.detail_pane.detail.student.enrollment_id
    wait(qtbot, lambda: shown in reader.statuses)
    html = window.ui.student_details.toHtml()
    assert "On the documents" in html
    checks = reader.checks(shown, reveal=False)
    assert checks, "the shown enrollment's documents were read"
    status = reader.statuses[shown]
    assert status in ("matches", "mismatch", "unreadable")
    # The queue's column says the same, in words.
    model = window.queue_model
    cell = model.index(model.row_of(shown), QueueTableModel.COL_PRECHECK)
    assert (
        model.data(cell) == {"matches": "Matches", "mismatch": "Mismatch", "unreadable": "Unreadable"}[status]
    )
    # Hovering a value's line outlines it on the page of the document it was read from.
    id_check = next((c for c in checks if c.key == "sa_id_number" and c.field is not None), None)
    if id_check is not None:
        documents = window.detail_pane.detail.documents
        row = next(i for i, d in enumerate(documents) if d.document_type == id_check.document_type)
        if window.ui.document_list.currentRow() != row:
            with qtbot.waitSignal(window.preview.rendered, timeout=WAIT_S * 1000):
                window.ui.document_list.setCurrentRow(row)
        wait(qtbot, lambda: window.preview.state == "document")
        link = f"cohortdesk:field/{id_check.document_type}/sa_id_number"
        window.ui.student_details.highlighted.emit(QUrl(link))
        assert window.preview.view.highlight_rect() is not None
        window.ui.student_details.highlighted.emit(QUrl(""))
        assert window.preview.view.highlight_rect() is None
    # Masked unless revealed: the pane never shows the document's full number to a masked viewer.
    for check in checks:
        if check.key == "sa_id_number" and check.field is not None:
            assert check.field.value not in check.message
    # The filter narrows the queue (in SQL) to enrollments with that result.
    box = presenter.filter_box
    box.setCurrentIndex(box.findData(status))
    wait(qtbot, lambda: not model.loading and model.rowCount() > 0)
    assert {row.enrollment_id for row in model.rows()} <= set(model.ids_with_precheck(status))
    assert shown in {row.enrollment_id for row in model.rows()}


def test_a_document_version_is_read_once(qtbot, demo_window, tmp_path) -> None:
    window, db, store, runner = demo_window
    cache = ReadingCache(tmp_path / "readings.sqlite3")
    first = DocumentReader(runner, db, store, cache=cache, parent=window)
    ReadingPresenter(window, first)
    window.show()
    window.open_database()
    wait(qtbot, lambda: window.queue_model.rowCount() > 0)
    ids = [row.enrollment_id for row in window.queue_model.rows()][:2]
    first.want(ids)
    wait(qtbot, lambda: all(i in first.statuses for i in ids))
    first.shutdown()

    def never(_data: bytes, _document_type: str):
        raise AssertionError("a cached document was read again")

    second = DocumentReader(runner, db, store, read_bytes=never, cache=cache, parent=window)
    second.want(ids)
    wait(qtbot, lambda: all(i in second.statuses for i in ids))
    assert second.statuses == {i: first.statuses[i] for i in ids}

"""The queue holds what can be decided, a decision is recorded once, and every count agrees: driven by
keyboard against a real SQLite store with the threaded runner (SQL forbidden on the GUI thread)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlalchemy import select

from cohortdesk.models import DocumentVerification
from cohortdesk.services.access import log as access_log
from cohortdesk.services.configuration import edits as ce
from tests import factories
from tests.widgets.conftest import make_workstation, settle


def _key(qtbot, window, key, widget=None) -> None:
    QTest.keyClick(widget or window.ui.queue_table, key)
    settle(qtbot, window)


def _decisions(ws, enrollment_id, sql_guard) -> list[tuple[str, str]]:
    with sql_guard.paused(), ws.db.read_session() as s:
        rows = s.scalars(
            select(DocumentVerification)
            .where(DocumentVerification.cohort_enrollment_id == enrollment_id)
            .order_by(DocumentVerification.id)
        )
        return [(r.document_type, r.action) for r in rows]


def _current(window) -> str:
    row = window.queue_model.row_at(window.ui.queue_table.currentIndex().row())
    return row.student_name if row else ""


@pytest.fixture
def ws(qtbot, sqlite_db, tmp_path, cohortdesk_home, sql_guard):
    workstation = make_workstation(qtbot, sqlite_db, tmp_path, sql_guard)
    world = workstation.world
    # Nobody uploaded anything yet for Nandi: she waits for uploads and is never "to decide".
    with sql_guard.paused():
        student = factories.user(
            sqlite_db, world["account"], "Nandi", "Waits", email="nandi.waits@example.co.za"
        )
        enrollment = ce.enroll(
            sqlite_db, ce.NewEnrollment(cohort_id=world["cohorts"]["learnership"], user_id=student)
        ).row
    world["enrollments"]["Nandi Waits"] = enrollment.id
    workstation.window.refresh()
    settle(qtbot, workstation.window)
    yield workstation
    workstation.window.close()
    workstation.runner.shutdown()


def test_default_queue_is_what_can_be_decided(qtbot, ws):
    window = ws.window
    names = [r.student_name for r in window.queue_model.rows()]
    assert "Nandi Waits" not in names and len(names) == 6
    assert window.ui.queue_summary.text() == "6 to decide"
    window.ui.state_filter.setCurrentIndex(window.ui.state_filter.findData("waiting_for_uploads"))
    settle(qtbot, window)
    assert [r.student_name for r in window.queue_model.rows()] == ["Nandi Waits"]
    assert window.ui.queue_summary.text() == "1 waiting for uploads"
    qtbot.waitUntil(lambda: window.current_document() is not None)
    # Nothing uploaded: nothing to decide, and the buttons say so.
    assert not window.ui.approve_button.isEnabled() and not window.ui.reject_button.isEnabled()
    assert window.ui.reject_button.toolTip().startswith("Nothing to decide")
    # J never lands on an enrollment with nothing to decide.
    window.ui.state_filter.setCurrentIndex(window.ui.state_filter.findData(None))
    settle(qtbot, window)
    window._select_row(0)
    settle(qtbot, window)
    seen = set()
    for _ in range(8):
        _key(qtbot, window, Qt.Key.Key_J)
        seen.add(_current(window))
    assert "Nandi Waits" not in seen


def test_documents_count_keeps_extras_apart(qtbot, ws):
    window = ws.window
    model = window.queue_model
    texts = [model.index(i, model.COL_DOCUMENTS).data() for i in range(model.rowCount())]
    for text in texts:  # never "3 / 2": required uploads of required, extras apart
        done, required = text.split(" +")[0].split(" / ")
        assert int(done) <= int(required), text
    assert any("+" in text for text in texts), texts


def test_a_decision_is_recorded_once_and_the_page_is_not_shown_again(qtbot, ws, sql_guard):
    window = ws.window
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    window.ui.save_and_next.setChecked(False)
    shown: list[str] = []
    original = window.preview.show_document
    window.preview.show_document = lambda data, kind, name: (shown.append(name), original(data, kind, name))
    _key(qtbot, window, Qt.Key.Key_A)
    assert _decisions(ws, sipho, sql_guard) == [("id_document", "approved")]
    assert window.current_document().document_type == "id_document"
    assert shown == []  # the page on screen stays: not read, rendered or logged again
    with sql_guard.paused():
        views = access_log.read_log(ws.db, window.identity, kinds=("document_view",))
    assert [(e.object_id, e.details["document_type"]) for e in views] == [(sipho, "id_document")]
    # A second A on the approved document records nothing and says why.
    assert not window.ui.approve_button.isEnabled()
    _key(qtbot, window, Qt.Key.Key_A)
    assert _decisions(ws, sipho, sql_guard) == [("id_document", "approved")]
    assert window.statusBar().currentMessage() == "This document is already approved."


def test_changing_a_decision_asks_first_and_the_reject_form_docks(qtbot, ws, sql_guard):
    window = ws.window
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    window.ui.save_and_next.setChecked(False)
    _key(qtbot, window, Qt.Key.Key_A)
    _key(qtbot, window, Qt.Key.Key_R)
    box = window.decisions.change_box
    assert box is not None and box.isVisible() and box.text().startswith("Change decision?")
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: window.decisions.change_box is None)
    assert window.reject_dialog is None
    _key(qtbot, window, Qt.Key.Key_R)
    box = window.decisions.change_box
    next(b for b in box.buttons() if b.text() == "Reject instead").click()
    qtbot.waitUntil(lambda: window.reject_dialog is not None and window.reject_dialog.isVisible())
    form = window.reject_dialog
    # Docked beside the document, inside the window: not a window over the page.
    assert not form.isWindow() and window.ui.reject_dock.isAncestorOf(form)
    form_area = form.rect().translated(form.mapTo(window, form.rect().topLeft()))
    page_area = window.preview.rect().translated(
        window.preview.mapTo(window, window.preview.rect().topLeft())
    )
    assert form_area.intersected(page_area).isEmpty()
    # Letters typed in the form are text, not Approve / Next.
    QTest.keyClick(form.reason_list, Qt.Key.Key_Down)
    QTest.keyClick(form.reason_list, Qt.Key.Key_A)
    QTest.keyClick(form.reason_list, Qt.Key.Key_J)
    QTest.keyClick(form.message_edit, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(form.message_edit, " ja")
    assert form.message_edit.toPlainText().endswith(" ja") and form.isVisible()
    assert _current(window) == "Sipho Dlamini"
    QTest.keyClick(form.message_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    assert _decisions(ws, sipho, sql_guard) == [("id_document", "approved"), ("id_document", "rejected")]
    assert not window.ui.reject_dock.isVisible()


def test_counts_agree_after_every_decision(qtbot, ws):
    window = ws.window
    for _ in range(2):  # Sipho's two documents, save and next
        _key(qtbot, window, Qt.Key.Key_A)
    every = window.tree_model.index(0, 0).data(window.tree_model.NodeRole)
    total = window.queue_model.total
    assert window.ui.queue_summary.text() == f"{total} to decide" == "5 to decide"
    badge = window.tree_model.index(0, 0).data(Qt.ItemDataRole.UserRole + 51)
    assert badge == "5", every
    assert _current(window) == "Lerato Mokoena"


def test_search_says_when_matches_are_outside_the_filter(qtbot, ws):
    window = ws.window
    for _ in range(2):
        _key(qtbot, window, Qt.Key.Key_A)  # Sipho verified: no longer "to decide"
    window.ui.queue_search.setText("Dlamini")
    window.apply_filters()
    settle(qtbot, window)
    qtbot.waitUntil(lambda: window.ui.queue_outside.isVisible())
    assert window.ui.queue_outside.text() == "1 more outside this filter · Show"
    assert "with these filters" in window.ui.queue_empty.text()
    window.ui.queue_outside.click()
    settle(qtbot, window)
    assert [r.student_name for r in window.queue_model.rows()] == ["Sipho Dlamini"]
    # An ID number is looked for in every state, whatever the filter.
    window.ui.state_filter.setCurrentIndex(window.ui.state_filter.findData("to_decide"))
    window.ui.queue_search.setText("8001015009087")
    window.apply_filters()
    settle(qtbot, window)
    assert [r.student_name for r in window.queue_model.rows()] == ["Sipho Dlamini"]
    assert QApplication.instance() is not None


def test_ctrl_z_takes_the_last_decision_back_on_the_record(qtbot, ws, sql_guard):
    window = ws.window
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    window.ui.internal_note.setText("stamp faint but legible")
    _key(qtbot, window, Qt.Key.Key_A)  # save and next: on to the matric certificate
    assert window.current_document().document_type == "matric_certificate"
    assert window.ui.internal_note.text() == ""  # the note went with the decision
    with sql_guard.paused(), ws.db.read_session() as s:
        [note] = s.scalars(
            select(DocumentVerification.internal_note).where(
                DocumentVerification.cohort_enrollment_id == sipho
            )
        )
    assert note == "stamp faint but legible"
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    # Appended, not deleted: the approval and its reversal are both on the trail.
    assert _decisions(ws, sipho, sql_guard) == [("id_document", "approved"), ("id_document", "reversal")]
    assert window.current_document().document_type == "id_document"
    assert window.ui.approve_button.isEnabled()
    actions = [
        window.ui.history.topLevelItem(i).text(0) for i in range(window.ui.history.topLevelItemCount())
    ]
    assert actions == ["Undone", "Approved (undone)"]
    assert window.statusBar().currentMessage().startswith("Undone: the approval of Certified ID of Sipho")
    assert window.ui.queue_summary.text() == "6 to decide"
    # Only the last one, once.
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    assert len(_decisions(ws, sipho, sql_guard)) == 2
    assert window.statusBar().currentMessage().startswith("Nothing to undo")

"""The workstation driven like an officer drives it: by keyboard, against a real database, with the
real threaded runner and SQL forbidden on the GUI thread."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from sqlalchemy import select

from cohortdesk.db.guard import SqlOnForbiddenThread
from cohortdesk.models import CohortEnrollment, DocumentVerification
from cohortdesk.services.access import log as access_log
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration.rejection_reasons import DEFAULT_REJECTION_REASONS
from cohortdesk.services.review import queue
from cohortdesk.views.shortcuts import SHORTCUTS
from cohortdesk.views.workstation import MainWindow
from tests import factories
from tests.widgets.conftest import make_workstation, settle


def _current_student(window: MainWindow) -> str:
    row = window.queue_model.row_at(window.ui.queue_table.currentIndex().row())
    return row.student_name if row else ""


def _decisions(ws, enrollment_id: int, sql_guard) -> list[SimpleNamespace]:
    with sql_guard.paused(), ws.db.read_session() as s:
        rows = s.scalars(
            select(DocumentVerification)
            .where(DocumentVerification.cohort_enrollment_id == enrollment_id)
            .order_by(DocumentVerification.id)
        )
        return [
            SimpleNamespace(
                document_type=r.document_type,
                action=r.action,
                admin_id=r.admin_id,
                reason=r.reason,
                verification_metadata=dict(r.verification_metadata),
            )
            for r in rows
        ]


def _verification_state(ws, enrollment_id: int, sql_guard) -> str:
    with sql_guard.paused(), ws.db.read_session() as s:
        return s.get(CohortEnrollment, enrollment_id).document_verification_state


def _key(qtbot, ws, key, modifier=Qt.KeyboardModifier.NoModifier, widget=None) -> None:
    QTest.keyClick(widget or ws.window.focusWidget() or ws.window, key, modifier)
    settle(qtbot, ws.window)


def test_gui_thread_sql_is_refused(workstation, sql_guard):
    with pytest.raises(SqlOnForbiddenThread):
        queue.queue_count(workstation.db)
    with sql_guard.paused():
        assert queue.queue_count(workstation.db) == 6


def test_opens_on_pending_oldest_first(workstation):
    window = workstation.window
    names = [r.student_name for r in window.queue_model.rows()]
    assert names[0] == "Sipho Dlamini" and len(names) == 6
    assert _current_student(window) == "Sipho Dlamini"
    assert window.ui.queue_summary.text() == "6 to decide"
    assert window.current_document().document_type == "id_document"
    assert "Sipho Dlamini" in window.ui.student_details.toPlainText()
    assert window.ui.approve_button.isEnabled() and window.ui.reject_button.isEnabled()
    assert workstation.errors == []


@pytest.mark.pg
def test_approve_by_keyboard_on_postgresql(qtbot, pg_db, tmp_path, cohortdesk_home, sql_guard):
    ws = make_workstation(qtbot, pg_db, tmp_path, sql_guard)
    try:
        _approve_everything_of_the_first_student(qtbot, ws, sql_guard)
    finally:
        ws.window.close()
        ws.runner.shutdown()


def test_approve_by_keyboard(qtbot, workstation, sql_guard):
    _approve_everything_of_the_first_student(qtbot, workstation, sql_guard)


def _approve_everything_of_the_first_student(qtbot, ws, sql_guard) -> None:
    window = ws.window
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    window.ui.queue_table.setFocus()
    _key(qtbot, ws, Qt.Key.Key_A)
    # save and next: the next document of the same student
    assert _current_student(window) == "Sipho Dlamini"
    assert window.current_document().document_type == "matric_certificate"
    _key(qtbot, ws, Qt.Key.Key_A)
    decisions = _decisions(ws, sipho, sql_guard)
    assert [(d.document_type, d.action, d.admin_id) for d in decisions] == [
        ("id_document", "approved", ws.world["officer"]),
        ("matric_certificate", "approved", ws.world["officer"]),
    ]
    assert _verification_state(ws, sipho, sql_guard) == "verified"
    # every document decided: on to the next pending student, and the row and counts moved
    assert _current_student(window) == "Lerato Mokoena"
    row = window.queue_model.row_at(window.queue_model.row_of(sipho))
    assert row.verification_state == "verified"
    learnership = window.tree_model.index_of(("cohort", ws.world["cohorts"]["learnership"]))
    node = learnership.data(window.tree_model.NodeRole)
    assert (node.counts.pending, node.counts.verified) == (3, 1)
    assert window.ui.history.topLevelItemCount() == 0  # Lerato has no history yet
    assert ws.errors == []


def test_reject_by_keyboard_with_canned_reason(qtbot, workstation, sql_guard):
    ws = workstation
    window = ws.window
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    _key(qtbot, ws, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: window.reject_dialog is not None and window.reject_dialog.isVisible())
    dialog = window.reject_dialog
    assert dialog.reason_list.hasFocus() or dialog.focusWidget() is dialog.reason_list
    assert dialog.message_edit.toPlainText() == "" and dialog.reason_code is None  # nothing chosen yet
    QTest.keyClick(dialog.reason_list, Qt.Key.Key_Down)  # chooses the first canned reason
    assert dialog.reason_code == "not_certified"
    assert dialog.message_edit.toPlainText() == DEFAULT_REJECTION_REASONS[0].message
    QTest.keyClick(dialog.message_edit, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(dialog.message_edit, " Stamp missing.")
    QTest.keyClick(dialog.message_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    settle(qtbot, window)
    [decision] = _decisions(ws, sipho, sql_guard)
    assert decision.action == "rejected" and decision.document_type == "id_document"
    assert decision.reason == DEFAULT_REJECTION_REASONS[0].message + " Stamp missing."
    assert decision.verification_metadata["reason_code"] == "not_certified"
    assert _verification_state(ws, sipho, sql_guard) == "rejected"
    # save and next: the next document of the same student, the history shows the rejection
    assert window.current_document().document_type == "matric_certificate"
    assert window.ui.history.topLevelItemCount() == 1
    item = window.ui.history.topLevelItem(0)
    assert (item.text(0), item.text(1), item.text(3)) == ("Rejected", "Certified ID", "Officer One")
    assert window.queue_model.row_at(0).verification_state == "rejected"


def test_reject_dialog_refuses_an_empty_reason(qtbot, workstation, sql_guard):
    ws = workstation
    window = ws.window
    _key(qtbot, ws, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: window.reject_dialog is not None and window.reject_dialog.isVisible())
    dialog = window.reject_dialog
    assert dialog.message_edit.objectName() == "rejectReason"
    QTest.keyClick(dialog.message_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert dialog.isVisible()
    assert dialog.error_label.isVisible() and "reason is required" in dialog.error_label.text()
    QTest.keyClicks(dialog.message_edit, "   ")
    dialog.reject_button.click()
    assert dialog.isVisible()
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    settle(qtbot, window)
    assert _decisions(ws, ws.world["enrollments"]["Sipho Dlamini"], sql_guard) == []


def test_keyboard_navigation(qtbot, workstation):
    ws = workstation
    window = ws.window
    table = window.ui.queue_table
    _key(qtbot, ws, Qt.Key.Key_J, widget=table)
    assert _current_student(window) == "Lerato Mokoena"
    qtbot.waitUntil(lambda: "Lerato Mokoena" in window.ui.student_details.toPlainText())
    _key(qtbot, ws, Qt.Key.Key_Down, widget=table)
    assert _current_student(window) == "Anna van der Merwe"
    _key(qtbot, ws, Qt.Key.Key_K, widget=table)
    _key(qtbot, ws, Qt.Key.Key_Up, widget=table)
    assert _current_student(window) == "Sipho Dlamini"
    _key(qtbot, ws, Qt.Key.Key_Up, widget=table)  # already first: stays
    assert _current_student(window) == "Sipho Dlamini"
    _key(qtbot, ws, Qt.Key.Key_Right, widget=table)
    assert window.current_document().document_type == "matric_certificate"
    _key(qtbot, ws, Qt.Key.Key_Left, widget=table)
    assert window.current_document().document_type == "id_document"
    # arrows keep their own meaning in the cohort browser
    browser = window.ui.cohort_browser
    browser.setFocus()
    _key(qtbot, ws, Qt.Key.Key_Down, widget=browser)
    assert _current_student(window) == "Sipho Dlamini"
    assert browser.currentIndex().data() == "Acme Training"
    assert window.ui.queue_scope.text() == "Acme Training"


def test_search_is_debounced_and_runs_in_sql(qtbot, workstation):
    ws = workstation
    window = ws.window
    _key(qtbot, ws, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.ui.queue_search.hasFocus()
    QTest.keyClicks(window.ui.queue_search, "mokoena")
    assert window._search_timer.isActive()  # no query per keystroke
    settle(qtbot, window)
    assert [r.student_name for r in window.queue_model.rows()] == ["Lerato Mokoena"]
    assert _current_student(window) == "Lerato Mokoena"
    assert window.ui.queue_summary.text() == "1 to decide"
    window.ui.queue_search.clear()
    QTest.keyClicks(window.ui.queue_search, "8001015009")
    QTest.keyClick(window.ui.queue_search, Qt.Key.Key_Return)
    settle(qtbot, window)
    assert [r.student_name for r in window.queue_model.rows()] == ["Sipho Dlamini"]
    assert window.ui.queue_table.hasFocus()
    window.ui.queue_search.setFocus()
    QTest.keyClicks(window.ui.queue_search, "zzz")
    settle(qtbot, window)
    assert window.queue_model.rowCount() == 0 and window.ui.queue_empty.isVisible()
    assert "No enrollments match" in window.ui.queue_empty.text()
    QTest.keyClick(window.ui.queue_search, Qt.Key.Key_Escape)
    settle(qtbot, window)
    assert window.queue_model.rowCount() == 6 and not window.ui.queue_empty.isVisible()


def test_filters_and_cohort_browser(qtbot, workstation):
    ws = workstation
    window = ws.window
    ui = window.ui
    ui.program_filter.setCurrentIndex(ui.program_filter.findData("internship"))
    settle(qtbot, window)
    assert {r.student_name for r in window.queue_model.rows()} == {"Zanele Khumalo", "Pieter O'Brien"}
    ui.program_filter.setCurrentIndex(0)
    ui.enrollment_filter.setCurrentIndex(ui.enrollment_filter.findData("in_progress"))
    settle(qtbot, window)
    assert [r.student_name for r in window.queue_model.rows()] == ["Thabo Nkosi"]
    ui.enrollment_filter.setCurrentIndex(0)
    settle(qtbot, window)
    cohort_index = window.tree_model.index_of(("cohort", ws.world["cohorts"]["internship"]))
    ui.cohort_browser.setCurrentIndex(cohort_index)
    settle(qtbot, window)
    assert window.queue_model.rowCount() == 2
    assert ui.queue_scope.text() == "Graduate Internship 2026"
    ui.state_filter.setCurrentIndex(ui.state_filter.findData("verified"))
    settle(qtbot, window)
    assert window.queue_model.rowCount() == 0
    assert "No enrollments match these filters" in ui.queue_empty.text()


def test_sorting_by_header_runs_in_sql(qtbot, workstation):
    window = workstation.window
    header = window.ui.queue_table.horizontalHeader()
    header.setSortIndicator(window.queue_model.COL_STUDENT, Qt.SortOrder.DescendingOrder)
    settle(qtbot, window)
    assert window.queue_model.query_sort == queue.QueueSort("student", True)
    assert window.queue_model.rows()[0].student_name == "Zanele Khumalo"


def test_shortcut_sheet_lists_every_action(qtbot, workstation):
    window = workstation.window
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_Question, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: window.shortcut_sheet is not None and window.shortcut_sheet.isVisible())
    text = window.shortcut_sheet.findChild(type(window.ui.student_details), "shortcutList").toPlainText()
    for shortcut in SHORTCUTS:
        assert shortcut.text.replace("&", "").replace("…", "") in text
    for key in ("A", "R", "J", "K", "Ctrl+F", "PgDown"):
        assert key in text or key.replace("PgDown", "PgDown") in text


def test_zoom_keys_reach_the_preview(qtbot, workstation, monkeypatch):
    window = workstation.window
    calls: list[str] = []
    for name in ("zoom_in", "zoom_out", "zoom_reset", "fit_width", "fit_page", "rotate"):
        monkeypatch.setattr(window.preview, name, lambda n=name: calls.append(n))
    for key in (
        Qt.Key.Key_Plus,
        Qt.Key.Key_Minus,
        Qt.Key.Key_0,
        Qt.Key.Key_W,
        Qt.Key.Key_P,
        Qt.Key.Key_BracketRight,
    ):
        QTest.keyClick(window.ui.queue_table, key)
    assert calls == ["zoom_in", "zoom_out", "zoom_reset", "fit_width", "fit_page", "rotate"]


def test_every_part_has_its_object_and_accessible_name(workstation):
    window = workstation.window
    from PySide6.QtWidgets import QWidget

    for name in (
        "cohortBrowser",
        "enrollmentQueue",
        "queueSearch",
        "documentList",
        "documentPreview",
        "studentDetails",
        "verificationHistory",
        "approveButton",
        "rejectButton",
    ):
        widget = window.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.accessibleName(), name
        focus = widget.focusProxy() or widget
        assert focus.focusPolicy() != Qt.FocusPolicy.NoFocus, name


def test_missing_file_shows_a_message(qtbot, workstation, sql_guard):
    ws = workstation
    window = ws.window
    doc = window.current_document()
    ws.store.path_for_key(doc.upload["storage_key"]).unlink()
    _key(qtbot, ws, Qt.Key.Key_Right, widget=window.ui.queue_table)
    _key(qtbot, ws, Qt.Key.Key_Left, widget=window.ui.queue_table)
    qtbot.waitUntil(lambda: "missing from document storage" in window.preview.message_text())


def test_each_document_shown_is_in_the_access_log(qtbot, workstation, sql_guard):
    ws = workstation
    window = ws.window
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    _key(qtbot, ws, Qt.Key.Key_Right, widget=window.ui.queue_table)
    assert window.current_document().document_type == "matric_certificate"

    def viewed() -> list[tuple[int | None, str]]:
        with sql_guard.paused():
            entries = access_log.read_log(ws.db, window.identity, kinds=("document_view",))
        return [(e.object_id, e.details["document_type"]) for e in reversed(entries)]

    qtbot.waitUntil(lambda: len(viewed()) >= 2)
    assert viewed() == [(sipho, "id_document"), (sipho, "matric_certificate")]
    assert ws.errors == []


def test_masked_without_special_pi(qtbot, sqlite_db, tmp_path, cohortdesk_home, sql_guard):
    ws = make_workstation(qtbot, sqlite_db, tmp_path, sql_guard, role="officer")
    try:
        text = ws.window.ui.student_details.toPlainText()
        assert "800101*****87" in text and "8001015009087" not in text
        assert "Black: African" not in text and "hidden" in text
        assert "Reveal…" not in text and "your role may not see" in text
        assert not ws.window.actions["reveal"].isVisible()
        # Anna's disability letter is health information: no preview, no decision
        table = ws.window.ui.queue_table
        _key(qtbot, ws, Qt.Key.Key_J, widget=table)
        _key(qtbot, ws, Qt.Key.Key_J, widget=table)
        assert _current_student(ws.window) == "Anna van der Merwe"
        ws.window.ui.document_list.setCurrentRow(2)
        settle(qtbot, ws.window)
        assert ws.window.current_document().document_type == "disability_proof"
        assert not ws.window.ui.approve_button.isEnabled()
    finally:
        ws.window.close()
        ws.runner.shutdown()


def test_special_pi_is_revealed_with_a_purpose_and_logged(qtbot, workstation, sql_guard):
    """A super admin holds the capability, yet sees race and the full ID only after a logged reveal."""
    window = workstation.window
    text = window.ui.student_details.toPlainText()
    assert "800101*****87" in text and "Black: African" not in text
    assert "are hidden. Reveal…" in text
    assert window.actions["reveal"].isVisible()

    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.reveal_dialog is not None and window.reveal_dialog.isVisible())
    dialog = window.reveal_dialog
    dialog.purpose.setEditText("  ")
    dialog.reveal_button.click()
    assert dialog.isVisible() and "Say why" in dialog.error_label.text()
    dialog.purpose.setEditText("Comparing the ID copy with the captured details")
    dialog.reveal_button.click()
    qtbot.waitUntil(lambda: "8001015009087" in window.ui.student_details.toPlainText())
    text = window.ui.student_details.toPlainText()
    assert "Black: African" in text and "shown after a logged reveal" in text

    sipho = workstation.world["enrollments"]["Sipho Dlamini"]
    with sql_guard.paused():
        [entry] = access_log.read_log(workstation.db, window.identity, kinds=("special_pi_reveal",))
    assert (entry.object_id, entry.purpose) == (sipho, "Comparing the ID copy with the captured details")

    window.move_enrollment(1)  # another learner: masked again
    qtbot.waitUntil(lambda: _current_student(window) != "Sipho Dlamini")
    qtbot.waitUntil(lambda: "are hidden. Reveal…" in window.ui.student_details.toPlainText())
    window.move_enrollment(-1)
    qtbot.waitUntil(lambda: "800101*****87" in window.ui.student_details.toPlainText())
    assert workstation.errors == []


def test_new_enrollments_are_announced_not_inserted_under_the_cursor(qtbot, workstation, sql_guard):
    window, world = workstation.window, workstation.world
    loaded = window.queue_model.rowCount()
    current = _current_student(window)
    with sql_guard.paused():
        learner = factories.user(
            workstation.db, world["account"], "Naledi", "Mokoena", email="naledi@example.co.za"
        )
        ce.enroll(
            workstation.db,
            ce.NewEnrollment(
                cohort_id=world["cohorts"]["learnership"],
                user_id=learner,
                student_data={"city": "Polokwane"},
                uploaded_documents={"id_document": factories.upload(workstation.store, "id.pdf")},
            ),
        )
    window.live.poll()
    qtbot.waitUntil(lambda: window.ui.queue_news.isVisible())
    assert window.ui.queue_news.text() == "↻ 1 new · Show"
    assert window.ui.queue_summary.text() == "7 to decide"
    assert window.queue_model.rowCount() == loaded and _current_student(window) == current
    window.ui.queue_news.click()
    qtbot.waitUntil(lambda: window.queue_model.rowCount() == loaded + 1)
    assert not window.ui.queue_news.isVisible()
    assert "Naledi Mokoena" in [r.student_name for r in window.queue_model.rows()]
    qtbot.waitUntil(lambda: _current_student(window) == current)
    assert workstation.errors == []


def test_report_viewer_cannot_decide(qtbot, sqlite_db, tmp_path, cohortdesk_home, sql_guard):
    ws = make_workstation(qtbot, sqlite_db, tmp_path, sql_guard, role="report_viewer")
    try:
        assert not ws.window.ui.approve_button.isEnabled()
        assert "not record decisions" in ws.window.ui.approve_button.toolTip()
        _key(qtbot, ws, Qt.Key.Key_A, widget=ws.window.ui.queue_table)
        assert _decisions(ws, ws.world["enrollments"]["Sipho Dlamini"], sql_guard) == []
    finally:
        ws.window.close()
        ws.runner.shutdown()


def test_window_state_is_remembered(qtbot, sqlite_db, tmp_path, cohortdesk_home, sql_guard):
    ws = make_workstation(qtbot, sqlite_db, tmp_path, sql_guard)
    window = ws.window
    # (The offscreen screen is 800 px wide: the compact arrangement, cohorts above the queue.)
    window.resize(800, 600)
    qtbot.waitUntil(lambda: window.height() == 600)
    assert window.ui.compact
    total = sum(window.ui.left_splitter.sizes())
    window.ui.left_splitter.setSizes([150, total - 150])
    header = window.ui.queue_table.horizontalHeader()
    header.resizeSection(window.queue_model.COL_STUDENT, 222)
    header.setSectionHidden(window.queue_model.COL_EMAIL, False)
    window.ui.save_and_next.setChecked(False)
    sizes = window.ui.left_splitter.sizes()
    window.close()
    ws.runner.shutdown()
    settings_file = cohortdesk_home / "config" / "window-state.ini"
    assert settings_file.is_file()

    again = MainWindow(ws.db, ws.runner, ws.store)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitUntil(lambda: again.height() == 600)
    assert again.ui.left_splitter.sizes() == sizes
    header = again.ui.queue_table.horizontalHeader()
    assert header.sectionSize(again.queue_model.COL_STUDENT) == 222
    assert not header.isSectionHidden(again.queue_model.COL_EMAIL)
    assert not again.ui.save_and_next.isChecked()
    # every start opens on the default view, whatever was sorted last
    assert again.queue_model.query_sort == queue.QueueSort()
    again.close()

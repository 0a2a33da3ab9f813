"""Bulk decisions and reminders from the workstation's queue selection, on the real runner (no SQL on
the GUI thread): the confirmation says exactly what will change, another officer's enrollment is
skipped and said so, the result says what was done; reminders say who was left out and why."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QItemSelectionModel, Qt
from sqlalchemy import func, select

from cohortdesk.models import DocumentVerification
from cohortdesk.services.notify import outbox
from cohortdesk.services.review import claims
from cohortdesk.views.bulk_dialog import BulkDialog
from cohortdesk.views.learner_tools import install_learner_tools
from cohortdesk.views.reminders import RemindDialog
from tests import factories
from tests.review_factories import officer_identity
from tests.widgets.conftest import settle


def select_learners(ws, names: list[str]) -> list[int]:
    table = ws.window.ui.queue_table
    model = ws.window.queue_model
    selection = table.selectionModel()
    selection.clearSelection()
    ids = [ws.world["enrollments"][n] for n in names]
    for enrollment_id in ids:
        row = model.row_of(enrollment_id)
        assert row >= 0, enrollment_id
        selection.select(
            model.index(row, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    return ids


def decisions(ws, sql_guard) -> Counter[int]:
    with sql_guard.paused(), ws.db.read_session() as s:
        return Counter(
            dict(
                s.execute(
                    select(DocumentVerification.cohort_enrollment_id, func.count()).group_by(
                        DocumentVerification.cohort_enrollment_id
                    )
                ).all()
            )
        )


def test_bulk_approve_checks_first_skips_what_another_officer_holds(qtbot, workstation, sql_guard):
    ws = workstation
    tools = install_learner_tools(ws.window)
    names = ["Lerato Mokoena", "Anna van der Merwe", "Thabo Nkosi"]
    ids = select_learners(ws, names)
    with sql_guard.paused():
        other = factories.user(ws.db, ws.world["account"], "Sipho", "Dlamini")
        claims.claim(ws.db, officer_identity(ws.db, ws.world["account"], other), ids[1])
    tools.actions["approve_selected"].trigger()
    dialog = tools.bulk_dialog
    assert isinstance(dialog, BulkDialog)
    qtbot.waitUntil(lambda: dialog.choices is not None, timeout=10000)
    assert dialog.title.text() == "<b>3 learners selected</b>"
    assert not dialog.confirm_button.isEnabled()  # nothing is confirmed before it is checked
    qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.planned is not None, timeout=10000)
    assert dialog.summary.text() == "This will approve 4 document(s) of 2 learner(s). 1 skipped."
    assert dialog.confirm_button.text() == "Approve 4 documents" and dialog.confirm_button.isEnabled()
    lines = [dialog.items.item(i).text() for i in range(dialog.items.count())]
    assert lines[0] == "Anna van der Merwe · Q1 2026 Learnership\n   Skipped: Sipho Dlamini is reviewing it."
    assert "Lerato Mokoena · Q1 2026 Learnership\n   Approve: Certified ID, Matric certificate" in lines
    # Changing the request withdraws the plan: what is confirmed is what was shown.
    dialog.note.setText("Checked against the SAQA list")
    assert dialog.planned is None and not dialog.confirm_button.isEnabled()
    qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.planned is not None, timeout=10000)
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=15000)
    assert dialog.summary.text() == "4 document(s) of 2 learner(s) approved. 1 skipped."
    assert not dialog.confirm_button.isVisible()
    settle(qtbot, ws.window)
    done = decisions(ws, sql_guard)
    assert done[ids[0]] == 2 and done[ids[2]] == 2 and done[ids[1]] == 0
    with sql_guard.paused(), ws.db.read_session() as s:
        recorded = s.scalars(
            select(DocumentVerification).where(DocumentVerification.cohort_enrollment_id == ids[0])
        ).all()
        notes = {
            getattr(d, "internal_note", None) or (d.verification_metadata or {}).get("internal_note")
            for d in recorded
        }
    assert notes == {"Checked against the SAQA list"}
    assert ws.errors == []


def test_bulk_reject_with_one_reason_queues_each_learners_email(qtbot, workstation, sql_guard):
    ws = workstation
    tools = install_learner_tools(ws.window)
    ids = select_learners(ws, ["Lerato Mokoena", "Thabo Nkosi"])
    dialog = tools.open_bulk("rejected")
    qtbot.waitUntil(lambda: dialog.choices is not None, timeout=10000)
    assert dialog.reject_radio.isChecked() and dialog.reason.isEnabled()
    dialog.set_documents(("matric_certificate",))
    dialog.reason_box.setCurrentIndex(1)  # the first canned reason pre-fills the message
    assert dialog.reason.toPlainText()
    dialog.check()
    qtbot.waitUntil(lambda: dialog.planned is not None, timeout=10000)
    assert dialog.confirm_button.text() == "Reject 2 documents"
    dialog.confirm()
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=15000)
    assert dialog.summary.text() == "2 document(s) of 2 learner(s) rejected."
    settle(qtbot, ws.window)
    with sql_guard.paused():
        queued = [r for r in outbox.rows(ws.db) if r.kind == "rejection"]
    assert sorted(r.cohort_enrollment_id for r in queued) == sorted(ids)
    assert {r.reason for r in queued} == {dialog.reason.toPlainText().strip()}


def test_a_reject_without_a_reason_is_refused_in_words(qtbot, workstation):
    ws = workstation
    tools = install_learner_tools(ws.window)
    select_learners(ws, ["Lerato Mokoena"])
    dialog = tools.open_bulk("rejected")
    qtbot.waitUntil(lambda: dialog.choices is not None, timeout=10000)
    dialog.set_documents(("id_document",))
    dialog.check()
    qtbot.waitUntil(lambda: "reason" in dialog.summary.text(), timeout=10000)
    assert "a reason is required" in dialog.summary.text()
    assert dialog.planned is None and not dialog.confirm_button.isEnabled()


def test_remind_selected_learners_says_who_was_left_out_and_why(qtbot, workstation, sql_guard):
    ws = workstation
    tools = install_learner_tools(ws.window)
    ws.window.ui.state_filter.setCurrentIndex(ws.window.ui.state_filter.findData(None))
    settle(qtbot, ws.window)
    ids = select_learners(ws, ["Zanele Khumalo", "Pieter O'Brien", "Lerato Mokoena"])
    menu_entries = []

    from PySide6.QtWidgets import QMenu

    menu = QMenu()
    tools.extend_queue_menu(menu)
    menu_entries = [a.text() for a in menu.actions()]
    assert "Remind 3 selected of missing uploads…" in menu_entries
    tools.actions["remind_selected"].trigger()
    dialog = tools.remind_dialog
    assert isinstance(dialog, RemindDialog)
    assert dialog.confirm_button.text() == "&Remind 3 learners"
    dialog.confirm()
    qtbot.waitUntil(lambda: dialog.outcomes is not None, timeout=10000)
    assert dialog.summary.text() == "2 reminders queued, 1 learner left out."
    first = dialog.items.item(0).text()
    assert first == "Lerato Mokoena\n   Nothing is missing: every required document is uploaded."
    with sql_guard.paused():
        reminders = {r.cohort_enrollment_id: r for r in outbox.rows(ws.db) if r.kind == "reminder"}
    assert set(reminders) == {ids[0], ids[1]}
    assert reminders[ids[0]].details["missing"] == ["matric_certificate", "tertiary_qualification"]
    texts = [dialog.items.item(i).text() for i in range(dialog.items.count())]
    assert "Zanele Khumalo\n   Reminder queued: Matric certificate, Tertiary qualification." in texts
    # Again at once: the institution's limit says no, in words.
    select_learners(ws, ["Zanele Khumalo"])
    again = tools.open_remind()
    again.confirm()
    qtbot.waitUntil(lambda: again.outcomes is not None, timeout=10000)
    assert "your institution allows one reminder every 3 day(s)" in again.items.item(0).text()

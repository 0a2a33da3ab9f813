"""One keypress at the workstation: ``A`` with "Save and next" puts the next document on screen at once
(drawn ahead while the officer read the current one), writes the decision in the background and
reconciles with what the database says, recording it once, logging each document shown once and
drawing it once. Real PDFs, real SQLite, the threaded runner, SQL forbidden on the GUI thread."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from sqlalchemy import select

from cohortdesk.models import DocumentVerification
from cohortdesk.services.access import log as access_log
from tests.preview import samples
from tests.widgets.conftest import make_workstation, settle


def _files(first: str, document_type: str) -> bytes:
    return samples.pdf(1, title=f"{first}: {document_type}")


@pytest.fixture
def ws(qtbot, sqlite_db, tmp_path, cohortdesk_home, sql_guard):
    workstation = make_workstation(qtbot, sqlite_db, tmp_path, sql_guard, files=_files)
    workstation.window.ui.save_and_next.setChecked(True)
    yield workstation
    workstation.window.close()
    workstation.runner.shutdown()


def _idle(qtbot, window) -> None:
    """The officer reads the page: the window finishes what it does in the background meanwhile."""
    qtbot.waitUntil(
        lambda: (
            window.runner.in_flight == 0 and not window.preview.client.busy and window.preview.on_screen()
        ),
        timeout=15000,
    )


def _decisions(ws, sql_guard) -> list[tuple[int, str, str]]:
    with sql_guard.paused(), ws.db.read_session() as s:
        rows = s.execute(
            select(
                DocumentVerification.cohort_enrollment_id,
                DocumentVerification.document_type,
                DocumentVerification.action,
            ).order_by(DocumentVerification.id)
        )
        return [tuple(r) for r in rows]


def _views(ws, sql_guard) -> list[tuple[int | None, str]]:
    with sql_guard.paused():
        entries = access_log.read_log(ws.db, ws.window.identity, kinds=("document_view",))
    return [(e.object_id, e.details["document_type"]) for e in reversed(entries)]


def test_a_shows_the_next_document_at_once_and_records_the_decision_once(qtbot, ws, sql_guard):
    window = ws.window
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    lerato = ws.world["enrollments"]["Lerato Mokoena"]
    shown: list[str] = []
    original = window.preview.show_document
    window.preview.show_document = lambda data, kind, name: (shown.append(name), original(data, kind, name))
    _idle(qtbot, window)

    # Sipho's certified ID: the matric certificate is on screen when the key returns, before the
    # decision is answered (it was drawn ahead).
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    assert window.decisions.deciding
    assert window.current_document().document_type == "matric_certificate"
    assert window.preview.on_screen() and window.preview.page_count() == 1
    assert not window.ui.approve_button.isEnabled()  # a second decision waits for the first's answer
    settle(qtbot, window)
    assert _decisions(ws, sql_guard) == [(sipho, "id_document", "approved")]
    assert window.current_document().document_type == "matric_certificate"  # the read-back keeps it
    assert window.ui.history.topLevelItemCount() == 1
    _idle(qtbot, window)

    # His last document: on to Lerato at once, her first document drawn ahead, claimed meanwhile.
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    assert window._detail.student.enrollment_id == lerato
    assert window.current_document().document_type == "id_document"
    assert window.preview.on_screen()
    assert not window.ui.approve_button.isEnabled()  # until the decision is answered and she is claimed
    settle(qtbot, window)
    assert window.review.claim_for(lerato) is not None
    assert window.ui.approve_button.isEnabled()
    assert _decisions(ws, sql_guard) == [
        (sipho, "id_document", "approved"),
        (sipho, "matric_certificate", "approved"),
    ]
    row = window.queue_model.row_at(window.queue_model.row_of(sipho))
    assert row.verification_state == "verified"
    # Each document drawn once and logged once, though its enrollment was read twice.
    assert shown == ["matric_certificate.pdf", "id_document.pdf"]
    assert _views(ws, sql_guard) == [
        (sipho, "id_document"),
        (sipho, "matric_certificate"),
        (lerato, "id_document"),
    ]
    # The decided document says so at once: a second A on it records nothing.
    window.ui.queue_table.setFocus()
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_Up)  # back to Sipho
    settle(qtbot, window)
    assert window._detail.student.enrollment_id == sipho
    assert not window.ui.approve_button.isEnabled()
    assert ws.errors == []

"""One keypress at the workstation: ``A`` with "Save and next" puts the next document on screen at once
(drawn ahead while the officer read the current one), writes the decision in the background and
reconciles with what the database says, recording it once, logging each document shown once and
drawing it once. Presses in quick succession (A, A, A before any answer) are each taken, in order, on
their own document, once; a refused one is told in words and its document brought back while the
others are written. Real PDFs, real SQLite, the threaded runner, SQL forbidden on the GUI thread."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from sqlalchemy import select

from cohortdesk.models import CohortEnrollment, DocumentVerification
from cohortdesk.services.access import log as access_log
from cohortdesk.services.review import claims
from tests.factories import user
from tests.preview import samples
from tests.review_factories import officer_identity
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



def _errors_told(monkeypatch) -> list[str]:
    """What the window tells the officer through its one error path, as text."""
    told: list[str] = []
    monkeypatch.setattr(
        "cohortdesk.views.workstation.decisions.show_error", lambda _parent, error, _title: told.append(str(error))
    )
    return told

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
    assert window.ui.approve_button.isEnabled()  # a second decision is taken, written after the first
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
    # A decision on her is taken while she is being claimed; it is sent once she is.
    assert window.review.opening(lerato) and window.ui.approve_button.isEnabled()
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


def _press_a(qtbot, window, gap_ms: int) -> tuple[int, str]:
    """One A as a quick officer types it; what it was pressed on."""
    doc = window.current_document()
    assert doc is not None
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    if gap_ms:
        qtbot.wait(gap_ms)
    return doc.enrollment_id, doc.document_type


@pytest.mark.parametrize("gap_ms", [0, 15], ids=["no-turn-between", "15ms-apart"])
def test_a_a_a_before_any_answer_is_taken_in_order_each_on_its_own_document(qtbot, ws, sql_guard, gap_ms):
    window = ws.window
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    lerato = ws.world["enrollments"]["Lerato Mokoena"]
    _idle(qtbot, window)
    window.ui.internal_note.setText("stamp faint but legible")  # for the first decision only

    # Sipho's two documents, then Lerato's first (read ahead: shown at once, claimed meanwhile).
    pressed = [_press_a(qtbot, window, gap_ms) for _ in range(3)]
    assert pressed == [(sipho, "id_document"), (sipho, "matric_certificate"), (lerato, "id_document")]
    if not gap_ms:  # no turn of the event loop between them: none is answered yet
        assert [(c.enrollment_id, c.document_type) for c, _doc in window.decisions.pending()] == pressed
    # Lerato's matric certificate is on screen (its page may still be coming): a fourth press.
    qtbot.waitUntil(lambda: window.current_document().document_type == "matric_certificate", timeout=15000)
    pressed.append(_press_a(qtbot, window, gap_ms))
    assert pressed[-1] == (lerato, "matric_certificate")
    # Her documents are all decided on: one more A records nothing more, on any document.
    if window._detail.student.enrollment_id == lerato:
        QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    settle(qtbot, window)
    assert _decisions(ws, sql_guard) == [(e, d, "approved") for e, d in pressed]
    with sql_guard.paused(), ws.db.read_session() as s:
        notes = s.scalars(select(DocumentVerification.internal_note).order_by(DocumentVerification.id))
        assert list(notes) == ["stamp faint but legible", None, None, None]
    assert not window.decisions.deciding and len(window.outbox) == 0
    for enrollment in (sipho, lerato):
        row = window.queue_model.row_at(window.queue_model.row_of(enrollment))
        assert row.verification_state == "verified" and row.documents_awaiting == 0
    assert ws.errors == []


def test_a_second_a_on_a_document_not_moved_from_is_not_recorded_twice(qtbot, ws, sql_guard):
    window = ws.window
    window.ui.save_and_next.setChecked(False)  # the window stays on the document decided
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    _idle(qtbot, window)
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    assert window.current_document().document_type == "id_document"
    assert not window.ui.approve_button.isEnabled()
    settle(qtbot, window)
    assert _decisions(ws, sql_guard) == [(sipho, "id_document", "approved")]
    assert window.statusBar().currentMessage()  # the refusal of the second says why, in words
    assert ws.errors == []


def test_a_refused_press_comes_back_in_words_while_the_ones_after_it_are_written(
    qtbot, ws, sql_guard, monkeypatch
):
    window = ws.window
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    lerato = ws.world["enrollments"]["Lerato Mokoena"]
    told = _errors_told(monkeypatch)
    _idle(qtbot, window)
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)  # his ID; on to his matric certificate
    settle(qtbot, window)
    _idle(qtbot, window)
    # His lease lapses behind the window's back and Thandi takes him.
    with sql_guard.paused():
        with ws.db.session() as s:
            s.get(CohortEnrollment, sipho).claim_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        thandi = user(ws.db, ws.world["account"], "Thandi", "Nkosi")
        claims.claim(ws.db, officer_identity(ws.db, ws.world["account"], thandi, "officer"), sipho)
    # His matric certificate (refused), then Lerato's ID, pressed before the refusal comes back.
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    assert window._detail.student.enrollment_id == lerato
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    settle(qtbot, window)
    assert _decisions(ws, sql_guard) == [
        (sipho, "id_document", "approved"),
        (lerato, "id_document", "approved"),
    ]
    # Back on Sipho's matric certificate, told why in words (who has him now), not as a traceback.
    assert window._detail.student.enrollment_id == sipho
    assert window.current_document().document_type == "matric_certificate"
    assert len(told) == 1 and "Thandi Nkosi" in told[0] and "Traceback" not in told[0]
    qtbot.waitUntil(lambda: "Thandi Nkosi" in window.review.banner.text(), timeout=15000)
    assert not window.ui.approve_button.isEnabled()
    assert ws.errors == []


def test_a_press_on_an_enrollment_someone_else_took_meanwhile_is_refused_in_words(
    qtbot, ws, sql_guard, monkeypatch
):
    window = ws.window
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    lerato = ws.world["enrollments"]["Lerato Mokoena"]
    told = _errors_told(monkeypatch)
    _idle(qtbot, window)
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)  # his ID; on to his matric certificate
    settle(qtbot, window)
    _idle(qtbot, window)  # Lerato's detail and first page are read ahead now
    with sql_guard.paused():
        thandi = user(ws.db, ws.world["account"], "Thandi", "Nkosi")
        claims.claim(ws.db, officer_identity(ws.db, ws.world["account"], thandi, "officer"), lerato)
    # His matric certificate, then Lerato's ID (read ahead) while she is being opened: the second
    # waits for her claim, which Thandi has.
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    assert window._detail.student.enrollment_id == lerato and window.review.opening(lerato)
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: bool(told), timeout=15000)
    settle(qtbot, window)
    assert _decisions(ws, sql_guard) == [
        (sipho, "id_document", "approved"),
        (sipho, "matric_certificate", "approved"),
    ]
    assert told == [
        "The approval of Certified ID was not recorded: Thandi Nkosi is reviewing this enrollment; "
        "only they can decide on it now."
    ]
    assert window._detail.student.enrollment_id == lerato
    assert window.current_document().document_type == "id_document"
    assert window.current_document().latest_action is None  # shown as it is: not decided
    assert "Thandi Nkosi" in window.review.banner.text() and not window.ui.approve_button.isEnabled()
    assert ws.errors == []


def test_a_press_on_a_read_ahead_document_the_learner_replaced_meanwhile_is_refused(
    qtbot, ws, sql_guard, monkeypatch
):
    window = ws.window
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    lerato = ws.world["enrollments"]["Lerato Mokoena"]
    told = _errors_told(monkeypatch)
    _idle(qtbot, window)
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)  # his ID; on to his matric certificate
    settle(qtbot, window)
    _idle(qtbot, window)  # Lerato's detail and first page are read ahead now
    with sql_guard.paused(), ws.db.session() as s:  # she uploads another ID meanwhile
        enrollment = s.get(CohortEnrollment, lerato)
        uploaded = dict(enrollment.uploaded_documents)
        uploaded["id_document"] = dict(uploaded["id_document"], checksum="0" * 64, file_name="new.pdf")
        enrollment.uploaded_documents = uploaded
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    assert window._detail.student.enrollment_id == lerato and window.review.opening(lerato)
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)  # on the file read ahead, not the new one
    settle(qtbot, window)
    qtbot.waitUntil(lambda: bool(told), timeout=15000)
    settle(qtbot, window)
    assert _decisions(ws, sql_guard) == [
        (sipho, "id_document", "approved"),
        (sipho, "matric_certificate", "approved"),
    ]
    assert len(told) == 1 and "changed" in told[0]



def test_presses_still_on_their_way_when_the_window_closes_are_written(qtbot, ws, sql_guard):
    """Closed with presses not yet answered: each is written (the last one waited for its claim)."""
    window = ws.window
    sipho = ws.world["enrollments"]["Sipho Dlamini"]
    lerato = ws.world["enrollments"]["Lerato Mokoena"]
    _idle(qtbot, window)
    pressed = [_press_a(qtbot, window, 0) for _ in range(3)]
    assert pressed == [(sipho, "id_document"), (sipho, "matric_certificate"), (lerato, "id_document")]
    assert window.decisions.waiting()  # her claim is not known yet
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=15000)
    ws.runner.shutdown()
    assert _decisions(ws, sql_guard) == [(e, d, "approved") for e, d in pressed]
    with sql_guard.paused(), ws.db.read_session() as s:
        assert s.get(CohortEnrollment, lerato).claim_token is None  # given back after the decision

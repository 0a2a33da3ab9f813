"""Many workstations on one real PostgreSQL: claims in the GUI, decisions under them, live refresh,
a super admin's release, and a dropped connection in the middle of a decision.

Every window runs the real threaded runner, the real listener thread and the SQL guard; the tests'
own database work (another officer at another desk) runs inside ``sql_guard.paused()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from sqlalchemy import select, text

from cohortdesk.db import Database
from cohortdesk.models import CohortEnrollment, DocumentVerification
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import claims
from cohortdesk.services.review import decisions as vs
from cohortdesk.services.review.live_batch import LiveBatch
from cohortdesk.views.runner import Runner
from cohortdesk.views.workstation import MainWindow
from tests.factories import queue_world, upload, user
from tests.review_factories import officer_identity
from tests.widgets.conftest import settle

pytestmark = pytest.mark.pg

WAIT = 20000  # generous: the machine is shared; these wait for states, never time them


@dataclass
class Desk:
    window: MainWindow
    runner: Runner


@pytest.fixture
def office(qtbot, pg_db, tmp_path, cohortdesk_home, sql_guard) -> Iterator[dict[str, Any]]:
    """The queue world on PostgreSQL, a second officer (Thandi) and a way to open windows."""
    store = DocumentStore(tmp_path / "store")
    world = queue_world(pg_db, store)
    thandi = user(pg_db, world["account"], "Thandi", "Nkosi")
    world["boss"] = officer_identity(pg_db, world["account"], world["officer"], "super_admin")
    world["officer_one"] = officer_identity(pg_db, world["account"], world["officer"], "officer")
    world["thandi"] = officer_identity(pg_db, world["account"], thandi, "officer")
    desks: list[Desk] = []
    sql_guard.protect(pg_db)

    def open_desk(identity, db: Database = pg_db, **kwargs) -> MainWindow:
        runner = Runner()
        window = MainWindow(db, runner, store, identity=identity, **kwargs)
        qtbot.addWidget(window)
        desks.append(Desk(window, runner))
        window.show()
        qtbot.waitExposed(window)
        window.start()
        qtbot.waitUntil(lambda: window.current_document() is not None, timeout=WAIT)
        settle(qtbot, window)
        return window

    yield {"world": world, "store": store, "db": pg_db, "open": open_desk}
    for desk in desks:
        desk.window.close()
        desk.runner.shutdown()


def _claim_row(db: Database, enrollment_id: int, sql_guard) -> Any:
    with sql_guard.paused(), db.read_session() as s:
        return s.execute(
            select(
                CohortEnrollment.claimed_by_user_id,
                CohortEnrollment.claim_token,
                CohortEnrollment.row_version,
                CohortEnrollment.document_verification_state,
            ).where(CohortEnrollment.id == enrollment_id)
        ).one()


def _decisions(db: Database, enrollment_id: int, sql_guard) -> list[tuple[str, str]]:
    with sql_guard.paused(), db.read_session() as s:
        return list(
            s.execute(
                select(DocumentVerification.document_type, DocumentVerification.action)
                .where(DocumentVerification.cohort_enrollment_id == enrollment_id)
                .order_by(DocumentVerification.id)
            ).all()
        )


def _current(window: MainWindow) -> int | None:
    detail = window._detail
    return detail.student.enrollment_id if detail is not None else None


def test_second_officer_sees_who_reviews_and_next_skips_it(qtbot, office, sql_guard):
    world, db = office["world"], office["db"]
    sipho = world["enrollments"]["Sipho Dlamini"]
    first = office["open"](world["officer_one"])
    qtbot.waitUntil(lambda: first.review.claim_for(sipho) is not None, timeout=WAIT)
    assert _claim_row(db, sipho, sql_guard).claimed_by_user_id == world["officer"]
    assert first.ui.approve_button.isEnabled()

    second = office["open"](world["thandi"])
    assert _current(second) == sipho  # the oldest row is selected, but it is Officer One's
    qtbot.waitUntil(lambda: second.review.banner.isVisible(), timeout=WAIT)
    banner = second.review.banner.text()
    assert banner.startswith("Being reviewed by Officer One") and "not decide" in banner
    assert not second.ui.approve_button.isEnabled()
    assert "Officer One is reviewing" in second.ui.approve_button.toolTip()
    # The queue row says so too, with a padlock and a tooltip.
    model = second.queue_model
    row = model.row_of(sipho)
    assert model.holder_text(model.row_at(row)) == "Being reviewed by Officer One"
    index = model.index(row, model.COL_STUDENT)
    assert index.data(Qt.ItemDataRole.DecorationRole) is not None
    assert "Being reviewed by Officer One" in index.data(Qt.ItemDataRole.ToolTipRole)
    # The first officer's own row reads as theirs.
    own = first.queue_model
    qtbot.waitUntil(
        lambda: own.holder_text(own.row_at(own.row_of(sipho))) == "You are reviewing this enrollment",
        timeout=WAIT,
    )

    # "Next pending" passes over held rows and claims the next free one.
    second.ui.queue_table.selectRow(0)
    second.advance_to_next_pending()
    qtbot.waitUntil(lambda: _current(second) not in (None, sipho), timeout=WAIT)
    taken = _current(second)
    qtbot.waitUntil(lambda: second.review.claim_for(taken) is not None, timeout=WAIT)
    assert second.ui.approve_button.isEnabled() and not second.review.banner.isVisible()
    assert _claim_row(db, taken, sql_guard).claimed_by_user_id == world["thandi"].user_id

    # A decision under the claim is recorded and the claim stays ours (with the new row_version).
    before = second.review.claim
    second.ui.save_and_next.setChecked(False)
    second.approve()
    qtbot.waitUntil(lambda: len(_decisions(db, taken, sql_guard)) == 1, timeout=WAIT)
    settle(qtbot, second)
    after = second.review.claim
    assert after is not None and after.token == before.token and after.row_version > before.row_version
    assert _claim_row(db, taken, sql_guard).claim_token == before.token

    # Moving on gives the claim back; closing the window gives back the one it holds then.
    second.ui.queue_table.selectRow(second.queue_model.row_of(taken) + 1)
    qtbot.waitUntil(lambda: _claim_row(db, taken, sql_guard).claim_token is None, timeout=WAIT)
    first.close()
    qtbot.waitUntil(lambda: _claim_row(db, sipho, sql_guard).claim_token is None, timeout=WAIT)


def test_a_decision_elsewhere_refreshes_the_row_live(qtbot, office, sql_guard):
    world, db = office["world"], office["db"]
    window = office["open"](world["officer_one"], poll_ms=3_600_000)  # the listener, not the poll
    # Counts re-read a second apart rather than the window's 10-15 s (the pacing is LiveBatch's own
    # test's subject): this test is about what the notifications re-read, not when.
    window.live.batch = LiveBatch(counts_seconds=1.0)
    qtbot.waitUntil(lambda: window.live.listener is not None and window.live.listener.connected.is_set())
    lerato = world["enrollments"]["Lerato Mokoena"]
    model = window.queue_model
    assert model.row_at(model.row_of(lerato)).verification_state == "pending"
    learnership = window.tree_model.index_of(("cohort", world["cohorts"]["learnership"]))
    pending_before = learnership.data(window.tree_model.NodeRole).counts.pending
    # Thandi, at another desk, claims Lerato and approves both documents.
    with sql_guard.paused():
        claim = claims.claim(db, world["thandi"], lerato)
        qtbot.waitUntil(
            lambda: model.holder_text(model.row_at(model.row_of(lerato))) == "Being reviewed by Thandi Nkosi",
            timeout=WAIT,
        )
        for document in ("id_document", "matric_certificate"):
            result = vs.record_decision(
                db,
                vs.DecisionCommand(
                    enrollment_id=lerato,
                    document_type=document,
                    action="approved",
                    claim=claim,
                    release_claim=document == "matric_certificate",
                ).with_key(),
                world["thandi"],
            )
            claim = result.claim
    qtbot.waitUntil(lambda: model.row_at(model.row_of(lerato)).verification_state == "verified", timeout=WAIT)
    assert model.holder_text(model.row_at(model.row_of(lerato))) is None
    qtbot.waitUntil(
        lambda: learnership.data(window.tree_model.NodeRole).counts.pending == pending_before - 1,
        timeout=WAIT,
    )


def test_a_new_enrollment_elsewhere_is_announced_live(qtbot, office, sql_guard):
    """A learner enrolls while the queue is open: the NOTIFY recounts it; the list stays put until asked."""
    world, db = office["world"], office["db"]
    window = office["open"](world["officer_one"], poll_ms=3_600_000)  # the listener, not the poll
    qtbot.waitUntil(lambda: window.live.listener is not None and window.live.listener.connected.is_set())
    loaded = window.queue_model.rowCount()
    with sql_guard.paused():
        learner = user(db, world["account"], "Naledi", "Mokoena", email="naledi@example.co.za")
        ce.enroll(
            db,
            ce.NewEnrollment(
                cohort_id=world["cohorts"]["learnership"],
                user_id=learner,
                student_data={"city": "Polokwane"},
                uploaded_documents={"id_document": upload(office["store"], "id.pdf")},
            ),
        )
    qtbot.waitUntil(lambda: window.ui.queue_news.isVisible(), timeout=WAIT)
    assert window.ui.queue_news.text() == "↻ 1 new · Show"
    assert window.queue_model.rowCount() == loaded
    window.refresh()  # F5
    qtbot.waitUntil(lambda: window.queue_model.rowCount() == loaded + 1, timeout=WAIT)
    assert not window.ui.queue_news.isVisible()


def test_stale_decision_says_what_changed_and_keeps_the_reason(qtbot, office, sql_guard):
    world, db = office["world"], office["db"]
    sipho = world["enrollments"]["Sipho Dlamini"]
    window = office["open"](world["officer_one"], live=False, poll_ms=3_600_000)
    qtbot.waitUntil(lambda: window.review.claim_for(sipho) is not None, timeout=WAIT)
    # Officer One's lease lapses (a long lunch); Thandi takes Sipho and approves the ID.
    with sql_guard.paused():
        with db.session() as s:
            s.execute(
                text(
                    "UPDATE cohort_enrollments SET claim_expires_at = now() - interval '1 second' WHERE id = :i"
                ),
                {"i": sipho},
            )
        theirs = claims.claim(db, world["thandi"], sipho)
        vs.record_decision(
            db,
            vs.DecisionCommand(
                enrollment_id=sipho,
                document_type="id_document",
                action="approved",
                claim=theirs,
            ).with_key(),
            world["thandi"],
        )
    window.ui.document_list.setCurrentRow(1)  # the matric certificate
    reason = "The certificate is not legible; please upload a clearer scan."
    window.reject_current()
    qtbot.waitUntil(
        lambda: window.reject_dialog is not None and window.reject_dialog.isVisible(), timeout=WAIT
    )
    dialog = window.reject_dialog
    QTest.keyClicks(dialog.message_edit, reason)
    QTest.keyClick(dialog.message_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(
        lambda: window.review.banner.isVisible() and "Thandi" in window.review.banner.text(), timeout=WAIT
    )
    settle(qtbot, window)
    message = window.review.banner.text()
    # (The lease was cut short behind the window's back, so the message cannot say "expired".)
    assert (
        message.startswith("Your claim on this enrollment") and "Thandi Nkosi is reviewing it now" in message
    )
    assert "Certified ID was approved by Thandi Nkosi" in message
    assert "what you typed is kept" in message
    assert window.decisions._unsent_reason == (sipho, "matric_certificate", reason)
    assert _decisions(db, sipho, sql_guard) == [("id_document", "approved")]  # nothing overwritten
    # The item was reloaded: the history shows Thandi's decision; deciding stays blocked.
    assert window.ui.history.topLevelItemCount() == 1
    assert not window.ui.reject_button.isEnabled()
    # Once Thandi lets go, the reason typed earlier is still there.
    with sql_guard.paused():
        claims.release(db, theirs)
    window.refresh()
    qtbot.waitUntil(lambda: window.review.claim_for(sipho) is not None, timeout=WAIT)
    settle(qtbot, window)
    window.ui.document_list.setCurrentRow(1)
    window.reject_current()
    qtbot.waitUntil(lambda: window.reject_dialog.isVisible(), timeout=WAIT)
    assert window.reject_dialog.message_edit.toPlainText() == reason
    window.reject_dialog.reject()


def test_a_refused_decision_brings_its_document_back_after_moving_on(qtbot, office, sql_guard):
    world, db = office["world"], office["db"]
    sipho, lerato = world["enrollments"]["Sipho Dlamini"], world["enrollments"]["Lerato Mokoena"]
    window = office["open"](world["officer_one"], live=False, poll_ms=3_600_000)
    window.ui.save_and_next.setChecked(True)
    qtbot.waitUntil(lambda: window.review.claim_for(sipho) is not None, timeout=WAIT)
    window.ui.queue_table.setFocus()
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)  # his ID; on to his matric certificate
    settle(qtbot, window)
    assert window.current_document().document_type == "matric_certificate"
    # Officer One's lease lapses behind the window's back and Thandi takes Sipho.
    with sql_guard.paused():
        with db.session() as s:
            s.execute(
                text(
                    "UPDATE cohort_enrollments SET claim_expires_at = now() - interval '1 second' WHERE id = :i"
                ),
                {"i": sipho},
            )
        claims.claim(db, world["thandi"], sipho)
    # His last document: the window moves on to Lerato at once, while the decision is written...
    QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    assert _current(window) == lerato
    # ...which the database refuses: back to Sipho's matric certificate, saying who has him now.
    settle(qtbot, window)
    assert _current(window) == sipho
    assert window.current_document().document_type == "matric_certificate"
    assert _decisions(db, sipho, sql_guard) == [("id_document", "approved")]
    assert "Thandi Nkosi" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: "Thandi Nkosi" in window.review.banner.text(), timeout=WAIT)
    assert not window.ui.approve_button.isEnabled()
    model = window.queue_model
    assert model.row_at(model.row_of(sipho)).documents_awaiting > 0  # to decide again, as read back
    assert window.queue_model.row_at(window.ui.queue_table.currentIndex().row()).enrollment_id == sipho
    assert _claim_row(db, lerato, sql_guard).claim_token is None  # given back on the way back


def test_quick_presses_are_each_written_in_order_under_the_claims(qtbot, office, sql_guard):
    """A, A, A before any answer, on the server: each on its own document, once, in order, through the
    server's decision function under each enrollment's claim (Lerato's taken while the presses wait)."""
    world, db = office["world"], office["db"]
    sipho, lerato = world["enrollments"]["Sipho Dlamini"], world["enrollments"]["Lerato Mokoena"]
    window = office["open"](world["officer_one"], live=False, poll_ms=3_600_000)
    window.ui.save_and_next.setChecked(True)
    qtbot.waitUntil(lambda: window.review.claim_for(sipho) is not None, timeout=WAIT)
    settle(qtbot, window)
    window.ui.queue_table.setFocus()
    on_their_way: list[int] = []
    window.decisions.sending.connect(lambda *_: on_their_way.append(len(window.decisions.pending())))
    pressed = []
    for _ in range(3):
        qtbot.waitUntil(lambda: window.ui.approve_button.isEnabled(), timeout=WAIT)
        doc = window.current_document()
        pressed.append((doc.enrollment_id, doc.document_type))
        QTest.keyClick(window.ui.queue_table, Qt.Key.Key_A)
    assert pressed == [(sipho, "id_document"), (sipho, "matric_certificate"), (lerato, "id_document")]
    assert max(on_their_way) >= 2  # taken while an earlier one was still on its way
    settle(qtbot, window)
    assert _decisions(db, sipho, sql_guard) == [("id_document", "approved"), ("matric_certificate", "approved")]
    assert _decisions(db, lerato, sql_guard) == [("id_document", "approved")]
    assert _claim_row(db, sipho, sql_guard).document_verification_state == "verified"
    assert _claim_row(db, lerato, sql_guard).claimed_by_user_id == world["officer"]
    assert window.review.claim_for(lerato) is not None and len(window.outbox) == 0


def test_super_admin_releases_a_claim(qtbot, office, sql_guard):
    world, db = office["world"], office["db"]
    lerato = world["enrollments"]["Lerato Mokoena"]
    with sql_guard.paused():
        held = claims.claim(db, world["thandi"], lerato)
    boss = office["open"](world["boss"])
    assert boss.actions["release_claim"].isVisible()
    model = boss.queue_model
    qtbot.waitUntil(
        lambda: model.holder_text(model.row_at(model.row_of(lerato))) == "Being reviewed by Thandi Nkosi",
        timeout=WAIT,
    )
    assert boss._current_id != lerato  # released from the queue's context menu, not while open
    boss.ask_release_claim(lerato)  # asks first, naming who loses the claim
    qtbot.waitUntil(lambda: boss.release_box is not None and boss.release_box.isVisible(), timeout=WAIT)
    assert "Release Thandi Nkosi's claim on Lerato Mokoena?" in boss.release_box.text()
    boss.release_box.button(boss.release_box.StandardButton.Cancel).click()
    assert _claim_row(db, lerato, sql_guard).claim_token is not None
    boss.ask_release_claim(lerato)
    qtbot.waitUntil(lambda: boss.release_box is not None and boss.release_box.isVisible(), timeout=WAIT)
    [release] = [b for b in boss.release_box.buttons() if b.text() == "Release claim"]
    release.click()
    qtbot.waitUntil(lambda: _claim_row(db, lerato, sql_guard).claim_token is None, timeout=WAIT)
    qtbot.waitUntil(lambda: model.holder_text(model.row_at(model.row_of(lerato))) is None, timeout=WAIT)
    assert "Released Thandi Nkosi's claim" in boss.statusBar().currentMessage()
    # Thandi's next renewal says what happened.
    with sql_guard.paused(), pytest.raises(claims.ClaimConflict, match="released by a super admin"):
        claims.renew(db, held)
    officer = office["open"](world["thandi"])
    assert not officer.actions["release_claim"].isVisible()


@pytest.mark.slow
def test_connection_dropped_during_a_decision(qtbot, office, sql_guard, migrated_pg_url):
    from tests.pg.tcp_proxy import TcpProxy

    world, store = office["world"], office["store"]
    proxy = TcpProxy(migrated_pg_url.host or "127.0.0.1", migrated_pg_url.port or 5432).start()
    remote = Database(proxy.url(migrated_pg_url))
    sql_guard.protect(remote)
    try:
        window = office["open"](world["officer_one"], db=remote, poll_ms=3_600_000)
        sipho = world["enrollments"]["Sipho Dlamini"]
        qtbot.waitUntil(lambda: window.review.claim_for(sipho) is not None, timeout=WAIT)
        window.ui.save_and_next.setChecked(False)
        admin_url = migrated_pg_url.set(drivername="postgresql").render_as_string(hide_password=False)
        with (
            psycopg.connect(admin_url, autocommit=True) as admin,
            psycopg.connect(admin_url) as blocker,
        ):
            # Another transaction holds Sipho's row, so the decision stops half-way...
            blocker.execute("SELECT id FROM cohort_enrollments WHERE id = %s FOR UPDATE", (sipho,))
            window.approve()

            def waiting() -> list[int]:
                return [
                    pid
                    for (pid,) in admin.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND application_name = 'cohortdesk' AND wait_event_type = 'Lock'"
                    ).fetchall()
                ]

            qtbot.waitUntil(lambda: bool(waiting()), timeout=WAIT)
            # ...and there the network drops and its backend is terminated.
            proxy.drop()
            for pid in waiting():
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            blocker.rollback()
            qtbot.waitUntil(lambda: window.connection.banner.isVisible(), timeout=WAIT)
            assert window.connection.banner.text().startswith("Offline — reconnecting")
            assert not window.ui.approve_button.isEnabled()
            assert "Offline" in window.ui.approve_button.toolTip()
            assert len(window.outbox) == 1
            assert _decisions(office["db"], sipho, sql_guard) == []
            proxy.restore()
            qtbot.waitUntil(lambda: not window.connection.banner.isVisible(), timeout=WAIT)
            qtbot.waitUntil(lambda: len(window.outbox) == 0, timeout=WAIT)
            settle(qtbot, window)
        assert _decisions(office["db"], sipho, sql_guard) == [("id_document", "approved")]
        qtbot.waitUntil(lambda: window.review.claim_for(sipho) is not None, timeout=WAIT)
        # Back online and still on the approved document: Reject (a change) is possible again; a second
        # approval is not, since there is nothing to change.
        qtbot.waitUntil(lambda: window.ui.reject_button.isEnabled(), timeout=WAIT)
        assert not window.ui.approve_button.isEnabled()
        assert window.ui.approve_button.toolTip() == "This document is already approved."
        assert store is not None
    finally:
        window.close()
        proxy.stop()
        remote.dispose()

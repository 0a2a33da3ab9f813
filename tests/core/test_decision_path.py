"""The one decision path on both backends: permission check, review notes, changing a decision, undo
as a reversal on the append-only trail, the history rows, and the outbox replay's permission check."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select, update

from cohortdesk.db import Database
from cohortdesk.errors import ConflictError, PermissionDenied, ValidationError
from cohortdesk.models import DocumentVerification, InstallSetting
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import claims, queue
from cohortdesk.services.review import decisions as vs
from tests import review_factories


@pytest.fixture
def store(tmp_path) -> DocumentStore:
    return DocumentStore(tmp_path / "storage")


@pytest.fixture
def world(db: Database, store: DocumentStore):
    return review_factories.review_queue(db, store, packs=2, documents=("id_document", "matric_certificate"))


def _cmd(world, document: str, action: str, **kw) -> vs.DecisionCommand:
    reason = "Not certified" if action == "rejected" else None
    return vs.DecisionCommand(world["enrollment"].id, document, action, reason=reason, **kw)


def _rows(db: Database) -> int:
    with db.read_session() as s:
        return s.scalar(select(func.count()).select_from(DocumentVerification))


def test_a_review_note_and_the_login_are_kept_and_shown_in_history(db: Database, world):
    alice = world["alice"]
    result = vs.record_decision(
        db, _cmd(world, "id_document", "rejected", internal_note="  Stamp is faint.  "), alice
    )
    assert result.verification.internal_note == "Stamp is faint."
    assert result.verification.login == (alice.db_role or claims.LOCAL_LOGIN) or db.dialect == "postgresql"
    [row] = vs.history(db, world["enrollment"].id)
    assert (row.action, row.reason, row.internal_note, row.admin_name) == (
        "rejected",
        "Not certified",
        "Stamp is faint.",
        "Officer One",
    )
    assert row.login and not row.undone
    assert result.latest["id_document"].action == "rejected"
    assert result.next_pending_id == world["enrollments"][1].id


def test_changing_a_decision_keeps_both_in_history(db: Database, world):
    alice = world["alice"]
    vs.record_decision(db, _cmd(world, "id_document", "rejected"), alice)
    vs.record_decision(db, _cmd(world, "matric_certificate", "approved"), alice)
    changed = vs.record_decision(db, _cmd(world, "id_document", "approved"), alice)
    assert changed.enrollment.document_verification_state == "verified"
    assert changed.enrollment.rejection_reason is None
    assert [(h.document_type, h.action) for h in vs.history(db, world["enrollment"].id)] == [
        ("id_document", "approved"),
        ("matric_certificate", "approved"),
        ("id_document", "rejected"),
    ]


def test_undo_is_a_reversal_and_the_state_is_derived_without_the_undone_decision(db: Database, world):
    alice, bob = world["alice"], world["bob"]
    eid = world["enrollment"].id
    vs.record_decision(db, _cmd(world, "matric_certificate", "approved"), alice)
    rejected = vs.record_decision(db, _cmd(world, "id_document", "rejected"), alice)
    assert rejected.enrollment.document_verification_state == "rejected"
    # Somebody else cannot undo it.
    with pytest.raises(ConflictError, match="only the officer who made a decision"):
        vs.undo_last(db, bob, eid, decision_id=rejected.verification.id)
    undone = vs.undo_last(db, alice, eid, internal_note="wrong document")
    assert (
        undone.verification.action == "reversal"
        and undone.verification.reverses_id == rejected.verification.id
    )
    assert undone.enrollment.document_verification_state == "pending"
    assert undone.enrollment.rejection_reason is None
    assert "id_document" not in undone.latest
    history = vs.history(db, eid)
    assert [h.action for h in history] == ["reversal", "rejected", "approved"]
    assert history[1].undone and history[1].reversed_by_id == undone.verification.id
    assert history[0].internal_note == "wrong document"
    docs = {d.document_type: d for d in queue.documents(db, eid)}
    assert (
        docs["id_document"].latest_action is None and docs["matric_certificate"].latest_action == "approved"
    )
    # The next undo takes back the approval before it; a third finds nothing of alice's left.
    again = vs.undo_last(db, alice, eid)
    assert again.verification.reverses_id != rejected.verification.id
    with pytest.raises(ConflictError, match="Nothing was undone"):
        vs.undo_last(db, alice, eid)
    assert _rows(db) == 4  # two decisions, two reversals: nothing deleted


def test_undo_only_within_the_window(db: Database, world):
    alice = world["alice"]
    vs.record_decision(db, _cmd(world, "id_document", "approved"), alice)
    with db.session() as s:
        s.execute(update(InstallSetting).where(InstallSetting.key == "undo_window_seconds").values(value="0"))
    with pytest.raises(ConflictError, match="only within 0 seconds"):
        vs.undo_last(db, alice, world["enrollment"].id)


def test_undo_under_a_claim_and_a_retried_undo_is_recorded_once(db: Database, world):
    alice = world["alice"]
    eid = world["enrollment"].id
    claim = claims.claim(db, alice, eid)
    decided = vs.record_decision(db, _cmd(world, "id_document", "approved", claim=claim), alice)
    undo = vs.DecisionCommand(eid, "", "undo", claim=decided.claim).with_key()
    first = vs.record_decision(db, undo, alice)
    second = vs.record_decision(db, undo, alice)
    assert second.duplicate and second.verification.id == first.verification.id
    assert first.claim is not None and first.claim.row_version == first.enrollment.row_version
    assert _rows(db) == 2


def test_only_deciders_decide_and_the_replay_checks_too(db: Database, world):
    eid = world["enrollment"].id
    viewer = review_factories.officer_identity(db, world["account"], world["officer"], "report_viewer")
    nobody = replace(world["alice"], user_id=None)
    for who in (viewer, nobody):
        with pytest.raises(PermissionDenied):
            vs.record_decision(db, _cmd(world, "id_document", "approved"), who)
    outbox = vs.DecisionOutbox()
    kept = outbox.add(_cmd(world, "id_document", "approved"))
    [(sent, result, error)] = outbox.replay(db, viewer)
    assert sent is kept and result is None and isinstance(error, PermissionDenied)
    assert len(outbox) == 0 and _rows(db) == 0
    with pytest.raises(ValidationError, match="reason"):
        vs.record_decision(
            db, vs.DecisionCommand(eid, "id_document", "rejected", reason="  "), world["alice"]
        )

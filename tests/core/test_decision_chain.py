"""The decision chain under changes by somebody else, on SQLite and PostgreSQL: quick presses are
carried across the officer's own decisions only; a re-upload, another officer's claim or an undo
between them refuses the ones after it, and a retry is recorded once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from cohortdesk.db import Database
from cohortdesk.errors import ClaimConflict, ConflictError
from cohortdesk.models import CohortEnrollment, DocumentVerification
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import claims
from cohortdesk.services.review import decisions as vs
from tests import review_factories
from tests.factories import upload

DOCS = ("id_document", "matric_certificate", "proof_of_address")


@pytest.fixture
def store(tmp_path) -> DocumentStore:
    return DocumentStore(tmp_path / "storage")


@pytest.fixture
def world(db: Database, store: DocumentStore):
    return review_factories.review_queue(db, store, packs=2, documents=DOCS)


def _press(claim, document: str, key: str, **kw) -> vs.DecisionCommand:
    return vs.DecisionCommand(
        enrollment_id=claim.enrollment_id,
        document_type=document,
        action="approved",
        claim=claim,
        idempotency_key=key,
        **kw,
    )


def _recorded(db: Database) -> list[tuple[str, str]]:
    with db.read_session() as s:
        rows = s.execute(
            select(DocumentVerification.document_type, DocumentVerification.action).order_by(
                DocumentVerification.id
            )
        )
        return [tuple(r) for r in rows]


def _reupload(db: Database, store: DocumentStore, enrollment_id: int, document: str) -> None:
    with db.session() as s:
        enrollment = s.get(CohortEnrollment, enrollment_id)
        uploaded = dict(enrollment.uploaded_documents)
        uploaded[document] = upload(store, f"{document}-2.pdf", b"%PDF-1.4 another file")
        enrollment.uploaded_documents = uploaded


def test_a_reupload_between_quick_presses_refuses_the_rest(db: Database, store, world):
    alice = world["alice"]
    claim = claims.claim_next(db, alice)
    chain = vs.DecisionChain()
    first, second, third = (_press(claim, d, f"k{n}") for n, d in enumerate(DOCS))
    chain.send(db, first, alice)
    _reupload(db, store, claim.enrollment_id, "matric_certificate")  # the learner, meanwhile
    for press in (second, third):
        with pytest.raises((ClaimConflict, ConflictError), match="changed since you opened it"):
            chain.send(db, press, alice)
    assert _recorded(db) == [("id_document", "approved")]


def test_a_reupload_before_the_first_answer_refuses_every_press(db: Database, store, world):
    alice = world["alice"]
    claim = claims.claim_next(db, alice)
    chain = vs.DecisionChain()
    _reupload(db, store, claim.enrollment_id, "proof_of_address")
    for n, d in enumerate(DOCS):
        with pytest.raises((ClaimConflict, ConflictError)):
            chain.send(db, _press(claim, d, f"k{n}"), alice)
    assert _recorded(db) == []


def test_a_claim_taken_over_between_presses_refuses_the_rest(db: Database, world):
    alice, bob = world["alice"], world["bob"]
    claim = claims.claim_next(db, alice)
    chain = vs.DecisionChain()
    chain.send(db, _press(claim, "id_document", "k1"), alice)
    with db.session() as s:
        s.execute(
            update(CohortEnrollment.__table__)
            .where(CohortEnrollment.__table__.c.id == claim.enrollment_id)
            .values(claim_expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    bobs = claims.claim(db, bob, claim.enrollment_id)
    chain.send(db, _press(bobs, "matric_certificate", "b1"), bob)  # Bob decides meanwhile
    with pytest.raises(ClaimConflict):
        chain.send(db, _press(claim, "matric_certificate", "k2"), alice)
    with pytest.raises(ClaimConflict):
        chain.send(db, _press(claim, "proof_of_address", "k3"), alice)
    # A forged claim carrying Alice's chain but Bob's version is still refused by the token check.
    forged = replace(claim, row_version=bobs.row_version + 1)
    with pytest.raises(ClaimConflict):
        chain.send(db, _press(forged, "proof_of_address", "k4"), alice)
    assert _recorded(db) == [("id_document", "approved"), ("matric_certificate", "approved")]


def test_an_undo_not_made_by_the_chain_refuses_the_presses_after_it(db: Database, world):
    alice = world["alice"]
    claim = claims.claim_next(db, alice)
    chain = vs.DecisionChain()
    done = chain.send(db, _press(claim, "id_document", "k1"), alice)
    vs.undo_last(db, alice, claim.enrollment_id, claim=done.claim)  # e.g. from another window
    with pytest.raises((ClaimConflict, ConflictError)):
        chain.send(db, _press(claim, "matric_certificate", "k2"), alice)
    assert _recorded(db) == [("id_document", "approved"), ("id_document", "reversal")]


def test_a_lost_answer_is_recorded_once_and_never_carries_a_foreign_change(db: Database, store, world):
    """The first press went through but its answer was lost; the learner re-uploads; the replay
    finds it by its key (recorded once) and the press after it is refused, not carried."""
    alice = world["alice"]
    claim = claims.claim_next(db, alice)
    outbox = vs.DecisionOutbox()
    first = outbox.add(_press(claim, "id_document", "k1"))
    outbox.add(_press(claim, "matric_certificate", "k2"))
    vs.record_decision(db, first, alice)  # the write arrived; the workstation never heard back
    _reupload(db, store, claim.enrollment_id, "matric_certificate")
    outcomes = outbox.replay(db, alice)
    assert outcomes[0][1] is not None and outcomes[0][1].duplicate
    assert outcomes[1][1] is None and isinstance(outcomes[1][2], ClaimConflict | ConflictError)
    assert len(outbox) == 0
    assert _recorded(db) == [("id_document", "approved")]


def test_without_a_claim_only_own_moves_are_carried(db: Database, store, world):
    """No claim (the version read is the condition): same rule."""
    alice = world["alice"]
    eid = world["enrollments"][1].id
    with db.read_session() as s:
        seen = s.get(CohortEnrollment, eid).row_version
    chain = vs.DecisionChain()

    def press(document: str, key: str) -> vs.DecisionCommand:
        return vs.DecisionCommand(eid, document, "approved", expected_row_version=seen, idempotency_key=key)

    chain.send(db, press("id_document", "n1"), alice)
    chain.send(db, press("matric_certificate", "n2"), alice)
    _reupload(db, store, eid, "proof_of_address")
    with pytest.raises(ConflictError):
        chain.send(db, press("proof_of_address", "n3"), alice)
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(DocumentVerification)) == 2

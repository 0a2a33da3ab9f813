"""Re-upload after a rejection, and rejecting after the learner completed (docs/notifications.md)."""

from __future__ import annotations

import pytest

from cohortdesk.db import Database
from cohortdesk.models import CohortEnrollment
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.notify import outbox
from cohortdesk.services.review import decisions as vs
from cohortdesk.services.review import queue
from tests import review_factories
from tests.factories import upload


@pytest.fixture
def store(tmp_path) -> DocumentStore:
    return DocumentStore(tmp_path / "storage")


def _decide(db: Database, world, enrollment_id: int, document: str, action: str, reason: str | None = None):
    return vs.record_decision(
        db,
        vs.DecisionCommand(
            enrollment_id=enrollment_id,
            document_type=document,
            action=action,
            reason=reason,
        ),
        world["bob"],
    )


def _learner_uploads_again(db: Database, store: DocumentStore, enrollment_id: int, document: str) -> None:
    """What DocuSeal does when the learner uploads a new file: the enrollment's entry changes."""
    with db.session() as s:
        enrollment = s.get(CohortEnrollment, enrollment_id)
        uploaded = dict(enrollment.uploaded_documents)
        uploaded[document] = upload(store, f"{document}-2.pdf", b"%PDF-1.4 a certified copy this time")
        enrollment.uploaded_documents = uploaded


def test_a_reupload_returns_the_document_to_pending_and_keeps_both_decisions(db: Database, store):
    world = review_factories.review_queue(db, store, packs=1, documents=("id_document", "matric_certificate"))
    eid = world["enrollment"].id
    _decide(db, world, eid, "matric_certificate", "approved")
    first = _decide(db, world, eid, "id_document", "rejected", "The copy is not certified.")
    assert first.enrollment.document_verification_state == "rejected"
    before = queue.queue_row(db, eid)
    assert not before.resubmitted
    _learner_uploads_again(db, store, eid, "id_document")
    row = queue.queue_row(db, eid)
    assert row.verification_state == "pending" and row.resubmitted
    assert row.waiting_since is not None and (
        before.waiting_since is None or row.waiting_since >= before.waiting_since
    )
    docs = {d.document_type: d for d in queue.documents(db, eid)}
    assert docs["id_document"].latest_action == "rejected" and not docs["id_document"].decision_current
    assert docs["matric_certificate"].decision_current  # untouched document keeps its approval
    _decide(db, world, eid, "id_document", "approved")
    assert queue.queue_row(db, eid).verification_state == "verified"
    history = [(h.document_type, h.action) for h in vs.history(db, eid)]
    assert history[:2] == [("id_document", "approved"), ("id_document", "rejected")]
    # An unchanged file (same checksum) or a document nobody decided on changes nothing.
    with db.session() as s:
        enrollment = s.get(CohortEnrollment, eid)
        enrollment.uploaded_documents = {
            **enrollment.uploaded_documents,
            "cv": upload(store, "cv.pdf", b"%PDF cv"),
        }
    assert queue.queue_row(db, eid).verification_state == "verified"


def test_rejecting_after_the_learner_completed_keeps_the_workflow_state(db: Database, store):
    world = review_factories.review_queue(db, store, packs=1, documents=("id_document",))
    eid = world["enrollment"].id
    with db.session() as s:
        s.get(CohortEnrollment, eid).state = "complete"
    result = _decide(db, world, eid, "id_document", "rejected", "Page 2 is missing.")
    assert result.enrollment.document_verification_state == "rejected"
    with db.read_session() as s:
        assert s.get(CohortEnrollment, eid).state == "complete"
    (row,) = outbox.rows(db)
    assert row.kind == "rejection" and row.reason == "Page 2 is missing."
    _learner_uploads_again(db, store, eid, "id_document")
    assert queue.queue_row(db, eid).verification_state == "pending"

"""The cohort dashboard's figures on both backends, from data built the way users build it: enrollments,
uploads, officers' decisions, a learner who signed while the sponsor has not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cohortdesk.db import Database
from cohortdesk.errors import NotFoundError
from cohortdesk.models import CohortEnrollment
from cohortdesk.models.docuseal import Submission, Submitter
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.reports import dashboard
from cohortdesk.services.review import decisions as vs
from tests import review_factories
from tests.factories import account, template, upload, user

DOCS = ("id_document", "matric_certificate")


def signed_by_learner_only(db: Database, account_id: int, learner: str, sponsor: str) -> int:
    """The main agreement as DocuSeal keeps it after the learner signed and before the sponsor did."""
    with db.session() as s:
        sub = Submission(account_id=account_id, template_id=None, slug=uuid.uuid4().hex[:14])
        s.add(sub)
        s.flush()
        for email, done in ((learner, datetime.now(UTC) - timedelta(days=4)), (sponsor, None)):
            s.add(
                Submitter(
                    submission_id=sub.id,
                    account_id=account_id,
                    uuid=str(uuid.uuid4()),
                    slug=uuid.uuid4().hex[:14],
                    email=email,
                    completed_at=done,
                )
            )
        return sub.id


@pytest.fixture
def world(db: Database, tmp_path):
    store = DocumentStore(tmp_path / "storage")
    acc = account(db)
    officer = user(db, acc, "Sipho", "Dlamini")
    inst = ce.create_institution(db, ce.NewInstitution(account_id=acc, name="Acme Training")).row
    now = datetime.now(UTC)
    cohort = ce.create_cohort(
        db,
        ce.NewCohort(
            institution_id=inst.id,
            name="Q1 2026 Learnership",
            program_type="learnership",
            student_count=10,
            main_template_id=template(db, acc, officer),
            required_document_types=DOCS,
            sponsor_email="hr@sponsor.example",
            start_date=now,
            end_date=now + timedelta(days=365),
        ),
    ).row
    ce.change_cohort_state(db, cohort.id, "active")
    learners = {}
    for name in ("done", "rejected", "nothing", "to_check", "sponsor"):
        email = f"{name}@learner.example"
        person = user(db, acc, name.title(), "Learner", email=email)
        uploads = (
            {}
            if name == "nothing"
            else {d: upload(store, f"{d}.pdf", f"%PDF {d} {name}".encode()) for d in DOCS}
        )
        submission = (
            signed_by_learner_only(db, acc, email, "hr@sponsor.example") if name == "sponsor" else None
        )
        learners[name] = ce.enroll(
            db,
            ce.NewEnrollment(
                cohort_id=cohort.id, user_id=person, uploaded_documents=uploads, submission_id=submission
            ),
        ).row

    def decide(name: str, document: str, action: str) -> None:
        vs.record_decision(
            db,
            vs.DecisionCommand(
                enrollment_id=learners[name].id,
                document_type=document,
                action=action,
                reason="The copy is not certified." if action == "rejected" else None,
            ),
            review_factories.identity_for_user(db, officer),
        )

    for name in ("done", "sponsor"):
        for document in DOCS:
            decide(name, document, "approved")
    decide("rejected", "id_document", "approved")
    decide("rejected", "matric_certificate", "rejected")
    ce.change_enrollment_state(db, learners["done"].id, "in_progress")
    ce.change_enrollment_state(db, learners["done"].id, "complete")
    return {"institution": inst, "cohort": cohort, "learners": learners}


def test_totals_stages_and_where_learners_are_stuck(db: Database, world):
    data = dashboard.institution_dashboard(db, world["institution"].id)
    assert (data.institution_name, data.scope_name) == ("Acme Training", "All cohorts")
    assert (data.total, data.active, data.completed, data.not_started) == (5, 4, 1, 0)
    assert data.awaiting_sponsor.count == 1 and 3.9 < (data.awaiting_sponsor.median_days or 0) < 4.1
    assert data.completion_sample == 1 and data.average_completion_days is not None
    assert data.average_completion_days < 0.1  # enrolled and finished within this test
    stages = {s.key: s.count for s in data.stages}
    assert stages == {
        "reupload": 1,
        "uploads": 1,
        "check": 1,
        "learner_signature": 0,
        "sponsor": 1,
        "institution": 0,
    }
    stuck = {d.document_type: d for d in data.stuck}
    assert stuck["matric_certificate"].rejected.count == 1
    assert stuck["matric_certificate"].missing.count == 1 and stuck["id_document"].missing.count == 1
    assert stuck["id_document"].to_check.count == 1 and stuck["matric_certificate"].to_check.count == 1
    assert stuck["id_document"].rejected.count == 0
    assert data.stuck[0].document_type == "matric_certificate"  # most stuck learners first
    assert [c.name for c in data.cohorts] == ["Q1 2026 Learnership"]
    assert data.missing_uploads == ((world["learners"]["nothing"].id, "Nothing Learner"),)


def test_one_cohort_and_a_re_upload_after_a_rejection(db: Database, world, tmp_path):
    store = DocumentStore(tmp_path / "storage")
    with db.session() as s:  # what DocuSeal does when the learner uploads a new file
        enrollment = s.get(CohortEnrollment, world["learners"]["rejected"].id)
        uploaded = dict(enrollment.uploaded_documents)
        uploaded["matric_certificate"] = upload(store, "matric-2.pdf", b"%PDF a better scan")
        enrollment.uploaded_documents = uploaded
    data = dashboard.institution_dashboard(db, world["institution"].id, world["cohort"].id)
    assert data.scope_name == "Q1 2026 Learnership"
    stuck = {d.document_type: d for d in data.stuck}
    assert stuck["matric_certificate"].rejected.count == 0  # the new file waits for a check instead
    assert stuck["matric_certificate"].to_check.count == 2
    assert {s.key: s.count for s in data.stages}["check"] == 2


def test_unknown_scope_is_worded(db: Database, world):
    with pytest.raises(NotFoundError, match="no institution"):
        dashboard.institution_dashboard(db, 999_999)
    with pytest.raises(NotFoundError, match="no cohort"):
        dashboard.institution_dashboard(db, world["institution"].id, 999_999)

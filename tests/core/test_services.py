"""Every service path, on SQLite and on a real PostgreSQL (the ``db`` fixture runs both)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from cohortdesk.db import Database
from cohortdesk.errors import ConflictError, InvalidTransition, NotFoundError, StorageError, ValidationError
from cohortdesk.models import DocumentVerification
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import decisions as vs
from tests import factories, review_factories


@pytest.fixture
def store(tmp_path) -> DocumentStore:
    return DocumentStore(tmp_path / "storage")


@pytest.fixture
def world(db: Database, store: DocumentStore):
    return factories.setup_cohort(db, store)


def _decide(db, world, doc, action, reason=None, **kw):
    return vs.record_decision(
        db,
        vs.DecisionCommand(
            enrollment_id=world["enrollment"].id,
            document_type=doc,
            action=action,
            reason=reason,
            **kw,
        ),
        review_factories.identity_for_user(db, world["officer"]),
    )


def test_cohort_state_machine(db: Database, world):
    cohort = world["cohort"]
    assert cohort.state == "draft"
    active = ce.change_cohort_state(db, cohort.id, "active", cohort.row_version).row
    assert active.state == "active" and active.admin_signed_at is not None
    with pytest.raises(InvalidTransition, match="active cohort can only become"):
        ce.change_cohort_state(db, cohort.id, "draft")
    assert ce.change_cohort_state(db, cohort.id, "completed").row.state == "completed"
    with pytest.raises(InvalidTransition):
        ce.change_cohort_state(db, cohort.id, "cancelled")
    assert ce.get_cohort(db, cohort.id).state == "completed"


def test_activation_guard_writes_nothing(db: Database, world):
    bare = ce.create_cohort(
        db, ce.NewCohort(institution_id=world["institution"].id, name="Bare", program_type="internship")
    ).row
    with pytest.raises(InvalidTransition, match="main agreement template"):
        ce.change_cohort_state(db, bare.id, "active")
    assert ce.get_cohort(db, bare.id).state == "draft"
    assert ce.get_cohort(db, bare.id).row_version == bare.row_version


def test_stale_cohort_version_is_refused(db: Database, world):
    cohort = world["cohort"]
    moved = ce.change_cohort_state(db, cohort.id, "active", cohort.row_version).row
    if db.dialect != "postgresql":
        # The embedded store keeps the server's row_version through local edits (a laptop's base for
        # sync), so there a stale version is one that differs from the stored one.
        assert moved.row_version == cohort.row_version
        with pytest.raises(ConflictError):
            ce.change_cohort_state(db, cohort.id, "cancelled", cohort.row_version + 1)
        return
    with pytest.raises(ConflictError):
        ce.change_cohort_state(db, cohort.id, "cancelled", cohort.row_version)


def test_enrollment_state_machine(db: Database, world):
    e = world["enrollment"]
    with pytest.raises(InvalidTransition):
        ce.change_enrollment_state(db, e.id, "complete")
    assert ce.change_enrollment_state(db, e.id, "in_progress").row.state == "in_progress"
    assert ce.change_enrollment_state(db, e.id, "complete").row.state == "complete"
    with pytest.raises(InvalidTransition):
        ce.change_enrollment_state(db, e.id, "waiting")


def test_bad_inputs_name_the_field(db: Database, world):
    with pytest.raises(ValidationError, match="program_type"):
        ce.create_cohort(
            db, ce.NewCohort(institution_id=world["institution"].id, name="X", program_type="bootcamp")
        )
    with pytest.raises(ValidationError, match="sponsor_email"):
        ce.create_cohort(
            db,
            ce.NewCohort(
                institution_id=world["institution"].id,
                name="X",
                program_type="internship",
                sponsor_email="not-an-email",
            ),
        )
    with pytest.raises(ValidationError, match="user_id"):
        ce.enroll(db, ce.NewEnrollment(cohort_id=world["cohort"].id, user_id=world["student"]))
    with pytest.raises(NotFoundError):
        ce.get_cohort(db, 999_999)


def test_decisions_drive_verification_state(db: Database, world):
    first = _decide(db, world, "id_document", "approved")
    assert first.enrollment.document_verification_state == "pending"
    second = _decide(db, world, "matric_certificate", "approved")
    assert second.enrollment.document_verification_state == "verified"
    assert second.changes.enrollment_ids == {world["enrollment"].id}
    third = _decide(db, world, "id_document", "rejected", "Not certified")
    assert third.enrollment.document_verification_state == "rejected"
    assert "Not certified" in third.enrollment.rejection_reason
    fourth = _decide(db, world, "id_document", "approved")
    assert fourth.enrollment.document_verification_state == "verified"
    assert fourth.enrollment.rejection_reason is None
    history = vs.history(db, world["enrollment"].id)
    assert [h.action for h in history] == ["approved", "rejected", "approved", "approved"]
    assert history[0].admin_name == "Officer One"


def test_reject_needs_a_reason_and_writes_nothing(db: Database, world):
    with pytest.raises(ValidationError, match="reason"):
        _decide(db, world, "id_document", "rejected", "   ")
    with pytest.raises(ValidationError, match="action"):
        _decide(db, world, "id_document", "maybe")
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(DocumentVerification)) == 0


def test_stale_decision_refused(db: Database, world):
    version = world["enrollment"].row_version
    _decide(db, world, "id_document", "approved", expected_row_version=version)
    with pytest.raises(ConflictError, match="changed since you opened it"):
        _decide(db, world, "matric_certificate", "approved", expected_row_version=version)


def test_idempotent_retry(db: Database, world):
    one = _decide(db, world, "id_document", "approved", idempotency_key="k-1")
    two = _decide(db, world, "id_document", "approved", idempotency_key="k-1")
    assert two.duplicate and two.verification.id == one.verification.id
    assert len(vs.history(db, world["enrollment"].id)) == 1


def test_storage_checks_bytes(world, store: DocumentStore):
    upload = world["enrollment"].uploaded_documents["id_document"]
    assert store.read(upload).startswith(b"%PDF")
    path = store.path_for_key(upload["storage_key"])
    assert path.parent.parent.name == upload["storage_key"][0:2]
    path.write_bytes(b"tampered")
    with pytest.raises(StorageError, match="bytes but was uploaded"):
        store.read(upload)
    path.unlink()
    with pytest.raises(StorageError, match="missing"):
        store.read(upload)


@pytest.mark.pg
def test_verifications_are_append_only_on_postgresql(pg_db: Database, store: DocumentStore):
    world = factories.setup_cohort(pg_db, store)
    _decide(pg_db, world, "id_document", "approved")
    for statement in (
        "UPDATE document_verifications SET reason = 'x'",
        "DELETE FROM document_verifications",
        "TRUNCATE document_verifications CASCADE",
    ):
        with pytest.raises(Exception, match="append-only"), pg_db.engine.begin() as conn:
            conn.execute(text(statement))

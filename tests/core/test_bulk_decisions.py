"""Bulk decisions: each enrollment under its own claim and the one decision path; what another officer
holds is skipped and said so; the plan says beforehand exactly what will change."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from cohortdesk.db import Database
from cohortdesk.errors import ValidationError
from cohortdesk.models import CohortEnrollment, DocumentVerification
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.notify import outbox
from cohortdesk.services.review import bulk, claims
from tests import review_factories
from tests.factories import user


@pytest.fixture
def store(tmp_path) -> DocumentStore:
    return DocumentStore(tmp_path / "storage")


def _decisions(db: Database) -> Counter[int]:
    with db.read_session() as s:
        rows = s.execute(
            select(DocumentVerification.cohort_enrollment_id, func.count()).group_by(
                DocumentVerification.cohort_enrollment_id
            )
        ).all()
    return Counter(dict(rows))


def test_plan_then_run_approves_what_waits_and_skips_what_another_officer_holds(db: Database, store):
    world = review_factories.review_queue(db, store, packs=4, documents=("id_document", "matric_certificate"))
    alice, bob = world["alice"], world["bob"]
    ids = tuple(e.id for e in world["enrollments"])
    held = claims.claim(db, bob, ids[1])
    request = bulk.BulkRequest(enrollment_ids=ids, action="approved")
    planned = bulk.plan(db, alice, request)
    assert planned.summary(planned=True) == "This will approve 6 document(s) of 3 learner(s). 1 skipped."
    assert [i.skipped for i in planned.items].count(None) == 3
    assert planned.items[1].skipped == "Sipho Dlamini is reviewing it."
    done = bulk.run(db, alice, request)
    assert done.summary() == "6 document(s) of 3 learner(s) approved. 1 skipped."
    assert done.items[1].skipped == "Sipho Dlamini is reviewing it." and done.items[1].documents == ()
    assert _decisions(db) == Counter({ids[0]: 2, ids[2]: 2, ids[3]: 2})
    with db.read_session() as s:
        states = dict(
            s.execute(select(CohortEnrollment.id, CohortEnrollment.document_verification_state)).all()
        )
        bobs = s.get(CohortEnrollment, ids[1])
        assert bobs.claim_token == held.token  # untouched
        assert all(
            s.get(CohortEnrollment, i).claim_token is None for i in (ids[0], ids[2], ids[3])
        )  # every bulk claim was given back
    assert [states[i] for i in ids] == ["verified", "pending", "verified", "verified"]
    # Again: nothing left to approve, and said so.
    again = bulk.run(db, alice, request)
    assert again.done == [] and "Nothing to approve" in (again.items[0].skipped or "")


def test_bulk_reject_uses_one_reason_and_each_learner_is_told(db: Database, store):
    world = review_factories.review_queue(db, store, packs=3, documents=("id_document", "matric_certificate"))
    ids = tuple(e.id for e in world["enrollments"])
    with pytest.raises(ValidationError, match="reason"):
        bulk.plan(db, world["alice"], bulk.BulkRequest(ids, "rejected", ("id_document",)))
    request = bulk.BulkRequest(
        ids,
        "rejected",
        ("id_document",),
        reason="The copy is not certified.",
        internal_note="batch from the 9th",
    )
    result = bulk.run(db, world["alice"], request)
    assert result.summary() == "3 document(s) of 3 learner(s) rejected."
    rows = outbox.rows(db)
    assert sorted(r.cohort_enrollment_id for r in rows) == sorted(ids)
    assert {r.reason for r in rows} == {"The copy is not certified."}


@pytest.mark.pg
@pytest.mark.slow
def test_500_approved_while_other_officers_hold_20(pg_db: Database, store):
    world = review_factories.review_queue(pg_db, store, packs=500)
    ids = tuple(e.id for e in world["enrollments"])
    held_ids = ids[::25]  # 20 packs, spread through the selection
    # A login holds one running claim at a time, so twenty colleagues hold one each.
    colleagues = [
        review_factories.officer_identity(
            pg_db, world["account"], user(pg_db, world["account"], "Colleague", str(n))
        )
        for n in range(20)
    ]
    for colleague, enrollment_id in zip(colleagues, held_ids, strict=True):
        claims.claim(pg_db, colleague, enrollment_id)
    result = bulk.run(pg_db, world["alice"], bulk.BulkRequest(ids, "approved"))
    assert len(result.done) == 480 and len(result.skipped) == 20
    assert {i.enrollment_id for i in result.skipped} == set(held_ids)
    assert {i.skipped for i in result.skipped} == {f"Colleague {n} is reviewing it." for n in range(20)}
    per_pack = _decisions(pg_db)
    assert len(per_pack) == 480 and set(per_pack.values()) == {1}  # 0 doubled
    assert not set(per_pack) & set(held_ids)
    with pg_db.read_session() as s:
        still_held = s.scalar(
            select(func.count()).where(
                CohortEnrollment.id.in_(held_ids),
                CohortEnrollment.claimed_by_user_id.in_([c.user_id for c in colleagues]),
            )
        )
    assert still_held == 20

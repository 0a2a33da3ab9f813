"""Review claims and conditional decisions, on SQLite and PostgreSQL (single caller; races live in
``tests/pg/test_claim_races.py``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from cohortdesk.db import Database
from cohortdesk.errors import ClaimConflict, ConflictError, PermissionDenied, ValidationError
from cohortdesk.models import CohortEnrollment, DocumentVerification
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import claims
from cohortdesk.services.review import decisions as vs
from tests import review_factories


@pytest.fixture
def store(tmp_path) -> DocumentStore:
    return DocumentStore(tmp_path / "storage")


@pytest.fixture
def world(db: Database, store: DocumentStore):
    return review_factories.review_queue(db, store, packs=4)


def _expire(db: Database, claim):
    """Time passes: ``claim``'s lease ran out a minute ago. Returns the claim as its holder now sees it."""
    past = datetime.now(UTC) - timedelta(minutes=1)
    with db.session() as s:
        s.execute(
            update(CohortEnrollment.__table__)
            .where(CohortEnrollment.__table__.c.id == claim.enrollment_id)
            .values(claim_expires_at=past, updated_at=CohortEnrollment.__table__.c.updated_at)
        )
    return replace(claim, expires_at=past, claimed_at=past - timedelta(seconds=claim.lease_seconds))


def _decision(claim, officer, action="approved", reason=None, **kw) -> vs.DecisionCommand:
    return vs.DecisionCommand(
        enrollment_id=claim.enrollment_id,
        document_type="id_document",
        action=action,
        reason=reason,
        claim=claim,
        **kw,
    )


def _count_decisions(db: Database) -> int:
    with db.read_session() as s:
        return s.scalar(select(func.count()).select_from(DocumentVerification))


def test_claim_next_takes_the_oldest_and_skips_held_packs(db: Database, world):
    alice, bob = world["alice"], world["bob"]
    ids = [e.id for e in world["enrollments"]]
    first = claims.claim_next(db, alice)
    assert first is not None and first.enrollment_id == ids[0]
    assert first.user_id == alice.user_id and first.expires_at > datetime.now(UTC)
    second = claims.claim_next(db, bob)
    assert second is not None and second.enrollment_id == ids[1]
    held = claims.active_claims(db, alice)
    assert held[ids[0]].name == "Officer One" and held[ids[0]].mine
    assert held[ids[1]].name == "Sipho Dlamini" and not held[ids[1]].mine
    row = ce.get_enrollment(db, ids[1])
    assert row.claimed_by_user_id == bob.user_id and row.held_at(datetime.now(UTC))


def test_claim_moves_row_version_renewal_does_not(db: Database, world):
    pack = world["enrollments"][0]
    claim = claims.claim(db, world["alice"], pack.id)
    assert claim.row_version == pack.row_version + 1
    renewed = claims.renew(db, claim)
    assert renewed.row_version == claim.row_version and renewed.expires_at >= claim.expires_at
    assert ce.get_enrollment(db, pack.id).row_version == claim.row_version


def test_claim_held_by_someone_else_names_them(db: Database, world):
    pack = world["enrollments"][0]
    claims.claim(db, world["alice"], pack.id)
    with pytest.raises(ClaimConflict, match="Officer One is reviewing this enrollment") as caught:
        claims.claim(db, world["bob"], pack.id)
    assert caught.value.holder == "Officer One"
    # The same officer opening it again (another window, a restart) takes it over.
    again = claims.claim(db, world["alice"], pack.id)
    assert claims.active_claims(db, world["alice"])[pack.id].mine
    assert again.token


def test_decision_under_claim_then_release(db: Database, world):
    alice = world["alice"]
    claim = claims.claim_next(db, alice)
    result = vs.record_decision(db, _decision(claim, alice), alice)
    assert result.enrollment.document_verification_state == "verified"
    assert result.claim is not None and result.claim.row_version == result.enrollment.row_version
    assert claims.release(db, result.claim)
    assert not claims.release(db, result.claim)  # a second release is a no-op
    assert claims.active_claims(db, alice) == {}


def test_decide_and_release_in_one_step(db: Database, world):
    alice = world["alice"]
    claim = claims.claim_next(db, alice)
    result = vs.record_decision(db, _decision(claim, alice, release_claim=True), alice)
    assert result.claim is None
    assert ce.get_enrollment(db, claim.enrollment_id).claimed_by is None
    assert claims.claim_next(db, alice).enrollment_id != claim.enrollment_id


def test_a_second_decision_uses_the_returned_claim(db: Database, store, world):
    alice = world["alice"]
    claim = claims.claim_next(db, alice)
    first = vs.record_decision(db, _decision(claim, alice, "rejected", "Not certified"), alice)
    # The old claim's row_version is stale now; the returned one carries on.
    with pytest.raises(ClaimConflict, match="changed since you opened it"):
        vs.record_decision(db, _decision(claim, alice), alice)
    second = vs.record_decision(db, _decision(first.claim, alice), alice)
    assert second.enrollment.document_verification_state == "verified"


def test_decisions_sent_in_a_row_carry_across_their_own_moves_only(db: Database, world):
    """The workstation sends a second decision before the first is answered, both made on the claim
    as it was; the chain carries the second across the first's move, and nothing else's."""
    alice = world["alice"]
    claim = claims.claim_next(db, alice)
    chain = vs.DecisionChain()
    first = _decision(claim, alice, "rejected", "Not certified", idempotency_key="one")
    second = _decision(claim, alice, idempotency_key="two")
    assert chain.resolve(second) is second  # nothing written yet: as it was made
    chain.send(db, first, alice)
    assert chain.send(db, second, alice).enrollment.document_verification_state == "verified"
    assert chain.send(db, first, alice).duplicate  # a retry with its key: recorded once, moves nothing
    assert _count_decisions(db) == 2
    # Another pack, or another claim on it, is not carried.
    other = replace(claim, token="someone-else")
    assert chain.resolve(_decision(other, alice)).claim == other
    # Only its own moves: on the shared server an edit by somebody else still refuses it.
    if db.dialect != "postgresql":
        return
    ce.change_enrollment_state(db, claim.enrollment_id, "in_progress")
    with pytest.raises(ClaimConflict, match="changed since you opened it"):
        chain.send(db, _decision(claim, alice, "rejected", "Blurred"), alice)
    assert _count_decisions(db) == 2


def test_stale_decision_after_force_release_says_who_has_it(db: Database, world):
    alice, bob, boss = world["alice"], world["bob"], world["boss"]
    claim = claims.claim_next(db, alice)
    with pytest.raises(PermissionDenied):
        claims.force_release(db, bob, claim.enrollment_id)
    former = claims.force_release(db, boss, claim.enrollment_id)
    assert former is not None and former.name == "Officer One"
    assert claims.force_release(db, boss, claim.enrollment_id) is None
    bobs = claims.claim(db, bob, claim.enrollment_id)
    with pytest.raises(ClaimConflict) as caught:
        vs.record_decision(db, _decision(claim, alice, "rejected", "Illegible"), alice)
    message = str(caught.value)
    assert "released by a super admin" in message and "Sipho Dlamini is reviewing it now" in message
    assert "what you typed is kept" in message
    assert caught.value.claim_lost and caught.value.holder == "Sipho Dlamini"
    assert _count_decisions(db) == 0
    with pytest.raises(ClaimConflict, match="Sipho Dlamini"):
        claims.renew(db, claim)
    assert vs.record_decision(db, _decision(bobs, bob), bob).verification.admin_name == "Sipho Dlamini"
    with pytest.raises(ClaimConflict, match="Since then Certified ID was approved by Sipho Dlamini at"):
        vs.record_decision(db, _decision(claim, alice, "rejected", "Illegible"), alice)
    assert _count_decisions(db) == 1


def test_a_change_by_someone_else_is_named(db: Database, world):
    alice, bob = world["alice"], world["bob"]
    claim = claims.claim_next(db, alice)
    # Bob's decision without a claim is refused while Alice's lease runs...
    cmd = vs.DecisionCommand(
        enrollment_id=claim.enrollment_id,
        document_type="id_document",
        action="approved",
    )
    with pytest.raises(ClaimConflict, match="Officer One is reviewing this enrollment right now"):
        vs.record_decision(db, cmd, bob)
    # ...but the pack can still change under her (an admin elsewhere moves it on), and she is told what
    # changed. On the shared server an edit moves row_version; the embedded store has one user, and
    # its configuration edits keep the server's row_version (a laptop's base for sync), so no edit
    # there can come from someone else.
    if db.dialect != "postgresql":
        return
    ce.change_enrollment_state(db, claim.enrollment_id, "in_progress")
    with pytest.raises(ClaimConflict, match="changed since you opened it") as caught:
        vs.record_decision(db, _decision(claim, alice), alice)
    assert not caught.value.claim_lost
    assert _count_decisions(db) == 0


def test_lease_expiry_and_reclaim(db: Database, world):
    alice, bob = world["alice"], world["bob"]
    ids = [e.id for e in world["enrollments"]]
    claim = _expire(db, claims.claim_next(db, alice))
    # Expired and not yet taken: a decision is refused, a renewal revives it.
    with pytest.raises(ClaimConflict, match="expired"):
        vs.record_decision(db, _decision(claim, alice), alice)
    revived = claims.renew(db, claim)
    assert revived.expires_at > datetime.now(UTC)
    vs_result = vs.record_decision(db, _decision(revived, alice, "rejected", "Illegible"), alice)
    assert vs_result.claim is not None
    # Expired again, and this time Bob's "next" picks it up (it is the oldest pending one).
    cs_state = ce.get_enrollment(db, claim.enrollment_id).document_verification_state
    assert cs_state == "rejected"  # a rejected pack is no longer in the pending queue
    other = _expire(db, claims.claim(db, alice, ids[1]))
    taken = claims.claim_next(db, bob)
    assert taken is not None and taken.enrollment_id == other.enrollment_id
    with pytest.raises(ClaimConflict, match="Sipho Dlamini is reviewing it now") as caught:
        vs.record_decision(db, _decision(other, alice), alice)
    assert "expired at" in str(caught.value)


def test_retry_with_the_same_key_records_once(db: Database, world):
    alice = world["alice"]
    claim = claims.claim_next(db, alice)
    cmd = _decision(claim, alice, "rejected", "Not certified", release_claim=True).with_key()
    one = vs.record_decision(db, cmd, alice)
    two = vs.record_decision(db, cmd, alice)  # the reply to the first was "lost"; the claim is gone by now
    assert two.duplicate and two.verification.id == one.verification.id
    assert two.claim is None
    assert _count_decisions(db) == 1
    with pytest.raises(ValidationError, match="idempotency_key"):
        vs.record_decision(db, _decision(claim, alice, idempotency_key=cmd.idempotency_key), alice)


def test_claim_retry_with_its_token_returns_the_same_claim(db: Database, world):
    alice = world["alice"]
    first = claims.claim_next(db, alice, token="5b0f7f1e-0000-4000-8000-000000000001")
    again = claims.claim_next(db, alice, token="5b0f7f1e-0000-4000-8000-000000000001")
    assert again.enrollment_id == first.enrollment_id and again.row_version == first.row_version
    assert len(claims.active_claims(db, alice)) == 1


def test_queue_filters_and_one_running_claim_per_login(db: Database, world):
    alice, bob = world["alice"], world["bob"]
    assert claims.claim_next(db, alice, claims.QueueFilters(cohort_ids=(999_999,))) is None
    mine = claims.QueueFilters(cohort_ids=(world["cohort"].id,))
    first = claims.claim_next(db, alice, mine)
    held_by_bob = claims.claim_next(db, bob, mine)
    # Taking the next pack gives the first one back: a login holds one running claim at a time.
    second = claims.claim_next(db, alice, mine)
    assert len({first.enrollment_id, held_by_bob.enrollment_id, second.enrollment_id}) == 3
    assert set(claims.active_claims(db, alice)) == {second.enrollment_id, held_by_bob.enrollment_id}
    assert [h.mine for h in claims.active_claims(db, alice, [second.enrollment_id]).values()] == [True]
    with pytest.raises(ClaimConflict):
        claims.renew(db, first)


def test_report_viewer_cannot_claim(db: Database, world):
    viewer = review_factories.officer_identity(db, world["account"], world["officer"], "report_viewer")
    with pytest.raises(PermissionDenied):
        claims.claim_next(db, viewer)


def test_old_style_decisions_still_check_versions(db: Database, world):
    pack = world["enrollments"][0]
    officer = world["alice"]
    cmd = vs.DecisionCommand(
        enrollment_id=pack.id,
        document_type="id_document",
        action="approved",
        expected_row_version=pack.row_version - 1,
    )
    with pytest.raises(ConflictError, match="changed since you opened it"):
        vs.record_decision(db, cmd, officer)

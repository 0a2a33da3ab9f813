"""Officers racing for work on a real PostgreSQL: threads and processes, claims and decisions."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from cohortdesk.db import Database
from cohortdesk.errors import ClaimConflict
from cohortdesk.models import DocumentVerification
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import claims
from cohortdesk.services.review import decisions as vs
from cohortdesk.services.rows import Claim
from tests import factories, review_factories
from tests.pg.officer_worker import work_the_queue

pytestmark = pytest.mark.pg


@pytest.fixture
def store(tmp_path) -> DocumentStore:
    return DocumentStore(tmp_path / "storage")


def _decisions_per_pack(db: Database) -> Counter[int]:
    with db.read_session() as s:
        rows = s.execute(
            select(DocumentVerification.cohort_enrollment_id, func.count()).group_by(
                DocumentVerification.cohort_enrollment_id
            )
        ).all()
    return Counter({pack: n for pack, n in rows})


def test_two_officers_race_for_one_pack(pg_db: Database, store):
    world = review_factories.review_queue(pg_db, store, packs=6)
    alice, bob = world["alice"], world["bob"]
    for pack in world["enrollments"][0::2]:
        barrier = threading.Barrier(2)

        def attempt(who, pack_id=pack.id, barrier=barrier):
            barrier.wait()
            try:
                return claims.claim(pg_db, who, pack_id)
            except ClaimConflict as refused:
                return refused

        with ThreadPoolExecutor(2) as pool:
            outcomes = dict(zip(("alice", "bob"), pool.map(attempt, (alice, bob)), strict=True))
        winners = {who: o for who, o in outcomes.items() if isinstance(o, Claim)}
        assert len(winners) == 1, outcomes
        loser = bob if "alice" in winners else alice
        refusal = outcomes["bob" if loser is bob else "alice"]
        assert isinstance(refusal, ClaimConflict) and "enrollment" in str(refusal)
        # The loser moves on: "next" gives them a different pack, without waiting.
        moved_on = claims.claim_next(pg_db, loser)
        assert moved_on is not None and moved_on.enrollment_id != pack.id
    # A login holds one running claim at a time: each new claim gave the previous one back.
    holders = claims.active_claims(pg_db, alice)
    assert len(holders) == 2 and {h.user_id for h in holders.values()} == {alice.user_id, bob.user_id}


def test_many_threads_share_out_the_queue(pg_db: Database, store):
    world = review_factories.review_queue(pg_db, store, packs=30)
    officers = [world["alice"], world["bob"]] + [
        review_factories.officer_identity(
            pg_db, world["account"], factories.user(pg_db, world["account"], f"O{n}", "X")
        )
        for n in range(6)
    ]
    start = threading.Barrier(len(officers))

    def drain(officer):
        start.wait()
        mine = []
        while (claim := claims.claim_next(pg_db, officer)) is not None:
            mine.append(claim.enrollment_id)
            decision = vs.DecisionCommand(
                claim.enrollment_id, "id_document", "approved", claim=claim, release_claim=True
            )
            vs.record_decision(pg_db, decision, officer)
        return mine

    with ThreadPoolExecutor(len(officers)) as pool:
        taken = [pack for mine in pool.map(drain, officers) for pack in mine]
    assert sorted(taken) == sorted(e.id for e in world["enrollments"])  # each exactly once


def test_officer_processes_decide_each_pack_exactly_once(pg_db: Database, store):
    world = review_factories.review_queue(pg_db, store, packs=40)
    officers = [world["alice"].user_id, world["bob"].user_id] + [
        factories.user(pg_db, world["account"], f"P{n}", "X") for n in range(2)
    ]
    url = pg_db.url.render_as_string(hide_password=False)
    with multiprocessing.get_context("spawn").Pool(len(officers)) as pool:
        per_officer = pool.starmap(work_the_queue, [(url, world["account"], uid) for uid in officers])
    decided = [pack for mine in per_officer for pack in mine]
    assert sorted(decided) == sorted(e.id for e in world["enrollments"])
    counts = _decisions_per_pack(pg_db)
    assert set(counts.values()) == {1} and len(counts) == 40
    assert claims.active_claims(pg_db, world["alice"]) == {}


def test_concurrent_retries_of_one_decision_record_it_once(pg_db: Database, store):
    world = review_factories.review_queue(pg_db, store, packs=2)
    alice = world["alice"]
    claim = claims.claim_next(pg_db, alice)
    cmd = vs.DecisionCommand(
        enrollment_id=claim.enrollment_id,
        document_type="id_document",
        action="rejected",
        reason="Certification older than three months",
        claim=claim,
        release_claim=True,
    ).with_key()
    barrier = threading.Barrier(4)

    def send(_):
        barrier.wait()
        return vs.record_decision(pg_db, cmd, alice)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(send, range(4)))
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.verification.id for r in results}) == 1
    assert _decisions_per_pack(pg_db) == Counter({claim.enrollment_id: 1})


def test_leases_are_not_edits_for_sync(pg_db: Database, store):
    """Claims, renewals and releases leave change_seq and updated_at alone (laptops need not pull
    them, officers do not queue on the tenant counter); a decision is an edit and is stamped."""
    from sqlalchemy import text

    world = review_factories.review_queue(pg_db, store, packs=2)
    alice, boss = world["alice"], world["boss"]

    def stamp(pack_id: int) -> tuple:
        with pg_db.read_session() as s:
            return s.execute(
                text("SELECT change_seq, updated_at, updated_by FROM cohort_enrollments WHERE id = :i"),
                {"i": pack_id},
            ).one()

    claim = claims.claim_next(pg_db, alice)
    before = stamp(claim.enrollment_id)
    claim = claims.renew(pg_db, claim)
    claims.release(pg_db, claim)
    claim = claims.claim(pg_db, alice, claim.enrollment_id)
    claims.force_release(pg_db, boss, claim.enrollment_id)
    claim = claims.claim(pg_db, alice, claim.enrollment_id)
    assert stamp(claim.enrollment_id) == before
    result = vs.record_decision(
        pg_db,
        vs.DecisionCommand(
            enrollment_id=claim.enrollment_id,
            document_type="id_document",
            action="approved",
            claim=claim,
        ),
        alice,
    )
    after = stamp(claim.enrollment_id)
    assert after[0] > before[0] and after[1] > before[1]
    assert result.enrollment.row_version == claim.row_version + 1

"""Faults for real: backends terminated (``pg_terminate_backend``) and a server restarted during
claims and decisions. Nothing is lost and nothing is doubled.

Terminations run on the shared server, against this test's own database only. The restart runs on a
private server (``private_pg``): the shared one is never restarted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy import URL, func, select

from cohortdesk.db import Database, migrate
from cohortdesk.models import DocumentVerification
from cohortdesk.services.connection import connectivity
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import claims
from cohortdesk.services.review import decisions as vs
from tests import review_factories

pytestmark = pytest.mark.pg

#: Retries spanning a server restart (a few seconds) without dragging a failing test out.
PATIENT = connectivity.RetryPolicy(attempts=40, first_delay=0.1, max_delay=0.5)


@pytest.fixture
def store(tmp_path) -> DocumentStore:
    return DocumentStore(tmp_path / "storage")


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _admin(url: URL) -> psycopg.Connection:
    return psycopg.connect(_libpq(url.set(database="postgres")), autocommit=True)


def _app_backends(admin: psycopg.Connection, database: str, waiting: bool = False) -> list[int]:
    sql = (
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'cohortdesk' "
        "AND pid <> pg_backend_pid()"
    )
    if waiting:
        sql += " AND wait_event_type = 'Lock'"
    return [pid for (pid,) in admin.execute(sql, (database,)).fetchall()]


def _terminate_app_backends(url: URL) -> int:
    with _admin(url) as admin:
        pids = _app_backends(admin, url.database)
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return len(pids)


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 20.0) -> object:
    """Poll ``condition`` until it holds (a state to reach, not a time to pass)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _count(db: Database) -> int:
    with db.read_session() as s:
        return s.scalar(select(func.count()).select_from(DocumentVerification))


def _decision(claim, officer, **kw) -> vs.DecisionCommand:
    return vs.DecisionCommand(
        enrollment_id=claim.enrollment_id,
        document_type="id_document",
        action="rejected",
        reason="Certification older than three months",
        claim=claim,
        **kw,
    ).with_key()


def test_terminated_connections_between_calls_reconnect(pg_db: Database, store):
    world = review_factories.review_queue(pg_db, store, packs=3)
    alice = world["alice"]
    claim = claims.claim_next(pg_db, alice)
    assert _terminate_app_backends(pg_db.url) >= 1
    # pool_pre_ping notices the dead pooled connection and hands out a fresh one.
    claim = claims.renew(pg_db, claim)
    assert _terminate_app_backends(pg_db.url) >= 1
    result = vs.record_decision(pg_db, _decision(claim, alice), alice)
    assert not result.duplicate and _count(pg_db) == 1
    assert _terminate_app_backends(pg_db.url) >= 1
    assert claims.claim_next(pg_db, alice) is not None


def test_decision_lost_reply_is_replayed_once(pg_db: Database, store):
    world = review_factories.review_queue(pg_db, store, packs=2)
    alice = world["alice"]
    claim = claims.claim_next(pg_db, alice)
    cmd = _decision(claim, alice, release_claim=True)
    first = vs.record_decision(pg_db, cmd, alice)  # committed...
    _terminate_app_backends(pg_db.url)  # ...and then the link went down before the reply (as far as we know)
    again = vs.record_decision(pg_db, cmd, alice, retry=PATIENT)
    assert again.duplicate and again.verification.id == first.verification.id
    assert _count(pg_db) == 1


def test_backend_terminated_in_the_middle_of_a_decision(pg_db: Database, store):
    world = review_factories.review_queue(pg_db, store, packs=2)
    alice = world["alice"]
    claim = claims.claim_next(pg_db, alice)
    cmd = _decision(claim, alice)
    retries: list[BaseException] = []
    with _admin(pg_db.url) as admin, psycopg.connect(_libpq(pg_db.url)) as blocker:
        # Another transaction holds the pack's row, so the decision's transaction stops half-way...
        blocker.execute("SELECT id FROM cohort_enrollments WHERE id = %s FOR UPDATE", (claim.enrollment_id,))
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(
                vs.record_decision,
                pg_db,
                cmd,
                alice,
                retry=PATIENT,
                on_retry=lambda _n, error: retries.append(error),
            )
            pids = _wait_for(
                lambda: _app_backends(admin, pg_db.url.database, waiting=True), "the decision to wait"
            )
            # ...and its connection dies right there.
            for pid in pids:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            _wait_for(lambda: retries, "the decision to notice the lost connection")
            blocker.rollback()
            result = future.result(timeout=30)
    assert connectivity.is_disconnect(retries[0])
    assert not result.duplicate
    assert _count(pg_db) == 1


def test_backend_terminated_in_the_middle_of_a_claim(pg_db: Database, store):
    world = review_factories.review_queue(pg_db, store, packs=3)
    alice = world["alice"]
    token = "0f8f2c55-1d1e-4e5b-9d55-3e6c2b7c0001"
    retries: list[BaseException] = []
    with _admin(pg_db.url) as admin, psycopg.connect(_libpq(pg_db.url)) as blocker:
        blocker.execute("LOCK TABLE cohort_enrollments IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(1) as pool:
            future: Future = pool.submit(
                connectivity.call_with_retry,
                claims.claim_next,
                pg_db,
                alice,
                token=token,
                policy=PATIENT,
                on_retry=lambda _n, error: retries.append(error),
            )
            pids = _wait_for(
                lambda: _app_backends(admin, pg_db.url.database, waiting=True), "the claim to wait"
            )
            for pid in pids:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            _wait_for(lambda: retries, "the claim to notice the lost connection")
            blocker.rollback()
            claim = future.result(timeout=30)
    assert claim is not None and claim.token == token
    held = claims.active_claims(pg_db, alice)
    assert list(held) == [claim.enrollment_id]  # one claim, not two
    assert vs.record_decision(pg_db, _decision(claim, alice), alice).claim is not None


def test_claim_and_decision_survive_a_server_restart(private_pg, store):
    url = private_pg.url()
    admin = psycopg.connect(_libpq(url), autocommit=True)
    admin.execute("CREATE DATABASE restart_test")
    admin.close()
    db = Database(url.set(database="restart_test"))
    try:
        migrate.upgrade(db)
        world = review_factories.review_queue(db, store, packs=3)
        alice = world["alice"]
        claim = claims.claim_next(db, alice)

        # 1. The server restarts while nothing is in flight: the next calls reconnect by themselves.
        private_pg.restart()
        claim = connectivity.call_with_retry(claims.renew, db, claim, policy=PATIENT)
        assert connectivity.health_check(db)

        # 2. The server restarts while a decision is half-way through its transaction.
        cmd = _decision(claim, alice)
        retries: list[BaseException] = []
        blocker = psycopg.connect(_libpq(db.url))
        blocker.execute("SELECT id FROM cohort_enrollments WHERE id = %s FOR UPDATE", (claim.enrollment_id,))
        pool = ThreadPoolExecutor(1)
        future = pool.submit(
            vs.record_decision, db, cmd, alice, retry=PATIENT, on_retry=lambda _n, e: retries.append(e)
        )
        with _admin(url) as watcher:
            _wait_for(lambda: _app_backends(watcher, "restart_test", waiting=True), "the decision to wait")
        restarter = threading.Thread(target=private_pg.restart)
        restarter.start()
        result = future.result(timeout=60)
        restarter.join()
        pool.shutdown()
        blocker.close()
        assert retries and connectivity.is_disconnect(retries[0])
        assert not result.duplicate and _count(db) == 1

        # 3. The reply of a committed decision is lost to a restart: the retry finds it, once.
        private_pg.restart()
        again = vs.record_decision(db, cmd, alice, retry=PATIENT)
        assert again.duplicate and again.verification.id == result.verification.id
        assert _count(db) == 1
    finally:
        db.dispose()


def test_error_classification():
    assert connectivity.is_disconnect(ConnectionError("gone"))
    assert not connectivity.is_transient(ValueError("bug"))

    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("link down")
        return "ok"

    assert connectivity.call_with_retry(flaky, sleep=lambda _s: None) == "ok" and len(calls) == 3
    with pytest.raises(ValueError):
        connectivity.call_with_retry(lambda: (_ for _ in ()).throw(ValueError("bug")), sleep=lambda _s: None)


def test_outbox_replays_after_reconnect(pg_db: Database, store):
    world = review_factories.review_queue(pg_db, store, packs=2)
    alice = world["alice"]
    claim = claims.claim_next(pg_db, alice)
    outbox = vs.DecisionOutbox()
    cmd = outbox.add(_decision(claim, alice))
    vs.record_decision(pg_db, cmd, alice)  # got through, but the workstation never heard back
    _terminate_app_backends(pg_db.url)
    [(sent, result, error)] = outbox.replay(pg_db, alice)
    assert error is None and result is not None and result.duplicate and sent is cmd
    assert len(outbox) == 0 and _count(pg_db) == 1

"""Behind PgBouncer in transaction mode, the set-up docs/deployment.md recommends: no startup options,
no server-side prepared statements, timeouts set per login on the server, and live refresh on a
session connection straight to the primary or, without one, polling that says so. A listener that
a pooler makes deaf notices it instead of stopping silently. Private server and pooler only."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cohortdesk.db import Database
from cohortdesk.services.access.identity import ROLE_CAPABILITIES, Identity
from cohortdesk.services.connection import connectivity, profiles
from cohortdesk.services.connection.profiles import ConnectionProfile
from cohortdesk.services.review import claims
from cohortdesk.services.review import queue as q
from cohortdesk.services.review.listener import DEAF, QueueListener
from tests.conftest import require_pg
from tests.pg.pgbouncer import PgBouncer
from tests.pg.private_server import PrivatePostgres

try:
    from cohortdesk.services.review.workstation import decisions as vs  # type: ignore[attr-defined]
except ImportError:
    from cohortdesk.services.review import decisions as vs  # type: ignore[no-redef]

DATABASE = "cohortdesk_pooled"


@dataclass
class Pooled:
    server: PrivatePostgres
    bouncer: PgBouncer
    account_id: int
    officer_ids: tuple[int, ...]

    def profile(self, **changes: Any) -> ConnectionProfile:
        base = ConnectionProfile(
            name="Through the pooler",
            host="127.0.0.1",
            port=self.bouncer.port,
            database=DATABASE,
            user="postgres",
            sslmode="disable",
            pooler="transaction",
        )
        return ConnectionProfile(**{**base.__dict__, **changes})

    def officer(self, index: int) -> Identity:
        return Identity(
            user_id=self.officer_ids[index],
            display_name=f"Officer {index}",
            account_id=self.account_id,
            institution_id=None,
            role="officer",
            capabilities=ROLE_CAPABILITIES["officer"],
        )


def _seed_module() -> Any:
    path = Path(__file__).resolve().parents[2] / "bench" / "officers.py"
    spec = importlib.util.spec_from_file_location("bench_officers_for_tests", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pooled() -> Iterator[Pooled]:
    require_pg()
    server, why = PrivatePostgres.find()
    if server is None:
        pytest.skip(f"cannot run a private PostgreSQL server: {why}")
    bouncer = None
    try:
        server.init()
        server.start()
        server.psql(f"CREATE DATABASE {DATABASE}")
        # The safety timeouts live on the server, per login, where a pooler cannot lose them.
        server.psql(
            "ALTER ROLE postgres SET statement_timeout = '30s'; ALTER ROLE postgres SET lock_timeout = '5s'; "
            "ALTER ROLE postgres SET idle_in_transaction_session_timeout = '60s'"
        )
        world = _seed_module().seed(server.url(DATABASE).render_as_string(False), 300, 6)
        found, why = PgBouncer.find(server, pool_size=4)
        if found is None:
            pytest.skip(why)
        bouncer = found.start()
    except Exception as exc:  # noqa: BLE001
        if bouncer is not None:
            bouncer.stop()
        server.destroy()
        pytest.skip(f"cannot start a private server with PgBouncer here: {exc}")
    try:
        yield Pooled(server, bouncer, world.account_id, tuple(world.officer_ids))
    finally:
        bouncer.stop()
        server.destroy()


def test_without_the_pooler_setting_the_words_say_to_set_it(pooled, monkeypatch):
    monkeypatch.setenv("COHORTDESK_PG_CLIENT_TIMEOUTS", "1")
    db = profiles.open_database(pooled.profile(pooler="none"), None)
    try:
        problem = connectivity.check_connection(db)
    finally:
        db.dispose()
    assert problem is not None and problem.kind == connectivity.POOLER_SETTINGS and problem.field == "pooler"
    assert "set Pooler to the pooler's mode" in problem.message


def test_timeouts_set_per_login_survive_the_pooler(pooled):
    db = profiles.open_database(pooled.profile(), None)
    try:
        assert connectivity.check_connection(db) is None
        with db.read_session() as s:
            assert s.scalar(text("SHOW statement_timeout")) == "30s"
            assert s.scalar(text("SHOW lock_timeout")) == "5s"
    finally:
        db.dispose()


def test_a_workstation_day_through_the_pooler_has_no_prepared_statement_errors(pooled):
    errors: list[str] = []
    done: list[int] = []

    def officer(index: int) -> None:
        db = profiles.open_database(pooled.profile(), None)
        me = pooled.officer(index)
        flt = q.QueueFilter(account_id=pooled.account_id)
        try:
            for _ in range(8):
                q.queue_page(db, flt)
                q.queue_count(db, flt)
                claim = claims.claim_next(db, me)
                if claim is None:
                    break
                claim = claims.renew(db, claim)
                vs.record_decision(
                    db,
                    vs.DecisionCommand(
                        enrollment_id=claim.enrollment_id,
                        document_type="id_document",
                        action="rejected",
                        reason="Certification older than three months",
                        claim=claim,
                        release_claim=True,
                    ).with_key(),
                    me,
                )
                done.append(claim.enrollment_id)
        except Exception as error:  # noqa: BLE001 - every failure is collected and shown
            errors.append(f"{type(error).__name__}: {error}")
        finally:
            db.dispose()

    threads = [threading.Thread(target=officer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert len(done) == len(set(done)) == 48


def test_polling_is_chosen_and_visible_without_a_direct_listener_address(pooled):
    db = profiles.open_database(pooled.profile(), None)
    try:
        assert db.live_refresh_mode == "poll"
    finally:
        db.dispose()
    direct = profiles.open_database(pooled.profile(listen_host=f"127.0.0.1:{pooled.server.port}"), None)
    try:
        assert direct.live_refresh_mode == "listen"
    finally:
        direct.dispose()


def test_the_listener_keeps_a_session_connection_to_the_primary(pooled):
    db = profiles.open_database(pooled.profile(listen_host=f"127.0.0.1:{pooled.server.port}"), None)
    events: list[Any] = []
    listener = QueueListener.for_database(db, events.append, ping_seconds=1.0)
    listener.start()
    try:
        assert listener.connected.wait(20)
        conn = db.listener_connection(autocommit=True)
        try:
            port = conn.execute("SELECT inet_server_port()").fetchone()[0]
        finally:
            conn.close()
        assert int(port) == pooled.server.port  # not the pooler's
        me = pooled.officer(0)
        claim = claims.claim_next(db, me)  # through the pooler
        assert claim is not None
        claims.release(db, claim)
        deadline = time.monotonic() + 20
        while not events and time.monotonic() < deadline:
            time.sleep(0.1)
        assert events, "no notification reached the listener"
    finally:
        listener.stop()
        db.dispose()


@pytest.mark.slow
def test_a_listener_the_pooler_makes_deaf_says_so_instead_of_stopping_silently(pooled, monkeypatch):
    # A profile that does not mention the pooler, its startup settings off: LISTEN is accepted, but
    # notifications go to whichever server connection the pooler picked.
    monkeypatch.setenv("COHORTDESK_PG_CLIENT_TIMEOUTS", "0")
    plain = Database(pooled.bouncer.url(DATABASE), pooler="none")
    busy = profiles.open_database(pooled.profile(), None)
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            with busy.read_session() as s:
                s.execute(text("SELECT pg_sleep(0.05)"))

    # More busy clients than the pool has server connections (4): the connection that took the
    # LISTEN keeps changing hands, so the listener's probe cannot keep landing on it by chance.
    workers = [threading.Thread(target=traffic) for _ in range(6)]
    for worker in workers:
        worker.start()
    states: list[tuple[bool, str]] = []
    listener = QueueListener(
        lambda: plain.dedicated_connection(autocommit=True),
        lambda _event: None,
        lambda online, reason: states.append((online, reason)),
        ping_seconds=0.5,
        probe_timeout=1.5,
    )
    listener.start()
    try:
        deadline = time.monotonic() + 40
        while listener.deaf_reason is None and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        listener.stop()
        stop.set()
        for worker in workers:
            worker.join()
        plain.dispose()
        busy.dispose()
    assert listener.deaf_reason is not None and listener.deaf_reason.startswith(DEAF)
    assert states[-1] == (False, listener.deaf_reason)

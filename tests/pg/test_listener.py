"""LISTEN/NOTIFY on a real PostgreSQL: what the queue triggers publish, and a listener that survives
losing its connection."""

from __future__ import annotations

import json
import queue
import time

import psycopg
import pytest
from sqlalchemy import text

from cohortdesk.db import Database
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import claims
from cohortdesk.services.review import decisions as vs
from cohortdesk.services.review.listener import (
    RELAY,
    QueueEvent,
    QueueListener,
    parse_payload,
    queue_channels,
)
from tests import review_factories

pytestmark = pytest.mark.pg


@pytest.fixture
def store(tmp_path) -> DocumentStore:
    return DocumentStore(tmp_path / "storage")


class Recorder:
    """Collects what a listener reports, for the test thread to wait on."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[float, QueueEvent]] = queue.Queue()
        self.states: queue.Queue[tuple[bool, str]] = queue.Queue()

    def on_event(self, event: QueueEvent) -> None:
        self.events.put((time.monotonic(), event))

    def on_state(self, online: bool, reason: str) -> None:
        self.states.put((online, reason))

    def next_event(self, timeout: float = 10.0) -> tuple[float, QueueEvent]:
        return self.events.get(timeout=timeout)

    def next_state(self, timeout: float = 20.0) -> tuple[bool, str]:
        return self.states.get(timeout=timeout)

    def settle(self, quiet: float = 1.0) -> None:
        """Drop what arrives until nothing has for ``quiet`` seconds (the listener hands on what
        arrived together a quarter of a second after the first)."""
        while True:
            try:
                self.events.get(timeout=quiet)
            except queue.Empty:
                return


@pytest.fixture
def listening(pg_db: Database):
    recorder = Recorder()
    listener = QueueListener.for_database(
        pg_db, recorder.on_event, on_state=recorder.on_state, first_backoff=0.1
    )
    listener.start()
    assert recorder.next_state() == (True, "")
    yield listener, recorder
    listener.stop()


def _raw_listen(db: Database) -> psycopg.Connection:
    conn = psycopg.connect(
        db.url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )
    for channel in queue_channels(conn):
        conn.execute(f"LISTEN {channel}")
    return conn


def test_a_decision_reaches_a_listener_with_identifiers_only(pg_db: Database, store, listening):
    listener, recorder = listening
    world = review_factories.review_queue(pg_db, store, packs=2)
    recorder.settle()  # the set-up's own inserts
    raw = _raw_listen(pg_db)
    claim = claims.claim_next(pg_db, world["alice"])
    _, claimed = recorder.next_event()
    assert claimed.op == "update" and claimed.enrollment_ids == {claim.enrollment_id}
    sent = time.monotonic()
    result = vs.record_decision(
        pg_db,
        vs.DecisionCommand(
            enrollment_id=claim.enrollment_id,
            document_type="id_document",
            action="approved",
            claim=claim,
        ),
        world["alice"],
    )
    arrived, event = recorder.next_event()
    [item] = event.items
    assert (item.account_id, item.enrollment_id, item.cohort_id, item.row_version) == (
        world["account"],
        claim.enrollment_id,
        world["cohort"].id,
        result.enrollment.row_version,
    )
    assert event.concerns(world["account"]) and not event.concerns(world["account"] + 1)
    assert arrived >= sent
    # The raw payload: identifiers and nothing else (no names, ID numbers or reasons).
    payloads = [n.payload for n in raw.notifies(timeout=2, stop_after=2)]
    raw.close()
    decoded = json.loads(payloads[-1])
    assert set(decoded) == {"table", "op", "items", "cohorts"}
    assert all(isinstance(v, int) for v in decoded["items"][0])
    for secret in ("Lerato", "Mokoena", "0501014800087", "Officer"):
        assert all(secret not in p for p in payloads)


def test_renewal_is_silent_and_bulk_statements_notify_once(pg_db: Database, store, listening):
    _, recorder = listening
    world = review_factories.review_queue(pg_db, store, packs=6)
    recorder.settle()
    claim = claims.claim_next(pg_db, world["alice"])
    recorder.next_event()  # the claim
    claims.renew(pg_db, claim)  # only the lease moved: nobody needs to hear it
    claims.release(pg_db, claim)
    _, released = recorder.next_event()
    assert released.enrollment_ids == {claim.enrollment_id}
    assert released.items[0].row_version == claim.row_version + 1  # the release, not the renewal
    with pg_db.session() as s:
        s.execute(
            text("UPDATE cohort_enrollments SET row_version = row_version + 1 WHERE cohort_id = :c"),
            {"c": world["cohort"].id},
        )
    _, bulk = recorder.next_event()
    assert len(bulk.items) == 6 and recorder.events.empty()


def test_a_huge_statement_sends_a_summary(pg_db: Database, store, listening):
    _, recorder = listening
    world = review_factories.review_queue(pg_db, store, packs=1)
    recorder.settle()  # the set-up's own inserts, which the relay would otherwise send with the 600
    with pg_db.session() as s:
        s.execute(
            text(
                "INSERT INTO users (account_id, email, encrypted_password, first_name, last_name, uuid, role, "
                "created_at, updated_at) "
                "SELECT :a, 'bulk' || g || '@example.co.za', '', 'Bulk', 'Learner', gen_random_uuid()::text, 'admin', "
                "now(), now() FROM generate_series(1, 600) g"
            ),
            {"a": world["account"]},
        )
        s.execute(
            text(
                "INSERT INTO cohort_enrollments (account_id, cohort_id, user_id, uuid, state, "
                "document_verification_state, supporting_submission_ids, student_data, uploaded_documents, "
                "created_at, updated_at, row_version, pending_since) "
                "SELECT :a, :c, u.id, gen_random_uuid()::text, 'waiting', 'pending', '[]', '{}', '{}', "
                "now(), now(), 1, now() FROM users u WHERE u.email LIKE 'bulk%'"
            ),
            {"a": world["account"], "c": world["cohort"].id},
        )
    events = []
    while True:
        _, event = recorder.next_event()
        events.append(event)
        if event.count == 600:
            break
    summary = events[-1]
    assert summary.bulk and summary.op == "insert" and summary.items == ()
    assert summary.account_ids == {world["account"]} and summary.cohort_ids == {world["cohort"].id}


def test_listener_reconnects_after_its_backend_is_terminated(pg_db: Database, store, listening):
    listener, recorder = listening
    first_pid = listener.backend_pid
    with psycopg.connect(
        pg_db.url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False),
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first_pid,))
    online, reason = recorder.next_state()
    assert not online and reason
    assert recorder.next_state() == (True, "")  # back by itself (and the owner re-reads everything)
    assert listener.backend_pid != first_pid and listener.connections_made == 2
    world = review_factories.review_queue(pg_db, store, packs=1)
    _, event = recorder.next_event()
    assert event.concerns(world["account"])


def test_malformed_payloads_are_ignored():
    assert parse_payload("not json") is None
    assert parse_payload('{"items": [[1, 2]]}') is None
    event = parse_payload('{"table": "cohort_enrollments", "op": "update", "items": [[1, 2, 3, 4]]}')
    assert event is not None and event.enrollment_ids == {2} and event.cohort_ids == {3}


def _admin(db: Database) -> psycopg.Connection:
    return psycopg.connect(
        db.url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )


def test_one_listener_relays_and_another_takes_over_when_it_closes(pg_db: Database, store, listening):
    first, recorder = listening
    assert first.relaying
    other = Recorder()
    second = QueueListener.for_database(pg_db, other.on_event, on_state=other.on_state, ping_seconds=30.0)
    second.start()
    try:
        assert other.next_state() == (True, "")
        assert not second.relaying  # the lease is the first one's
        world = review_factories.review_queue(pg_db, store, packs=2)
        recorder.settle()
        other.settle()
        claim = claims.claim_next(pg_db, world["alice"])
        assert recorder.next_event()[1].enrollment_ids == {claim.enrollment_id}
        assert other.next_event()[1].enrollment_ids == {claim.enrollment_id}
        # The relay closes: the other takes over within about a second, not at its next ping (30 s).
        first.stop()
        deadline = time.monotonic() + 5
        while not second.relaying and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.relaying
        claims.release(pg_db, claim)
        assert other.next_event()[1].enrollment_ids == {claim.enrollment_id}
    finally:
        second.stop()


def test_a_relay_that_vanishes_is_replaced_at_the_next_ping(pg_db: Database, store, listening):
    first, recorder = listening
    other = Recorder()
    second = QueueListener.for_database(pg_db, other.on_event, on_state=other.on_state, ping_seconds=1.0)
    second.start()
    try:
        assert other.next_state() == (True, "") and first.relaying and not second.relaying
        # The relay's workstation freezes (no release): its lease simply runs out (3 s).
        first.relay_seconds = 3600.0
        world = review_factories.review_queue(pg_db, store, packs=1)  # recorded meanwhile
        deadline = time.monotonic() + 15
        while not second.relaying and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.relaying  # at its first ping after the lease ran out
        heard: set[int] = set()  # the set-up's changes, none lost, sent by one relay or the other
        while world["enrollment"].id not in heard:
            heard |= other.next_event(timeout=5)[1].enrollment_ids
        recorder.settle()
        other.settle()
        claims.claim_next(pg_db, world["alice"])
        assert other.next_event()[1].concerns(world["account"])  # the new relay sends it
        assert recorder.next_event()[1].concerns(world["account"])
    finally:
        second.stop()


def test_a_commit_notifies_nobody_and_what_no_relay_sends_in_a_minute_is_dropped(pg_db: Database, store):
    raw = _raw_listen(pg_db)
    review_factories.review_queue(pg_db, store, packs=1)
    assert list(raw.notifies(timeout=1.0)) == []  # the writer's commit signals no listener
    with _admin(pg_db) as admin:
        assert admin.execute("SELECT count(*) FROM cohortdesk_queue_changes").fetchone()[0] > 0  # kept
        admin.execute("UPDATE cohortdesk_queue_changes SET recorded_at = recorded_at - interval '61 seconds'")
        assert admin.execute(RELAY, ("late-relay",)).fetchone()[0]  # the first relay in over a minute
        assert admin.execute("SELECT count(*) FROM cohortdesk_queue_changes").fetchone()[0] == 0
    assert list(raw.notifies(timeout=1.0)) == []  # stale: every window has polled since
    raw.close()

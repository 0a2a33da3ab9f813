"""Hostile clients against live refresh: another institution's logins hear nothing of this one (not
on the old shared channel, not on any channel they can learn), and a forged notification on one's own
channel costs a refresh that reads nothing it could not read anyway."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from psycopg import errors as pgerr

from cohortdesk.services.access.identity import resolve_identity
from cohortdesk.services.review import claims, queue
from cohortdesk.services.review.listener import CHANNEL, QueueListener, parse_payload, queue_channels
from tests.pg.security_fixtures import Secured, secured_database

pytestmark = pytest.mark.pg


@pytest.fixture(scope="module")
def sec(tmp_path_factory, migrated) -> Secured:
    with secured_database(tmp_path_factory, migrated) as secured:
        yield secured


def _listen_all(conn: psycopg.Connection, channels: list[str]) -> None:
    for channel in channels:
        conn.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))


def _drain(conn: psycopg.Connection, seconds: float = 1.0) -> list[psycopg.Notify]:
    notes: list[psycopg.Notify] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        notes.extend(conn.notifies(timeout=left, stop_after=1))
    return notes


@pytest.fixture
def no_relay(sec: Secured) -> None:
    """Start with vacant leases and no recorded changes (earlier tests of this module leave both)."""
    with sec.connect("postgres") as admin:
        admin.execute("DELETE FROM cohortdesk_queue_changes")
        admin.execute("UPDATE cohortdesk_queue_relays SET holder = '', renewed_at = '-infinity'")


def _relay(conn: psycopg.Connection, token: str) -> bool:
    """What a workstation's listener does every half second while it is its institution's relay."""
    return bool(conn.execute("SELECT cohortdesk_relay_queue(%s)", (token,)).fetchone()[0])


def _touch(sec: Secured, login: str, enrollment: int) -> None:
    """A change of one enrollment as ``login`` makes it: a claim and its release."""
    db = sec.database(login)
    held = claims.claim(db, resolve_identity(db), enrollment)
    claims.release(db, held)


def test_each_login_learns_only_its_own_institutions_channel(sec: Secured):
    channels = {}
    for tenant in (sec.a, sec.b):
        for role in ("super_admin", "officer", "report_viewer"):
            with sec.connect(tenant.logins[role]) as conn:
                channels.setdefault(tenant.account, set()).update(queue_channels(conn))
                # The helper that names any account's channel is not callable by logins.
                with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                    conn.execute("SELECT cohortdesk_queue_channel_of(%s)", (sec.b.account,))
                with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                    conn.execute("SELECT * FROM cohortdesk_secrets")
    assert all(len(found) == 1 for found in channels.values())
    (a_channel,), (b_channel,) = channels[sec.a.account], channels[sec.b.account]
    assert a_channel != b_channel and a_channel.startswith("cohortdesk_queue_") and len(a_channel) == 49


def test_another_institution_hears_nothing(sec: Secured, no_relay: None):
    a, b = sec.a, sec.b
    with sec.connect(b.logins["officer"]) as spy, sec.connect(a.logins["officer"]) as own:
        # B listens everywhere it can name: its own channel, the old shared one, guesses.
        _listen_all(
            spy, [*queue_channels(spy), CHANNEL, "cohortdesk_queue_0", f"cohortdesk_queue_{a.account}"]
        )
        _listen_all(own, queue_channels(own))
        assert _relay(own, "a-relay-token")  # A's workstation relays A's changes
        _relay(spy, "b-relay-token")  # and B's its own: they never carry A's
        _touch(sec, a.logins["officer"], a.enrollment)
        _relay(spy, "b-relay-token")
        assert _relay(own, "a-relay-token")
        heard = _drain(own, 2.0)
        assert heard and all(parse_payload(n.payload).account_ids == {a.account} for n in heard)
        assert _drain(spy, 0.5) == []  # not a single notification: no ids, no sender pid


def test_a_forged_notification_costs_a_refresh_and_reveals_nothing(sec: Secured, no_relay: None):
    a, b = sec.a, sec.b
    events = []
    officer_db = sec.database(a.logins["officer"])
    listener = QueueListener.for_database(officer_db, events.append)
    listener.start()
    try:
        assert listener.connected.wait(10)
        forged = json.dumps(
            {
                "table": "cohort_enrollments",
                "op": "update",
                "items": [[b.account, b.enrollment, b.cohort, 99]],
            }
        )
        with sec.connect(a.logins["report_viewer"]) as forger:
            (channel,) = queue_channels(forger)
            forger.execute("SELECT pg_notify(%s, %s)", (channel, forged))
            forger.execute("SELECT pg_notify(%s, %s)", (channel, "not json at all"))
        deadline = time.monotonic() + 10
        while not events and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        listener.stop()
    assert [e.enrollment_ids for e in events] == [{b.enrollment}]  # the junk one was ignored
    # What the workstation does with it: re-read those rows, through row-level security.
    assert queue.queue_rows(officer_db, [b.enrollment]) == []
    assert [r.enrollment_id for r in queue.queue_rows(officer_db, [a.enrollment])] == [a.enrollment]


def test_the_relay_tables_are_out_of_every_logins_reach(sec: Secured):
    for tenant in (sec.a, sec.b):
        for role in ("super_admin", "officer", "report_viewer"):
            with sec.connect(tenant.logins[role]) as conn:
                for statement in (
                    "SELECT * FROM cohortdesk_queue_changes",
                    "SELECT * FROM cohortdesk_queue_relays",
                    "INSERT INTO cohortdesk_queue_changes (account_id, payload) VALUES (1, '{}')",
                    "DELETE FROM cohortdesk_queue_changes",
                    "UPDATE cohortdesk_queue_relays SET renewed_at = now() + interval '1 year'",
                    "TRUNCATE cohortdesk_queue_relays",
                    "LOCK TABLE cohortdesk_queue_changes",
                ):
                    with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                        conn.execute(statement)


def test_a_relay_takes_and_sends_its_own_institutions_changes_only(sec: Secured, no_relay: None):
    a, b = sec.a, sec.b
    with (
        sec.connect(a.logins["officer"]) as a_relay,
        sec.connect(b.logins["officer"]) as b_relay,
        sec.connect("postgres") as admin,
    ):
        _listen_all(a_relay, queue_channels(a_relay))
        _listen_all(b_relay, queue_channels(b_relay))
        assert _relay(a_relay, "a-relay-token") and _relay(b_relay, "b-relay-token")
        _touch(sec, a.logins["officer"], a.enrollment)
        # B's relay, called as often as it likes, neither sends nor removes A's changes.
        for _ in range(3):
            assert _relay(b_relay, "b-relay-token")
        assert _drain(b_relay, 0.5) == []
        kept = admin.execute("SELECT DISTINCT account_id FROM cohortdesk_queue_changes").fetchall()
        assert kept == [(a.account,)]
        # A second login of A cannot take A's lease while A's relay holds it, nor release it.
        with sec.connect(a.logins["report_viewer"]) as rival:
            assert not _relay(rival, "rival-token-1")
            assert not rival.execute(
                "SELECT cohortdesk_release_queue_relay(%s)", ("rival-token-1",)
            ).fetchone()[0]
            with pytest.raises(pgerr.InvalidParameterValue), rival.transaction():
                rival.execute("SELECT cohortdesk_relay_queue('')")
        assert _relay(a_relay, "a-relay-token")
        heard = _drain(a_relay, 1.0)
        assert [parse_payload(n.payload).enrollment_ids for n in heard] == [{a.enrollment}]
        assert admin.execute("SELECT count(*) FROM cohortdesk_queue_changes").fetchone()[0] == 0


def test_a_login_that_is_not_a_user_cannot_relay(sec: Secured):
    stranger = sec.new_login_name("stranger")
    with sec.connect("postgres") as admin:
        admin.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN").format(psycopg.sql.Identifier(stranger)))
        for grant in ("GRANT cohortdesk_officer TO {}", "GRANT CONNECT ON DATABASE {} TO {}"):
            names = [sec.url.database, stranger] if "DATABASE" in grant else [stranger]
            admin.execute(psycopg.sql.SQL(grant).format(*map(psycopg.sql.Identifier, names)))
    with sec.connect(stranger) as conn, pytest.raises(pgerr.InsufficientPrivilege):
        _relay(conn, "stranger-token")


def test_a_colleague_who_keeps_the_lease_locked_delays_nothing_for_long(sec: Secured, no_relay: None):
    """A relay call in a transaction left open holds the lease row locked: nobody waits on it, and
    once that lease is older than 3 s the other listeners send what waits without it."""
    a = sec.a
    with (
        sec.connect(a.logins["report_viewer"], autocommit=False) as hostile,
        sec.connect(a.logins["officer"]) as honest,
    ):
        _listen_all(honest, queue_channels(honest))
        hostile.execute("SET idle_in_transaction_session_timeout = 0")
        assert _relay(hostile, "hostile-token")  # takes the lease and keeps its row locked
        began = time.monotonic()
        assert not _relay(honest, "honest-token")  # refused at once, not after a lock wait
        assert time.monotonic() - began < 1.0
        _touch(sec, a.logins["officer"], a.enrollment)
        time.sleep(3.2)  # the locked lease is no longer renewed
        assert not _relay(honest, "honest-token")  # not the relay, but it sent what waited
        heard = _drain(honest, 1.0)
        assert [parse_payload(n.payload).enrollment_ids for n in heard] == [{a.enrollment}]
        hostile.rollback()
        assert _relay(honest, "honest-token")  # the lease is free again


def test_a_colleague_who_keeps_a_new_accounts_first_lease_uncommitted_delays_nothing(
    sec: Secured, no_relay: None
):
    """An account's first lease row (one made after the upgrade) inserted in a transaction left open:
    the others wait a fifth of a second at most, and send what waits without the lease."""
    a = sec.a
    with sec.connect("postgres") as admin:
        admin.execute("DELETE FROM cohortdesk_queue_relays WHERE account_id = %s", (a.account,))
    with (
        sec.connect(a.logins["report_viewer"], autocommit=False) as hostile,
        sec.connect(a.logins["officer"]) as honest,
    ):
        _listen_all(honest, queue_channels(honest))
        hostile.execute("SET idle_in_transaction_session_timeout = 0")
        assert _relay(hostile, "hostile-token")
        _touch(sec, a.logins["officer"], a.enrollment)
        began = time.monotonic()
        assert not _relay(honest, "honest-token")
        assert time.monotonic() - began < 1.0
        heard = _drain(honest, 1.0)
        assert [parse_payload(n.payload).enrollment_ids for n in heard] == [{a.enrollment}]
        hostile.rollback()
        assert _relay(honest, "honest-token")

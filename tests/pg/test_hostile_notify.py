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


def test_another_institution_hears_nothing(sec: Secured):
    a, b = sec.a, sec.b
    with sec.connect(b.logins["officer"]) as spy, sec.connect(a.logins["officer"]) as own:
        # B listens everywhere it can name: its own channel, the old shared one, guesses.
        _listen_all(
            spy, [*queue_channels(spy), CHANNEL, "cohortdesk_queue_0", f"cohortdesk_queue_{a.account}"]
        )
        _listen_all(own, queue_channels(own))
        _touch(sec, a.logins["officer"], a.enrollment)
        heard = _drain(own, 2.0)
        assert heard and all(parse_payload(n.payload).account_ids == {a.account} for n in heard)
        assert _drain(spy, 0.5) == []  # not a single notification: no ids, no sender pid


def test_a_forged_notification_costs_a_refresh_and_reveals_nothing(sec: Secured):
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

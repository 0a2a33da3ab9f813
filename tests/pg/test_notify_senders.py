"""Senders racing and dying on a real PostgreSQL, against a real SMTP server: never twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy import text

from cohortdesk.db import Database
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.notify import outbox, sender
from cohortdesk.services.notify import settings as ns
from cohortdesk.services.review import decisions as vs
from tests import review_factories
from tests.smtp_server import Handler, SmtpServer

pytestmark = pytest.mark.pg


@pytest.fixture
def store(tmp_path) -> DocumentStore:
    return DocumentStore(tmp_path / "storage")


def _configure(db: Database, world, port: int) -> None:
    base = ns.load(db, world["institution"].id)
    ns.save(
        db,
        world["boss"],
        replace(
            base,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            sender_address="admissions@acme.example",
            digest_minutes=0,
        ),
    )


def _reject_all(db: Database, world) -> None:
    for enrollment in world["enrollments"]:
        vs.record_decision(
            db,
            vs.DecisionCommand(
                enrollment_id=enrollment.id,
                document_type="id_document",
                action="rejected",
                reason="The copy is not certified.",
            ),
            world["bob"],
        )


@pytest.mark.slow
def test_two_senders_racing_send_each_learner_exactly_once(pg_db: Database, store):
    world = review_factories.review_queue(pg_db, store, packs=120)
    _reject_all(pg_db, world)
    # The server holds the first message until the other sender has claimed learners of its own and
    # started an attempt (a barrier, not a race against the clock), then takes 10 ms a message.
    both_started = threading.Event()

    def hold_first_message(_message: object) -> None:
        if not both_started.is_set():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len({a.host for a in outbox.attempts(pg_db)}) < 2:
                time.sleep(0.05)
            both_started.set()
        time.sleep(0.01)

    with SmtpServer(handler=Handler(on_data=hold_first_message)) as smtp:
        _configure(pg_db, world, smtp.port)
        barrier = threading.Barrier(2)
        reports: list[sender.SendReport] = []

        def one_sender(name: str) -> None:
            db = Database(pg_db.url)
            try:
                barrier.wait()
                reports.append(sender.run_once(db, flush=True, learners=5, host=name, retry_base_seconds=0))
            finally:
                db.dispose()

        threads = [threading.Thread(target=one_sender, args=(f"sender-{n}",)) for n in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    per_recipient = Counter(r.rcpt_tos[0] for r in smtp.received)
    assert len(per_recipient) == 120 and set(per_recipient.values()) == {1}
    assert sum(r.sent for r in reports) == 120
    # Both really worked: the outbox was shared out, not taken by one.
    hosts = Counter(a.host for a in outbox.attempts(pg_db))
    assert set(hosts) == {"sender-1", "sender-2"}, hosts
    assert {r.status for r in outbox.rows(pg_db)} == {"sent"}


def test_a_sender_killed_between_sending_and_recording_never_sends_again(pg_db: Database, store, tmp_path):
    world = review_factories.review_queue(pg_db, store, packs=1)
    _reject_all(pg_db, world)
    victim: list[subprocess.Popen] = []

    def kill_the_sender(_received) -> None:
        # The server has the message; the sender dies before it hears "250" or records anything.
        os.kill(victim[0].pid, signal.SIGKILL)

    handler = Handler(on_data=kill_the_sender)
    with SmtpServer(handler=handler) as smtp:
        _configure(pg_db, world, smtp.port)
        env = {**os.environ, "COHORTDESK_HOME": str(tmp_path / "home")}
        victim.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cohortdesk",
                    "--url",
                    pg_db.url.render_as_string(hide_password=False),
                    "notify",
                    "--now",
                    "--lease",
                    "60",
                ],
                env=env,
            )
        )
        assert victim[0].wait(120) == -signal.SIGKILL
        assert len(smtp.received) == 1
        (row,) = outbox.rows(pg_db)
        assert row.status == "sending"
        # Its lease runs out (as if a minute passed); the next sender settles it and sends nothing.
        with pg_db.session() as s:
            s.execute(text("UPDATE notification_outbox SET claim_expires_at = now() - interval '1 second'"))
        handler.on_data = None
        report = sender.run_once(pg_db, flush=True, retry_base_seconds=0)
        assert report.total == 0
        assert sender.run_once(pg_db, flush=True, retry_base_seconds=0).total == 0
    assert len(smtp.received) == 1
    (row,) = outbox.rows(pg_db)
    assert row.status == "unknown" and "may or may not" in (row.last_error or "")
    (attempt,) = outbox.attempts(pg_db)
    assert attempt.outcome == "unknown"

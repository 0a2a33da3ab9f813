"""The institution's scheduled reminder rule, on both backends: each sending round reminds the learners
of active cohorts still missing uploads N days after enrolling, then never more often than the
institution allows; and ``cohortdesk notify --serve`` runs it as a service until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from cohortdesk.db import Database
from cohortdesk.models import Cohort
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.notify import outbox, sender
from cohortdesk.services.notify import settings as ns
from tests import review_factories
from tests.smtp_server import SmtpServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(db: Database, tmp_path):
    world = review_factories.review_queue(db, DocumentStore(tmp_path / "storage"), packs=3)
    ce.change_cohort_state(db, world["cohort"].id, "active")
    with db.session() as s:  # the cohort also asks for proof of residence, which nobody uploaded
        s.get(Cohort, world["cohort"].id).required_document_types = ["id_document", "proof_of_residence"]
    return world


def configure(db: Database, world, port: int, **rule) -> None:
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
            reminder_min_days=3,
            **rule,
        ),
    )


def test_the_rule_reminds_once_then_waits_for_the_institutions_limit(db: Database, world):
    with SmtpServer() as smtp:
        configure(db, world, smtp.port, reminder_rule_enabled=False, reminder_after_days=0)
        assert sender.run_once(db, retry_base_seconds=0).reminders == 0  # the rule is off
        configure(db, world, smtp.port, reminder_rule_enabled=True, reminder_after_days=7)
        assert sender.run_once(db, retry_base_seconds=0).reminders == 0  # enrolled today, not 7 days ago
        configure(db, world, smtp.port, reminder_rule_enabled=True, reminder_after_days=0)
        first = sender.run_once(db, retry_base_seconds=0)
        assert (first.reminders, first.sent) == (3, 3), first
        again = sender.run_once(db, retry_base_seconds=0)
        assert (again.reminders, again.sent) == (0, 0), again  # at most one every 3 days
    assert {r.kind for r in outbox.rows(db)} == {"reminder"}
    assert all(r.details["missing"] == ["proof_of_residence"] for r in outbox.rows(db))
    assert len(smtp.received) == 3
    assert "Proof of residence: not uploaded yet" in smtp.received[0].text


def test_notify_serve_runs_the_rule_as_a_service_until_sigterm(db: Database, world, tmp_path):
    with SmtpServer() as smtp:
        configure(db, world, smtp.port, reminder_rule_enabled=True, reminder_after_days=0)
        env = {**os.environ, "COHORTDESK_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
        service = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cohortdesk",
                "--url",
                db.url.render_as_string(hide_password=False),
                "notify",
                "--serve",
                "--interval",
                "0.5",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while len(smtp.received) < 3 and time.monotonic() < deadline and service.poll() is None:
                time.sleep(0.2)
            time.sleep(1.2)  # two more rounds: the limit holds, nothing is sent twice
        finally:
            service.send_signal(signal.SIGTERM)
            _out, err = service.communicate(timeout=30)
    assert service.returncode == 0, err
    assert "sending every 0.5 s" in err
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted({r.rcpt_tos[0] for r in smtp.received})
    assert len(smtp.received) == 3

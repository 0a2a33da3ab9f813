"""Learner notifications end to end against a real SMTP server, on SQLite and PostgreSQL: the outbox
the database fills with each decision, digests, reminders, retries and the at-most-once promise."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from cohortdesk.db import Database
from cohortdesk.errors import PermissionDenied, ValidationError
from cohortdesk.models import Cohort
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.notify import outbox, sender
from cohortdesk.services.notify import settings as ns
from cohortdesk.services.notify.templates import DEFAULTS, check_templates, render, sample_items
from cohortdesk.services.review import decisions as vs
from tests import review_factories
from tests.smtp_server import DroppingServer, Handler, SmtpServer, free_port

DOCS = ("id_document", "matric_certificate", "proof_of_residence")


@pytest.fixture
def store(tmp_path) -> DocumentStore:
    return DocumentStore(tmp_path / "storage")


@pytest.fixture
def world(db: Database, store):
    return review_factories.review_queue(db, store, packs=3, documents=DOCS[:2])


def configure(db: Database, world, port: int, **changes) -> ns.NotifySettings:
    base = ns.load(db, world["institution"].id)
    wanted = replace(
        base,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        sender_name="Acme Training Admissions",
        sender_address="admissions@acme.example",
        reply_to="help@acme.example",
        **{"digest_minutes": 0, **changes},
    )
    return ns.save(db, world["boss"], wanted)


def decide(db: Database, world, enrollment, document: str, action: str, reason: str | None = None):
    return vs.record_decision(
        db,
        vs.DecisionCommand(
            enrollment_id=enrollment.id,
            document_type=document,
            action=action,
            reason=reason,
        ),
        world["bob"],
    )


def send(db: Database, **kw) -> sender.SendReport:
    kw.setdefault("retry_base_seconds", 0)
    kw.setdefault("flush", True)
    return sender.run_once(db, **kw)


def test_a_rejection_queues_its_notification_in_the_same_transaction(db: Database, world):
    first = world["enrollments"][0]
    decide(db, world, first, "id_document", "approved")
    assert outbox.rows(db) == []
    decide(db, world, first, "matric_certificate", "rejected", "The copy is not certified.")
    (row,) = outbox.rows(db)
    assert (row.kind, row.document_type, row.reason, row.status) == (
        "rejection",
        "matric_certificate",
        "The copy is not certified.",
        "pending",
    )
    assert row.details["officer"] == "Sipho Dlamini" and row.details["cohort_name"] == "Q1 2026 Learnership"
    assert row.recipient_name == "Lerato Mokoena" and "@" in (row.recipient_email or "")
    # A decision that never commits leaves no notification behind either.
    with pytest.raises(RuntimeError), db.session() as s:
        s.execute(
            text(
                "INSERT INTO document_verifications (uuid, account_id, cohort_enrollment_id, admin_id, document_type,"
                " action, reason, metadata, created_at, updated_at, row_version)"
                " VALUES ('u-1', :a, :e, :u, 'id_document', 'rejected', 'blurred', '{}', :t, :t, 1)"
            ),
            {"a": world["account"], "e": first.id, "u": world["bob"].user_id, "t": row.created_at},
        )
        assert len(s.execute(text("SELECT id FROM notification_outbox")).all()) == 2
        raise RuntimeError("the decision fails after its insert")
    assert len(outbox.rows(db)) == 1


def test_one_digest_per_learner_lists_every_document_to_fix(db: Database, world):
    first, second = world["enrollments"][:2]
    with SmtpServer() as smtp:
        configure(db, world, smtp.port)
        decide(db, world, first, "id_document", "rejected", "The copy is not certified.")
        decide(db, world, first, "matric_certificate", "rejected", "Page 2 is missing.")
        decide(db, world, second, "id_document", "rejected", "Blurred <scan> & cut off.")
        report = send(db)
        assert report.sent == 2 and report.total == 2, report
        by_recipient = {r.rcpt_tos[0]: r for r in smtp.received}
    assert len(smtp.received) == 2
    rows = {r.cohort_enrollment_id: r for r in outbox.rows(db)}
    mail = by_recipient[rows[first.id].recipient_email]
    msg = mail.message
    assert msg["Subject"] == "Action needed: 2 document(s) to upload again for Q1 2026 Learnership"
    assert msg["From"] == "Acme Training Admissions <admissions@acme.example>"
    assert msg["Reply-To"] == "help@acme.example"
    assert msg["To"].startswith("Lerato Mokoena <")
    assert msg["Message-ID"].endswith("@acme.example>")
    assert "Dear Lerato Mokoena," in mail.text
    assert "  - Certified ID document: The copy is not certified." in mail.text or "ID" in mail.text
    assert "The copy is not certified." in mail.text and "Page 2 is missing." in mail.text
    assert "Checked by: Sipho Dlamini." in mail.text
    assert "<li><b>" in mail.html and "Page 2 is missing." in mail.html
    other = by_recipient[rows[second.id].recipient_email]
    assert "Blurred &lt;scan&gt; &amp; cut off." in other.html and "Blurred <scan> & cut off." in other.text
    assert {r.status for r in outbox.rows(db)} == {"sent"}
    assert [a.outcome for a in outbox.attempts(db)] == ["sent", "sent"]
    # Nothing is sent twice.
    assert send(db).total == 0


def test_the_sending_window_collects_clicks_into_one_email(db: Database, world):
    first = world["enrollments"][0]
    with SmtpServer() as smtp:
        configure(db, world, smtp.port, digest_minutes=15)
        decide(db, world, first, "id_document", "rejected", "Not certified.")
        assert send(db, flush=False).total == 0  # the window is still open
        decide(db, world, first, "matric_certificate", "rejected", "Wrong document.")
        assert send(db, flush=True).sent == 1  # "Send now" closes it
    (mail,) = smtp.received
    assert "Not certified." in mail.text and "Wrong document." in mail.text


def test_a_rejection_replaced_before_sending_is_not_sent(db: Database, world):
    first = world["enrollments"][0]
    with SmtpServer() as smtp:
        configure(db, world, smtp.port)
        decide(db, world, first, "id_document", "rejected", "Not certified.")
        decide(db, world, first, "id_document", "approved")
        assert send(db).total == 0
    assert smtp.received == []
    assert [r.status for r in outbox.rows(db)] == ["superseded"]


def test_an_undone_rejection_is_not_sent_and_an_undone_approval_lets_the_rejection_go(db: Database, world):
    first, second = world["enrollments"][:2]
    bob = world["bob"]
    with SmtpServer() as smtp:
        configure(db, world, smtp.port)
        decide(db, world, first, "id_document", "rejected", "Not certified.")
        vs.undo_last(db, bob, first.id)  # a slip of the finger: the learner is told nothing
        decide(db, world, second, "id_document", "rejected", "The stamp is missing.")
        decide(db, world, second, "id_document", "approved")
        vs.undo_last(db, bob, second.id)  # the approval was the slip: the rejection stands
        assert send(db).sent == 1
    (mail,) = smtp.received
    assert "The stamp is missing." in mail.text and "Not certified." not in mail.text
    statuses = {r.cohort_enrollment_id: r.status for r in outbox.rows(db)}
    assert statuses == {first.id: "superseded", second.id: "sent"}


def test_all_verified_is_sent_only_when_the_institution_asks(db: Database, world):
    first, second = world["enrollments"][:2]
    with SmtpServer() as smtp:
        configure(db, world, smtp.port)
        for document in DOCS[:2]:
            decide(db, world, first, document, "approved")
        assert outbox.rows(db) == []
        configure(db, world, smtp.port, notify_all_verified=True)
        for document in DOCS[:2]:
            decide(db, world, second, document, "approved")
        assert send(db).sent == 1
    (mail,) = smtp.received
    assert mail.message["Subject"] == "All your documents for Q1 2026 Learnership are verified"


def test_reminders_list_what_is_missing_and_respect_the_limit(db: Database, world):
    first, second = world["enrollments"][:2]
    with db.session() as s:  # the cohort now also asks for proof of residence, which nobody uploaded
        s.get(Cohort, world["cohort"].id).required_document_types = list(DOCS)
    with SmtpServer() as smtp:
        configure(db, world, smtp.port, reminder_min_days=3)
        outcomes = outbox.remind(db, world["alice"], [first.id, second.id])
        assert [o.queued for o in outcomes] == [True, True], outcomes
        assert "proof_of_residence" in outcomes[0].detail
        again = outbox.remind(db, world["alice"], [first.id])
        assert not again[0].queued and "one reminder every 3 day(s)" in again[0].detail
        assert send(db).sent == 2
    mail = smtp.received[0]
    assert mail.message["Subject"].startswith("Reminder: 1 document(s) still missing")
    assert "Proof of residence: not uploaded yet" in mail.text


def test_a_report_viewer_cannot_remind(db: Database, world):
    viewer = review_factories.officer_identity(db, world["account"], world["officer"], "report_viewer")
    with pytest.raises(PermissionDenied):
        outbox.remind(db, viewer, [world["enrollments"][0].id])


def test_a_refused_or_dropped_connection_is_retried_and_sent_once_after_recovery(db: Database, world):
    first = world["enrollments"][0]
    port = free_port()
    configure(db, world, port)
    decide(db, world, first, "id_document", "rejected", "Not certified.")
    report = send(db)  # nothing listens on the port: connection refused
    assert (report.retried, report.sent) == (1, 0)
    (row,) = outbox.rows(db)
    assert row.status == "pending" and row.attempts == 1 and "Could not reach" in (row.last_error or "")
    with DroppingServer() as flaky:
        configure(db, world, flaky.port)
        assert send(db).retried == 1 and flaky.connections >= 1
    with SmtpServer() as smtp:
        configure(db, world, smtp.port)
        assert send(db).sent == 1
        assert send(db).total == 0
    assert len(smtp.received) == 1
    assert [a.outcome for a in outbox.attempts(db)] == ["retry", "retry", "sent"]


def test_a_temporary_refusal_is_retried_and_a_permanent_one_is_not(db: Database, world):
    first, second = world["enrollments"][:2]
    handler = Handler(data_reply="451 4.3.0 try again later")
    with SmtpServer(handler=handler) as smtp:
        configure(db, world, smtp.port)
        decide(db, world, first, "id_document", "rejected", "Not certified.")
        assert send(db).retried == 1
        handler.data_reply = None
        bad = outbox.rows(db)[0].recipient_email
        decide(db, world, second, "id_document", "rejected", "Blurred.")
        second_email = [r.recipient_email for r in outbox.rows(db) if r.cohort_enrollment_id == second.id][0]
        handler.rcpt_replies[second_email] = "550 5.1.1 no such mailbox"
        report = send(db)
        assert (report.sent, report.failed) == (1, 1), report
        assert send(db).total == 0
    assert [r.rcpt_tos for r in smtp.received] == [[bad]]
    failed = [r for r in outbox.rows(db) if r.status == "failed"]
    assert len(failed) == 1 and "550" in (failed[0].last_error or "")


def test_a_drop_after_the_whole_message_is_never_sent_again(db: Database, world):
    first = world["enrollments"][0]
    handler = Handler(drop_after_data=True)
    with SmtpServer(handler=handler) as smtp:
        configure(db, world, smtp.port)
        decide(db, world, first, "id_document", "rejected", "Not certified.")
        assert send(db).unknown == 1
        handler.drop_after_data = False
        assert send(db).total == 0
    assert len(smtp.received) == 1
    (row,) = outbox.rows(db)
    assert row.status == "unknown" and "may have been delivered" in (row.last_error or "")
    # A super admin decides to send it again: one more e-mail, on purpose.
    assert outbox.resend(db, world["boss"], [row.id]) == 1
    with SmtpServer() as smtp:
        configure(db, world, smtp.port)
        assert send(db).sent == 1


def test_a_claim_abandoned_before_its_attempt_started_is_sent_by_the_next_sender(db: Database, world):
    first = world["enrollments"][0]
    with SmtpServer() as smtp:
        configure(db, world, smtp.port)
        decide(db, world, first, "id_document", "rejected", "Not certified.")
        (digest,) = outbox.claim(db, flush=True, lease_seconds=60)  # a sender dies right after claiming
        assert send(db).total == 0  # the lease still runs
        with db.session() as s:
            s.execute(
                text("UPDATE notification_outbox SET claim_expires_at = :t"), {"t": digest.rows[0].created_at}
            )
        assert send(db).sent == 1
    assert len(smtp.received) == 1


def test_settings_are_checked_and_templates_edited_with_placeholders(db: Database, world):
    base = ns.load(db, world["institution"].id)
    assert not base.saved and not base.configured
    with pytest.raises(ValidationError, match="Sender address"):
        ns.save(db, world["boss"], replace(base, smtp_host="smtp.example.co.za"))
    with pytest.raises(ValidationError, match="not a placeholder"):
        check_templates({"rejection": {"subject": "Hello ${firstname}"}})
    with pytest.raises(PermissionDenied):
        ns.save(db, world["alice"], base)
    saved = ns.save(
        db,
        world["boss"],
        replace(
            base,
            smtp_host="smtp.example.co.za",
            sender_address="admissions@acme.example",
            templates={"reminder": {"subject": "Still waiting, ${learner_name}"}},
        ),
    )
    assert (
        saved.saved
        and saved.configured
        and saved.templates == {"reminder": {"subject": "Still waiting, ${learner_name}"}}
    )
    mail = render(
        sample_items("reminder"),
        learner_name="Lerato",
        institution_name="Acme",
        sender_name="",
        reply_to="",
        edited=saved.templates,
    )
    assert mail.subject == "Still waiting, Lerato" and mail.text.startswith("Dear Lerato,")
    assert DEFAULTS["reminder"].text != ""

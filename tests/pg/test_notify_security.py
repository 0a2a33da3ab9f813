"""The notification outbox under real application logins: written only by the database, read per
institution, claimed only by super admins, reminders through the function."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest
from psycopg import errors as pgerr

from cohortdesk.errors import PermissionDenied
from cohortdesk.services.access.identity import resolve_identity
from cohortdesk.services.notify import outbox
from cohortdesk.services.notify import settings as ns
from cohortdesk.services.review import decisions as verification
from tests.pg.security_fixtures import Secured, secured_database

pytestmark = pytest.mark.pg


@pytest.fixture(scope="module")
def sec(tmp_path_factory, migrated) -> Secured:
    with secured_database(tmp_path_factory, migrated) as secured:
        yield secured


def _refused(conn: psycopg.Connection, sql: str, params: tuple = ()) -> bool:
    try:
        with conn.transaction():
            conn.execute(sql, params)
    except (pgerr.InsufficientPrivilege, pgerr.RaiseException):
        return True
    return False


def test_the_outbox_is_written_by_the_database_and_read_per_institution(sec: Secured):
    a, b = sec.a, sec.b
    for tenant in (a, b):
        officer_db = sec.database(tenant.logins["officer"])
        me = resolve_identity(officer_db)
        verification.record_decision(
            officer_db,
            verification.DecisionCommand(
                enrollment_id=tenant.enrollment,
                document_type="matric_certificate",
                action="rejected",
                reason="Not certified",
            ),
            me,
        )
    officer_db = sec.database(a.logins["officer"])
    rows = outbox.rows(officer_db)
    assert [(r.account_id, r.kind, r.reason) for r in rows] == [(a.account, "rejection", "Not certified")]
    with sec.connect(a.logins["officer"]) as conn:
        assert _refused(
            conn,
            "INSERT INTO notification_outbox (account_id, institution_id, kind, cohort_enrollment_id, details,"
            " created_at, status, attempts) VALUES (%s, %s, 'reminder', %s, '{}', now(), 'pending', 0)",
            (a.account, a.institution, a.enrollment),
        )
        assert _refused(conn, "UPDATE notification_outbox SET status = 'sent'")
        assert _refused(conn, "SELECT * FROM notification_attempts")
        assert _refused(conn, "SELECT * FROM cohortdesk_notify_claim(10, 60, true)")
        assert _refused(conn, "SELECT cohortdesk_notify_save_settings('{}'::jsonb)")
    with sec.connect(a.logins["report_viewer"]) as conn:
        assert _refused(conn, "SELECT * FROM notification_outbox")
        assert _refused(conn, "SELECT * FROM cohortdesk_notify_remind(ARRAY[%s]::bigint[])", (a.enrollment,))


def test_super_admins_claim_and_configure_only_their_own_institution(sec: Secured):
    a, b = sec.a, sec.b
    admin_db = sec.database(a.logins["super_admin"])
    boss = resolve_identity(admin_db)
    saved = ns.save(
        admin_db,
        boss,
        replace(
            ns.load(admin_db, a.institution), smtp_host="127.0.0.1", sender_address="admissions@a.example"
        ),
    )
    assert saved.saved and saved.smtp_host == "127.0.0.1"
    with pytest.raises(PermissionDenied):
        ns.save(admin_db, boss, replace(ns.load(admin_db, a.institution), institution_id=b.institution))
    with sec.connect(a.logins["super_admin"]) as conn:
        row = conn.execute(
            "SELECT updated_by FROM notification_settings WHERE institution_id = %s", (a.institution,)
        ).fetchone()
        assert row == (a.logins["super_admin"],)
    digests = outbox.claim(admin_db, flush=True, lease_seconds=60)
    assert {d.account_id for d in digests} <= {a.account}
    # Hand them back for other tests: the lease is settled by the next claim once it runs out.
    with sec.connect("postgres") as conn:
        conn.execute(
            "UPDATE notification_outbox SET status = 'pending', claim_token = NULL, claim_expires_at = NULL"
        )


def test_officers_remind_through_the_function_only_inside_their_institution(sec: Secured):
    a, b = sec.a, sec.b
    with sec.connect("postgres") as conn:
        conn.execute(
            'UPDATE cohorts SET required_document_types = \'["id_document", "matric_certificate", "cv"]\''
        )
    officer_db = sec.database(a.logins["officer"])
    me = resolve_identity(officer_db)
    mine, theirs = outbox.remind(officer_db, me, [a.enrollment, b.enrollment])
    assert mine.queued and "cv" in mine.detail
    assert not theirs.queued and theirs.detail == "There is no such enrollment."
    again = outbox.remind(officer_db, me, [a.enrollment])[0]
    assert not again.queued and "allows one reminder every 3 day(s)" in again.detail

"""Hostile clients against references, identities and the boundaries that already held.

* A super admin cannot point their institution, an enrollment or its documents at another account's
  user, submission or stored file, and the database refuses the same for every writer (a superuser
  included): the checks are triggers, not grants.
* A DocuSeal user has at most one active login, so nobody decides in a colleague's name.
* The attacks the database already refused stay refused, tried the way a hostile client would: reading
  another institution, ``SET ROLE``/``set_config`` tricks, changing the audit trail, creating schemas
  or objects, and hijacking ``search_path`` (including a temporary table in front of a definer function).
"""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from psycopg import errors as pgerr
from sqlalchemy import text

from cohortdesk.errors import ValidationError
from cohortdesk.services.access import logins as admin_users
from tests import factories
from tests.pg.security_fixtures import TENANT_TABLES, Secured, secured_database

pytestmark = pytest.mark.pg

ROLES = ("super_admin", "officer", "officer_pi", "report_viewer")


@pytest.fixture(scope="module")
def sec(tmp_path_factory, migrated) -> Secured:
    with secured_database(tmp_path_factory, migrated) as secured:
        yield secured


def _refused(
    conn: psycopg.Connection, sql: str, params: tuple = (), errors=(pgerr.InsufficientPrivilege,)
) -> bool:
    try:
        with conn.transaction():
            cursor = conn.execute(sql, params)
            if cursor.description is not None:
                cursor.fetchall()
    except errors:
        return True
    return False


def _b_storage_key(sec: Secured) -> str:
    with sec.admin.session() as s:
        return s.scalar(
            text(
                "SELECT uploaded_documents -> 'id_document' ->> 'storage_key' FROM cohort_enrollments WHERE id = :id"
            ),
            {"id": sec.b.enrollment},
        )


# --- attack 9: references into another account ----------------------------------------------------


def test_a_super_admin_cannot_reference_another_accounts_rows(sec: Secured):
    a, b = sec.a, sec.b
    b_key = _b_storage_key(sec)
    with sec.connect(a.logins["super_admin"]) as conn:
        for statement in (
            f"UPDATE institutions SET super_admin_id = {b.user_ids['super_admin']} WHERE id = {a.institution}",
            f"UPDATE cohort_enrollments SET submission_id = {b.submission} WHERE id = {a.enrollment}",
            f"UPDATE cohort_enrollments SET supporting_submission_ids = '[{b.submission}]' WHERE id = {a.enrollment}",
            "UPDATE cohort_enrollments SET uploaded_documents = uploaded_documents || "
            f"jsonb_build_object('proof_of_residence', jsonb_build_object('storage_key', '{b_key}', "
            f"'checksum', 'x', 'file_name', 'stolen.pdf')) WHERE id = {a.enrollment}",
        ):
            assert _refused(conn, statement), statement
        # The blob behind B's key never shows through A's blobs view.
        assert conn.execute(
            "SELECT count(*) FROM cohortdesk_docuseal.active_storage_blobs WHERE id = %s", (b.blob,)
        ).fetchone() == (0,)
        # Through the configuration write function too (its own checks, then the triggers').
        ops = [
            {
                "op": "update",
                "table": "institutions",
                "id": a.institution,
                "set": {"super_admin_id": b.user_ids["super_admin"]},
            }
        ]
        try:
            with conn.transaction():
                result = conn.execute("SELECT cohortdesk_write(NULL, %s)", (json.dumps(ops),)).fetchone()[0]
            assert result[0]["ok"] is False
        except pgerr.InsufficientPrivilege:
            pass
    # Its own institution's rows are fine (the checks refuse only what points elsewhere).
    with sec.admin.session() as s:
        s.execute(
            text("UPDATE institutions SET super_admin_id = :u WHERE id = :i"),
            {"u": a.user_ids["super_admin"], "i": a.institution},
        )
        s.execute(
            text("UPDATE cohort_enrollments SET submission_id = :s WHERE id = :e"),
            {"s": a.submission, "e": a.enrollment},
        )
        s.execute(
            text("UPDATE cohort_enrollments SET submission_id = NULL WHERE id = :e"), {"e": a.enrollment}
        )


def test_the_reference_checks_hold_for_every_writer(sec: Secured):
    """A trigger, not a grant: even a privileged session cannot make the cross-account links."""
    a, b = sec.a, sec.b
    b_key = _b_storage_key(sec)
    for statement in (
        f"UPDATE institutions SET super_admin_id = {b.user_ids['officer']} WHERE id = {a.institution}",
        f"UPDATE cohort_enrollments SET submission_id = {b.submission} WHERE id = {a.enrollment}",
        f"UPDATE cohort_enrollments SET user_id = {b.student} WHERE id = {a.enrollment}",
        f"UPDATE cohort_enrollments SET cohort_id = {b.cohort} WHERE id = {a.enrollment}",
        "UPDATE cohort_enrollments SET uploaded_documents = uploaded_documents || "
        f"jsonb_build_object('bank_confirmation_letter', jsonb_build_object('storage_key', '{b_key}')) "
        f"WHERE id = {a.enrollment}",
    ):
        expected = "another institution|of this enrollment|of this institution"
        with pytest.raises(Exception, match=expected), sec.admin.session() as s:
            s.execute(text(statement))


# --- attack 7: one login per person ---------------------------------------------------------------


def test_a_person_has_at_most_one_active_login(sec: Secured):
    a = sec.a
    with sec.connect(a.logins["super_admin"]) as conn:
        assert _refused(
            conn,
            "SELECT cohortdesk_admin_add_user(%s, NULL, %s, 'officer', '{}')",
            (sec.new_login_name("twin"), a.user_ids["officer"]),
            errors=(pgerr.UniqueViolation,),
        )
    with pytest.raises(ValidationError, match="already has the login"):
        admin_users.add_user(
            sec.admin,
            admin_users.NewLogin(
                login=sec.new_login_name("twin"),
                role="officer",
                user_id=a.user_ids["officer"],
                institution_id=a.institution,
            ),
            password=None,
        )
    with pytest.raises(Exception, match="ux_cohortdesk_users_active_user_id"), sec.admin.session() as s:
        s.execute(
            text(
                "INSERT INTO cohortdesk_users (db_role, user_id, account_id, institution_id, app_role) "
                "VALUES (:r, :u, :a, :i, 'officer')"
            ),
            {
                "r": f"cdt_twin_{uuid.uuid4().hex[:8]}",
                "u": a.user_ids["officer"],
                "a": a.account,
                "i": a.institution,
            },
        )
    # A person whose login was removed may be given a new one.
    person = factories.user(sec.admin, a.account, "Returning", "Officer")
    first = sec.new_login_name("back")
    admin_users.add_user(
        sec.admin,
        admin_users.NewLogin(login=first, role="officer", user_id=person, institution_id=a.institution),
        password=None,
    )
    admin_users.remove_user(sec.admin, first)
    again = sec.new_login_name("back")
    admin_users.add_user(
        sec.admin,
        admin_users.NewLogin(login=again, role="officer", user_id=person, institution_id=a.institution),
        password=None,
    )
    assert admin_users.get_user(sec.admin, again).active


# --- what was refused before stays refused ------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_another_institution_stays_invisible_whatever_the_session_says(sec: Secured, role: str):
    a, b = sec.a, sec.b
    with sec.connect(a.logins[role]) as conn:
        for trick in (
            f"SELECT set_config('app.account_id', '{b.account}', false)",
            f"SET cohortdesk.institution_id = '{b.institution}'",
            "SET search_path = public, pg_temp",
        ):
            conn.execute(trick)
        for statement in (
            f"SET ROLE {b.logins['super_admin']}",
            "SET ROLE cohortdesk_owner",
            "SET ROLE cohortdesk_identity",
            "SET SESSION AUTHORIZATION postgres",
        ):
            assert _refused(conn, statement)
        for table in TENANT_TABLES:
            try:
                with conn.transaction():
                    seen = {r[0] for r in conn.execute(f"SELECT account_id FROM public.{table}")}
            except pgerr.InsufficientPrivilege:
                continue
            assert b.account not in seen, table
        for view in ("cohort_enrollments", "users", "submissions", "submitters", "templates"):
            seen = {r[0] for r in conn.execute(f"SELECT account_id FROM cohortdesk_docuseal.{view}")}
            assert b.account not in seen, view


@pytest.mark.parametrize("role", ROLES)
def test_the_audit_trail_and_the_schema_cannot_be_changed(sec: Secured, role: str):
    a = sec.a
    with sec.connect(a.logins[role]) as conn:
        for table in ("document_verifications", "cohortdesk_access_log"):
            for statement in (
                f"UPDATE public.{table} SET account_id = account_id",
                f"DELETE FROM public.{table}",
                f"TRUNCATE public.{table}",
            ):
                assert _refused(conn, statement), statement
        for statement in (
            "CREATE SCHEMA hijack",
            "CREATE TABLE public.cohortdesk_users_shadow (db_role text)",
            "CREATE TABLE cohortdesk_docuseal.users_shadow (id bigint)",
            "CREATE FUNCTION public.cohortdesk_current_account() RETURNS bigint LANGUAGE sql AS 'SELECT 1'",
            "CREATE OR REPLACE VIEW cohortdesk_docuseal.cohort_enrollments AS SELECT 1 AS id",
            "ALTER TABLE public.cohort_enrollments DISABLE ROW LEVEL SECURITY",
            "ALTER FUNCTION public.cohortdesk_reveal_special_pi(bigint, text) SECURITY INVOKER",
            "TRUNCATE public.cohort_enrollments",
            "LOCK TABLE public.cohortdesk_access_log IN ACCESS EXCLUSIVE MODE",
        ):
            assert _refused(
                conn,
                statement,
                errors=(pgerr.InsufficientPrivilege, pgerr.DuplicateFunction, pgerr.WrongObjectType),
            ), statement
        # A GRANT of what one does not own is refused or only warns ("no privileges were granted").
        for grant in (
            "GRANT SELECT ON public.cohort_enrollments TO PUBLIC",
            f"GRANT SELECT ON public.cohortdesk_access_log TO {a.logins['officer']}",
        ):
            _refused(conn, grant)
        assert conn.execute(
            "SELECT has_table_privilege('public', 'public.cohort_enrollments', 'SELECT'), "
            "has_table_privilege(%s, 'public.cohortdesk_access_log', 'SELECT')",
            (a.logins["officer"],),
        ).fetchone() == (False, False)


def test_a_temporary_table_cannot_stand_in_for_the_mapping(sec: Secured):
    """``pg_temp`` comes last in every definer function's search_path: a temporary ``cohortdesk_users``
    claiming institution B changes nothing."""
    a, b = sec.a, sec.b
    with sec.connect(a.logins["officer_pi"]) as conn:
        conn.execute(
            "CREATE TEMP TABLE cohortdesk_users (db_role text, user_id bigint, account_id bigint, "
            "institution_id bigint, app_role text, capabilities text[], active boolean)"
        )
        conn.execute(
            "INSERT INTO cohortdesk_users VALUES (session_user, 1, %s, %s, 'super_admin', '{special_pi}', true)",
            (b.account, b.institution),
        )
        conn.execute("SET search_path = pg_temp, cohortdesk_docuseal, public")
        assert conn.execute("SELECT public.cohortdesk_current_account()").fetchone() == (a.account,)
        assert _refused(
            conn,
            "SELECT public.cohortdesk_reveal_special_pi(%s, 'temp table trick')",
            (b.enrollment,),
            errors=(pgerr.NoDataFound,),
        )
        assert _refused(
            conn,
            "SELECT public.cohortdesk_log_export('internal_use', 'cohorts', %s, %s)",
            (b.cohort, json.dumps({})),
        )

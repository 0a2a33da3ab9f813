"""Security the database enforces, tested black-box with raw psycopg connections logged in as each role.

Whatever a modified client sends, an officer of institution A sees nothing of institution B, cannot
change a cohort or the non-verification columns of an enrollment, a report viewer writes nothing, and
nobody but the owner can UPDATE, DELETE or TRUNCATE the decision history.
"""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg import errors as pgerr

from cohortdesk.errors import NotFoundError, PermissionDenied, ValidationError
from cohortdesk.models import DOCUSEAL_TABLES, Base
from cohortdesk.services.access import log as access_log
from cohortdesk.services.access import logins as admin_users
from cohortdesk.services.access.identity import SPECIAL_PI, resolve_identity
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.review import decisions as verification
from tests.pg.security_fixtures import TENANT_TABLES, VIEWS, Secured, secured_database

pytestmark = pytest.mark.pg

APP_ROLES = ("super_admin", "officer", "report_viewer")
GROUPS = ("cohortdesk_super_admin", "cohortdesk_officer", "cohortdesk_report_viewer")


@pytest.fixture(scope="module")
def sec(tmp_path_factory, migrated) -> Secured:
    with secured_database(tmp_path_factory, migrated) as secured:
        yield secured


def _tenant_column(table: str) -> str:
    return "id" if table == "accounts" else "account_id"


def _visible_accounts(conn: psycopg.Connection, relation: str, column: str = "account_id") -> set[int] | None:
    """The tenant keys of every row ``relation`` shows this connection; None if reading is refused."""
    try:
        with conn.transaction():
            return {row[0] for row in conn.execute(f"SELECT {column} FROM {relation}")}
    except pgerr.InsufficientPrivilege:
        return None


def _visible_ids(conn: psycopg.Connection, relation: str) -> set[int]:
    return {row[0] for row in conn.execute(f"SELECT id FROM {relation}")}


def _leaks(conn: psycopg.Connection, sec: Secured) -> list[str]:
    """Every table and view in which this connection sees something of institution B."""
    leaks = []
    b = sec.b
    for table in TENANT_TABLES:
        seen = _visible_accounts(conn, f"public.{table}")
        if seen and b.account in seen:
            leaks.append(table)
    for view in VIEWS:
        relation = f"cohortdesk_docuseal.{view}"
        if view in ("active_storage_attachments", "active_storage_blobs"):
            own = {b.attachment} if view == "active_storage_attachments" else {b.blob}
            with conn.transaction():
                if _visible_ids(conn, relation) & own:
                    leaks.append(view)
            continue
        seen = _visible_accounts(conn, relation, _tenant_column(view))
        if seen and b.account in seen:
            leaks.append(view)
    return leaks


# --- isolation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [*APP_ROLES, "officer_pi"])
def test_a_login_sees_only_its_own_institution(sec: Secured, role: str):
    with sec.connect(sec.a.logins[role]) as conn:
        assert _leaks(conn, sec) == []
        # ... and does see its own institution's rows.
        for table in ("institutions", "sponsors", "cohorts", "cohort_enrollments", "document_verifications"):
            assert _visible_accounts(conn, table) == {sec.a.account}, table
        for view in VIEWS:
            if view.startswith("active_storage"):
                continue
            assert _visible_accounts(conn, f"cohortdesk_docuseal.{view}", _tenant_column(view)) == {
                sec.a.account
            }
        assert sec.a.blob in _visible_ids(conn, "cohortdesk_docuseal.active_storage_blobs")
        assert sec.a.attachment in _visible_ids(conn, "cohortdesk_docuseal.active_storage_attachments")
        log = _visible_accounts(conn, "cohortdesk_access_log")
        assert log == ({sec.a.account} if role == "super_admin" else None)


def test_unqualified_names_reach_the_views(sec: Secured):
    """The login's search_path routes DocuSeal table names to the filtered views."""
    with sec.connect(sec.a.logins["officer"]) as conn:
        assert conn.execute("SHOW search_path").fetchone()[0] == "cohortdesk_docuseal, public"
        assert {r[0] for r in conn.execute("SELECT account_id FROM users")} == {sec.a.account}
        assert conn.execute("SELECT count(*) FROM cohorts").fetchone()[0] == 1


TRICKS = [
    "SET app.account_id = '{b_account}'",
    "SET app.institution_id = '{b_institution}'",
    "SET cohortdesk.account_id = '{b_account}'",
    "SELECT set_config('app.account_id', '{b_account}', false)",
    "SET ROLE {group}",
    "SET ROLE cohortdesk_super_admin",
    "SET ROLE cohortdesk_owner",
    "SET ROLE cohortdesk_identity",
    "SET ROLE postgres",
    "SET ROLE {b_login}",
    "RESET ROLE",
    "SET ROLE NONE",
    "SET SESSION AUTHORIZATION {b_login}",
    "SET SESSION AUTHORIZATION postgres",
    "RESET SESSION AUTHORIZATION",
    "SET row_security = off",
    "SET search_path = public, cohortdesk_docuseal",
    "SET search_path = pg_temp, public",
]


@pytest.mark.parametrize("role", APP_ROLES)
@pytest.mark.parametrize("trick", TRICKS)
def test_no_session_trick_widens_access(sec: Secured, role: str, trick: str):
    statement = trick.format(
        b_account=sec.b.account,
        b_institution=sec.b.institution,
        group=f"cohortdesk_{role}",
        b_login=sec.b.logins[role],
    )
    with sec.connect(sec.a.logins[role]) as conn:
        try:
            conn.execute(statement)
        except psycopg.Error:
            pass  # refused outright: fine
        leaks = []
        for table in TENANT_TABLES:
            try:
                seen = _visible_accounts(conn, f"public.{table}")
            except psycopg.Error:
                continue  # e.g. row_security = off makes the query fail: fine
            if seen and sec.b.account in seen:
                leaks.append(table)
        for view in VIEWS:
            try:
                with conn.transaction():
                    seen = {
                        row[0]
                        for row in conn.execute(
                            f"SELECT {_tenant_column(view) if not view.startswith('active') else 'id'} "
                            f"FROM cohortdesk_docuseal.{view}"
                        )
                    }
            except psycopg.Error:
                continue
            forbidden = {sec.b.account, sec.b.blob, sec.b.attachment}
            if view.startswith("active"):
                forbidden = {sec.b.blob} if view.endswith("blobs") else {sec.b.attachment}
            if seen & forbidden:
                leaks.append(view)
        assert leaks == []
        # The DocuSeal tables themselves stay closed, whatever the search_path says.
        for table in DOCUSEAL_TABLES:
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(f"SELECT id FROM public.{table} LIMIT 1")


def test_set_role_to_a_group_the_login_is_not_in_is_refused(sec: Secured):
    with sec.connect(sec.a.logins["officer"]) as conn:
        for role in ("cohortdesk_super_admin", "cohortdesk_owner", "cohortdesk_identity", "postgres"):
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                conn.execute(f"SET ROLE {role}")
        with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
            conn.execute("SET SESSION AUTHORIZATION postgres")


def test_identity_functions_follow_session_user_only(sec: Secured):
    with sec.connect(sec.a.logins["officer"]) as conn:
        conn.execute(f"SET app.account_id = '{sec.b.account}'")
        conn.execute("SET ROLE cohortdesk_officer")
        row = conn.execute(
            "SELECT cohortdesk_current_account(), cohortdesk_current_institution(), cohortdesk_current_role(), "
            "cohortdesk_current_user_id(), cohortdesk_has_capability('special_pi')"
        ).fetchone()
        assert row == (sec.a.account, sec.a.institution, "officer", sec.a.user_ids["officer"], False)
    with sec.connect(sec.a.logins["officer_pi"]) as conn:
        assert conn.execute("SELECT cohortdesk_has_capability('special_pi')").fetchone()[0] is True


# --- what each role may write -------------------------------------------------------------------


def test_an_officer_cannot_change_a_cohort_or_non_verification_columns(sec: Secured):
    a, b = sec.a, sec.b
    with sec.connect(a.logins["officer"]) as conn:
        refused = [
            f"UPDATE cohorts SET name = 'hijacked' WHERE id = {a.cohort}",
            f"UPDATE cohorts SET state = 'cancelled' WHERE id = {a.cohort}",
            "INSERT INTO cohorts (institution_id, account_id, name, program_type, student_count, "
            "supporting_templates, required_document_types, state, uuid, created_at, updated_at, row_version) "
            f"VALUES ({a.institution}, {a.account}, 'x', 'learnership', 0, '[]', '[]', 'draft', 'u', now(), now(), 1)",
            f"DELETE FROM cohorts WHERE id = {a.cohort}",
            f"UPDATE sponsors SET company_name = 'x' WHERE id = {a.sponsor}",
            f"UPDATE institutions SET name = 'x' WHERE id = {a.institution}",
            f"UPDATE cohort_enrollments SET state = 'complete' WHERE id = {a.enrollment}",
            f"UPDATE cohort_enrollments SET student_data = '{{}}' WHERE id = {a.enrollment}",
            f"UPDATE cohort_enrollments SET cohort_id = cohort_id WHERE id = {a.enrollment}",
            f"UPDATE cohort_enrollments SET account_id = {b.account} WHERE id = {a.enrollment}",
            f"DELETE FROM cohort_enrollments WHERE id = {a.enrollment}",
            "INSERT INTO cohortdesk_users (db_role, user_id, account_id, institution_id, app_role) "
            f"VALUES ('x', {a.student}, {a.account}, {a.institution}, 'super_admin')",
            f"UPDATE cohortdesk_users SET app_role = 'super_admin' WHERE db_role = '{a.logins['officer']}'",
            "INSERT INTO cohortdesk_access_log (actor, account_id, kind) "
            f"VALUES ('someone', {a.account}, 'export')",
        ]
        for statement in refused:
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)
        # Nor the verification columns: a decision's state comes only from a recorded decision
        # (the server function), never from a direct UPDATE.
        for statement in (
            "UPDATE cohort_enrollments SET document_verification_state = 'verified', "
            f"rejection_reason = NULL, row_version = row_version + 1 WHERE id = {a.enrollment}",
            f"UPDATE cohort_enrollments SET rejection_reason = 'x' WHERE id = {b.enrollment}",
        ):
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)


def raise_rollback(conn: psycopg.Connection) -> None:
    raise psycopg.Rollback()


def test_a_report_viewer_cannot_write_anything(sec: Secured):
    a = sec.a
    with sec.connect(a.logins["report_viewer"]) as conn:
        for table in TENANT_TABLES:
            for statement in (
                f"UPDATE {table} SET account_id = account_id",
                f"DELETE FROM {table}",
                f"TRUNCATE {table}",
                f"INSERT INTO {table} (account_id) VALUES ({a.account})",
            ):
                # cohort_enrollments resolves to the masked view, which cannot be truncated at all.
                with pytest.raises((pgerr.InsufficientPrivilege, pgerr.WrongObjectType)), conn.transaction():
                    conn.execute(statement)
        for function in (
            f"cohortdesk_admin_add_user('cdt_nope', NULL, {a.student}, 'officer', '{{}}')",
            f"cohortdesk_admin_set_role('{a.logins['officer']}', 'super_admin', '{{}}')",
            f"cohortdesk_admin_remove_user('{a.logins['officer']}')",
            "cohortdesk_secure_table('cohorts'::regclass, 'account_id')",
        ):
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                conn.execute(f"SELECT {function}")


@pytest.mark.parametrize("role", [*APP_ROLES, "officer_pi"])
def test_nobody_changes_the_decision_history(sec: Secured, role: str):
    a = sec.a
    with sec.connect(a.logins[role]) as conn:
        for statement in (
            f"UPDATE document_verifications SET reason = 'x' WHERE id = {a.verification}",
            f"UPDATE document_verifications SET action = 'rejected', reason = 'x' WHERE id = {a.verification}",
            f"DELETE FROM document_verifications WHERE id = {a.verification}",
            "TRUNCATE document_verifications",
            "TRUNCATE document_verifications CASCADE",
            f"DELETE FROM cohortdesk_access_log WHERE account_id = {a.account}",
            "TRUNCATE cohortdesk_access_log",
        ):
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)


def test_even_the_owner_cannot_change_the_history(sec: Secured):
    """The owner has the privileges, but the append-only triggers refuse (superuser connection here)."""
    with sec.connect("postgres") as conn:
        for statement in (
            f"UPDATE document_verifications SET reason = 'x' WHERE id = {sec.a.verification}",
            f"DELETE FROM document_verifications WHERE id = {sec.a.verification}",
            "TRUNCATE document_verifications",
            "UPDATE cohortdesk_access_log SET purpose = 'x'",
            "DELETE FROM cohortdesk_access_log",
            "TRUNCATE cohortdesk_access_log",
        ):
            with pytest.raises(pgerr.InsufficientPrivilege, match="append-only"), conn.transaction():
                conn.execute(statement)


def test_decisions_are_recorded_only_as_oneself_and_only_in_ones_institution(sec: Secured):
    a, b = sec.a, sec.b
    columns = (
        "cohort_enrollment_id, admin_id, document_type, action, metadata, uuid, created_at, updated_at, "
        "row_version, account_id"
    )

    def insert(enrollment: int, admin: int, account: int) -> str:
        return (
            f"INSERT INTO document_verifications ({columns}) VALUES ({enrollment}, {admin}, 'id_document', "
            f"'approved', '{{}}', gen_random_uuid()::text, now(), now(), 1, {account})"
        )

    me = a.user_ids["officer"]
    with sec.connect(a.logins["officer"]) as conn:
        for statement in (
            insert(a.enrollment, a.user_ids["super_admin"], a.account),  # as someone else
            insert(b.enrollment, me, a.account),  # on another institution's enrollment
            insert(b.enrollment, me, b.account),  # into another institution
            insert(a.enrollment, me, a.account),  # even as oneself: decisions go through the function
        ):
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)
        decide = (
            "SELECT cohortdesk_record_decision(%s, 'id_document', 'approved', NULL, NULL, NULL, NULL, NULL, "
            "NULL, false, NULL, '{}', NULL, %s)"
        )
        with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
            conn.execute(decide, (a.enrollment, a.user_ids["super_admin"]))  # in a colleague's name
        with pytest.raises(pgerr.NoDataFound), conn.transaction():
            conn.execute(decide, (b.enrollment, None))  # another institution's enrollment
        with conn.transaction():
            (answer,) = conn.execute(decide, (a.enrollment, None)).fetchone()
            assert answer["decision"]["admin_id"] == me
            assert answer["decision"]["login"] == a.logins["officer"]
            raise_rollback(conn)


def test_super_admin_writes_stay_inside_the_institution(sec: Secured):
    """Configuration is written only through ``cohortdesk_write``, and only inside the caller's account
    (direct writes are refused outright: the login holds no INSERT/UPDATE/DELETE/TRUNCATE)."""
    a, b = sec.a, sec.b

    def write(conn, *ops):
        return conn.execute("SELECT cohortdesk_write(NULL, %s)", (json.dumps(list(ops)),)).fetchone()[0]

    with sec.connect(a.logins["super_admin"]) as conn:
        with conn.transaction():
            [mine, theirs, inst] = write(
                conn,
                {"op": "update", "table": "cohorts", "id": a.cohort, "set": {"name": "Renamed"}},
                {"op": "update", "table": "cohorts", "id": b.cohort, "set": {"name": "x"}},
                {"op": "update", "table": "institutions", "id": b.institution, "set": {"name": "x"}},
            )
            assert mine["ok"] and not theirs["ok"] and not inst["ok"]
            assert theirs["code"] == inst["code"] == "missing"
            raise_rollback(conn)
        refused = write(
            conn,
            {"op": "update", "table": "cohorts", "id": a.cohort, "set": {"account_id": b.account}},
            {"op": "update", "table": "cohorts", "id": a.cohort, "set": {"institution_id": b.institution}},
            {"op": "update", "table": "cohorts", "id": a.cohort, "set": {"sponsor_id": b.sponsor}},
            {
                "op": "update",
                "table": "institutions",
                "id": a.institution,
                "set": {"super_admin_id": b.student},
            },
            {
                "op": "insert",
                "table": "cohort_enrollments",
                "rows": [{"cohort_id": b.cohort, "user_id": a.student}],
            },
        )
        assert [r["ok"] for r in refused] == [False] * 5
        for statement in (
            f"UPDATE cohorts SET name = name WHERE id = {a.cohort}",
            f"UPDATE institutions SET name = name WHERE id = {a.institution}",
            f"UPDATE cohort_enrollments SET cohort_id = {b.cohort} WHERE id = {a.enrollment}",
            f"UPDATE cohort_enrollments SET user_id = {b.student} WHERE id = {a.enrollment}",
            f"DELETE FROM cohorts WHERE id = {a.cohort}",
            "TRUNCATE cohorts",
        ):
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)


# --- access log ---------------------------------------------------------------------------------


def test_the_access_log_is_written_by_the_database_not_the_client(sec: Secured):
    """Entries come only from the functions that do the logged thing; who, when and which institution
    come from the database. No application login may call the free-form ``cohortdesk_log_access``."""
    a = sec.a
    with sec.connect(a.logins["officer"]) as conn:
        entry = conn.execute(
            "SELECT cohortdesk_fetch_document(%s, 'id_document', 'verification') ->> 'log_id'",
            (a.enrollment,),
        ).fetchone()[0]
        for kind in ("document_view", "permission_change", "special_pi_reveal", "export"):
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                conn.execute(f"SELECT cohortdesk_log_access('{kind}', NULL, NULL, 'x', NULL)")
    with sec.connect(a.logins["super_admin"]) as conn:
        row = conn.execute(
            "SELECT actor, account_id, user_id, kind FROM cohortdesk_access_log WHERE id = %s", (int(entry),)
        ).fetchone()
    assert row == (a.logins["officer"], a.account, a.user_ids["officer"], "document_view")


# --- user management ----------------------------------------------------------------------------


def test_a_super_admin_of_a_cannot_create_users_for_b(sec: Secured):
    a, b = sec.a, sec.b
    admin_a = sec.database(a.logins["super_admin"])
    # Through the service: B's people are invisible, so there is nobody to map.
    with pytest.raises(NotFoundError):
        admin_users.add_user(
            admin_a,
            admin_users.NewLogin(login=sec.new_login_name("x"), role="officer", user_id=b.student),
            password="secret-one",
        )
    # Straight to the database function, bypassing the client's checks.
    with sec.connect(a.logins["super_admin"]) as conn:
        login = sec.new_login_name("x")
        with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
            conn.execute(
                "SELECT cohortdesk_admin_add_user(%s, NULL, %s, 'officer', '{}')", (login, b.student)
            )
        for call in (
            f"cohortdesk_admin_set_role('{b.logins['officer']}', 'super_admin', '{{}}')",
            f"cohortdesk_admin_remove_user('{b.logins['officer']}')",
        ):
            with pytest.raises(pgerr.NoDataFound), conn.transaction():
                conn.execute(f"SELECT {call}")
        # Nor may it take over an existing role (e.g. the server's own administrator).
        with pytest.raises(pgerr.DuplicateObject), conn.transaction():
            conn.execute(
                "SELECT cohortdesk_admin_add_user('postgres', NULL, %s, 'officer', '{}')", (a.student,)
            )
    with sec.connect(b.logins["officer"]):
        pass  # B's officer is untouched


def test_an_officer_cannot_manage_users(sec: Secured):
    officer = sec.database(sec.a.logins["officer"])
    with pytest.raises(PermissionDenied):
        admin_users.list_users(officer)
    with sec.connect(sec.a.logins["officer"]) as conn, pytest.raises(pgerr.InsufficientPrivilege):
        conn.execute("SELECT cohortdesk_admin_remove_user(%s)", (sec.a.logins["report_viewer"],))


def test_super_admin_manages_the_institutions_users(sec: Secured):
    a = sec.a
    admin_a = sec.database(a.logins["super_admin"])
    person = _new_person(sec, a)
    login = sec.new_login_name("new")
    row = admin_users.add_user(
        admin_a,
        admin_users.NewLogin(login=login, role="report_viewer", user_id=person),
        password="S3cret pass",
    )
    assert (row.role, row.institution_id, row.active) == ("report_viewer", a.institution, True)
    with sec.connect("postgres") as conn:
        verifier = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (login,)).fetchone()[
            0
        ]
    assert verifier.startswith("SCRAM-SHA-256$") and "S3cret" not in verifier
    with sec.connect(login) as conn:
        assert conn.execute("SELECT cohortdesk_current_role()").fetchone()[0] == "report_viewer"
        assert _visible_accounts(conn, "cohorts") == {a.account}
    row = admin_users.set_role(admin_a, login, "officer", ["special_pi"])
    assert (row.role, row.capabilities) == ("officer", ("special_pi",))
    with sec.connect(login) as conn:
        assert conn.execute("SELECT pg_has_role('cohortdesk_officer', 'MEMBER')").fetchone()[0]
        assert not conn.execute("SELECT pg_has_role('cohortdesk_report_viewer', 'MEMBER')").fetchone()[0]
    logins = {r.login for r in admin_users.list_users(admin_a)}
    assert login in logins and sec.b.logins["officer"] not in logins
    with pytest.raises(PermissionDenied):
        admin_users.remove_user(admin_a, a.logins["super_admin"])  # not yourself
    with pytest.raises(ValidationError):
        admin_users.add_user(
            admin_a, admin_users.NewLogin(login="Bad Name", role="officer", user_id=person), password=None
        )
    kinds = [
        e.purpose
        for e in access_log.read_log(admin_a, resolve_identity(admin_a), kinds=("permission_change",))
    ]
    assert {"add user", "set role"} <= set(kinds)


def _new_person(sec: Secured, tenant) -> int:
    from tests import factories

    return factories.user(sec.admin, tenant.account, "New", "Person")


def test_removing_a_user_keeps_every_record_they_made(sec: Secured):
    a = sec.a
    login = sec.add_login(a, "officer", name="leaver")
    leaver_db = sec.database(login)
    me = resolve_identity(leaver_db)
    assert (me.role, me.account_id, me.db_role) == ("officer", a.account, login)
    decision = verification.record_decision(
        leaver_db,
        verification.DecisionCommand(
            enrollment_id=a.enrollment,
            document_type="matric_certificate",
            action="rejected",
            reason="Not certified",
        ),
        me,
    )
    access_log.log_document_view(leaver_db, me, a.enrollment, "matric_certificate")
    leaver_db.dispose()

    admin_a = sec.database(a.logins["super_admin"])
    row = admin_users.remove_user(admin_a, login)
    assert row.active is False and row.disabled_at is not None

    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**sec.conninfo(login)).close()
    history = verification.history(admin_a, a.enrollment)
    mine = [h for h in history if h.id == decision.verification.id]
    assert mine and mine[0].admin_id == me.user_id and mine[0].admin_name != ""
    with sec.connect("postgres") as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE id = %s", (me.user_id,)).fetchone()[0] == 1
        assert (
            conn.execute("SELECT count(*) FROM cohortdesk_access_log WHERE actor = %s", (login,)).fetchone()[
                0
            ]
            >= 1
        )
        assert not conn.execute(
            "SELECT pg_has_role(%s, 'cohortdesk_officer', 'MEMBER')", (login,)
        ).fetchone()[0]
    # The name is never handed to somebody else.
    with pytest.raises(ValidationError):
        admin_users.add_user(
            admin_a, admin_users.NewLogin(login=login, role="officer", user_id=_new_person(sec, a)), None
        )


def test_an_unmapped_or_removed_login_is_refused(sec: Secured):
    stranger = sec.new_login_name("stranger")
    with sec.connect("postgres") as conn:
        conn.execute(f'CREATE ROLE "{stranger}" LOGIN IN ROLE cohortdesk_officer')
    # Group membership opens no CohortDesk database: CONNECT is granted per mapped login.
    with pytest.raises(psycopg.OperationalError, match="CONNECT privilege"):
        sec.connect(stranger).__enter__()
    with sec.connect("postgres") as conn:
        conn.execute(f'GRANT CONNECT ON DATABASE "{sec.url.database}" TO "{stranger}"')
    db = sec.database(stranger)
    with pytest.raises(PermissionDenied, match="not a CohortDesk user"):
        resolve_identity(db)
    with sec.connect(stranger) as conn:
        for table in TENANT_TABLES:
            assert not _visible_accounts(conn, table)


# --- the application's services under a login ---------------------------------------------------


def test_services_work_under_an_officer_login(sec: Secured):
    a, b = sec.a, sec.b
    db = sec.database(a.logins["officer"])
    me = resolve_identity(db)
    assert (me.role, me.institution_id, me.can(SPECIAL_PI)) == ("officer", a.institution, False)
    assert [c.id for c in ce.list_cohorts(db)] == [a.cohort]
    assert [i.id for i in ce.list_institutions(db)] == [a.institution]
    with pytest.raises(NotFoundError):
        ce.get_enrollment(db, b.enrollment)
    result = verification.record_decision(
        db,
        verification.DecisionCommand(
            enrollment_id=a.enrollment,
            document_type="id_document",
            action="approved",
        ),
        me,
    )
    assert result.verification.admin_name
    assert verification.history(db, a.enrollment)[0].id == result.verification.id
    with pytest.raises(Exception, match="permission denied|InsufficientPrivilege"):
        ce.change_cohort_state(db, a.cohort, "cancelled")


def test_every_cohortdesk_table_is_forced_under_row_level_security(sec: Secured):
    """Fails as soon as any CohortDesk table (now or added later) lacks RLS, FORCE or a policy."""
    own = {name for name in Base.metadata.tables if name not in DOCUSEAL_TABLES}
    with sec.connect("postgres") as conn:
        tenant_tables = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT table_name FROM information_schema.columns c "
                "JOIN information_schema.tables t USING (table_schema, table_name) "
                "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
                "AND c.column_name IN ('account_id', 'institution_id')"
            )
        } - DOCUSEAL_TABLES
        problems = []
        for table in sorted(own | tenant_tables):
            row = conn.execute(
                "SELECT c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner), "
                "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) "
                "FROM pg_class c WHERE c.oid = %s::regclass",
                (f"public.{table}",),
            ).fetchone()
            if row[:3] != (True, True, "cohortdesk_owner") or row[3] == 0:
                problems.append((table, row))
    assert problems == []


def test_application_roles_get_nothing_on_docuseal_tables(sec: Secured):
    with sec.connect("postgres") as conn:
        for group in GROUPS:
            for table in DOCUSEAL_TABLES:
                for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES"):
                    assert not conn.execute(
                        "SELECT has_table_privilege(%s, %s, %s)", (group, f"public.{table}", privilege)
                    ).fetchone()[0], (group, table, privilege)
                assert not conn.execute(
                    "SELECT has_any_column_privilege(%s, %s, 'SELECT')", (group, f"public.{table}")
                ).fetchone()[0]
            assert not conn.execute(
                "SELECT has_schema_privilege(%s, 'public', 'CREATE')", (group,)
            ).fetchone()[0]
        # The views leave the secrets out.
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'cohortdesk_docuseal'"
            )
        }
        assert not columns & {"encrypted_password", "reset_password_token", "otp_secret", "unlock_token"}


def test_security_definer_functions_pin_search_path_and_are_not_public(sec: Secured):
    with sec.connect("postgres") as conn:
        rows = conn.execute(
            "SELECT p.proname, p.proconfig, p.proacl::text, p.prorettype = 'trigger'::regtype FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND p.proname LIKE 'cohortdesk%%' AND p.prosecdef"
        ).fetchall()
    assert len(rows) >= 9
    for name, config, acl, is_trigger in rows:
        assert len(config) == 1 and config[0].startswith("search_path=pg_catalog"), name
        assert config[0].endswith(", pg_temp"), name  # a temp table can never shadow anything
        if is_trigger:
            continue  # a trigger function cannot be called directly
        assert acl and not any(item.startswith("=") for item in acl.strip("{}").split(",")), (name, acl)


def test_claims_and_decisions_work_under_the_officer_login(sec: Secured):
    """The review workflow end to end as the people who use it: a super admin enrolls, an officer
    claims, decides and releases; another institution's pack cannot be claimed."""
    from cohortdesk.services.review import claims

    a, b = sec.a, sec.b
    admin_db = sec.database(a.logins["super_admin"])
    student = _new_person(sec, a)
    enrollment = ce.enroll(
        admin_db,
        ce.NewEnrollment(
            cohort_id=a.cohort,
            user_id=student,
            student_data={"race": "BA", "gender": "M", "disability": "N", "city": "Durban"},
            uploaded_documents={},
        ),
    ).row
    officer_db = sec.database(a.logins["officer"])
    me = resolve_identity(officer_db)
    held = claims.claim(officer_db, me, enrollment.id)
    held = claims.renew(officer_db, held)
    result = verification.record_decision(
        officer_db,
        verification.DecisionCommand(
            enrollment_id=enrollment.id,
            document_type="id_document",
            action="rejected",
            reason="Not certified",
            claim=held,
            release_claim=True,
        ),
        me,
    )
    assert result.enrollment.document_verification_state == "rejected"
    with sec.connect("postgres") as conn:
        row = conn.execute(
            "SELECT claimed_by, updated_by FROM cohort_enrollments WHERE id = %s", (enrollment.id,)
        ).fetchone()
    assert row == (None, a.logins["officer"])
    with pytest.raises(Exception):  # noqa: B017 - invisible: "not found" or "cannot be claimed"
        claims.claim(officer_db, me, b.enrollment)
    with sec.connect("postgres") as conn:
        assert conn.execute(
            "SELECT claimed_by FROM cohort_enrollments WHERE id = %s", (b.enrollment,)
        ).fetchone() == (None,)

"""Writes a hostile client tries with its own login and plain SQL, each refused by the database.

Raw psycopg connections as each role (the shared two-institution fixture): ids chosen ahead of the
sequences, blocking locks on shared tables, a change counter chosen by the client, configuration written
around the server functions or pointed at another institution, a removed login's open session, a
login reaching a CohortDesk database it is not mapped in, and a laptop whose clock is 400 days slow.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import errors as pgerr

from cohortdesk.db import Database, migrate
from cohortdesk.services.access.identity import resolve_identity
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.review import decisions as verification
from cohortdesk.services.sync import push, server
from cohortdesk.services.sync.spec import SPECS, record_to_json
from tests import factories
from tests.conftest import create_pg_database, drop_pg_database
from tests.pg.security_fixtures import Secured, secured_database

pytestmark = pytest.mark.pg

#: Shared tables whose writes go through functions only.
CONFIG_TABLES = (
    "institutions",
    "sponsors",
    "cohorts",
    "cohort_enrollments",
    "document_verifications",
    "sync_device",
    "sync_conflict",
    "sync_id_reservation",
)


@pytest.fixture(scope="module")
def sec(tmp_path_factory, migrated) -> Secured:
    with secured_database(tmp_path_factory, migrated) as secured:
        yield secured


def _write(conn: psycopg.Connection, *ops: dict[str, Any], device: str | None = None) -> list[dict[str, Any]]:
    return conn.execute("SELECT cohortdesk_write(%s, %s)", (device, json.dumps(list(ops)))).fetchone()[0]


def _refused(conn: psycopg.Connection, statement: str, params: Any = None) -> None:
    with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
        conn.execute(statement, params)


# --- choosing ids, locking shared tables ---------------------------------------------------------


def test_a_super_admin_cannot_choose_ids_ahead_of_the_sequences(sec: Secured):
    a = sec.a
    with sec.connect(a.logins["super_admin"]) as conn:
        _refused(
            conn,
            "INSERT INTO sponsors (id, uuid, account_id, institution_id, company_name, created_at, updated_at, "
            "row_version) VALUES (999999, %s, %s, %s, 'Ahead', now(), now(), 1)",
            (str(uuid.uuid4()), a.account, a.institution),
        )
        for table in (
            "institutions",
            "sponsors",
            "cohorts",
            "cohort_enrollments",
            "document_verifications",
            "sync_conflict",
        ):
            sequence = conn.execute(
                "SELECT pg_get_serial_sequence(%s, 'id')", (f"public.{table}",)
            ).fetchone()[0]
            _refused(conn, f"SELECT nextval('{sequence}')")
            _refused(conn, f"SELECT setval('{sequence}', 10000000)")
        # Through the function the server's sequence decides; an id the client names is ignored.
        with conn.transaction():
            [made] = _write(
                conn,
                {
                    "op": "insert",
                    "table": "sponsors",
                    "rows": [{"id": 10_000_000, "institution_id": a.institution, "company_name": "Named"}],
                },
            )
            assert made["ok"] and made["ids"] != [10_000_000]
        # A laptop's insert must use an id reserved for that very device.
        device = str(uuid.uuid4())
        conn.execute("SELECT cohortdesk_sync_register(%s, NULL, 'hostile', 1, NULL)", (device,))
        [refused] = _write(
            conn,
            {
                "op": "insert",
                "table": "sponsors",
                "rows": [{"id": 20_000_000, "institution_id": a.institution, "company_name": "Unreserved"}],
            },
            device=device,
        )
        assert not refused["ok"] and "reserved" in refused["error"]


def test_no_login_can_lock_a_shared_table_in_a_blocking_mode(sec: Secured):
    for tenant in (sec.a, sec.b):
        for role in ("super_admin", "officer", "report_viewer"):
            with sec.connect(tenant.logins[role]) as conn:
                for table in CONFIG_TABLES:
                    for mode in ("ACCESS EXCLUSIVE", "EXCLUSIVE", "SHARE ROW EXCLUSIVE", "SHARE"):
                        with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                            conn.execute(f"LOCK TABLE public.{table} IN {mode} MODE NOWAIT")


def test_every_login_carries_server_side_timeouts(sec: Secured):
    """Set on the login in this database, so a client that sends no options still has them."""
    for role in ("super_admin", "officer", "report_viewer", "officer_pi"):
        with sec.connect(sec.a.logins[role]) as conn:
            settings = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN "
                    "('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout')"
                ).fetchall()
            )
            assert settings == {
                "statement_timeout": "60000",
                "lock_timeout": "5000",
                "idle_in_transaction_session_timeout": "60000",
            }


def test_a_login_cannot_connect_to_a_cohortdesk_database_it_is_not_mapped_in(sec: Secured):
    """The group roles are cluster-wide; CONNECT is granted per mapped login, so another CohortDesk
    database on the same server (a second institution group's, a staging copy) stays closed."""
    url = create_pg_database("cdother")
    other = Database(url)
    try:
        migrate.upgrade(other)
        for role in ("super_admin", "officer", "report_viewer"):
            with pytest.raises(psycopg.OperationalError, match="CONNECT privilege"):
                psycopg.connect(**{**sec.conninfo(sec.a.logins[role]), "dbname": url.database}).close()
    finally:
        other.dispose()
        drop_pg_database(url)


# --- the change counter ----------------------------------------------------------------------------


def test_change_seq_cannot_be_chosen_or_rewound_by_the_client(sec: Secured):
    a = sec.a
    with sec.connect(a.logins["super_admin"], autocommit=False) as conn:
        start = conn.execute(
            "SELECT last_seq FROM tenant_clock WHERE account_id = %s", (a.account,)
        ).fetchone()[0]
        _refused(conn, "UPDATE tenant_clock SET last_seq = 1 WHERE account_id = %s", (a.account,))
        conn.rollback()
        # The old trigger trusted this setting once the transaction had reserved a block: pointing it
        # back into the block re-issued values laptops had already pulled past.
        slot = f"cohortdesk.stamp_{a.account}"
        seqs = []
        for name in ("one", "two", "three"):
            last = conn.execute(
                "SELECT last_seq FROM tenant_clock WHERE account_id = %s", (a.account,)
            ).fetchone()[0]
            rewound = max(last - 3, 1)
            conn.execute("SELECT set_config(%s, %s, true)", (slot, f"{rewound}/{last}/{last - rewound + 1}"))
            [done] = _write(
                conn, {"op": "update", "table": "sponsors", "id": a.sponsor, "set": {"contact_name": name}}
            )
            assert done["ok"]
            seqs.append(
                conn.execute("SELECT change_seq FROM sponsors WHERE id = %s", (a.sponsor,)).fetchone()[0]
            )
        conn.commit()
        assert seqs == [start + 1, start + 2, start + 3]  # the forged word changed nothing
        end = conn.execute(
            "SELECT last_seq FROM tenant_clock WHERE account_id = %s", (a.account,)
        ).fetchone()[0]
        assert seqs[-1] <= end < start + 4096


# --- configuration written around the functions, or pointed at another institution ----------------


def test_configuration_cannot_be_written_around_the_functions(sec: Secured):
    a = sec.a
    for role in ("super_admin", "officer", "report_viewer"):
        with sec.connect(a.logins[role]) as conn:
            for table in CONFIG_TABLES:
                # The tables themselves (a login's unqualified names may reach the masked views first).
                _refused(conn, f"UPDATE public.{table} SET account_id = account_id")
                _refused(conn, f"DELETE FROM public.{table}")
                _refused(conn, f"TRUNCATE public.{table}")
                _refused(conn, f"UPDATE {table} SET account_id = account_id")
                _refused(conn, f"DELETE FROM {table}")
            _refused(conn, "UPDATE cohortdesk_users SET app_role = 'super_admin'")
    for role in ("officer", "report_viewer"):
        with sec.connect(a.logins[role]) as conn:
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                _write(conn, {"op": "update", "table": "cohorts", "id": a.cohort, "set": {"name": "x"}})
            _refused(conn, "SELECT * FROM cohortdesk_sync_lock('cohorts', ARRAY[%s]::bigint[])", (a.cohort,))


def test_the_write_function_checks_every_row_it_points_at(sec: Secured):
    a, b = sec.a, sec.b
    b_template = factories.template(sec.admin, b.account, b.student, "Theirs")
    with sec.connect(a.logins["super_admin"]) as conn, conn.transaction():
        ops: list[dict[str, Any]] = [
            {
                "op": "update",
                "table": "institutions",
                "id": a.institution,
                "set": {"super_admin_id": b.student},
            },
            {"op": "update", "table": "cohorts", "id": a.cohort, "set": {"sponsor_id": b.sponsor}},
            {"op": "update", "table": "cohorts", "id": b.cohort, "set": {"name": "theirs"}},
            {
                "op": "update",
                "table": "cohort_enrollments",
                "id": a.enrollment,
                "set": {"cohort_id": b.cohort},
            },
            {
                "op": "update",
                "table": "cohort_enrollments",
                "id": a.enrollment,
                "set": {"document_verification_state": "verified"},
            },
            {
                "op": "insert",
                "table": "cohort_enrollments",
                "rows": [{"cohort_id": a.cohort, "user_id": b.student}],
            },
            {
                "op": "insert",
                "table": "cohort_enrollments",
                "rows": [
                    {
                        "cohort_id": a.cohort,
                        "user_id": factories.user(sec.admin, a.account, "New", "L"),
                        "submission_id": b.submission,
                    }
                ],
            },
            {
                "op": "insert",
                "table": "cohorts",
                "rows": [{"institution_id": b.institution, "name": "x", "program_type": "learnership"}],
            },
            {"op": "delete", "table": "cohorts", "id": b.cohort},
            {"op": "update", "table": "cohorts", "id": a.cohort, "set": {"main_template_id": b_template}},
        ]
        results = _write(conn, *ops)
        assert [r["ok"] for r in results[:8]] == [False] * 8, results
        assert results[8] == {"ok": True, "missing": True}  # B's cohort is invisible: nothing deleted
        assert not results[9]["ok"] and "template" in results[9]["error"]
    with sec.connect(sec.b.logins["super_admin"]) as conn:
        assert conn.execute("SELECT deleted_at FROM cohorts WHERE id = %s", (b.cohort,)).fetchone()[0] is None


def test_json_fields_merge_per_key_on_the_server(sec: Secured):
    a = sec.a
    with sec.connect(a.logins["super_admin"]) as first, sec.connect(a.logins["super_admin"]) as second:
        [one] = _write(
            first,
            {
                "op": "update",
                "table": "cohort_enrollments",
                "id": a.enrollment,
                "set": {"student_data.city": "Durban"},
            },
        )
        [two] = _write(
            second,
            {
                "op": "update",
                "table": "cohort_enrollments",
                "id": a.enrollment,
                "set": {"student_data.home_language": "isiZulu"},
            },
        )
        assert one["ok"] and two["ok"]
    data = (
        sec.admin.engine.connect()
        .exec_driver_sql(f"SELECT student_data FROM cohort_enrollments WHERE id = {a.enrollment}")
        .scalar_one()
    )
    assert data["city"] == "Durban" and data["home_language"] == "isiZulu"


def test_no_enrollment_into_a_closed_cohort_and_no_half_deleted_cohort(sec: Secured):
    a = sec.a
    learner = factories.user(sec.admin, a.account, "Late", "Learner")
    with sec.connect(a.logins["super_admin"]) as conn, conn.transaction():
        [made] = _write(
            conn,
            {
                "op": "insert",
                "table": "cohorts",
                "rows": [
                    {"institution_id": a.institution, "name": "Short lived", "program_type": "learnership"}
                ],
            },
        )
        cohort = made["ids"][0]
        [enrolled] = _write(
            conn,
            {
                "op": "insert",
                "table": "cohort_enrollments",
                "rows": [{"cohort_id": cohort, "user_id": a.student}],
            },
        )
        [partial, whole] = _write(
            conn,
            {"op": "delete", "table": "cohorts", "id": cohort},
            {"op": "delete", "table": "cohorts", "id": cohort, "children": enrolled["ids"]},
        )
        assert partial["code"] == "has_children" and whole["ok"]
        assert (
            conn.execute(
                "SELECT count(*) FROM cohort_enrollments WHERE cohort_id = %s AND deleted_at IS NULL",
                (cohort,),
            ).fetchone()[0]
            == 0
        )
        [cancelled] = _write(
            conn, {"op": "update", "table": "cohorts", "id": a.cohort, "set": {"state": "cancelled"}}
        )
        assert cancelled["ok"]
        [late] = _write(
            conn,
            {
                "op": "insert",
                "table": "cohort_enrollments",
                "rows": [{"cohort_id": a.cohort, "user_id": learner}],
            },
        )
        assert not late["ok"] and "no new enrollments" in late["error"]
        raise psycopg.Rollback()


# --- removing a login -----------------------------------------------------------------------------


def test_removing_a_login_ends_its_sessions_and_withdraws_connect(sec: Secured):
    a = sec.a
    victim = sec.add_login(a, "officer", name="leaver")
    session = psycopg.connect(**sec.conninfo(victim), autocommit=True)
    try:
        session.execute("SELECT 1")
        with sec.connect(a.logins["super_admin"]) as admin:
            admin.execute("SELECT cohortdesk_admin_remove_user(%s)", (victim,))
        with pytest.raises(psycopg.OperationalError):
            session.execute("SELECT 1")
    finally:
        session.close()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**sec.conninfo(victim)).close()
    with sec.connect("postgres") as conn:
        granted = conn.execute(
            "SELECT has_database_privilege(%s, current_database(), 'CONNECT')", (victim,)
        ).fetchone()[0]
    assert granted is False


# --- a laptop whose clock is 400 days slow ----------------------------------------------------------


def test_a_laptop_400_days_slow_gets_the_server_clock(sec: Secured):
    a = sec.a
    learner = factories.user(sec.admin, a.account, "Slow", "Clock")
    long_ago = datetime.now(UTC) - timedelta(days=400)
    db = sec.database(a.logins["super_admin"])
    device = str(uuid.uuid4())
    with db.engine.begin() as conn:
        hs = server.handshake(conn, device, account_id=None, label="slow laptop")
        [new_id] = server.reserve_ids(conn, device, "cohort_enrollments", 1)
    row = {c: None for c in SPECS["cohort_enrollments"].insert_columns}
    row.update(
        id=new_id,
        uuid=str(uuid.uuid4()),
        account_id=a.account,
        cohort_id=a.cohort,
        user_id=learner,
        supporting_submission_ids=[],
        state="waiting",
        document_verification_state="pending",
        student_data={},
        uploaded_documents={},
        pending_since=long_ago,
        created_at=long_ago,
        updated_at=long_ago,
    )
    with db.engine.begin() as conn:
        result = push.apply_batch(
            conn,
            hs,
            [
                push.Mutation(
                    1, "cohort_enrollments", new_id, "insert", record_to_json(row), created_at=long_ago
                )
            ],
        )
    assert [r.status for r in result.results] == ["applied"]
    with sec.admin.engine.connect() as conn:
        stored = conn.exec_driver_sql(
            f"SELECT created_at, updated_at, pending_since, now() FROM cohort_enrollments WHERE id = {new_id}"
        ).one()
        first_in_queue = conn.exec_driver_sql(
            f"SELECT id FROM cohort_enrollments WHERE account_id = {a.account} AND deleted_at IS NULL "
            "AND document_verification_state = 'pending' ORDER BY pending_since, id LIMIT 1"
        ).scalar_one()
    for moment in stored[:3]:
        assert abs((stored[3] - moment).total_seconds()) < 120
    assert first_in_queue != new_id


def test_no_application_login_holds_a_write_privilege_on_any_table_or_sequence(sec: Secured):
    """Every write goes through a function: no INSERT, UPDATE, DELETE or TRUNCATE (on a table, a view or
    any column of one) and no sequence privilege for any login of any role."""
    logins = [login for tenant in (sec.a, sec.b) for login in tenant.logins.values()]
    with sec.connect("postgres") as conn:
        held = conn.execute(
            """
            SELECT l.login, format('%%I.%%I', n.nspname, c.relname), p.privilege
              FROM unnest(%s::text[]) l(login)
             CROSS JOIN pg_catalog.pg_class c
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p(privilege)
             WHERE n.nspname IN (current_schema(), 'cohortdesk_docuseal') AND c.relkind IN ('r', 'p', 'v', 'm')
               AND (has_table_privilege(l.login, c.oid, p.privilege)
                    OR (p.privilege IN ('INSERT', 'UPDATE')
                        AND has_any_column_privilege(l.login, c.oid, p.privilege)))
            UNION ALL
            SELECT l.login, format('%%I.%%I', n.nspname, c.relname), p.privilege
              FROM unnest(%s::text[]) l(login)
             CROSS JOIN pg_catalog.pg_class c
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             CROSS JOIN unnest(ARRAY['USAGE', 'UPDATE']) p(privilege)
             WHERE n.nspname IN (current_schema(), 'cohortdesk_docuseal') AND c.relkind = 'S'
               AND has_sequence_privilege(l.login, c.oid, p.privilege)
            """,
            (logins, logins),
        ).fetchall()
    assert held == []


# --- the stored count of documents awaiting a decision ----------------------------------------------


def test_no_login_writes_the_stored_awaiting_counts(sec: Secured):
    """``cohortdesk_awaiting`` (migration 0024) is the triggers' alone: every login reads its own
    account's rows, and no write, row lock, blocking table lock or direct recount gets through (a row
    lock held on it would stall every decision on that enrollment). A decision made the proper way, by
    the officer's own login, moves it."""
    a, b = sec.a, sec.b
    learner = factories.user(sec.admin, a.account, "Awaiting", "Learner")
    store_entry = {
        "file_name": "id.pdf",
        "content_type": "application/pdf",
        "size": 10,
        "checksum": "x",
        "storage_key": uuid.uuid4().hex,
        "uploaded_at": "2026-03-01T10:00:00Z",
    }
    enrollment = ce.enroll(  # as DocuSeal's side would: the learner and their upload
        sec.admin,
        ce.NewEnrollment(
            cohort_id=a.cohort, user_id=learner, uploaded_documents={"id_document": store_entry}
        ),
    ).row.id
    for tenant, other in ((a, b), (b, a)):
        for role in ("super_admin", "officer", "report_viewer"):
            with sec.connect(tenant.logins[role]) as conn:
                rows = conn.execute("SELECT enrollment_id, account_id FROM cohortdesk_awaiting").fetchall()
                assert {account for _e, account in rows} == {tenant.account}
                seen = {e for e, _a in rows}
                assert tenant.enrollment in seen and other.enrollment not in seen
                for statement, params in (
                    (
                        "UPDATE cohortdesk_awaiting SET documents = 0 WHERE enrollment_id = %s",
                        (tenant.enrollment,),
                    ),
                    (
                        "INSERT INTO cohortdesk_awaiting (enrollment_id, account_id, documents) VALUES (%s, %s, 9)",
                        (other.enrollment, tenant.account),
                    ),
                    ("DELETE FROM cohortdesk_awaiting", None),
                    ("TRUNCATE cohortdesk_awaiting", None),
                    ("SELECT 1 FROM cohortdesk_awaiting FOR UPDATE", None),
                    ("SELECT 1 FROM cohortdesk_awaiting FOR KEY SHARE", None),
                    ("LOCK TABLE cohortdesk_awaiting IN SHARE MODE NOWAIT", None),
                    ("SELECT cohortdesk_refresh_awaiting(%s)", (tenant.enrollment,)),
                ):
                    _refused(conn, statement, params)

    def stored(login: str) -> int:
        with sec.connect(login) as conn:
            return conn.execute(
                "SELECT documents FROM cohortdesk_awaiting WHERE enrollment_id = %s", (enrollment,)
            ).fetchone()[0]

    assert stored(a.logins["officer"]) == 1
    officer_db = sec.database(a.logins["officer"])
    verification.record_decision(
        officer_db,
        verification.DecisionCommand(
            enrollment_id=enrollment, document_type="id_document", action="approved"
        ),
        resolve_identity(officer_db),
    )
    assert stored(a.logins["report_viewer"]) == 0

"""Decisions and claims attacked by a hostile client: raw psycopg, logged in as each role.

A colleague with ``psql`` and a valid login tries to date a decision in 2099 or backdate it, set an
enrollment's verification state without any decision, claim packs for a hundred years, decide in a
colleague's name, use or free somebody else's claim, undo somebody else's decision, and reach
another institution. Every attempt is refused; what the server functions do record says which login
made it and when, on the server's clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import errors as pgerr

from tests.pg.security_fixtures import Secured, secured_database

pytestmark = pytest.mark.pg

DECIDERS = ("officer", "officer_pi", "super_admin")
ROLES = (*DECIDERS, "report_viewer")

DECIDE = (
    "SELECT cohortdesk_record_decision(%(enrollment)s, %(document)s, %(action)s, %(reason)s, NULL, %(note)s, "
    "%(token)s, %(version)s, %(key)s, %(release)s, %(lease)s, %(metadata)s, %(undo)s, %(acting)s)"
)


def decide(conn: psycopg.Connection, enrollment: int, action: str = "approved", **given: object) -> dict:
    params = {
        "enrollment": enrollment,
        "document": "id_document",
        "action": action,
        "reason": "Not certified" if action == "rejected" else None,
        "note": None,
        "token": None,
        "version": None,
        "key": None,
        "release": False,
        "lease": None,
        "metadata": "{}",
        "undo": None,
        "acting": None,
        **given,
    }
    (answer,) = conn.execute(DECIDE, params).fetchone()
    return answer


def claim_one(
    conn: psycopg.Connection, enrollment: int, lease: float = 900.0, token: str | None = None
) -> dict:
    (answer,) = conn.execute(
        "SELECT cohortdesk_claim_one(%s, %s, %s, NULL, NULL)", (enrollment, lease, token or str(uuid.uuid4()))
    ).fetchone()
    return answer


def release_all(conn: psycopg.Connection, enrollment: int) -> None:
    """Give back whatever the test left held (as the database owner)."""
    conn.execute(
        "UPDATE cohort_enrollments SET claimed_by = NULL, claimed_by_user_id = NULL, claim_token = NULL, "
        "claim_expires_at = NULL WHERE id = %s",
        (enrollment,),
    )


@pytest.fixture(scope="module")
def sec(tmp_path_factory, migrated) -> Secured:
    with secured_database(tmp_path_factory, migrated) as secured:
        yield secured


@pytest.fixture
def admin(sec: Secured):
    with sec.connect("postgres") as conn:
        yield conn
        release_all(conn, sec.a.enrollment)
        release_all(conn, sec.b.enrollment)


# --- attack 4: a decision's time from the client -----------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_no_login_inserts_a_decision_let_alone_a_dated_one(sec: Secured, role: str):
    a = sec.a
    me = a.user_ids[role]
    for when in ("'2099-01-01'", "'2001-01-01'", "now()"):
        with sec.connect(a.logins[role]) as conn, pytest.raises(pgerr.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO document_verifications (uuid, account_id, cohort_enrollment_id, admin_id, login, "
                "document_type, action, reason, metadata, created_at, updated_at, row_version) "
                f"VALUES (gen_random_uuid()::text, {a.account}, {a.enrollment}, {me}, session_user, "
                f"'id_document', 'approved', NULL, '{{}}', {when}, {when}, 1)"
            )
    with sec.connect(a.logins[role]) as conn, pytest.raises(pgerr.InsufficientPrivilege):
        conn.execute("SELECT nextval(pg_get_serial_sequence('document_verifications', 'id'))")


@pytest.mark.parametrize("role", DECIDERS)
def test_the_server_dates_every_decision_and_the_latest_counts(sec: Secured, role: str, admin):
    a = sec.a
    with sec.connect(a.logins[role]) as conn:
        server_now = conn.execute("SELECT now()").fetchone()[0]
        rejected = decide(conn, a.enrollment, "rejected")
        approved = decide(conn, a.enrollment, "approved")
    for answer in (rejected, approved):
        made = datetime.fromisoformat(answer["decision"]["created_at"])
        assert abs(made - server_now) < timedelta(minutes=1)
    # The later real decision is the one that counts: nothing dated ahead can outlive it.
    assert approved["latest"]["id_document"]["id"] == approved["decision"]["id"]
    assert approved["enrollment"]["document_verification_state"] != "rejected"


# --- attack 5: a state without a decision, hundred-year claims ---------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_no_login_writes_a_verification_state_or_a_claim_directly(sec: Secured, role: str):
    a = sec.a
    far = "now() + interval '100 years'"
    statements = (
        f"UPDATE cohort_enrollments SET document_verification_state = 'verified' WHERE id = {a.enrollment}",
        f"UPDATE cohort_enrollments SET rejection_reason = 'forged' WHERE id = {a.enrollment}",
        "UPDATE cohort_enrollments SET claimed_by = session_user, claim_token = gen_random_uuid()::text, "
        f"claim_expires_at = {far} WHERE document_verification_state = 'pending'",
        f"UPDATE cohort_enrollments SET claim_expires_at = {far} WHERE id = {a.enrollment}",
        f"UPDATE cohort_enrollments SET claimed_by_user_id = NULL WHERE id = {a.enrollment}",
    )
    with sec.connect(a.logins[role]) as conn:
        for statement in statements:
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)


@pytest.mark.parametrize("role", DECIDERS)
def test_a_lease_never_runs_past_the_maximum(sec: Secured, role: str, admin):
    a = sec.a
    hundred_years = 100 * 365.25 * 86400
    with sec.connect(a.logins[role]) as conn:
        maximum = float(
            admin.execute(
                "SELECT value FROM cohortdesk_install WHERE key = 'claim_lease_max_seconds'"
            ).fetchone()[0]
        )
        server_now = conn.execute("SELECT now()").fetchone()[0]
        taken = claim_one(conn, a.enrollment, lease=hundred_years)
        expires = datetime.fromisoformat(taken["claim_expires_at"])
        assert expires <= server_now + timedelta(seconds=maximum + 60)
        (renewed,) = conn.execute(
            "SELECT cohortdesk_renew_claim(%s, %s, %s, NULL)",
            (a.enrollment, taken["claim_token"], hundred_years),
        ).fetchone()
        assert renewed <= server_now + timedelta(seconds=maximum + 60)
        # Working under the claim with a long lease asked for renews no further.
        answer = decide(
            conn, a.enrollment, token=taken["claim_token"], version=taken["row_version"], lease=hundred_years
        )
        held_until = datetime.fromisoformat(answer["enrollment"]["claim_expires_at"])
        assert held_until <= server_now + timedelta(seconds=maximum + 60)
        for silly in (0, -5, float("nan")):
            with pytest.raises(pgerr.InvalidParameterValue), conn.transaction():
                claim_one(conn, a.enrollment, lease=silly)


def test_one_running_claim_per_login(sec: Secured, admin):
    a = sec.a
    second = admin.execute(
        "SELECT id FROM cohort_enrollments WHERE account_id = %s AND id <> %s ORDER BY id LIMIT 1",
        (a.account, a.enrollment),
    ).fetchone()
    if second is None:  # the fixture's institution has one enrollment: add a sibling as the owner
        second = admin.execute(
            "INSERT INTO cohort_enrollments (uuid, account_id, cohort_id, user_id, state, "
            "document_verification_state, student_data, uploaded_documents, supporting_submission_ids, "
            "created_at, updated_at, row_version) SELECT gen_random_uuid()::text, account_id, cohort_id, "
            f"{a.user_ids['report_viewer']}, 'waiting', 'pending', '{{}}', uploaded_documents, '[]', now(), now(), 1 "
            "FROM cohort_enrollments WHERE id = %s RETURNING id",
            (a.enrollment,),
        ).fetchone()
    with sec.connect(a.logins["officer"]) as conn:
        first = claim_one(conn, a.enrollment)
        other = claim_one(conn, second[0])
        held = conn.execute(
            "SELECT id FROM cohort_enrollments WHERE claimed_by = session_user AND claim_token IS NOT NULL"
        ).fetchall()
        assert held == [(other["id"],)] and first["id"] != other["id"]
    release_all(admin, second[0])


# --- attack 7: decisions in a colleague's name -------------------------------------------------


@pytest.mark.parametrize("role", DECIDERS)
def test_a_decision_is_in_the_callers_own_name_and_says_which_login(sec: Secured, role: str, admin):
    a = sec.a
    colleague = a.user_ids["officer" if role != "officer" else "super_admin"]
    with sec.connect(a.logins[role]) as conn:
        with pytest.raises(pgerr.InsufficientPrivilege):
            decide(conn, a.enrollment, acting=colleague)
        answer = decide(conn, a.enrollment, acting=a.user_ids[role], note="second look at the stamp")
    row = admin.execute(
        "SELECT admin_id, login, internal_note FROM document_verifications WHERE id = %s",
        (answer["decision"]["id"],),
    ).fetchone()
    assert row == (a.user_ids[role], a.logins[role], "second look at the stamp")


def test_a_report_viewer_neither_decides_nor_claims(sec: Secured):
    a = sec.a
    with sec.connect(a.logins["report_viewer"]) as conn:
        for attempt in (
            lambda: decide(conn, a.enrollment),
            lambda: claim_one(conn, a.enrollment),
            lambda: conn.execute(
                "SELECT cohortdesk_claim_next(NULL, 900, %s, NULL, NULL)", (str(uuid.uuid4()),)
            ),
            lambda: conn.execute("SELECT cohortdesk_force_release_claim(%s)", (a.enrollment,)),
        ):
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                attempt()


@pytest.mark.parametrize("role", ROLES)
def test_internal_helpers_are_not_callable(sec: Secured, role: str):
    a = sec.a
    with sec.connect(a.logins[role]) as conn:
        for call in (
            f"SELECT cohortdesk_derive_verification({a.enrollment})",
            f"SELECT cohortdesk_release_other_claims(NULL, {a.user_ids[role]})",
            "SELECT cohortdesk_acting_user(NULL)",
            f"SELECT cohortdesk_claim_json({a.enrollment}, 1)",
            f"SELECT cohortdesk_decision_state({a.enrollment}, NULL, NULL)",
        ):
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                conn.execute(call)


# --- claim abuse --------------------------------------------------------------------------------


def test_somebody_elses_claim_cannot_be_used_renewed_or_released(sec: Secured, admin):
    a = sec.a
    with sec.connect(a.logins["officer"]) as owner:
        theirs = claim_one(owner, a.enrollment)
    token = theirs["claim_token"]
    for role in ("officer_pi", "super_admin"):
        with sec.connect(a.logins[role]) as conn:
            with pytest.raises(psycopg.DatabaseError) as refused, conn.transaction():
                decide(conn, a.enrollment, token=token, version=theirs["row_version"])
            assert refused.value.sqlstate == "CD001"
            with pytest.raises(psycopg.DatabaseError) as held, conn.transaction():
                decide(conn, a.enrollment)  # no claim: somebody else's running lease stops it
            assert held.value.sqlstate == "CD003"
            renewed = conn.execute("SELECT cohortdesk_renew_claim(%s, %s, 900, NULL)", (a.enrollment, token))
            assert renewed.fetchone()[0] is None
            released = conn.execute("SELECT cohortdesk_release_claim(%s, %s, NULL)", (a.enrollment, token))
            assert released.fetchone()[0] is False
            assert claim_one(conn, a.enrollment) is None  # taken, not stolen
    still = admin.execute(
        "SELECT claim_token FROM cohort_enrollments WHERE id = %s", (a.enrollment,)
    ).fetchone()
    assert still == (token,)
    # Only a super admin of the institution frees it.
    with sec.connect(a.logins["officer_pi"]) as conn, pytest.raises(pgerr.InsufficientPrivilege):
        conn.execute("SELECT cohortdesk_force_release_claim(%s)", (a.enrollment,))
    with sec.connect(sec.b.logins["super_admin"]) as conn, pytest.raises(pgerr.NoDataFound):
        conn.execute("SELECT cohortdesk_force_release_claim(%s)", (a.enrollment,))
    with sec.connect(a.logins["super_admin"]) as conn:
        (former,) = conn.execute("SELECT cohortdesk_force_release_claim(%s)", (a.enrollment,)).fetchone()
    assert former["claimed_by"] == a.logins["officer"]


@pytest.mark.parametrize("role", DECIDERS)
def test_another_institution_is_out_of_reach(sec: Secured, role: str, admin):
    a, b = sec.a, sec.b
    before = admin.execute(
        "SELECT row_version, claim_token FROM cohort_enrollments WHERE id = %s", (b.enrollment,)
    ).fetchone()
    with sec.connect(a.logins[role]) as conn:
        with pytest.raises(pgerr.NoDataFound), conn.transaction():
            decide(conn, b.enrollment)
        with pytest.raises(pgerr.NoDataFound), conn.transaction():
            claim_one(conn, b.enrollment)
        # Naming the other institution's account changes nothing: the login's own is used.
        (taken,) = conn.execute(
            "SELECT cohortdesk_claim_next(NULL, 900, %s, NULL, %s)", (str(uuid.uuid4()), b.account)
        ).fetchone()
        assert taken is None or taken["account_id"] == a.account
    after = admin.execute(
        "SELECT row_version, claim_token FROM cohort_enrollments WHERE id = %s", (b.enrollment,)
    ).fetchone()
    assert after == before


# --- undo ---------------------------------------------------------------------------------------


def test_undo_only_ones_own_latest_decision_within_the_window(sec: Secured, admin):
    a = sec.a
    with sec.connect(a.logins["officer"]) as officer:
        mine = decide(officer, a.enrollment, "rejected")
    with sec.connect(a.logins["officer_pi"]) as colleague:
        with pytest.raises(psycopg.DatabaseError) as refused, colleague.transaction():
            decide(colleague, a.enrollment, "undo", undo=mine["decision"]["id"])
        assert refused.value.sqlstate == "CD004"
    with sec.connect(a.logins["officer"]) as officer:
        undone = decide(officer, a.enrollment, "undo", note="wrong document")
        assert undone["decision"]["action"] == "reversal"
        assert undone["decision"]["reverses_id"] == mine["decision"]["id"]
        with pytest.raises(psycopg.DatabaseError) as twice, officer.transaction():
            decide(officer, a.enrollment, "undo", undo=mine["decision"]["id"])
        assert twice.value.sqlstate == "CD004"
        late = decide(officer, a.enrollment, "approved")
        admin.execute("UPDATE cohortdesk_install SET value = '0' WHERE key = 'undo_window_seconds'")
        try:
            with pytest.raises(psycopg.DatabaseError) as expired, officer.transaction():
                decide(officer, a.enrollment, "undo")
            assert expired.value.sqlstate == "CD004"
        finally:
            admin.execute("UPDATE cohortdesk_install SET value = '300' WHERE key = 'undo_window_seconds'")
    # The rejection and its reversal both stay on the trail; nothing was deleted.
    trail = admin.execute(
        "SELECT id, action, reverses_id FROM document_verifications WHERE id IN (%s, %s, %s) ORDER BY id",
        (mine["decision"]["id"], undone["decision"]["id"], late["decision"]["id"]),
    ).fetchall()
    assert [t[1] for t in trail] == ["rejected", "reversal", "approved"]
    with sec.connect(a.logins["officer"]) as conn, pytest.raises(pgerr.InsufficientPrivilege):
        conn.execute(
            "INSERT INTO document_verifications (uuid, account_id, cohort_enrollment_id, admin_id, document_type, "
            "action, reverses_id, metadata, created_at, updated_at, row_version) VALUES (gen_random_uuid()::text, "
            f"{a.account}, {a.enrollment}, {a.user_ids['officer']}, 'id_document', 'reversal', "
            f"{late['decision']['id']}, '{{}}', now(), now(), 1)"
        )


def test_client_metadata_cannot_forge_what_the_server_records(sec: Secured, admin):
    a = sec.a
    with sec.connect(a.logins["officer"]) as conn:
        answer = decide(
            conn,
            a.enrollment,
            metadata='{"checksum": "forged", "reason_code": "x", "internal_note": "y", "bulk": true}',
        )
    metadata = answer["decision"]["metadata"]
    real = admin.execute(
        "SELECT uploaded_documents -> 'id_document' ->> 'checksum' FROM cohort_enrollments WHERE id = %s",
        (a.enrollment,),
    ).fetchone()[0]
    assert metadata.get("checksum") == real and metadata.get("bulk") is True
    assert "reason_code" not in metadata and "internal_note" not in metadata
    assert datetime.fromisoformat(answer["decision"]["created_at"]) < datetime.now(UTC) + timedelta(minutes=1)

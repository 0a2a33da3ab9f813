"""Hostile colleagues with psql against the server's ID number comparison (migration 0021): it must
answer "is this the learner's number?" for a reviewer of the learner's institution, log every answer,
and never become a way to learn the five hidden digits: no answer before the asking is committed
(rollbacks, errors, savepoints, DO blocks), no answer for another institution or another login, no
table to read, limits that parallel sessions cannot slip past, refusals that do not depend on the
number asked."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from psycopg import errors as pgerr
from sqlalchemy import text

from cohortdesk.errors import NotFoundError, PermissionDenied, ValidationError
from cohortdesk.services.access.id_check import check_id_number
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.validation import luhn_valid
from tests import factories
from tests.pg.security_fixtures import Secured, Tenant, secured_database

pytestmark = pytest.mark.pg

ID_NUMBER = "0501014800087"  # the fixture learner's, in both institutions
CHECK = "SELECT cohortdesk_id_number_check(%s, %s)"
RESULT = "SELECT cohortdesk_id_number_check_result(%s)"


@pytest.fixture(scope="module")
def sec(tmp_path_factory, migrated) -> Secured:
    with secured_database(tmp_path_factory, migrated) as secured:
        secured.store = DocumentStore(tmp_path_factory.mktemp("ids"))  # type: ignore[attr-defined]
        yield secured


def _wrong(n: int, base: str = ID_NUMBER) -> str:
    """The n-th Luhn-valid number with the same visible digits (birth date and last two) as ``base``:
    exactly what someone guessing the hidden digits would try."""
    found = 0
    for middle in range(10_000, 100_000):
        candidate = base[:6] + f"{middle:05d}" + base[11:]
        if candidate != base and luhn_valid(candidate):
            if found == n:
                return candidate
            found += 1
    raise AssertionError("no such number")


def _learner(sec: Secured, tenant: Tenant, number: str = ID_NUMBER, documents: bool = True) -> int:
    """One more learner of ``tenant``'s cohort with an uploaded ID document."""
    person = factories.user(sec.admin, tenant.account, "Sipho", uuid.uuid4().hex[:6])
    uploads = {"id_document": factories.upload(sec.store, "id.pdf", uuid.uuid4().bytes)} if documents else {}  # type: ignore[attr-defined]
    return ce.enroll(
        sec.admin,
        ce.NewEnrollment(
            cohort_id=tenant.cohort,
            user_id=person,
            student_data={"sa_id_number": number},
            uploaded_documents=uploads,
        ),
    ).row.id


def _ask(conn: psycopg.Connection, enrollment: int, candidate: str) -> bool:
    """Both steps the way the workstation takes them: each its own committed transaction."""
    ticket = conn.execute(CHECK, (enrollment, candidate)).fetchone()[0]
    return conn.execute(RESULT, (ticket,)).fetchone()[0]


def _entries(sec: Secured, login: str) -> list[tuple]:
    with sec.admin.session() as s:
        return s.execute(
            text(
                "SELECT object_table, object_id, purpose, details, account_id FROM cohortdesk_access_log "
                "WHERE kind = 'id_number_check' AND actor = :a ORDER BY id"
            ),
            {"a": login},
        ).all()


def _tickets(sec: Secured, login: str) -> int:
    with sec.admin.session() as s:
        return s.scalar(text("SELECT count(*) FROM cohortdesk_id_checks WHERE login = :l"), {"l": login})


def _set_limit(sec: Secured, key: str, value: int | None) -> None:
    with sec.admin.session() as s:
        s.execute(text("DELETE FROM cohortdesk_install WHERE key = :k"), {"k": f"id_check.{key}"})
        if value is not None:
            s.execute(
                text("INSERT INTO cohortdesk_install (key, value) VALUES (:k, :v)"),
                {"k": f"id_check.{key}", "v": str(value)},
            )


# --- the happy path --------------------------------------------------------------------------------


def test_a_reviewer_learns_match_or_not_and_every_answer_is_logged_without_the_number(sec: Secured):
    a = sec.a
    login = sec.add_login(a, "officer", name="officer_happy")
    db = sec.database(login)
    assert check_id_number(db, a.enrollment, ID_NUMBER) is True
    assert check_id_number(db, a.enrollment, "050101 4800 087") is True  # as printed, in groups
    assert check_id_number(db, a.enrollment, _wrong(0)) is False
    entries = _entries(sec, login)
    assert [e[3]["answer"] for e in entries] == ["matches", "matches", "differs"]
    assert [e[3]["repeat"] for e in entries] == [False, True, False]
    for table, object_id, purpose, details, account in entries:
        assert (table, object_id, purpose, account) == (
            "cohort_enrollments",
            a.enrollment,
            "verification",
            a.account,
        )
        assert not any(c.isdigit() for c in str(details)), details  # no number, no part of one
    # A super admin may compare too (it reviews); the answer is the same.
    assert check_id_number(sec.database(a.logins["super_admin"]), a.enrollment, ID_NUMBER) is True
    with pytest.raises(ValidationError, match="13 digits"):
        check_id_number(db, a.enrollment, "050101")


# --- who may ask about which learner ---------------------------------------------------------------


def test_another_institution_a_report_viewer_and_strangers_are_refused(sec: Secured):
    a, b = sec.a, sec.b
    for role in ("officer", "super_admin"):
        with pytest.raises(NotFoundError, match="no enrollment"):
            check_id_number(sec.database(b.logins[role]), a.enrollment, ID_NUMBER)
    with pytest.raises(PermissionDenied, match="ermission denied for function"):  # not even EXECUTE
        check_id_number(sec.database(a.logins["report_viewer"]), a.enrollment, ID_NUMBER)
    with sec.connect(b.logins["officer"]) as conn, pytest.raises(pgerr.NoDataFound):
        conn.execute(CHECK, (a.enrollment, ID_NUMBER))
    assert _entries(sec, b.logins["officer"]) == [] and _tickets(sec, b.logins["officer"]) == 0
    # Without an ID document there is nothing a reading could have found: no oracle on demand.
    bare = _learner(sec, a, documents=False)
    with pytest.raises(NotFoundError, match="no ID document"):
        check_id_number(sec.database(a.logins["officer"]), bare, ID_NUMBER)
    # A login that is not a CohortDesk user gets nothing either.
    stranger = sec.new_login_name("stranger")
    with sec.connect("postgres") as admin:
        admin.execute(f'CREATE ROLE "{stranger}" LOGIN')
        admin.execute(f'GRANT CONNECT ON DATABASE "{sec.url.database}" TO "{stranger}"')
    with sec.connect(stranger) as conn, pytest.raises(pgerr.InsufficientPrivilege):
        conn.execute(f"SELECT public.{CHECK.removeprefix('SELECT ')}", (a.enrollment, ID_NUMBER))


# --- no answer without its log entry ---------------------------------------------------------------


def test_no_answer_before_the_check_is_committed(sec: Secured):
    a = sec.a
    login = sec.add_login(a, "officer", name="officer_tricks")
    with sec.connect(login) as conn:
        # Check and answer in one statement, one transaction, a savepoint, a DO block: refused.
        with pytest.raises(psycopg.DatabaseError) as refused:
            conn.execute(
                f"SELECT cohortdesk_id_number_check_result(cohortdesk_id_number_check({a.enrollment}, %s))",
                (ID_NUMBER,),
            )
        assert refused.value.sqlstate == "CD011"
        with pytest.raises(psycopg.DatabaseError), conn.transaction():
            ticket = conn.execute(CHECK, (a.enrollment, ID_NUMBER)).fetchone()[0]
            conn.execute(RESULT, (ticket,))
        with pytest.raises(psycopg.DatabaseError), conn.transaction():
            with conn.transaction():  # SAVEPOINT … RELEASE
                ticket = conn.execute(CHECK, (a.enrollment, ID_NUMBER)).fetchone()[0]
            conn.execute(RESULT, (ticket,))
        notices: list[str] = []
        conn.add_notice_handler(lambda notice: notices.append(notice.message_primary))
        with pytest.raises(psycopg.DatabaseError):
            conn.execute(
                "DO $$ BEGIN RAISE NOTICE '%', cohortdesk_id_number_check_result("
                f"cohortdesk_id_number_check({a.enrollment}, '{ID_NUMBER}')); RAISE EXCEPTION 'undo'; END $$"
            )
        assert notices == []
        # The error trick: whatever the check would say, nothing is said before it commits.
        for candidate in (ID_NUMBER, _wrong(1)):
            with pytest.raises(psycopg.DatabaseError) as refused:
                conn.execute(
                    "SELECT CASE WHEN cohortdesk_id_number_check_result(cohortdesk_id_number_check(%s, %s)) "
                    "THEN 1 / floor(random())::int ELSE 0 END",  # a divisor the planner cannot fold
                    (a.enrollment, candidate),
                )
            assert refused.value.sqlstate == "CD011"
        # A ticket from a rolled-back transaction never existed: not answerable later either.
        with conn.transaction(force_rollback=True):
            lost = conn.execute(CHECK, (a.enrollment, ID_NUMBER)).fetchone()[0]
        with pytest.raises(pgerr.NoDataFound):
            conn.execute(RESULT, (lost,))
        # Every one of those was rolled back: no log entry, no ticket, nothing counted.
        assert _entries(sec, login) == [] and _tickets(sec, login) == 0
        # Committed, it is answered (once logged), again and again, and only to its own login.
        ticket = conn.execute(CHECK, (a.enrollment, ID_NUMBER)).fetchone()[0]
        assert conn.execute(RESULT, (ticket,)).fetchone()[0] is True
        assert conn.execute(RESULT, (ticket,)).fetchone()[0] is True
    assert len(_entries(sec, login)) == 1
    with sec.connect(a.logins["officer_pi"]) as other, pytest.raises(pgerr.NoDataFound):
        other.execute(RESULT, (ticket,))


def test_an_answer_not_fetched_in_time_expires(sec: Secured):
    a = sec.a
    login = sec.add_login(a, "officer", name="officer_slow")
    _set_limit(sec, "answer_seconds", 0)
    try:
        with sec.connect(login) as conn:
            ticket = conn.execute(CHECK, (a.enrollment, ID_NUMBER)).fetchone()[0]
            with pytest.raises(psycopg.DatabaseError, match="expired"):
                conn.execute(RESULT, (ticket,))
    finally:
        _set_limit(sec, "answer_seconds", None)


def test_nothing_to_read_beside_the_functions(sec: Secured):
    a = sec.a
    check_id_number(sec.database(a.logins["officer"]), a.enrollment, _wrong(2))
    for role in ("officer", "officer_pi", "super_admin", "report_viewer"):
        with sec.connect(a.logins[role]) as conn:
            for table in ("cohortdesk_id_checks", "cohortdesk_id_check_logins", "cohortdesk_secrets"):
                with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                    conn.execute(f"SELECT * FROM public.{table}")
                with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                    conn.execute(f"DELETE FROM public.{table}")
            # Only a super admin reads the access log, and only its own institution's.
            with conn.transaction():
                seen = (
                    conn.execute(
                        "SELECT count(*) FROM public.cohortdesk_access_log WHERE kind = 'id_number_check'"
                    ).fetchone()[0]
                    if role == "super_admin"
                    else None
                )
            if role == "super_admin":
                assert seen and seen > 0
            else:
                with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                    conn.execute("SELECT count(*) FROM public.cohortdesk_access_log")
            # The helper that reads the limits is the owner's alone.
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                conn.execute("SELECT public.cohortdesk_id_check_setting('per_day', 1)")


# --- limits ------------------------------------------------------------------------------------------


def test_three_different_numbers_per_document_then_no_more_whatever_the_number(sec: Secured):
    a = sec.a
    learner = _learner(sec, a)
    login = sec.add_login(a, "officer", name="officer_guess")
    db = sec.database(login)
    assert [check_id_number(db, learner, _wrong(i)) for i in range(3)] == [False, False, False]
    # The fourth different number is refused before it is compared: right or wrong, the same words.
    refusals = set()
    for candidate in (ID_NUMBER, _wrong(3)):
        with pytest.raises(PermissionDenied) as refused:
            check_id_number(db, learner, candidate)
        refusals.add(str(refused.value))
    assert len(refusals) == 1 and "compared 3 different numbers" in refusals.pop()
    # Asking again about a number already asked gives nothing new: still answered (and logged).
    assert check_id_number(db, learner, _wrong(1)) is False
    assert len(_entries(sec, login)) == 4
    # A colleague's own allowance is untouched (one login per person); a new upload is a new document.
    assert check_id_number(sec.database(a.logins["officer_pi"]), learner, ID_NUMBER) is True


def test_numbers_that_do_not_match_are_limited_per_day_across_learners(sec: Secured):
    a = sec.a
    learners = [_learner(sec, a) for _ in range(3)]
    login = sec.add_login(a, "officer", name="officer_sweep")
    db = sec.database(login)
    _set_limit(sec, "misses_per_day", 4)
    try:
        assert check_id_number(db, learners[0], ID_NUMBER) is True  # matches do not count
        for index in range(4):
            assert check_id_number(db, learners[index % 3], _wrong(10 + index)) is False
        for candidate in (ID_NUMBER, _wrong(20)):  # the next new number, right or wrong: refused
            with pytest.raises(PermissionDenied, match="did not match; the server compares no new numbers"):
                check_id_number(db, learners[2], candidate)
        assert check_id_number(db, learners[0], ID_NUMBER) is True  # a repeat is still answered
    finally:
        _set_limit(sec, "misses_per_day", None)


def test_all_checks_are_limited_per_day(sec: Secured):
    a = sec.a
    login = sec.add_login(a, "officer", name="officer_busy")
    db = sec.database(login)
    _set_limit(sec, "per_day", 3)
    try:
        for _ in range(3):
            assert check_id_number(db, a.enrollment, ID_NUMBER) is True
        with pytest.raises(PermissionDenied, match="3 ID number checks in the last 24 hours"):
            check_id_number(db, a.enrollment, ID_NUMBER)
    finally:
        _set_limit(sec, "per_day", None)
    assert len(_entries(sec, login)) == 3


@pytest.mark.parametrize("isolation", ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"])
def test_parallel_sessions_of_one_login_cannot_slip_past_a_limit(sec: Secured, isolation: str):
    a = sec.a
    learner = _learner(sec, a)
    login = sec.add_login(a, "officer", name=f"officer_race_{isolation.split()[0].lower()}")
    sessions = 8
    barrier = threading.Barrier(sessions)
    outcomes: list[str] = []

    def guess(index: int) -> None:
        with sec.connect(login, autocommit=False) as conn:
            conn.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
            conn.execute("SELECT 1")  # the snapshot of REPEATABLE READ is taken here, before the race
            barrier.wait(timeout=30)
            try:
                conn.execute(CHECK, (learner, _wrong(30 + index)))
                conn.commit()
                outcomes.append("asked")
            except psycopg.DatabaseError as error:  # CD010 (a limit) or 40001 (could not serialise)
                conn.rollback()
                outcomes.append(str(error.sqlstate))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == sessions
    assert outcomes.count("asked") <= 3, outcomes
    assert _tickets(sec, login) == outcomes.count("asked") == len(_entries(sec, login))

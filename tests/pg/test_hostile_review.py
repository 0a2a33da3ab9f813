"""A hostile review of migrations 0021 (the ID number oracle) and 0022 (the enrollments view without a
security barrier), as a colleague with ``psql`` and a valid login: raw psycopg connections try to read
another account's enrollments or a stored special value through the now-flattened view (leaky
conditions in every place the planner can move them, temporary functions that print what they see,
EXPLAIN output and estimates, the statistics views), and to learn a hidden ID number from the oracle
faster than its limits allow or without a committed log entry (a later check in the same transaction,
the access log read before commit, savepoints, DO blocks, a second session, prepared transactions), to
use another institution's learner, or to use up a colleague's limits.

What the planner may still do below row-level security, and what that shows (the existence of rows,
not their special values), is in ``docs/claims-sync-security.md`` ("Known limits").
"""

from __future__ import annotations

import json
import re
import threading
import uuid

import psycopg
import pytest
from psycopg import errors as pgerr
from sqlalchemy import text

from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.validation import luhn_valid
from tests import factories
from tests.pg.security_fixtures import Secured, Tenant, secured_database

pytestmark = pytest.mark.pg

ROLES = ("super_admin", "officer", "officer_pi", "report_viewer")
A_ID = "0501014800087"  # the fixture learner's, stored in A's enrollment
MASKED_A_ID = "050101*****87"
# B's learner gets values of its own, so that any leak of B's row is recognisable.
B_ID = "9912315999183"
B_RACE = "race-of-b-7f3a"
B_DISABILITY = "disability-of-b-51c2"
VIEW = "cohortdesk_docuseal.cohort_enrollments"
#: Storage keys filled in by the fixture: A's health document's, B's ID document's.
HIDDEN: list[str] = []
CHECK = "SELECT cohortdesk_id_number_check(%s, %s)"
RESULT = "SELECT cohortdesk_id_number_check_result(%s)"


@pytest.fixture(scope="module")
def sec(tmp_path_factory, migrated) -> Secured:
    with secured_database(tmp_path_factory, migrated) as secured:
        secured.store = DocumentStore(tmp_path_factory.mktemp("review"))  # type: ignore[attr-defined]
        with secured.admin.session() as s:
            s.execute(
                text(
                    "UPDATE cohort_enrollments SET student_data = student_data || jsonb_build_object("
                    "'sa_id_number', CAST(:id AS text), 'race', CAST(:race AS text), "
                    "'disability', CAST(:dis AS text)) WHERE id = :e"
                ),
                {"id": B_ID, "race": B_RACE, "dis": B_DISABILITY, "e": secured.b.enrollment},
            )
            # A health document for A's learner: its storage key is masked from every login.
            letter = factories.upload(secured.store, "letter.pdf", b"%PDF disability letter")  # type: ignore[attr-defined]
            s.execute(
                text(
                    "UPDATE cohort_enrollments SET uploaded_documents = uploaded_documents || "
                    "jsonb_build_object('disability_proof', CAST(:entry AS jsonb)) WHERE id = :id"
                ),
                {"entry": json.dumps(letter), "id": secured.a.enrollment},
            )
            HIDDEN.append(letter["storage_key"])
            HIDDEN.append(
                s.scalar(
                    text(
                        "SELECT uploaded_documents -> 'id_document' ->> 'storage_key' FROM cohort_enrollments WHERE id = :e"
                    ),
                    {"e": secured.b.enrollment},
                )
            )
        assert len(HIDDEN) == 2 and all(HIDDEN)
        with secured.connect("postgres") as admin:
            admin.execute("ANALYZE public.cohort_enrollments")
        yield secured


def _secrets(sec: Secured) -> tuple[str, ...]:
    """Strings none of A's logins may ever see: B's values (masked or not, and its ID document's storage
    key), A's own stored ID number and the storage key of A's health document."""
    return (B_ID, B_RACE, B_DISABILITY, A_ID, f"{B_ID[:6]}*****{B_ID[-2:]}", *HIDDEN)


def _leaks(sec: Secured, said: str) -> list[str]:
    return [secret for secret in _secrets(sec) if secret in said]


def _outcome(conn: psycopg.Connection, sql: str, params: tuple = ()) -> str:
    """Everything a statement tells its caller: rows, or the error with its detail, hint and context."""
    try:
        with conn.transaction():
            cursor = conn.execute(sql, params)
            return repr(cursor.fetchall() if cursor.description is not None else cursor.statusmessage)
    except psycopg.DatabaseError as error:
        diag = error.diag
        return " | ".join(
            str(part)
            for part in (error.sqlstate, error, diag.message_detail, diag.message_hint, diag.context)
            if part
        )


# --- 0022: the enrollments view without a security barrier ----------------------------------------

LEAKY_QUERIES = (
    # A cast that fails with the value in its message, wherever the planner may put it.
    "SELECT id FROM {v} WHERE (student_data ->> 'sa_id_number')::bigint = 0",
    "SELECT id FROM {v} WHERE (student_data::text)::int = 0",
    "SELECT id FROM {v} WHERE (uploaded_documents::text)::int = 0",
    "SELECT id FROM {v} WHERE CASE WHEN account_id <> {a} THEN (student_data::text)::int ELSE 0 END = 1",
    "SELECT id FROM {v} WHERE CASE WHEN account_id <> {a} THEN 1 / 0 ELSE 0 END = 1",
    "SELECT id FROM {v} WHERE CASE WHEN account_id <> {a} THEN (id::text || ' other')::int ELSE 0 END = 1",
    # Joins with other views, both sides, with the failing condition in the join.
    "SELECT e.id FROM {v} e JOIN cohorts c ON c.id = e.cohort_id AND (e.student_data::text)::int = c.id",
    "SELECT e.id FROM cohortdesk_docuseal.users u JOIN {v} e ON e.user_id = u.id "
    "WHERE (e.student_data ->> 'race')::int = u.id",
    "SELECT e.id FROM cohortdesk_docuseal.submissions s LEFT JOIN {v} e ON e.submission_id = s.id "
    "AND (e.student_data::text)::int = 1",
    # Window functions, LATERAL, CTEs (inlined and materialised), set-returning functions, sorting.
    "SELECT id, row_number() OVER (ORDER BY (student_data ->> 'sa_id_number')::bigint) FROM {v}",
    "SELECT x FROM {v} e, LATERAL (SELECT (e.student_data::text)::int AS x) l",
    "WITH c AS (SELECT * FROM {v}) SELECT id FROM c WHERE (student_data::text)::int = 0",
    "WITH c AS MATERIALIZED (SELECT * FROM {v}) SELECT id FROM c WHERE (student_data::text)::int = 0",
    "SELECT k, v::text::int FROM {v} e, jsonb_each(e.student_data) AS j(k, v)",
    "SELECT jsonb_each_text(student_data) FROM {v}",
    "SELECT id FROM {v} ORDER BY (student_data ->> 'race')::int",
    "SELECT id FROM {v} ORDER BY (uploaded_documents::text)::int LIMIT 1",
    "SELECT DISTINCT ON ((student_data ->> 'disability')::int) id FROM {v}",
    "SELECT count(*) FROM {v} GROUP BY (student_data ->> 'sa_id_number')::numeric",
    # SQL/JSON path: errors name what they failed on.
    "SELECT jsonb_path_query(student_data, 'strict $.sa_id_number.double()') FROM {v}",
    "SELECT jsonb_path_query(student_data, 'strict $.race.double()') FROM {v}",
    "SELECT jsonb_path_query(uploaded_documents, 'strict $.*.storage_key.double()') FROM {v}",
    "SELECT id FROM {v} WHERE jsonb_path_exists(student_data, '$.race ? (@ like_regex \"^race-of-b\")')",
    # Everything at once, and the view's rows as a whole.
    "SELECT e::text::int FROM {v} e",
    "SELECT id FROM {v} WHERE id IN (SELECT id FROM public.cohort_enrollments) AND (student_data::text)::int = 0",
    "SELECT id FROM {v} UNION ALL SELECT (student_data::text)::int FROM {v}",
)


@pytest.mark.parametrize("role", ROLES)
def test_leaky_conditions_see_neither_another_account_nor_a_stored_value(sec: Secured, role: str):
    a, b = sec.a, sec.b
    with sec.connect(a.logins[role]) as conn:
        for sql in LEAKY_QUERIES:
            said = _outcome(conn, sql.format(v=VIEW, a=a.account))
            assert _leaks(sec, said) == [], (sql, said)
            assert f"{b.enrollment} other" not in said, (sql, said)
        # The rows that do come back are A's only, whatever the query's shape.
        ids = {
            row[0]
            for row in conn.execute(
                f"SELECT e.id FROM {VIEW} e LEFT JOIN LATERAL (SELECT 1) l ON true "
                f"WHERE e.id IN (%s, %s) OR e.account_id = %s",
                (a.enrollment, b.enrollment, b.account),
            )
        }
        assert b.enrollment not in ids


@pytest.mark.parametrize("role", ("officer", "super_admin"))
def test_a_temporary_function_that_prints_what_it_is_given_sees_only_masked_own_rows(sec: Secured, role: str):
    """A login may create functions in ``pg_temp`` (PUBLIC's TEMP on the database) and RAISE NOTICE in
    them: the closest thing to a leaky function a colleague has. Made as cheap as possible, so that the
    planner would run it first if it were allowed to."""
    a, b = sec.a, sec.b
    with sec.connect(a.logins[role]) as conn:
        notices: list[str] = []
        conn.add_notice_handler(lambda notice: notices.append(str(notice.message_primary)))
        try:
            conn.execute(
                "CREATE FUNCTION pg_temp.peek(bigint, bigint, jsonb, jsonb) RETURNS boolean LANGUAGE plpgsql "
                "COST 0.0000001 AS $$ BEGIN RAISE NOTICE 'peek % % % %', $1, $2, $3, $4; RETURN true; END $$"
            )
        except pgerr.InsufficientPrivilege:
            pytest.skip("this database grants no TEMP: no function of one's own to leak with")
        queries = (
            "SELECT id FROM {v} e WHERE pg_temp.peek(e.id, e.account_id, e.student_data, e.uploaded_documents)",
            "SELECT id FROM {v} e WHERE e.id = {b} AND pg_temp.peek(e.id, e.account_id, e.student_data, "
            "e.uploaded_documents)",
            "SELECT e.id FROM cohorts c JOIN {v} e ON e.cohort_id = c.id "
            "AND pg_temp.peek(e.id, e.account_id, e.student_data, e.uploaded_documents)",
            "SELECT id FROM {v} e ORDER BY pg_temp.peek(e.id, e.account_id, e.student_data, e.uploaded_documents)",
            "SELECT * FROM {v} e, LATERAL (SELECT pg_temp.peek(e.id, e.account_id, e.student_data, "
            "e.uploaded_documents)) p",
            # Through the table itself (column grants: the special columns are refused outright).
            "SELECT id FROM public.cohort_enrollments e WHERE pg_temp.peek(e.id, e.account_id, NULL, NULL)",
        )
        everything: list[str] = []
        for sql in queries:
            notices.clear()
            said = _outcome(conn, sql.format(v=VIEW, b=b.enrollment))
            seen = " ".join(notices)
            assert _leaks(sec, said + seen) == [], (sql, said, seen)
            for notice in notices:
                _, row_id, account, *_ = notice.split(" ", 3)
                assert (int(row_id), int(account)) != (b.enrollment, b.account), (sql, notice)
                assert int(account) == a.account, (sql, notice)
            everything += notices
        assert any(MASKED_A_ID in notice for notice in everything)  # it ran, and saw the masked value


@pytest.mark.parametrize("role", ("officer", "report_viewer"))
def test_explain_shows_no_stored_value_and_estimates_ignore_the_stored_ones(sec: Secured, role: str):
    a, b = sec.a, sec.b
    with sec.connect(a.logins[role]) as conn:
        for sql in (
            f"SELECT * FROM {VIEW} WHERE student_data ->> 'race' = '{B_RACE}'",
            f"SELECT * FROM {VIEW} WHERE student_data ->> 'sa_id_number' = '{A_ID}'",
            f"SELECT * FROM {VIEW} WHERE id = {b.enrollment}",
            f"SELECT * FROM {VIEW} e JOIN cohorts c ON c.id = e.cohort_id ORDER BY e.student_data ->> 'race'",
        ):
            plan = "\n".join(
                row[0]
                for row in conn.execute(f"EXPLAIN (ANALYZE, VERBOSE, BUFFERS, SETTINGS) {sql}").fetchall()
            )
            # (A value the query itself names is printed back in its plan: that says nothing.)
            assert [leak for leak in _leaks(sec, plan) if leak not in sql] == [], (sql, plan)
            returned = [int(n) for n in re.findall(r"actual time=[\d.]+\.\.[\d.]+ rows=(\d+)", plan)]
            assert returned[0] <= 1, (sql, plan)  # at most A's own learner ever comes out
        said = _outcome(
            conn, f"EXPLAIN (ANALYZE, VERBOSE) SELECT * FROM {VIEW} WHERE (student_data::text)::int = 0"
        )
        assert "22P02" in said and MASKED_A_ID in said and _leaks(sec, said) == [], said

        # The planner's estimate for a condition on a masked value does not depend on the stored
        # values of any account (no statistics are used for it): a real value and a made-up one get
        # the same estimate.
        def estimate(condition: str) -> str:
            plan = conn.execute(f"EXPLAIN SELECT * FROM {VIEW} WHERE {condition}").fetchone()[0]
            return re.search(r"rows=(\d+)", plan).group(1)  # type: ignore[union-attr]

        for key, real in (("race", B_RACE), ("disability", B_DISABILITY), ("sa_id_number", B_ID)):
            assert estimate(f"student_data ->> '{key}' = '{real}'") == estimate(
                f"student_data ->> '{key}' = 'made-up-{uuid.uuid4().hex}'"
            )
            assert estimate(f"student_data @> jsonb_build_object('{key}', '{real}')") == estimate(
                f"student_data @> jsonb_build_object('{key}', 'made-up')"
            )


@pytest.mark.parametrize("role", ROLES)
def test_the_statistics_views_show_a_login_nothing_of_the_enrollments(sec: Secured, role: str):
    """pg_stats shows a column's most common values and histogram; the table has been analysed. A login
    has no SELECT on ``student_data`` and row-level security is active for it, so pg_stats hides the
    whole table (barrier or not: the view has no statistics of its own); the catalogues are the
    superuser's."""
    with sec.connect("postgres") as admin:
        stored = admin.execute(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'cohort_enrollments' AND attname = 'student_data'"
        ).fetchone()[0]
    assert stored >= 1  # there is something to hide
    with sec.connect(sec.a.logins[role]) as conn:
        for view in ("pg_stats", "pg_stats_ext", "pg_stats_ext_exprs"):
            rows = conn.execute(
                f"SELECT * FROM pg_catalog.{view} WHERE tablename IN "
                "(SELECT relname FROM pg_class WHERE relname LIKE %s)",
                ("%cohort_enrollments%",),
            ).fetchall()
            assert rows == [], view
            dump = repr(conn.execute(f"SELECT * FROM pg_catalog.{view}").fetchall())
            assert _leaks(sec, dump) == [], view
        for catalogue in ("pg_statistic", "pg_statistic_ext_data"):
            with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
                conn.execute(f"SELECT * FROM pg_catalog.{catalogue}")
        # Nor can it make statistics of its own, or analyse the table to move them.
        with pytest.raises(pgerr.InsufficientPrivilege), conn.transaction():
            conn.execute("CREATE STATISTICS public.peek ON account_id, state FROM public.cohort_enrollments")
        conn.execute("ANALYZE public.cohort_enrollments")  # a warning, and nothing done
        assert not conn.execute(
            "SELECT has_column_privilege('public.cohort_enrollments', 'student_data', 'SELECT')"
        ).fetchone()[0]


# --- 0021: the ID number oracle --------------------------------------------------------------------


def _wrong(n: int, base: str = A_ID) -> str:
    """The n-th Luhn-valid number with the same visible digits as ``base``."""
    found = 0
    for middle in range(10_000, 100_000):
        candidate = base[:6] + f"{middle:05d}" + base[11:]
        if candidate != base and luhn_valid(candidate):
            if found == n:
                return candidate
            found += 1
    raise AssertionError("no such number")


def _learner(sec: Secured, tenant: Tenant, number: str = A_ID) -> int:
    person = factories.user(sec.admin, tenant.account, "Lerato", uuid.uuid4().hex[:6])
    return ce.enroll(
        sec.admin,
        ce.NewEnrollment(
            cohort_id=tenant.cohort,
            user_id=person,
            student_data={"sa_id_number": number},
            uploaded_documents={"id_document": factories.upload(sec.store, "id.pdf", uuid.uuid4().bytes)},  # type: ignore[attr-defined]
        ),
    ).row.id


def _set_limit(sec: Secured, key: str, value: int | None) -> None:
    with sec.admin.session() as s:
        s.execute(text("DELETE FROM cohortdesk_install WHERE key = :k"), {"k": f"id_check.{key}"})
        if value is not None:
            s.execute(
                text("INSERT INTO cohortdesk_install (key, value) VALUES (:k, :v)"),
                {"k": f"id_check.{key}", "v": str(value)},
            )


def _logged(sec: Secured, login: str) -> int:
    with sec.admin.session() as s:
        return s.scalar(
            text("SELECT count(*) FROM cohortdesk_access_log WHERE kind = 'id_number_check' AND actor = :a"),
            {"a": login},
        )


def _sqlstate(conn: psycopg.Connection, sql: str, params: tuple = ()) -> str:
    try:
        conn.execute(sql, params)
    except psycopg.DatabaseError as error:
        return f"{error.sqlstate}: {error}"
    return "ok"


def test_a_second_check_in_the_same_transaction_cannot_tell_whether_the_first_matched(sec: Secured):
    """The "no" answers are limited per day, and the limit counted the asking transaction's own
    uncommitted checks: one short of the limit, check X, then check any new number in the same
    transaction: refused if X did not match, compared if it did; roll back, nothing logged. Every
    candidate could be tried that way, unlogged and unlimited."""
    a = sec.a
    target = _learner(sec, a)
    fillers = [_learner(sec, a) for _ in range(2)]
    _set_limit(sec, "misses_per_day", 2)
    notices: list[str] = []
    try:
        for role, candidates in (("sweeper", (A_ID, _wrong(0))), ("sweeper_b", (_wrong(1), A_ID))):
            login = sec.add_login(a, "officer", name=role)
            with sec.connect(login) as conn:
                said = []
                for candidate in candidates:
                    with conn.transaction(force_rollback=True):
                        said.append(
                            [
                                _sqlstate(conn, CHECK, (fillers[0], _wrong(50))),  # one "no" of the two
                                _sqlstate(conn, CHECK, (target, candidate)),
                                _sqlstate(conn, CHECK, (fillers[1], _wrong(51))),
                            ]
                        )
                # Whether the candidate was right or wrong, the transaction hears the same: since 0023,
                # "one check per transaction" before the candidate is looked at.
                assert said[0] == said[1], said
                assert "one ID number check per transaction" in said[0][1], said
                # The same with savepoints and a DO block that catches the refusal.
                notices.clear()
                conn.add_notice_handler(lambda notice: notices.append(str(notice.message_primary)))
                for candidate in candidates:
                    with pytest.raises(pgerr.RaiseException, match="undo"):
                        conn.execute(
                            "DO $$ BEGIN "
                            f"BEGIN PERFORM cohortdesk_id_number_check({fillers[0]}, '{_wrong(52)}'); "
                            f"PERFORM cohortdesk_id_number_check({target}, '{candidate}'); "
                            f"PERFORM cohortdesk_id_number_check({fillers[1]}, '{_wrong(53)}'); "
                            "RAISE NOTICE 'compared'; "
                            "EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'refused %', SQLERRM; END; "
                            "RAISE EXCEPTION 'undo'; END $$"
                        )
                assert len(notices) == 2 and notices[0] == notices[1], notices
            assert _logged(sec, login) == 0
    finally:
        _set_limit(sec, "misses_per_day", None)


def test_a_super_admin_cannot_read_the_answer_from_the_log_before_it_is_committed(sec: Secured):
    a = sec.a
    login = sec.add_login(a, "super_admin", name="peeker")
    target = _learner(sec, a)
    with sec.connect(login) as conn:
        seen = []
        for candidate in (A_ID, _wrong(2)):
            with conn.transaction(force_rollback=True):
                conn.execute(CHECK, (target, candidate))
                seen.append(
                    conn.execute(
                        "SELECT details ->> 'answer' FROM cohortdesk_access_log "
                        "WHERE kind = 'id_number_check' AND object_id = %s",
                        (target,),
                    ).fetchall()
                )
                # Nor through a savepoint, a leaky condition, or counting.
                seen.append(
                    conn.execute(
                        "SELECT count(*) FROM cohortdesk_access_log WHERE kind = 'id_number_check' "
                        "AND object_id = %s AND details ->> 'answer' = 'matches'",
                        (target,),
                    ).fetchall()
                )
        assert seen[0] == seen[2] == [] and seen[1] == seen[3] == [(0,)], seen
        assert _logged(sec, login) == 0
        # Once committed, the entry is there for the Information Officer, answer and all.
        ticket = conn.execute(CHECK, (target, A_ID)).fetchone()[0]
        assert conn.execute(RESULT, (ticket,)).fetchone()[0] is True
        answers = conn.execute(
            "SELECT details ->> 'answer' FROM cohortdesk_access_log WHERE kind = 'id_number_check' "
            "AND object_id = %s",
            (target,),
        ).fetchall()
        assert answers == [("matches",)]


def test_no_answer_from_another_session_or_a_prepared_transaction(sec: Secured):
    a = sec.a
    login = sec.add_login(a, "officer", name="twosessions")
    target = _learner(sec, a)
    with sec.connect(login, autocommit=False) as first, sec.connect(login) as second:
        ticket = first.execute(CHECK, (target, A_ID)).fetchone()[0]
        # The second session cannot see the uncommitted ticket at all.
        with pytest.raises(pgerr.NoDataFound):
            second.execute(RESULT, (ticket,))
        # A prepared transaction is not a committed one (or is not allowed at all).
        state = _sqlstate(first, f"PREPARE TRANSACTION 'peek_{uuid.uuid4().hex[:8]}'")
        if state == "ok":
            assert "CD011" in _sqlstate(second, RESULT, (ticket,))
            first.execute("ROLLBACK PREPARED")  # pragma: no cover - clusters here allow none
        else:
            first.rollback()
        with pytest.raises(pgerr.NoDataFound):
            second.execute(RESULT, (ticket,))
    assert _logged(sec, login) == 0


def test_another_institutions_learner_is_indistinguishable_from_none(sec: Secured):
    a, b = sec.a, sec.b
    with sec.connect(a.logins["officer"]) as conn:
        theirs = _sqlstate(conn, CHECK, (b.enrollment, B_ID))
        nobody = _sqlstate(conn, CHECK, (b.enrollment + 10_000_000, B_ID))
    assert theirs.split(":")[0] == nobody.split(":")[0] == "P0002"
    assert re.sub(r"\d+", "N", theirs) == re.sub(r"\d+", "N", nobody)
    assert _leaks(sec, theirs) == []


def test_every_refusal_reads_the_same_whether_the_number_is_right_or_wrong(sec: Secured):
    a = sec.a
    login = sec.add_login(a, "officer", name="digits")
    target = _learner(sec, a)
    with sec.connect(login) as conn:
        for i in range(3):
            conn.execute(CHECK, (target, _wrong(60 + i)))
        refusals = {
            _sqlstate(conn, CHECK, (target, candidate)) for candidate in (A_ID, _wrong(70), _wrong(71))
        }
        malformed = {
            _sqlstate(conn, CHECK, (target, candidate))
            for candidate in (A_ID[:12], A_ID + "0", A_ID[:6] + "abcde" + A_ID[-2:], "")
        }
    assert len(refusals) == 1 and "CD010" in refusals.pop()
    assert len(malformed) == 1 and "13 digits" in malformed.pop()


def test_a_colleague_cannot_use_up_or_hold_up_anothers_checks(sec: Secured):
    a = sec.a
    target = _learner(sec, a)
    hog = sec.add_login(a, "officer", name="hog")
    victim = sec.add_login(a, "officer", name="victim")
    _set_limit(sec, "misses_per_day", 3)
    try:
        with sec.connect(hog) as conn:
            for i in range(3):
                conn.execute(CHECK, (target, _wrong(80 + i)))
            assert "CD010" in _sqlstate(conn, CHECK, (target, A_ID))
        # The hog's spent limits and an open transaction holding its own row do not touch the victim.
        with sec.connect(hog, autocommit=False) as holding, sec.connect(victim) as conn:
            holding.execute(CHECK, (target, _wrong(81)))  # a repeat: answered, its row locked till commit
            conn.execute("SET lock_timeout = '2s'")
            done: list[bool] = []
            thread = threading.Thread(
                target=lambda: done.append(
                    conn.execute(RESULT, (conn.execute(CHECK, (target, A_ID)).fetchone()[0],)).fetchone()[0]
                )
            )
            thread.start()
            thread.join(timeout=30)
            holding.rollback()
            assert done == [True]
    finally:
        _set_limit(sec, "misses_per_day", None)

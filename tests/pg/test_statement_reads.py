"""``Database.statement_reads`` on a real PostgreSQL: reads in autocommit on one pooled connection,
which goes back to the pool as it came (a later unit of work gets a transaction again), also after an
error; the queue's ids parameter takes any ids an enrollment can have; and an officer's rows carry
their students under row-level security."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from cohortdesk.db import Database
from cohortdesk.services.review import queue
from tests.pg.security_fixtures import Secured, secured_database

pytestmark = pytest.mark.pg


def _in_transaction(db: Database, reads: bool) -> bool:
    """Whether a statement of this kind of unit of work runs inside a transaction."""
    context = db.statement_reads() if reads else db.read_session()
    with context as s:
        s.execute(text("SELECT 1"))
        raw = s.connection().connection.dbapi_connection
        return raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE  # type: ignore[union-attr]


def test_reads_run_outside_a_transaction_and_the_connection_comes_back_as_it_was(pg_db: Database):
    assert not _in_transaction(pg_db, reads=True)
    assert _in_transaction(pg_db, reads=False)  # the same pooled connection, in a transaction again
    with pytest.raises(sa_exc.ProgrammingError), pg_db.statement_reads() as s:
        s.execute(text("SELECT * FROM no_such_table"))
    assert pg_db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert _in_transaction(pg_db, reads=False)
    assert not _in_transaction(pg_db, reads=True)


def test_rows_by_id_take_ids_of_any_size(pg_db: Database):
    assert queue.queue_rows(pg_db, [1, 40_000, 5_000_000_000]) == []
    assert queue.cohort_counts(pg_db, [1, 40_000, 5_000_000_000]) == {}


@pytest.fixture(scope="module")
def sec(tmp_path_factory, migrated) -> Iterator[Secured]:
    with secured_database(tmp_path_factory, migrated) as secured:
        yield secured


def test_an_officer_reads_each_rows_student_under_row_level_security(sec: Secured):
    """The row looks its student up per row instead of joining ``users`` (which read every user of
    the account): an officer's page and live re-read carry each student's name and email, in the
    page's order when sorted by them, and nothing of the other institution."""
    officer = sec.database(sec.a.logins["officer"])
    with sec.connect("postgres") as admin:
        students = {
            enrollment: (f"{first or ''} {last or ''}".strip(), email)
            for enrollment, first, last, email in admin.execute(
                "SELECT e.id, u.first_name, u.last_name, u.email FROM cohort_enrollments e "
                "JOIN users u ON u.id = e.user_id WHERE e.account_id = %s",
                (sec.a.account,),
            )
        }
    page = queue.queue_page(officer, queue.QueueFilter())
    assert page.rows and {row.enrollment_id for row in page.rows} <= set(students)
    for row in [*page.rows, *queue.queue_rows(officer, [r.enrollment_id for r in page.rows] + [sec.b.enrollment])]:
        assert (row.student_name, row.email) == students[row.enrollment_id]
    for key in ("student", "email"):
        for descending in (False, True):
            rows = queue.queue_page(officer, queue.QueueFilter(), queue.QueueSort(key, descending)).rows
            values = [(r.student_name.lower() if key == "student" else r.email) for r in rows]
            assert values == sorted(values, reverse=descending)

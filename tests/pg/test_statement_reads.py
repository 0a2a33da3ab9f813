"""``Database.statement_reads`` on a real PostgreSQL: reads in autocommit on one pooled connection,
which goes back to the pool as it came (a later unit of work gets a transaction again), also after an
error; and the queue's ids parameter takes any ids an enrollment can have."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from cohortdesk.db import Database
from cohortdesk.services.review import queue

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

"""The sync stamp trigger numbers rows per tenant: exactly +1 for single-row edits, blocks within a
bulk transaction, never a value a client forged, and the same values under concurrent writers."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from sqlalchemy import URL

from cohortdesk.db import Database
from tests import factories

pytestmark = pytest.mark.pg

INSERT = (
    "INSERT INTO sponsors (uuid, account_id, institution_id, company_name, created_at, updated_at, row_version) "
    "VALUES (%s, %s, %s, %s, now(), now(), 1)"
)


@pytest.fixture
def tenant(pg_db: Database, migrated_pg_url: URL):
    from cohortdesk.services.configuration import edits as ce

    account = factories.account(pg_db)
    institution = ce.create_institution(pg_db, ce.NewInstitution(account_id=account, name="Acme")).row
    dsn = migrated_pg_url.set(drivername="postgresql").render_as_string(hide_password=False)
    return dsn, account, institution.id


def _rows(n: int, account: int, institution: int, label: str) -> list[tuple]:
    return [(str(uuid.uuid4()), account, institution, f"{label} {i}") for i in range(n)]


def _clock(cur, account: int) -> int:
    return cur.execute("SELECT last_seq FROM tenant_clock WHERE account_id = %s", (account,)).fetchone()[0]


def test_single_row_transactions_count_up_by_one(tenant):
    dsn, account, institution = tenant
    with psycopg.connect(dsn, autocommit=True) as conn:
        start = _clock(conn.cursor(), account)
        seqs = []
        for row in _rows(5, account, institution, "one"):
            with conn.transaction():
                conn.execute(INSERT, row)
                seqs.append(
                    conn.execute("SELECT change_seq FROM sponsors WHERE uuid = %s", (row[0],)).fetchone()[0]
                )
        assert seqs == list(range(start + 1, start + 6))
        assert _clock(conn.cursor(), account) == start + 5


def test_a_bulk_transaction_gets_unique_increasing_values_with_few_reservations(tenant):
    dsn, account, institution = tenant
    with psycopg.connect(dsn) as conn:
        cur = conn.cursor()
        start = _clock(cur, account)
        rows = _rows(12_000, account, institution, "bulk")
        cur.executemany(INSERT, rows)
        seqs = [
            r[0]
            for r in cur.execute(
                "SELECT change_seq FROM sponsors WHERE company_name LIKE 'bulk %' ORDER BY id"
            )
        ]
        conn.commit()
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        end = _clock(cur, account)
        assert seqs[0] == start + 1 and seqs[-1] <= end
        assert end - start - len(rows) < 4096  # unused reservation: at most one block


def test_a_forged_block_is_ignored(tenant):
    dsn, account, institution = tenant
    with psycopg.connect(dsn) as conn:
        cur = conn.cursor()
        start = _clock(cur, account)
        cur.execute("SELECT set_config(%s, '1/1000000/4096', true)", (f"cohortdesk.stamp_{account}",))
        cur.execute(INSERT, _rows(1, account, institution, "forged")[0])
        seq = cur.execute("SELECT change_seq FROM sponsors WHERE company_name = 'forged 0'").fetchone()[0]
        conn.commit()
        assert seq == start + 1
        assert _clock(cur, account) == start + 1  # and no block was reserved on the forged word


def test_concurrent_bulk_writers_never_share_a_value(tenant):
    dsn, account, institution = tenant
    errors: list[BaseException] = []

    def writer(label: str) -> None:
        try:
            with psycopg.connect(dsn) as conn:
                for _ in range(3):
                    conn.cursor().executemany(INSERT, _rows(700, account, institution, label))
                    conn.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with psycopg.connect(dsn) as conn:
        seqs = [
            r[0] for r in conn.execute("SELECT change_seq FROM sponsors WHERE account_id = %s", (account,))
        ]
    assert len(seqs) == len(set(seqs))

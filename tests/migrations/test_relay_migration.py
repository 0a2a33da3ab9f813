"""Migration 0025 up and down, standalone and attached to DocuSeal: with it, a change to the queue is
recorded for the institution's relay and no commit notifies; without it (the downgrade), each commit
notifies as before. SQLite has no listeners, so nothing changes there."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from cohortdesk.db import Database, migrate
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import claims
from cohortdesk.services.review.listener import RELAY, parse_payload, queue_channels
from tests import review_factories
from tests.migrations.test_attach import docuseal_db  # noqa: F401 - the attached database fixture

BEFORE = "0024_awaiting_documents"
TABLES = {"cohortdesk_queue_changes", "cohortdesk_queue_relays"}
FUNCTIONS = {"cohortdesk_relay_queue", "cohortdesk_release_queue_relay"}


def _objects(db: Database) -> tuple[set[str], set[str]]:
    with db.engine.connect() as conn:
        tables = {
            r[0]
            for r in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE tablename = ANY (:n)"), {"n": list(TABLES)}
            )
        }
        functions = {
            r[0]
            for r in conn.execute(
                text("SELECT proname FROM pg_proc WHERE proname = ANY (:n)"), {"n": list(FUNCTIONS)}
            )
        }
    return tables, functions


def _listen(db: Database) -> psycopg.Connection:
    conn = psycopg.connect(
        db.url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )
    for channel in queue_channels(conn):
        conn.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))
    return conn


def _heard(conn: psycopg.Connection) -> set[int]:
    return {i for n in conn.notifies(timeout=1.0) for i in parse_payload(n.payload).enrollment_ids}


def _up_and_down(db: Database, store: DocumentStore) -> None:
    assert _objects(db) == (TABLES, FUNCTIONS)
    world = review_factories.review_queue(db, store, packs=2)
    alice = world["alice"]
    with _listen(db) as listener:
        listener.execute(RELAY, ("migration-test",))  # this session is the relay; the set-up's changes
        _heard(listener)
        held = claims.claim_next(db, alice)
        assert _heard(listener) == set()  # the claim's commit notified nobody
        listener.execute(RELAY, ("migration-test",))
        assert _heard(listener) == {held.enrollment_id}

        migrate.downgrade(db, BEFORE)
        assert _objects(db) == (set(), set())
        claims.release(db, held)
        assert _heard(listener) == {held.enrollment_id}  # as before 0025: notified at commit

        migrate.upgrade(db)
        assert _objects(db) == (TABLES, FUNCTIONS)
        listener.execute(RELAY, ("migration-test",))
        claims.claim(db, alice, held.enrollment_id)
        assert _heard(listener) == set()
        listener.execute(RELAY, ("migration-test",))
        assert _heard(listener) == {held.enrollment_id}


@pytest.mark.pg
def test_up_and_down_in_a_standalone_database(pg_db: Database, tmp_path: Path):
    _up_and_down(pg_db, DocumentStore(tmp_path / "store"))


def test_up_and_down_attached_to_docuseal(docuseal_db: Database, tmp_path: Path):  # noqa: F811
    migrate.upgrade(docuseal_db, mode="attach")
    if docuseal_db.dialect == "postgresql":
        _up_and_down(docuseal_db, DocumentStore(tmp_path / "store"))
    else:
        assert not _sqlite_names(docuseal_db) & TABLES  # no listeners on SQLite
    assert migrate.schema_status(docuseal_db).mode == "attach"


def test_sqlite_is_untouched(sqlite_db: Database):
    assert not _sqlite_names(sqlite_db) & TABLES


def _sqlite_names(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master"))}

"""Migration 0025 up and down, standalone and attached to DocuSeal: with it, a change to the queue is
recorded for the institution's relay and no commit notifies; without it (the downgrade), each commit
notifies as before. SQLite has no listeners, so nothing changes there."""

from __future__ import annotations

import importlib.util
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


def test_the_downgrade_restores_the_trigger_migration_0016_made():
    folder = Path(__file__).resolve().parents[2] / "migrations" / "versions"
    spec = importlib.util.spec_from_file_location("relay_0025", folder / "0025_queue_relay.py")
    assert spec is not None and spec.loader is not None
    relay = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(relay)
    earlier = (folder / "0016_special_pi_closed.py").read_text()
    start = earlier.index("CREATE OR REPLACE FUNCTION @s.cohortdesk_notify_queue()")
    assert relay._notify_trigger(relay.NOTIFY).strip() == earlier[start : earlier.index("END $$;", start) + 7]


@pytest.mark.pg
def test_with_no_listener_at_all_what_nobody_sent_is_removed_now_and_then(pg_db: Database, tmp_path: Path):
    # Behind a transaction pooler nobody listens, so no relay ever takes the recorded changes.
    world = review_factories.review_queue(pg_db, DocumentStore(tmp_path / "store"), packs=1)
    with pg_db.engine.begin() as conn:
        conn.execute(
            text("UPDATE cohortdesk_queue_changes SET recorded_at = recorded_at - interval '2 minutes'")
        )
        stale = conn.execute(text("SELECT count(*) FROM cohortdesk_queue_changes")).scalar_one()
        conn.execute(text("SELECT setval('cohortdesk_queue_changes_id_seq', 255)"))  # the next is the 256th
    assert stale > 0
    claims.claim_next(pg_db, world["alice"])
    with pg_db.engine.connect() as conn:
        left = conn.execute(text("SELECT id FROM cohortdesk_queue_changes")).scalars().all()
    assert left == [256]  # the change just made; the stale ones went with it

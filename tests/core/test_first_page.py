"""The first queue page read with ``sqlite3`` before SQLAlchemy loads (``services.review.first_page``)
returns exactly what ``queue.queue_page`` returns for the start view, on the demo data and through the
cases that change a row (decisions, undos, re-uploads, claims, legacy upload keys, removed
enrollments, an empty store); for anything else it declines, and the window reads the usual way."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cohortdesk.db import Database, migrate
from cohortdesk.models import CohortEnrollment
from cohortdesk.services import demo
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import claims, first_page, queue
from cohortdesk.services.review import decisions as vs
from cohortdesk.services.review.queue_rows import QueueFilter, QueueSort
from tests import review_factories
from tests.factories import queue_world, upload


def _path(db: Database) -> Path:
    assert db.url.database
    return Path(db.url.database)


def _same(db: Database, limit: int = 200) -> None:
    """The fast read and the service agree, row for row and field for field."""
    fast = first_page.read_first_page(_path(db), first_page.START_FILTER, first_page.START_SORT, limit)
    usual = queue.queue_page(db, first_page.START_FILTER, first_page.START_SORT, 0, limit)
    assert fast == usual


def test_an_empty_store_gives_the_same_empty_page(sqlite_db: Database):
    page = first_page.read_first_page(_path(sqlite_db), first_page.START_FILTER, first_page.START_SORT, 200)
    assert page is not None and page.rows == ()
    _same(sqlite_db)


def test_the_demo_data_gives_the_same_page(sqlite_db: Database, tmp_path):
    demo.load_demo(sqlite_db, students=60, seed=11, store=DocumentStore(tmp_path / "demo"))
    _same(sqlite_db)
    _same(sqlite_db, limit=7)


def test_every_change_to_a_row_reads_the_same(sqlite_db: Database, tmp_path):
    db = sqlite_db
    store = DocumentStore(tmp_path / "store")
    world = queue_world(db, store)
    officer = review_factories.identity_for_user(db, world["officer"])
    people = world["enrollments"]
    _same(db)
    _same(db, limit=2)

    # Decided: one document approved (one still awaits), another pack rejected and then uploaded again.
    lerato, sipho = people["Lerato Mokoena"], people["Sipho Dlamini"]
    vs.record_decision(db, vs.DecisionCommand(lerato, "id_document", "approved"), officer)
    vs.record_decision(
        db, vs.DecisionCommand(sipho, "id_document", "rejected", reason="Not certified."), officer
    )
    _same(db)
    with db.session() as s:
        row = s.get(CohortEnrollment, sipho)
        row.uploaded_documents = {
            **row.uploaded_documents,
            "id_document": upload(store, "id-2.pdf", b"%PDF new"),
        }
    _same(db)
    assert any(r.resubmitted for r in queue.queue_page(db, first_page.START_FILTER).rows)

    # An undo takes a decision back.
    anna = people["Anna van der Merwe"]
    vs.record_decision(db, vs.DecisionCommand(anna, "id_document", "approved"), officer)
    vs.record_decision(db, vs.DecisionCommand(anna, "", "undo"), officer)
    _same(db)

    # Held for review by the officer (the holder's name comes with the row).
    claims.claim(db, officer, people["Thabo Nkosi"])
    _same(db)

    # A legacy upload key counts as today's document type; a pack waiting since no time sorts last;
    # a removed enrollment leaves the queue.
    with db.session() as s:
        row = s.get(CohortEnrollment, people["Zanele Khumalo"])
        row.uploaded_documents = {
            "matric": upload(store, "matric.pdf", b"%PDF matric"),
            **row.uploaded_documents,
        }
        s.get(CohortEnrollment, people["Pieter O'Brien"]).pending_since = None
        s.get(CohortEnrollment, lerato).deleted_at = datetime.now(UTC)
    _same(db)
    _same(db, limit=1)


def test_other_views_and_pages_are_left_to_the_service(sqlite_db: Database):
    path = _path(sqlite_db)
    for flt, sort, offset in (
        (QueueFilter(), QueueSort(), 0),
        (first_page.START_FILTER, QueueSort(descending=True), 0),
        (first_page.START_FILTER, QueueSort("student"), 0),
        (QueueFilter(verification_state="pending", decidable=True, search="anna"), QueueSort(), 0),
        (first_page.START_FILTER, first_page.START_SORT, 200),
    ):
        assert not first_page.answers(flt, sort, offset)
        if offset == 0:
            assert first_page.read_first_page(path, flt, sort, 200) is None


def test_a_store_not_at_this_versions_schema_is_opened_the_usual_way(sqlite_db: Database, tmp_path):
    assert (
        first_page.read_first_page(
            tmp_path / "missing.sqlite3", first_page.START_FILTER, first_page.START_SORT, 200
        )
        is None
    )
    path = _path(sqlite_db)
    migrate.downgrade(sqlite_db, "-1")
    sqlite_db.dispose()
    assert first_page.read_first_page(path, first_page.START_FILTER, first_page.START_SORT, 200) is None
    fresh = tmp_path / "new.sqlite3"
    sqlite3.connect(fresh).close()  # an empty file: no version table yet
    assert first_page.read_first_page(fresh, first_page.START_FILTER, first_page.START_SORT, 200) is None


@pytest.mark.parametrize("limit", [0, -1])
def test_no_rows_asked_for_is_left_to_the_service(sqlite_db: Database, limit: int):
    assert (
        first_page.read_first_page(_path(sqlite_db), first_page.START_FILTER, first_page.START_SORT, limit)
        is None
    )

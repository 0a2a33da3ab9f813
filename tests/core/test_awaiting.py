"""How many uploaded documents await a decision, per enrollment: on PostgreSQL a value the database
keeps (migration 0024, ``queue.STORED_AWAITING``), on SQLite the live rule. After every kind of change
(an upload added, replaced, re-sent unchanged or removed by DocuSeal's side, a decision, an undo, a
decision written around the decision functions, legacy upload keys, a tombstone, new enrollments) the
stored value equals the live rule (``queue.live_awaiting_count``) for every enrollment, and the cohort
counts, the "To decide" filter and the queue rows say what that rule says. Last, random sequences of
those changes on the demo data, checked after each step. (Sync pushes: tests/sync/test_sync_as_login.py;
logins writing the value: tests/pg/test_hostile_writes.py; the migration: tests/migrations.)"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from cohortdesk.db import Database
from cohortdesk.errors import CohortDeskError
from cohortdesk.models import CohortEnrollment, DocumentVerification, User
from cohortdesk.models.cohorts import AWAITING
from cohortdesk.services import demo
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import decisions as vs
from cohortdesk.services.review import queue as q
from cohortdesk.services.validation import LEGACY_DOCUMENT_KEYS
from tests import factories, review_factories
from tests.awaiting_checks import check, docuseal_writes, upload_entry, uploads_of


def _decide(db: Database, who: Identity, enrollment_id: int, document: str, action: str) -> None:
    reason = "The copy is not certified." if action == "rejected" else None
    vs.record_decision(db, vs.DecisionCommand(enrollment_id, document, action, reason=reason), who)


def _undo(db: Database, who: Identity, enrollment_id: int) -> None:
    vs.record_decision(db, vs.DecisionCommand(enrollment_id, "", "undo"), who)


@pytest.fixture
def one(db: Database, tmp_path: Path) -> dict[str, Any]:
    """``setup_cohort``'s learner (id document and matric uploaded) and an officer of the account."""
    world = factories.setup_cohort(db, DocumentStore(tmp_path / "store"))
    return {**world, "who": review_factories.identity_for_user(db, world["officer"])}


def test_uploads_added_replaced_and_removed(db: Database, one):
    eid = one["enrollment"].id
    assert check(db)[eid] == 2
    _decide(db, one["who"], eid, "id_document", "approved")
    _decide(db, one["who"], eid, "matric_certificate", "approved")
    assert check(db)[eid] == 0
    uploaded = uploads_of(db, eid)

    docuseal_writes(
        db, eid, {**uploaded, "cv": upload_entry("cv 1")}
    )  # a new document: nothing decided on it
    assert check(db)[eid] == 1
    uploaded = uploads_of(db, eid)
    docuseal_writes(
        db, eid, {**uploaded, "id_document": upload_entry("id 2")}
    )  # a new file, after the approval
    assert check(db)[eid] == 2
    uploaded = uploads_of(db, eid)
    renamed = {**uploaded["matric_certificate"], "file_name": "matric (1).pdf"}  # same checksum
    docuseal_writes(db, eid, {**uploaded, "matric_certificate": renamed})
    assert check(db)[eid] == 2
    docuseal_writes(db, eid, {k: v for k, v in uploads_of(db, eid).items() if k != "cv"})
    assert check(db)[eid] == 1
    _decide(db, one["who"], eid, "id_document", "rejected")  # the new file decided
    assert check(db)[eid] == 0
    docuseal_writes(db, eid, {})
    assert check(db)[eid] == 0


def test_an_upload_without_a_checksum_or_not_an_object(db: Database, one):
    eid = one["enrollment"].id
    _decide(db, one["who"], eid, "id_document", "approved")
    uploaded = uploads_of(db, eid)
    no_checksum = {k: v for k, v in uploaded["id_document"].items() if k != "checksum"}
    docuseal_writes(db, eid, {**uploaded, "id_document": no_checksum})  # decided, whatever the file
    assert check(db)[eid] == 1


@pytest.mark.pg
def test_a_write_that_is_not_an_object_is_never_refused_for_the_count(pg_db: Database, tmp_path):
    """Not a shape CohortDesk writes (the live rule cannot even read it), but DocuSeal's write goes in."""
    eid = factories.setup_cohort(pg_db, DocumentStore(tmp_path / "store"))["enrollment"].id
    for odd in ([], "scanned.pdf", None):
        with pg_db.engine.begin() as conn:
            conn.execute(
                text("UPDATE cohort_enrollments SET uploaded_documents = CAST(:u AS jsonb) WHERE id = :e"),
                {"u": "null" if odd is None else json.dumps(odd), "e": eid},
            )
        with pg_db.read_session() as s:
            assert s.scalar(select(AWAITING.c.documents).where(AWAITING.c.enrollment_id == eid)) == 0


def test_decisions_undos_and_decisions_again(db: Database, one):
    eid, who = one["enrollment"].id, one["who"]
    _decide(db, who, eid, "id_document", "rejected")
    assert check(db)[eid] == 1
    _undo(db, who, eid)  # the rejection no longer counts: the file awaits a decision again
    assert check(db)[eid] == 2
    _decide(db, who, eid, "id_document", "approved")
    _decide(db, who, eid, "id_document", "rejected")  # the latest counts
    assert check(db)[eid] == 1
    _undo(db, who, eid)  # back to the approval before it
    assert check(db)[eid] == 1


def test_a_reupload_after_a_decision_returns_to_the_queue(db: Database, one):
    eid, who = one["enrollment"].id, one["who"]
    _decide(db, who, eid, "id_document", "rejected")
    _decide(db, who, eid, "matric_certificate", "approved")
    assert q.queue_row(db, eid).verification_state == "rejected"
    assert check(db)[eid] == 0
    docuseal_writes(db, eid, {**uploads_of(db, eid), "id_document": upload_entry("id, certified this time")})
    assert q.queue_row(db, eid).verification_state == "pending"  # migration 0012's trigger
    assert check(db)[eid] == 1
    assert q.cohort_counts(db)[one["cohort"].id].to_decide == 1


def test_legacy_upload_keys_count_as_todays_documents(db: Database, one):
    eid, who = one["enrollment"].id, one["who"]
    docuseal_writes(
        db,
        eid,
        {"id": upload_entry("legacy id"), "matric": upload_entry("legacy matric"), "cv": upload_entry("cv")},
    )
    assert check(db)[eid] == 3
    _decide(db, who, eid, "id_document", "approved")  # decided under today's key
    assert check(db)[eid] == 2
    _decide(db, who, eid, "matric", "approved")  # a legacy key given to the service is today's too
    assert check(db)[eid] == 1


@pytest.mark.pg
def test_the_servers_key_mapping_is_the_applications(pg_db: Database):
    with pg_db.read_session() as s:
        for legacy, canonical in [*LEGACY_DOCUMENT_KEYS.items(), ("id_document", "id_document"), ("x", "x")]:
            assert s.scalar(text("SELECT cohortdesk_canonical_document_type(:k)"), {"k": legacy}) == canonical


def test_decisions_written_around_the_functions_count_too(db: Database, one):
    """A maintenance session inserting decision rows itself (a stale checksum, then an undo of it)."""
    eid = one["enrollment"].id
    checksum = uploads_of(db, eid)["id_document"]["checksum"]

    def insert_decision(action: str, metadata: dict[str, Any], reverses: int | None = None) -> int:
        with db.engine.begin() as conn:
            return int(
                conn.execute(
                    insert(DocumentVerification)
                    .values(
                        uuid=str(uuid.uuid4()),
                        account_id=one["account"],
                        cohort_enrollment_id=eid,
                        admin_id=one["officer"],
                        document_type="id_document",
                        action=action,
                        reason="Not certified." if action == "rejected" else None,
                        metadata=metadata,
                        reverses_id=reverses,
                    )
                    .returning(DocumentVerification.id)
                ).scalar_one()
            )

    insert_decision("approved", {"checksum": "an earlier file"})
    assert check(db)[eid] == 2
    current = insert_decision("approved", {"checksum": checksum})
    assert check(db)[eid] == 1
    insert_decision("reversal", {}, reverses=current)
    assert check(db)[eid] == 2


def test_tombstones_and_new_enrollments(db: Database, one, tmp_path):
    store = DocumentStore(tmp_path / "more")
    learners = [factories.user(db, one["account"], f"Learner{i}", "New") for i in range(3)]
    made = ce.enroll_many(
        db,
        [
            ce.NewEnrollment(
                cohort_id=one["cohort"].id,
                user_id=learner,
                uploaded_documents={
                    "id_document": factories.upload(store, "id.pdf", f"id {learner}".encode())
                }
                if i
                else {},
            )
            for i, learner in enumerate(learners)
        ],
    )
    live = check(db)
    assert [live[row.id] for row in made.rows] == [0, 1, 1]
    assert q.cohort_counts(db)[one["cohort"].id].to_decide == 3
    ce.delete_enrollment(db, made.rows[1].id)
    check(db)
    assert q.cohort_counts(db)[one["cohort"].id] == q.CohortCounts(3, 3, 0, 0, 2)


@pytest.mark.pg
def test_concurrent_writers_of_one_enrollment_leave_the_last_count_right(pg_db: Database, tmp_path):
    """Two sessions decide on the enrollment's two documents at once, around the decision functions
    (which lock the enrollment themselves): the second waits for the first and counts after it."""
    one = factories.setup_cohort(pg_db, DocumentStore(tmp_path / "store"))
    eid = one["enrollment"].id
    uploaded = uploads_of(pg_db, eid)
    insert_sql = text(
        "INSERT INTO document_verifications (uuid, account_id, cohort_enrollment_id, admin_id, document_type, "
        "action, metadata, created_at, updated_at, row_version) "
        "VALUES (:u, :a, :e, :o, :d, 'approved', CAST(:m AS jsonb), now(), now(), 1)"
    )

    def params(document: str) -> dict[str, Any]:
        checksum = uploaded[document]["checksum"]
        return {
            "u": str(uuid.uuid4()),
            "a": one["account"],
            "e": eid,
            "o": one["officer"],
            "d": document,
            "m": f'{{"checksum": "{checksum}"}}',
        }

    first = pg_db.engine.connect()
    second_done = threading.Event()
    failure: list[BaseException] = []

    def second() -> None:
        try:
            with pg_db.engine.begin() as conn:
                conn.execute(insert_sql, params("matric_certificate"))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failure.append(exc)
        finally:
            second_done.set()

    try:
        first.execute(insert_sql, params("id_document"))  # its transaction stays open
        thread = threading.Thread(target=second)
        thread.start()
        assert not second_done.wait(1.0), "the second writer did not wait for the first"
        first.commit()
        thread.join(30)
    finally:
        first.close()
    assert not failure, failure
    assert check(pg_db)[eid] == 0


# --- random sequences on the demo data -----------------------------------------------------------

#: Upload keys the random changes use: today's, legacy ones, one nobody requires.
UPLOAD_KEYS = (
    "id_document",
    "matric_certificate",
    "cv",
    "proof_of_residence",
    "id",
    "matric",
    "custom_award",
)


def _build_demo(db: Database, store_root: Path) -> None:
    demo.load_demo(db, students=40, seed=5, store=DocumentStore(store_root))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def demo_db(request, migrated, tmp_path) -> Iterator[Database]:
    """The demo data, loaded once per worker and backend; each test gets a copy to change."""
    db, _ = migrated.built(
        request.param, "awaiting_demo", _build_demo, tmp_path / "demo.sqlite3", tmp_path / "store"
    )
    try:
        yield db
    finally:
        db.dispose()
        if request.param == "postgresql":
            migrated.release(db.url)


class RandomChanges:
    """One random change at a time to a live enrollment of the demo, as its various writers make it."""

    def __init__(self, db: Database, rng: random.Random) -> None:
        self.db, self.rng = db, rng
        self.log: list[str] = []
        self.touched: list[int] = []  # changed before: most changes return to one of these

    def _enrollment(self) -> tuple[int, int]:
        with self.db.read_session() as s:
            rows = dict(
                s.execute(
                    select(CohortEnrollment.id, CohortEnrollment.account_id)
                    .where(CohortEnrollment.deleted_at.is_(None))
                    .order_by(CohortEnrollment.id)
                ).all()
            )
        again = [eid for eid in self.touched[-4:] if eid in rows]
        eid = self.rng.choice(again) if again and self.rng.random() < 0.7 else self.rng.choice(sorted(rows))
        self.touched.append(eid)
        return int(eid), int(rows[eid])

    def _officer(self, account: int) -> Identity:
        """One officer per account, so that an undo finds their decisions."""
        with self.db.read_session() as s:
            user_id = s.scalar(select(User.id).where(User.account_id == account).order_by(User.id).limit(1))
        return review_factories.officer_identity(self.db, account, int(user_id or 0))

    def step(self) -> None:
        eid, account = self._enrollment()
        uploaded = uploads_of(self.db, eid)
        kind = self.rng.choice(
            (
                "add",
                "replace",
                "rename",
                "remove",
                "decide",
                "decide",
                "decide",
                "undo",
                "raw_decision",
                "tombstone",
            )
        )
        self.log.append(f"{kind} on {eid}")
        if kind == "add":
            key = self.rng.choice(UPLOAD_KEYS)
            docuseal_writes(self.db, eid, {**uploaded, key: upload_entry(f"{key} {self.rng.random()}")})
        elif kind in ("replace", "rename", "remove") and uploaded:
            key = self.rng.choice(sorted(uploaded))
            if kind == "replace":
                uploaded[key] = upload_entry(f"{key} {self.rng.random()}")
            elif kind == "rename" and isinstance(uploaded[key], dict):
                uploaded[key] = {**uploaded[key], "file_name": "renamed.pdf"}
            else:
                uploaded.pop(key)
            docuseal_writes(self.db, eid, uploaded)
        elif kind == "decide" and uploaded:
            action = self.rng.choice(("approved", "rejected"))
            try:
                _decide(self.db, self._officer(account), eid, self.rng.choice(sorted(uploaded)), action)
            except CohortDeskError as refused:  # e.g. a document type the service does not accept
                self.log.append(f"  refused: {refused}")
        elif kind == "undo":
            try:
                _undo(self.db, self._officer(account), eid)
            except CohortDeskError as refused:  # nothing of theirs to undo, or replaced since
                self.log.append(f"  refused: {refused}")
        elif kind == "raw_decision" and uploaded:
            key = self.rng.choice(sorted(uploaded))
            entry = uploaded[key] if isinstance(uploaded[key], dict) else {}
            checksum = self.rng.choice((entry.get("checksum"), "a file before this one", None))
            with self.db.engine.begin() as conn:
                conn.execute(
                    insert(DocumentVerification).values(
                        uuid=str(uuid.uuid4()),
                        account_id=account,
                        cohort_enrollment_id=eid,
                        admin_id=self._officer(account).user_id,
                        document_type=LEGACY_DOCUMENT_KEYS.get(key, key),
                        action="approved",
                        metadata={} if checksum is None else {"checksum": checksum},
                    )
                )
        elif kind == "tombstone" and self.rng.random() < 0.3:
            ce.delete_enrollment(self.db, eid)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_changes_on_the_demo_keep_stored_and_live_equal(demo_db: Database, seed: int):
    check(demo_db)
    changes = RandomChanges(demo_db, random.Random(seed))
    for _ in range(40):
        changes.step()
        try:
            check(demo_db)
        except AssertionError as error:
            raise AssertionError(f"after {changes.log}: {error}") from error

"""The demo data: every state present, real readable files, valid IDs, repeatable, never loaded twice."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from cohortdesk.db import Database
from cohortdesk.errors import ConflictError
from cohortdesk.models import (
    Account,
    ActiveStorageAttachment,
    ActiveStorageBlob,
    Cohort,
    CohortEnrollment,
    DocumentVerification,
    Institution,
    Submission,
    Submitter,
    Template,
    User,
)
from cohortdesk.services import demo, validation
from cohortdesk.services.demo import tables
from cohortdesk.services.documents.storage import DocumentStore, md5_base64
from cohortdesk.services.review.decisions import compute_state, latest_decisions, required_documents

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def fresh_db(request: pytest.FixtureRequest) -> Database:
    """A new empty migrated database on each backend (``db`` here is the shared demo database)."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


@pytest.fixture
def store(tmp_path: Path) -> DocumentStore:
    return DocumentStore(tmp_path / "storage")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def demo_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, migrated):
    """One demo load per backend, shared by the read-only tests of this module."""
    folder = tmp_path_factory.mktemp("demo")
    pg_url = None
    if request.param == "sqlite":
        database = migrated.sqlite(folder / "demo.sqlite3")
    else:
        pg_url = migrated.pg_url()
        database = Database(pg_url)
    try:
        demo_store = DocumentStore(folder / "storage")
        summary = demo.load_demo(database, students=160, seed=7, store=demo_store, now=NOW)
        yield database, summary, demo_store
    finally:
        database.dispose()
        if pg_url is not None:
            migrated.release(pg_url)


@pytest.fixture
def db(demo_db) -> Database:
    """Overrides conftest's ``db``: the read-only tests of this module share one demo load."""
    return demo_db[0]


@pytest.fixture
def loaded(demo_db) -> demo.DemoSummary:
    return demo_db[1]


@pytest.fixture
def demo_store(demo_db) -> DocumentStore:
    return demo_db[2]


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_counts_match_the_summary(db: Database, loaded: demo.DemoSummary):
    with db.read_session() as s:
        assert _count(s, CohortEnrollment) == loaded.enrollments == 160
        assert _count(s, Account) == loaded.accounts == 2
        assert _count(s, Institution) == loaded.institutions == 2
        assert _count(s, User) == loaded.staff_users + loaded.sponsor_users + loaded.student_users
        assert _count(s, DocumentVerification) == loaded.document_verifications > 0
        assert _count(s, Submission) == loaded.submissions
        assert _count(s, Submitter) == loaded.submitters
        assert _count(s, ActiveStorageBlob) == loaded.blobs
        assert _count(s, ActiveStorageAttachment) == loaded.attachments
        assert _count(s, Template) == loaded.templates
    assert loaded.student_users < loaded.enrollments  # a few learners hop between cohorts
    assert "160 enrollments" in loaded.describe()


def test_every_state_is_present(db: Database, loaded: demo.DemoSummary):
    with db.read_session() as s:
        cohorts = s.scalars(select(Cohort)).all()
        assert {(c.program_type, c.state) for c in cohorts} == {
            (p, st)
            for p in ("learnership", "internship", "candidacy")
            for st in ("draft", "active", "completed", "cancelled")
        }
        assert all(c.required_document_types for c in cohorts)
        pairs = set(s.execute(select(CohortEnrollment.state, CohortEnrollment.document_verification_state)))
        assert pairs >= {
            ("waiting", "pending"),
            ("in_progress", "pending"),
            ("in_progress", "verified"),
            ("in_progress", "rejected"),
            ("complete", "verified"),
        }
        for inst in s.scalars(select(Institution)):
            codes = [r["code"] for r in inst.settings["rejection_reasons"]]
            assert {"not_certified", "illegible", "smart_id_one_side_missing"} <= set(codes)
            roles = Counter(member["role"] for member in inst.settings["staff"])
            assert roles["super_admin"] == 1 and 2 <= roles["officer"] <= 3
            assert inst.super_admin_id is not None


def test_verification_state_agrees_with_its_history(db: Database, loaded: demo.DemoSummary):
    staff = set()
    with db.read_session() as s:
        for inst in s.scalars(select(Institution)):
            staff |= {m["user_id"] for m in inst.settings["staff"]}
        for enrollment in s.scalars(select(CohortEnrollment)):
            cohort = s.get(Cohort, enrollment.cohort_id)
            latest = latest_decisions(s, enrollment.id)
            required = required_documents(cohort, enrollment.uploaded_documents)
            state, reason = compute_state(required, latest)
            assert state == enrollment.document_verification_state, enrollment.id
            assert reason == enrollment.rejection_reason
            assert all(v.admin_id in staff for v in latest.values())
            if enrollment.state == "waiting":
                assert enrollment.uploaded_documents == {}
            assert enrollment.pending_since is not None
            assert enrollment.pending_since <= NOW
        rejected = s.scalars(
            select(DocumentVerification).where(DocumentVerification.action == "rejected")
        ).all()
        assert rejected and all(r.reason and r.verification_metadata.get("reason_code") for r in rejected)


def test_waiting_ages_vary_from_hours_to_weeks(db: Database, loaded: demo.DemoSummary):
    with db.read_session() as s:
        since = s.scalars(
            select(CohortEnrollment.pending_since)
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
            .where(CohortEnrollment.document_verification_state == "pending", Cohort.state == "active")
        ).all()
    ages = [NOW - moment for moment in since]
    assert min(ages) < timedelta(days=2)
    assert max(ages) > timedelta(days=14)


def test_files_are_real_and_match_their_records(db: Database, loaded: demo.DemoSummary, demo_store):
    store = demo_store
    seen_types: Counter[str] = Counter()
    multi_page_pdf = exif_rotated = multi_frame_tiff = False
    with db.read_session() as s:
        blobs = {b.key: b for b in s.scalars(select(ActiveStorageBlob))}
        for enrollment in s.scalars(select(CohortEnrollment)):
            for meta in enrollment.uploaded_documents.values():
                data = store.read(meta)  # checks size and checksum
                blob = blobs[meta["storage_key"]]
                assert (blob.byte_size, blob.checksum) == (len(data), md5_base64(data))
                assert blob.service_name == "disk"
                seen_types[meta["content_type"]] += 1
                if meta["content_type"] == "application/pdf":
                    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
                    multi_page_pdf |= blob.blob_metadata["pdf"]["number_of_pages"] > 1
                elif meta["content_type"] == "image/jpeg":
                    image = Image.open(io.BytesIO(data))
                    exif_rotated |= image.getexif().get(0x0112, 1) != 1
                elif meta["content_type"] == "image/tiff":
                    multi_frame_tiff |= Image.open(io.BytesIO(data)).n_frames > 1
                else:
                    assert Image.open(io.BytesIO(data)).format == "PNG"
        # DocuSeal's own way to the files: the learner submitter's values name the attachments.
        learners = s.scalars(select(Submitter).where(Submitter.values != {})).all()
        assert learners
        for submitter in learners[:40]:
            for attachment_uuid in submitter.values.values():
                attachment = s.scalars(
                    select(ActiveStorageAttachment).where(
                        ActiveStorageAttachment.uuid == attachment_uuid,
                        ActiveStorageAttachment.record_type == "Submitter",
                        ActiveStorageAttachment.record_id == submitter.id,
                    )
                ).one()
                blob = s.get(ActiveStorageBlob, attachment.blob_id)
                assert store.path_for_key(blob.key).stat().st_size == blob.byte_size
    assert set(seen_types) == {"application/pdf", "image/jpeg", "image/png", "image/tiff"}
    assert multi_page_pdf and exif_rotated and multi_frame_tiff


def test_students_have_valid_data_with_a_few_deliberate_mismatches(db: Database, loaded: demo.DemoSummary):
    sex_mismatch = dob_mismatch = without_id = 0
    names = set()
    with db.read_session() as s:
        rows = s.execute(
            select(CohortEnrollment.student_data, User.first_name, User.last_name, User.email).join(
                User, User.id == CohortEnrollment.user_id
            )
        ).all()
    for data, first, last, email in rows:
        validation.validate_student_data(data)
        validation.validate_email(email)
        names.add(f"{first} {last}")
        if "sa_id_number" not in data:
            assert data["alternate_id_type"] == "527"
            without_id += 1
            continue
        info = validation.decode_sa_id(data["sa_id_number"], NOW.date())
        assert info.valid
        sex_mismatch += info.sex != data["gender"]
        dob_mismatch += info.date_of_birth != date.fromisoformat(data["date_of_birth"])
    assert 1 <= sex_mismatch <= len(rows) // 10
    assert 1 <= dob_mismatch <= len(rows) // 10
    assert without_id >= 1
    assert any(not n.isascii() for n in names) or any("'" in n for n in names)


def test_fraud_prompts_are_present(db: Database, loaded: demo.DemoSummary):
    with db.read_session() as s:
        rows = s.execute(
            select(
                CohortEnrollment.student_data, CohortEnrollment.cohort_id, CohortEnrollment.uploaded_documents
            )
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
            .where(Cohort.state == "active")
        ).all()
    cohorts_by_id: dict[str, set[int]] = {}
    owners_by_checksum: dict[str, set[str]] = {}
    for data, cohort_id, docs in rows:
        if "sa_id_number" in data:
            cohorts_by_id.setdefault(data["sa_id_number"], set()).add(cohort_id)
        for meta in docs.values():
            owners_by_checksum.setdefault(meta["checksum"], set()).add(data.get("sa_id_number", ""))
    assert any(len(c) > 1 for c in cohorts_by_id.values())  # same ID in two active cohorts
    assert any(len(o) > 1 for o in owners_by_checksum.values())  # same file from two learners


def _fingerprint(db: Database) -> list[tuple]:
    with db.read_session() as s:
        rows = s.execute(
            select(
                User.email,
                User.first_name,
                User.last_name,
                Cohort.name,
                CohortEnrollment.state,
                CohortEnrollment.document_verification_state,
                CohortEnrollment.student_data,
                CohortEnrollment.uploaded_documents,
                CohortEnrollment.pending_since,
            )
            .join(User, User.id == CohortEnrollment.user_id)
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
        ).all()
    return sorted(
        (*r[:6], sorted(r[6].items()), sorted((k, v["checksum"]) for k, v in r[7].items()), r[8])
        for r in rows
    )


@pytest.mark.slow
def test_same_seed_gives_the_same_data(tmp_path: Path, fresh_db: Database, store: DocumentStore, migrated):
    db = fresh_db
    demo.load_demo(db, students=60, seed=11, store=store, now=NOW)
    other = migrated.sqlite(tmp_path / "again.sqlite3")
    try:
        demo.load_demo(other, students=60, seed=11, store=DocumentStore(tmp_path / "other"), now=NOW)
        assert _fingerprint(db) == _fingerprint(other)
        third = migrated.sqlite(tmp_path / "third.sqlite3")
        demo.load_demo(third, students=60, seed=12, store=DocumentStore(tmp_path / "third"), now=NOW)
        assert _fingerprint(third) != _fingerprint(db)
        third.dispose()
    finally:
        other.dispose()


def test_loading_twice_is_refused_and_changes_nothing(db: Database, loaded: demo.DemoSummary, demo_store):
    before = _fingerprint(db)
    files_before = sorted(p.name for p in demo_store.root.rglob("*") if p.is_file())
    with pytest.raises(ConflictError, match="already holds the demo data"):
        demo.load_demo(db, students=30, seed=99, store=demo_store)
    assert _fingerprint(db) == before
    assert sorted(p.name for p in demo_store.root.rglob("*") if p.is_file()) == files_before


def test_a_failed_load_leaves_no_rows_and_no_files(fresh_db: Database, store: DocumentStore, monkeypatch):
    db = fresh_db

    def boom(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo.DemoGenerator, "_insert_students", boom)
    with pytest.raises(RuntimeError):
        demo.load_demo(db, students=20, store=store, now=NOW)
    with db.read_session() as s:
        assert _count(s, Account) == 0 and _count(s, User) == 0
    assert not [p for p in store.root.rglob("*") if p.is_file()]


def test_cancel_adds_nothing(fresh_db: Database, store: DocumentStore):
    db = fresh_db
    with pytest.raises(demo.DemoCancelled):
        demo.load_demo(db, students=20, store=store, cancelled=lambda: True)
    assert not demo.has_demo(db)


@pytest.mark.slow
def test_files_are_reused_beyond_the_unique_range(fresh_db: Database, store: DocumentStore):
    db = fresh_db
    summary = demo.load_demo(db, students=300, store=store, now=NOW, unique_file_students=40)
    assert summary.enrollments == 300
    assert summary.files_written < 300
    with db.read_session() as s:
        for enrollment in s.scalars(select(CohortEnrollment).limit(300)):
            for meta in enrollment.uploaded_documents.values():
                store.read(meta)


def test_sa_id_numbers_generated_are_valid():
    import random

    rng = random.Random(3)
    for day in range(0, 20000, 97):
        dob = date(1960, 1, 1) + timedelta(days=day)
        for sex in "FM":
            number = demo.sa_id_number(dob, sex, rng)
            info = validation.decode_sa_id(number, date(2026, 1, 1))
            assert info.valid and info.sex == sex and info.date_of_birth == dob


def test_bulk_timestamps_bind_as_sqlalchemy_binds_them():
    """The demo's fast SQLite timestamp conversion gives exactly SQLAlchemy's text for every value."""
    from datetime import timezone

    from sqlalchemy.dialects import sqlite

    from cohortdesk.models.types import NaiveUTCDateTime, UTCDateTime

    dialect = sqlite.dialect()
    values = [
        None,
        datetime(2026, 3, 1, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 1, 8, 30, 5, 123456),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=2))),
        datetime(1999, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(987, 6, 5, 4, 3, 2, 1),
    ]
    for type_ in (UTCDateTime(), NaiveUTCDateTime()):
        expected = type_.dialect_impl(dialect).bind_processor(dialect)
        fast = tables.bind_converter(type_, dialect)
        assert [fast(v) for v in values] == [expected(v) for v in values]

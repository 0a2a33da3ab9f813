"""The workstation's read services: cohort tree counts, the queue's filters/search/sort/paging, student
details with the SA ID decoded and compared, masking of special PI, documents and canned reasons."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cohortdesk.db import Database
from cohortdesk.errors import NotFoundError, PermissionDenied, ValidationError
from cohortdesk.models import CohortEnrollment
from cohortdesk.services.access.identity import ROLE_CAPABILITIES, Identity
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import decisions as vs
from cohortdesk.services.review import queue as q
from cohortdesk.services.review import workstation as review
from tests import review_factories
from tests.factories import queue_world

OFFICER = Identity(1, "Officer", 1, 1, "officer", ROLE_CAPABILITIES["officer"])
ADMIN = Identity(1, "Admin", 1, 1, "super_admin", ROLE_CAPABILITIES["super_admin"])


def _officer(db, world) -> Identity:
    return review_factories.identity_for_user(db, world["officer"])


def _build_world(db: Database, store_root: Path) -> dict:
    world = queue_world(db, DocumentStore(store_root))
    return {k: v for k, v in world.items() if k != "store"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def built_world(request, migrated, tmp_path) -> Iterator[tuple[Database, dict]]:
    """The queue world, built through the services once per worker and backend; each test gets a copy
    of the database and the document store of its own (it may change them)."""
    store_root = tmp_path / "store"
    db, world = migrated.built(request.param, "queue_world", _build_world, tmp_path / "queue.sqlite3", store_root)
    try:
        yield db, {**copy.deepcopy(world), "store": DocumentStore(store_root)}
    finally:
        db.dispose()
        if request.param == "postgresql":
            migrated.release(db.url)


@pytest.fixture
def db(built_world):
    return built_world[0]


@pytest.fixture
def world(built_world):
    return built_world[1]


def _names(page: q.QueuePage) -> list[str]:
    return [r.student_name for r in page.rows]


def test_cohort_tree_counts(db, world):
    tree = q.cohort_tree(db)
    assert [i.name for i in tree] == ["Acme Training"]
    cohorts = {c.name: c for c in tree[0].cohorts}
    learn = cohorts["Q1 2026 Learnership"]
    assert learn.program_type == "learnership" and learn.expected == 20
    # Each of the four has uploads nobody decided on: all four are "to decide".
    assert learn.counts == q.CohortCounts(enrolled=4, pending=4, verified=0, rejected=0, to_decide=4)
    assert cohorts["Graduate Internship 2026"].counts.enrolled == 2
    assert tree[0].counts.enrolled == 6
    # an active cohort is listed before a draft one
    assert tree[0].cohorts[0].state == "active"

    e = world["enrollments"]["Lerato Mokoena"]
    for doc in ("id_document", "matric_certificate"):
        vs.record_decision(db, vs.DecisionCommand(e, doc, "approved"), _officer(db, world))
    learn = {c.name: c for c in q.cohort_tree(db)[0].cohorts}["Q1 2026 Learnership"]
    assert learn.counts == q.CohortCounts(enrolled=4, pending=3, verified=1, rejected=0, to_decide=3)


def test_default_queue_is_pending_oldest_first(db, world):
    page = q.queue_page(db)
    assert _names(page) == [
        "Sipho Dlamini",
        "Lerato Mokoena",
        "Anna van der Merwe",
        "Thabo Nkosi",
        "Zanele Khumalo",
        "Pieter O'Brien",
    ]
    first = page.rows[0]
    assert first.cohort_name == "Q1 2026 Learnership" and first.program_type == "learnership"
    assert first.verification_state == "pending" and first.enrollment_state == "waiting"
    assert (first.documents_uploaded, first.documents_required) == (2, 2)
    assert first.waiting_since is not None and first.waiting_since.tzinfo is not None
    assert q.queue_count(db) == 6


def test_documents_uploaded_and_required(db, world):
    rows = {r.student_name: r for r in q.queue_page(db).rows}
    assert (rows["Zanele Khumalo"].documents_uploaded, rows["Zanele Khumalo"].documents_required) == (1, 3)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (q.QueueFilter(program_type="internship"), {"Zanele Khumalo", "Pieter O'Brien"}),
        (q.QueueFilter(enrollment_state="in_progress"), {"Thabo Nkosi"}),
        (q.QueueFilter(search="mokoena"), {"Lerato Mokoena"}),
        (q.QueueFilter(search="LERATO mok"), {"Lerato Mokoena"}),
        (q.QueueFilter(search="van der"), {"Anna van der Merwe"}),
        (q.QueueFilter(search="o'brien"), {"Pieter O'Brien"}),
        (q.QueueFilter(search="sipho@"), {"Sipho Dlamini"}),
        (q.QueueFilter(search="8001015009"), {"Sipho Dlamini"}),
        (q.QueueFilter(search="%"), set()),
        (q.QueueFilter(search="_"), set()),
        (q.QueueFilter(search="nobody"), set()),
    ],
)
def test_filters_and_search(db, world, flt, expected):
    page = q.queue_page(db, flt)
    assert set(_names(page)) == expected
    assert q.queue_count(db, flt) == len(expected)


def test_cohort_and_institution_filters(db, world):
    cohort = world["cohorts"]["internship"]
    assert q.queue_count(db, q.QueueFilter(cohort_id=cohort)) == 2
    assert q.queue_count(db, q.QueueFilter(institution_id=world["institution"])) == 6
    assert q.queue_count(db, q.QueueFilter(institution_id=world["institution"] + 999)) == 0
    assert q.queue_count(db, q.QueueFilter(account_id=world["account"])) == 6


def test_state_filter_follows_decisions(db, world):
    e = world["enrollments"]["Sipho Dlamini"]
    vs.record_decision(
        db, vs.DecisionCommand(e, "id_document", "rejected", reason="blurry"), _officer(db, world)
    )
    assert q.queue_count(db) == 5
    rejected = q.queue_page(db, q.QueueFilter(verification_state="rejected"))
    assert _names(rejected) == ["Sipho Dlamini"]
    every = q.queue_page(db, q.QueueFilter(verification_state=None))
    assert len(every.rows) == 6
    assert not q.QueueFilter().matches(rejected.rows[0])
    assert q.QueueFilter(verification_state="rejected").matches(rejected.rows[0])


@pytest.mark.parametrize("key", q.SORT_KEYS)
@pytest.mark.parametrize("descending", [False, True])
def test_every_column_sorts_in_sql_with_stable_ties(db, world, key, descending):
    flt = q.QueueFilter(verification_state=None)
    sort = q.QueueSort(key, descending)
    rows = list(q.queue_page(db, flt, sort).rows)
    assert len(rows) == 6

    def value(r: q.QueueRow):
        return {
            "student": r.student_name.lower(),
            "email": r.email,
            "cohort": r.cohort_name.lower(),
            "program_type": r.program_type,
            "enrollment_state": r.enrollment_state,
            "verification_state": r.verification_state,
            "documents": (r.documents_uploaded, r.documents_required),
            "waiting_since": r.waiting_since,
        }[key]

    expected = sorted(rows, key=lambda r: (value(r), r.enrollment_id), reverse=descending)
    assert [r.enrollment_id for r in rows] == [r.enrollment_id for r in expected]
    # pages of two give the same order, with no row twice or missing
    paged = [r.enrollment_id for off in (0, 2, 4) for r in q.queue_page(db, flt, sort, off, 2).rows]
    assert paged == [r.enrollment_id for r in rows]


def test_paging(db, world):
    first = q.queue_page(db, limit=4)
    assert first.has_more and len(first.rows) == 4
    second = q.queue_page(db, offset=4, limit=4)
    assert not second.has_more and len(second.rows) == 2
    assert not {r.enrollment_id for r in first.rows} & {r.enrollment_id for r in second.rows}


def test_bad_sort_and_page_are_refused(db, world):
    with pytest.raises(ValidationError, match="not a queue column"):
        q.queue_page(db, sort=q.QueueSort("password"))
    with pytest.raises(ValidationError):
        q.queue_page(db, offset=-1)


def test_queue_row_after_a_decision(db, world):
    e = world["enrollments"]["Lerato Mokoena"]
    before = q.queue_row(db, e)
    vs.record_decision(db, vs.DecisionCommand(e, "id_document", "approved"), _officer(db, world))
    after = q.queue_row(db, e)
    assert after.row_version > before.row_version and after.verification_state == "pending"
    with pytest.raises(NotFoundError):
        q.queue_row(db, 999_999)


def test_documents_awaiting_counts_each_enrollments_own_decisions(db, world):
    # A decision on one learner's document must not stand for another's: the lookup of the latest
    # decision once ran over every enrollment, so only the newest decision in the store counted.
    lerato, sipho = world["enrollments"]["Lerato Mokoena"], world["enrollments"]["Sipho Dlamini"]
    for enrollment in (lerato, sipho):
        vs.record_decision(db, vs.DecisionCommand(enrollment, "id_document", "approved"), _officer(db, world))
    rows = {r.enrollment_id: r for r in q.queue_rows(db, [lerato, sipho])}
    for enrollment in (lerato, sipho):
        assert rows[enrollment].documents_uploaded == 2
        assert rows[enrollment].documents_awaiting == 1
    vs.record_decision(db, vs.DecisionCommand(lerato, "matric_certificate", "approved"), _officer(db, world))
    assert q.queue_row(db, lerato).documents_awaiting == 0
    assert q.queue_row(db, sipho).documents_awaiting == 1
    to_decide = {r.enrollment_id for r in q.queue_page(db, q.QueueFilter(decidable=True)).rows}
    assert sipho in to_decide and lerato not in to_decide


def test_student_details_decode_and_compare(db, world):
    e = world["enrollments"]["Sipho Dlamini"]
    details = q.student_details(db, e, ADMIN, today=date(2026, 6, 1), unmasked=True)
    assert details.student_name == "Sipho Dlamini" and details.city == "Soweto"
    assert details.province == "Gauteng"  # the SETMIS code, in words
    check = details.id_check
    assert check is not None and check.checksum_valid and check.valid
    assert check.date_of_birth == date(1980, 1, 1) and check.sex == "M" and check.citizenship == "citizen"
    assert check.number == q.SensitiveValue("sa_id_number", "8001015009087", masked=False)
    assert details.race.display == "Black: African" and not details.race.masked
    assert not details.special_pi_masked and details.revealed
    fields = {m.field: m for m in details.mismatches}
    # captured as female, born 1980-01-02 and 30 years old: all three disagree with the ID number
    assert set(fields) == {"gender", "date_of_birth", "age"}
    assert fields["gender"].captured == "Female" and fields["gender"].from_id == "Male"
    assert fields["date_of_birth"].from_id == "1980-01-01"
    assert "1980-01-01" in fields["date_of_birth"].message


def test_matching_details_have_no_mismatch(db, world):
    e = world["enrollments"]["Lerato Mokoena"]
    details = q.student_details(db, e, ADMIN)
    assert details.id_check is not None and details.id_check.sex == "F"
    assert details.mismatches == ()


def test_bad_check_digit_is_reported(db, world):
    with db.session() as s:
        row = s.get(CohortEnrollment, world["enrollments"]["Thabo Nkosi"])
        row.student_data = {**row.student_data, "sa_id_number": "8001015009088"}
    details = q.student_details(db, world["enrollments"]["Thabo Nkosi"], ADMIN)
    assert details.id_check is not None and not details.id_check.checksum_valid
    assert any("check digit" in p for p in details.id_check.problems)


def test_special_pi_is_masked_without_the_capability(db, world):
    e = world["enrollments"]["Sipho Dlamini"]
    details = q.student_details(db, e, OFFICER)
    assert details.special_pi_masked
    assert details.race.masked and details.race.display == q.MASK
    assert details.disability.masked and "None" not in details.disability.display
    assert details.id_check is not None
    assert details.id_check.number == q.SensitiveValue("sa_id_number", "800101*****87", masked=True)
    # the decoded facts are not special PI and stay visible
    assert details.id_check.date_of_birth == date(1980, 1, 1)
    assert q.mask_id_number("0501014800087") == "050101*****87"
    with pytest.raises(PermissionDenied):
        q.student_details(db, e, OFFICER, unmasked=True)
    assert not details.can_reveal


def test_special_pi_stays_masked_for_a_holder_until_revealed(db, world):
    """Holding the capability allows a reveal; it does not put special PI on every screen."""
    details = q.student_details(db, world["enrollments"]["Sipho Dlamini"], ADMIN)
    assert details.special_pi_masked and details.can_reveal and not details.revealed
    assert details.race.display == q.MASK and details.id_check is not None
    assert details.id_check.number.display == "800101*****87"


def test_documents_list_with_latest_decision(db, world):
    e = world["enrollments"]["Zanele Khumalo"]
    docs = q.documents(db, e)
    assert [d.document_type for d in docs] == ["id_document", "matric_certificate", "tertiary_qualification"]
    assert [d.uploaded for d in docs] == [True, False, False]
    first = docs[0]
    assert first.label == "Certified ID" and first.file_name == "id_document.pdf"
    assert first.content_type == "application/pdf" and first.size and first.latest_action is None
    vs.record_decision(
        db, vs.DecisionCommand(e, "id_document", "rejected", reason="Blurry"), _officer(db, world)
    )
    first = q.documents(db, e)[0]
    assert first.latest_action == "rejected" and first.latest_reason == "Blurry"
    assert first.latest_by == "Officer One" and first.decision_current


def test_detail_bundle_hides_health_documents_without_capability(db, world, tmp_path):
    e = world["enrollments"]["Anna van der Merwe"]
    admin_docs = {d.document_type: d for d in q.enrollment_detail(db, e, ADMIN).documents}
    officer = q.enrollment_detail(db, e, OFFICER)
    officer_docs = {d.document_type: d for d in officer.documents}
    assert admin_docs["disability_proof"].upload and not officer_docs["disability_proof"].upload
    assert officer_docs["id_document"].upload == admin_docs["id_document"].upload
    assert officer.history == ()


def test_compare_with_id_accepts_age_true_at_capture():
    dob = date(2000, 6, 15)
    captured = date(2026, 6, 1)  # 25 then, 26 by the 15th
    assert q.compare_with_id({"age": 25}, dob, "F", captured, date(2026, 7, 1)) == []
    assert q.compare_with_id({"age": 26}, dob, "F", captured, date(2026, 7, 1)) == []
    mismatch = q.compare_with_id({"age": 30}, dob, "F", captured, date(2026, 7, 1))
    assert [m.field for m in mismatch] == ["age"]


def test_queue_row_is_frozen(db, world):
    row = q.queue_page(db).rows[0]
    with pytest.raises(AttributeError):
        row.student_name = "x"  # type: ignore[misc]
    assert replace(row, student_name="x").student_name == "x"
    assert datetime.now(UTC) - row.waiting_since < timedelta(days=30)


def test_decide_records_and_reads_back(db, world):
    e = world["enrollments"]["Lerato Mokoena"]
    me = Identity(
        world["officer"],
        "Officer One",
        world["account"],
        world["institution"],
        "officer",
        ROLE_CAPABILITIES["officer"],
    )
    version = q.queue_row(db, e).row_version
    out = review.decide(
        db,
        vs.DecisionCommand(e, "id_document", "rejected", reason="Blurry", expected_row_version=version),
        me,
    )
    assert out.result.verification.admin_id == world["officer"]
    assert out.row.verification_state == "rejected" and out.row.row_version > version
    assert out.counts[out.row.cohort_id].rejected == 1
    assert out.detail.history[0].reason == "Blurry"
    assert out.detail.documents[0].latest_action == "rejected"


def test_decide_needs_the_capability_and_a_user(db, world):
    from cohortdesk.errors import PermissionDenied

    e = world["enrollments"]["Lerato Mokoena"]
    viewer = Identity(
        world["officer"], "V", world["account"], world["institution"], "report_viewer", frozenset({"export"})
    )
    with pytest.raises(PermissionDenied):
        vs.record_decision(db, vs.DecisionCommand(e, "id_document", "approved"), viewer)
    nobody = replace(ADMIN, user_id=None)
    with pytest.raises(PermissionDenied):
        vs.record_decision(db, vs.DecisionCommand(e, "id_document", "approved"), nobody)
    assert q.documents(db, e)[0].latest_action is None


def test_tombstoned_enrollments_leave_the_queue_and_the_counts(db, world):
    from cohortdesk.models import CohortEnrollment as Enrollment

    with db.session() as s:
        s.get(Enrollment, world["enrollments"]["Sipho Dlamini"]).deleted_at = datetime.now(UTC)
    assert q.queue_count(db) == 5
    assert "Sipho Dlamini" not in [r.student_name for r in q.queue_page(db).rows]
    learn = {c.name: c for c in q.cohort_tree(db)[0].cohorts}["Q1 2026 Learnership"]
    assert learn.counts.enrolled == 3


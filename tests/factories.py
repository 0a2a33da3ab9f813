"""Small builders of DocuSeal-side rows for tests (accounts, users, templates), via plain inserts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cohortdesk.db import Database
from cohortdesk.models import Account, Submission, Submitter, Template, TemplateFolder, User
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore


def account(db: Database, name: str = "Acme Training") -> int:
    with db.session() as s:
        acc = Account(name=name, uuid=str(uuid.uuid4()))
        s.add(acc)
        s.flush()
        return acc.id


def user(
    db: Database, account_id: int, first: str = "Thandi", last: str = "Nkosi", email: str | None = None
) -> int:
    with db.session() as s:
        u = User(
            account_id=account_id,
            email=email or f"{uuid.uuid4().hex[:10]}@example.co.za",
            first_name=first,
            last_name=last,
            uuid=str(uuid.uuid4()),
        )
        s.add(u)
        s.flush()
        return u.id


def template(db: Database, account_id: int, author_id: int, name: str = "Learnership agreement") -> int:
    with db.session() as s:
        folder = TemplateFolder(account_id=account_id, author_id=author_id, name="Default")
        s.add(folder)
        s.flush()
        t = Template(
            account_id=account_id,
            author_id=author_id,
            folder_id=folder.id,
            name=name,
            slug=uuid.uuid4().hex[:14],
        )
        s.add(t)
        s.flush()
        return t.id


def submission(
    db: Database,
    account_id: int,
    template_id: int | None,
    email: str | None = None,
    completed_at: datetime | None = None,
) -> int:
    """A DocuSeal submission with one learner submitter, as DocuSeal writes them when a learner signs."""
    with db.session() as s:
        sub = Submission(account_id=account_id, template_id=template_id, slug=uuid.uuid4().hex[:14])
        s.add(sub)
        s.flush()
        s.add(
            Submitter(
                submission_id=sub.id,
                account_id=account_id,
                uuid=str(uuid.uuid4()),
                slug=uuid.uuid4().hex[:14],
                email=email,
                completed_at=completed_at,
            )
        )
        s.flush()
        return sub.id


def upload(store: DocumentStore, name: str = "id.pdf", data: bytes = b"%PDF-1.4 demo") -> dict:
    return store.put(data, name, "application/pdf").as_upload()


def setup_cohort(db: Database, store: DocumentStore, documents=("id_document", "matric_certificate")):
    """An institution with an active cohort and one enrolled student who uploaded every document."""
    acc = account(db)
    officer = user(db, acc, "Officer", "One")
    inst = ce.create_institution(db, ce.NewInstitution(account_id=acc, name="Acme Training")).row
    tmpl = template(db, acc, officer)
    now = datetime.now(UTC)
    cohort = ce.create_cohort(
        db,
        ce.NewCohort(
            institution_id=inst.id,
            name="Q1 2026 Learnership",
            program_type="learnership",
            student_count=20,
            main_template_id=tmpl,
            required_document_types=documents,
            start_date=now,
            end_date=now + timedelta(days=365),
        ),
    ).row
    student = user(db, acc, "Lerato", "Mokoena")
    enrollment = ce.enroll(
        db,
        ce.NewEnrollment(
            cohort_id=cohort.id,
            user_id=student,
            student_data={
                "race": "BA",
                "gender": "F",
                "disability": "N",
                "city": "Polokwane",
                "sa_id_number": "0501014800087",
            },
            uploaded_documents={d: upload(store, f"{d}.pdf", f"%PDF {d}".encode()) for d in documents},
        ),
    ).row
    return {
        "account": acc,
        "officer": officer,
        "institution": inst,
        "cohort": cohort,
        "student": student,
        "enrollment": enrollment,
        "template": tmpl,
    }


def sa_id(prefix12: str) -> str:
    """A valid SA ID number from its first 12 digits (adds the Luhn check digit)."""
    for check in "0123456789":
        candidate = prefix12 + check
        total = 0
        for index, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


#: (first, last, cohort key, student_data extra, uploaded document types, enrollment state)
QUEUE_STUDENTS = (
    (
        "Sipho",
        "Dlamini",
        "learnership",
        # deliberately inconsistent with the ID number: female, a day late, 30 years old
        {
            "sa_id_number": "8001015009087",
            "gender": "F",
            "date_of_birth": "1980-01-02",
            "age": 30,
            "province": "7",
        },
        ("id_document", "matric_certificate"),
        "waiting",
    ),
    ("Lerato", "Mokoena", "learnership", {"sa_id_number": "0501014800087", "gender": "F"}, None, "waiting"),
    (
        "Anna",
        "van der Merwe",
        "learnership",
        {"sa_id_number": sa_id("950612012308"), "gender": "F", "race": "Wh", "disability": "04"},
        ("id_document", "matric_certificate", "disability_proof"),
        "waiting",
    ),
    (
        "Thabo",
        "Nkosi",
        "learnership",
        {"sa_id_number": sa_id("990203543208"), "gender": "M"},
        None,
        "in_progress",
    ),
    ("Zanele", "Khumalo", "internship", {"sa_id_number": sa_id("010709034108")}, ("id_document",), "waiting"),
    (
        "Pieter",
        "O'Brien",
        "internship",
        {"sa_id_number": sa_id("000101512318"), "gender": "M"},
        None,
        "waiting",
    ),
)


def queue_world(db: Database, store: DocumentStore, files: Callable[[str, str], bytes] | None = None) -> dict:
    """One institution, an active learnership and a draft internship, and six pending students whose
    queue ages run from ten days (Sipho) to five days (Pieter). Their uploads are a few bytes named
    like PDFs, or what ``files(first_name, document_type)`` makes (real PDFs, for the preview)."""
    from cohortdesk.models import CohortEnrollment

    acc = account(db)
    officer = user(db, acc, "Officer", "One", email="officer@example.co.za")
    inst = ce.create_institution(
        db, ce.NewInstitution(account_id=acc, name="Acme Training", super_admin_id=officer)
    ).row
    tmpl = template(db, acc, officer)
    now = datetime.now(UTC)
    learnership = ce.create_cohort(
        db,
        ce.NewCohort(
            institution_id=inst.id,
            name="Q1 2026 Learnership",
            program_type="learnership",
            student_count=20,
            main_template_id=tmpl,
            required_document_types=("id_document", "matric_certificate"),
            start_date=now,
            end_date=now + timedelta(days=365),
        ),
    ).row
    ce.change_cohort_state(db, learnership.id, "active")
    internship = ce.create_cohort(
        db,
        ce.NewCohort(
            institution_id=inst.id,
            name="Graduate Internship 2026",
            program_type="internship",
            student_count=10,
            required_document_types=("id_document", "matric_certificate", "tertiary_qualification"),
        ),
    ).row
    cohorts = {"learnership": learnership.id, "internship": internship.id}
    enrollments: dict[str, int] = {}
    for age_days, (first, last, cohort_key, extra, docs, state) in zip(
        range(10, 0, -1), QUEUE_STUDENTS, strict=False
    ):
        student = user(db, acc, first, last, email=f"{first.lower()}@example.co.za")
        doc_types = docs or ("id_document", "matric_certificate")
        data = {"race": "BA", "disability": "N", "city": "Soweto", **extra}
        enrollment = ce.enroll(
            db,
            ce.NewEnrollment(
                cohort_id=cohorts[cohort_key],
                user_id=student,
                student_data=data,
                uploaded_documents={
                    d: upload(store, f"{d}.pdf", files(first, d) if files else f"%PDF {first} {d}".encode())
                    for d in doc_types
                },
            ),
        ).row
        if state != "waiting":
            ce.change_enrollment_state(db, enrollment.id, state)
        with db.session() as s:
            row = s.get(CohortEnrollment, enrollment.id)
            row.pending_since = now - timedelta(days=age_days)
        enrollments[f"{first} {last}"] = enrollment.id
    return {
        "account": acc,
        "officer": officer,
        "institution": inst.id,
        "cohorts": cohorts,
        "enrollments": enrollments,
        "template": tmpl,
        "store": store,
    }

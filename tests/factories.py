"""Small builders of DocuSeal-side rows for tests (accounts, users, templates), via plain inserts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from cohortdesk.db import Database
from cohortdesk.models import Account, Template, TemplateFolder, User
from cohortdesk.services import cohorts as cs
from cohortdesk.services.storage import DocumentStore


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


def upload(store: DocumentStore, name: str = "id.pdf", data: bytes = b"%PDF-1.4 demo") -> dict:
    return store.put(data, name, "application/pdf").as_upload()


def setup_cohort(db: Database, store: DocumentStore, documents=("id_document", "matric_certificate")):
    """An institution with an active cohort and one enrolled student who uploaded every document."""
    acc = account(db)
    officer = user(db, acc, "Officer", "One")
    inst = cs.create_institution(db, cs.NewInstitution(account_id=acc, name="Acme Training"))
    tmpl = template(db, acc, officer)
    now = datetime.now(UTC)
    cohort = cs.create_cohort(
        db,
        cs.NewCohort(
            institution_id=inst.id,
            name="Q1 2026 Learnership",
            program_type="learnership",
            student_count=20,
            main_template_id=tmpl,
            required_document_types=documents,
            start_date=now,
            end_date=now + timedelta(days=365),
        ),
    )
    student = user(db, acc, "Lerato", "Mokoena")
    enrollment = cs.enroll(
        db,
        cs.NewEnrollment(
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
    )
    return {
        "account": acc,
        "officer": officer,
        "institution": inst,
        "cohort": cohort,
        "student": student,
        "enrollment": enrollment,
        "template": tmpl,
    }

"""A small institution built for the export tests: names with diacritics, apostrophes, emoji and
formula-injection attempts, two cohorts (one sponsored by id, one by e-mail only), an empty cohort,
decisions by two officers (two of them back-dated), and a second institution that must never appear."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cohortdesk.db import Database
from cohortdesk.models import Cohort, CohortEnrollment, DocumentVerification
from cohortdesk.services.access.identity import ROLE_CAPABILITIES, Identity
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import decisions as vs
from tests import factories as f
from tests import review_factories

#: first name, surname, e-mail, student_data, uploaded document types, for cohort "Q1 2026 Learnership".
LEARNERSHIP_STUDENTS = [
    (
        "Zoë",
        "O'Brien-Ndlovu",
        "zoe@example.co.za",
        {
            "race": "BA",
            "gender": "F",
            "disability": "N",
            "city": "Gqeberha",
            "sa_id_number": "0501014800087",
        },
        ("id_document", "matric_certificate", "disability_proof"),
    ),
    (
        '=HYPERLINK("http://evil.example","click")',
        "+1",
        "inject1@example.co.za",
        {"race": "Wh", "gender": "M", "disability": "01", "city": "-2", "date_of_birth": "1990-06-15"},
        ("id_document",),
    ),
    ("@SUM(A1:A9)", "\tTab", "inject2@example.co.za", {}, ()),
    ("\rCarriage", "-Minus", "inject3@example.co.za", {"city": "@Home", "gender": "F"}, ()),
    (
        "Thandiwe 😀",
        "Nkosi-Ñúñez",
        "thandiwe@example.co.za",
        {
            "race": "BC",
            "gender": "M",
            "disability": "07",
            "city": "Cape Town, Western Cape",
            "sa_id_number": "8001015009087",
        },
        ("id_document", "matric_certificate"),
    ),
]
INTERNSHIP_STUDENTS = [
    (
        "Émile",
        "Zuma",
        "emile@example.co.za",
        {"race": "BI", "gender": "M", "disability": "N", "city": "Durban", "date_of_birth": "2001-12-31"},
        ("id_document",),
    ),
    (
        "Ayesha",
        "Patel",
        "ayesha@example.co.za",
        {"race": "Oth", "gender": "F", "disability": "09", "city": "Soweto"},
        ("cv",),
    ),
]


@dataclass
class ReportData:
    account: int
    institution_id: int
    officer: int
    officer2: int
    learnership: int
    internship: int
    empty: int
    other_cohort: int
    enrollments: dict[str, int] = field(default_factory=dict)  # by e-mail
    back_dated: list[datetime] = field(default_factory=list)

    def identity(self, special_pi: bool = True) -> Identity:
        role = "super_admin" if special_pi else "officer"
        return Identity(
            user_id=self.officer,
            display_name="Officer One",
            account_id=self.account,
            institution_id=self.institution_id,
            role=role,
            capabilities=ROLE_CAPABILITIES[role],
        )


def build(db: Database, store: DocumentStore) -> ReportData:
    acc = f.account(db, "Acme Training")
    officer = f.user(db, acc, "Officer", "One", "officer1@acme.example")
    officer2 = f.user(db, acc, "Nomsa", "Dlamini", "nomsa@acme.example")
    inst = ce.create_institution(db, ce.NewInstitution(account_id=acc, name="Acme Training")).row
    sasol = ce.create_sponsor(
        db,
        ce.NewSponsor(
            institution_id=inst.id, company_name="Sasol Ltd", contact_email="funding@sasol.example"
        ),
    ).row
    ce.create_sponsor(
        db,
        ce.NewSponsor(
            institution_id=inst.id, company_name="Vodacom (Pty) Ltd", contact_email="csi@vodacom.example"
        ),
    )
    template = f.template(db, acc, officer)
    now = datetime.now(UTC)

    def cohort(name: str, program: str, count: int, docs: tuple[str, ...], **extra) -> int:
        row = ce.create_cohort(
            db,
            ce.NewCohort(
                institution_id=inst.id,
                name=name,
                program_type=program,
                student_count=count,
                main_template_id=template,
                required_document_types=docs,
                start_date=now - timedelta(days=30),
                end_date=now + timedelta(days=335),
                **extra,
            ),
        ).row
        return row.id

    learnership = cohort(
        "Q1 2026 Learnership", "learnership", 5, ("id_document", "matric_certificate"), sponsor_id=sasol.id
    )
    internship = cohort(
        "Ünïcode Internship", "internship", 4, ("id_document",), sponsor_email="CSI@Vodacom.example"
    )
    empty = cohort("Empty Candidacy", "candidacy", 3, ("id_document",))
    data = ReportData(acc, inst.id, officer, officer2, learnership, internship, empty, 0)

    for cohort_id, students in ((learnership, LEARNERSHIP_STUDENTS), (internship, INTERNSHIP_STUDENTS)):
        for first, last, email, student_data, docs in students:
            user = f.user(db, acc, first, last, email)
            enrollment = ce.enroll(
                db,
                ce.NewEnrollment(
                    cohort_id=cohort_id,
                    user_id=user,
                    student_data=student_data,
                    uploaded_documents={
                        d: f.upload(store, f"{d}.pdf", f"%PDF {email} {d}".encode()) for d in docs
                    },
                ),
            ).row
            data.enrollments[email] = enrollment.id

    def decide(email: str, doc: str, action: str, who: int, reason: str | None = None) -> None:
        vs.record_decision(
            db,
            vs.DecisionCommand(data.enrollments[email], doc, action, reason=reason),
            review_factories.identity_for_user(db, who),
        )

    decide("zoe@example.co.za", "id_document", "approved", officer)
    decide("zoe@example.co.za", "matric_certificate", "rejected", officer, 'Blurry "scan"\nplease resend')
    decide("zoe@example.co.za", "matric_certificate", "approved", officer2)
    decide("zoe@example.co.za", "disability_proof", "approved", officer)
    decide("inject1@example.co.za", "id_document", "rejected", officer2, "=cmd|' /C calc'!A0")
    decide("emile@example.co.za", "id_document", "approved", officer)
    ce.change_enrollment_state(db, data.enrollments["zoe@example.co.za"], "in_progress")
    ce.change_enrollment_state(db, data.enrollments["zoe@example.co.za"], "complete")
    ce.change_enrollment_state(db, data.enrollments["thandiwe@example.co.za"], "in_progress")

    # Tombstones (synced rows are never hard-deleted): a learner and a cohort that no report may show.
    gone_user = f.user(db, acc, "Deleted", "Learner", "deleted@example.co.za")
    gone = ce.enroll(
        db, ce.NewEnrollment(cohort_id=learnership, user_id=gone_user, student_data={"race": "BA"})
    ).row
    gone_cohort = cohort("Deleted Cohort", "learnership", 9, ("id_document",))
    with db.session() as s:
        s.get(CohortEnrollment, gone.id).deleted_at = now
        s.get(Cohort, gone_cohort).deleted_at = now

    # Two decisions on a fixed past night: 23:30 UTC on 31 January is 01:30 on 1 February in Johannesburg.
    with db.session() as s:
        for moment, doc, who in (
            (datetime(2025, 1, 31, 23, 30, tzinfo=UTC), "cv", officer2),
            (datetime(2025, 1, 15, 8, 0, tzinfo=UTC), "cv", officer),
        ):
            s.add(
                DocumentVerification(
                    account_id=acc,
                    cohort_enrollment_id=data.enrollments["ayesha@example.co.za"],
                    admin_id=who,
                    document_type=doc,
                    action="approved",
                    created_at=moment,
                    updated_at=moment,
                    verification_metadata={"reason_code": "01"},
                )
            )
            data.back_dated.append(moment)

    other_account = f.account(db, "Other Institution")
    other_inst = ce.create_institution(
        db, ce.NewInstitution(account_id=other_account, name="Other Institution")
    ).row
    other_cohort = ce.create_cohort(
        db, ce.NewCohort(institution_id=other_inst.id, name="Other cohort", program_type="learnership")
    ).row
    other_student = f.user(db, other_account, "Not", "Mine")
    ce.enroll(db, ce.NewEnrollment(cohort_id=other_cohort.id, user_id=other_student))
    data.other_cohort = other_cohort.id
    return data

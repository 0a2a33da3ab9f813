"""Institutions, sponsors, cohorts and enrollments: creating them and moving them through their states.

Each function is one unit of work on a ``Database`` and returns frozen rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.enums import CohortState, EnrollmentState, ProgramType, VerificationState
from cohortdesk.errors import ConflictError, InvalidTransition, NotFoundError, ValidationError
from cohortdesk.models import Cohort, CohortEnrollment, Institution, Sponsor, User
from cohortdesk.services import validation
from cohortdesk.services.rows import (
    CohortRow,
    EnrollmentRow,
    InstitutionRow,
    SponsorRow,
    cohort_row,
    enrollment_row,
    institution_row,
    sponsor_row,
)
from cohortdesk.services.states import cohort_blockers, enrollment_blockers


def _get[T](session: Session, model: type[T], ident: int, label: str, *, lock: bool = False) -> T:
    stmt = select(model).where(model.id == ident)  # type: ignore[attr-defined]
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    obj = session.scalars(stmt).first()
    if obj is None:
        raise NotFoundError(f"There is no {label} with id {ident}.")
    return obj


def _check_version(obj: Any, expected: int | None, label: str) -> None:
    if expected is not None and obj.row_version != expected:
        raise ConflictError(
            f"This {label} was changed by someone else since you opened it "
            f"(version {expected}, now {obj.row_version}). Reload it and try again."
        )


def _require_text(value: str | None, field_name: str, max_len: int = 255) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise ValidationError(field_name, "is required")
    if len(cleaned) > max_len:
        raise ValidationError(field_name, f"is longer than {max_len} characters")
    return cleaned


# --- institutions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewInstitution:
    account_id: int
    name: str
    registration_number: str | None = None
    address: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    super_admin_id: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def create_institution(db: Database, cmd: NewInstitution) -> InstitutionRow:
    with db.session() as s:
        inst = Institution(
            account_id=cmd.account_id,
            name=_require_text(cmd.name, "name"),
            registration_number=(cmd.registration_number or None),
            address=cmd.address or None,
            contact_email=validation.validate_email(cmd.contact_email, "contact_email")
            if cmd.contact_email
            else None,
            contact_phone=cmd.contact_phone or None,
            super_admin_id=cmd.super_admin_id,
            settings=dict(cmd.settings),
        )
        s.add(inst)
        s.flush()
        return institution_row(inst)


def list_institutions(db: Database) -> list[InstitutionRow]:
    with db.read_session() as s:
        stmt = select(Institution).where(Institution.deleted_at.is_(None)).order_by(Institution.name)
        return [institution_row(i) for i in s.scalars(stmt)]


def get_institution(db: Database, institution_id: int) -> InstitutionRow:
    with db.read_session() as s:
        return institution_row(_get(s, Institution, institution_id, "institution"))


# --- sponsors -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSponsor:
    institution_id: int
    company_name: str
    contact_email: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    tax_number: str | None = None


def create_sponsor(db: Database, cmd: NewSponsor) -> SponsorRow:
    with db.session() as s:
        inst = _get(s, Institution, cmd.institution_id, "institution")
        sponsor = Sponsor(
            account_id=inst.account_id,
            institution_id=inst.id,
            company_name=_require_text(cmd.company_name, "company_name"),
            contact_email=validation.validate_email(cmd.contact_email, "contact_email")
            if cmd.contact_email
            else None,
            contact_name=cmd.contact_name or None,
            contact_phone=cmd.contact_phone or None,
            tax_number=cmd.tax_number or None,
        )
        s.add(sponsor)
        s.flush()
        return sponsor_row(sponsor)


# --- cohorts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewCohort:
    institution_id: int
    name: str
    program_type: str
    student_count: int = 0
    sponsor_id: int | None = None
    sponsor_email: str | None = None
    main_template_id: int | None = None
    supporting_templates: tuple[int, ...] = ()
    required_document_types: tuple[str, ...] = ("id_document", "matric_certificate")
    start_date: datetime | None = None
    end_date: datetime | None = None
    created_by_id: int | None = None


def create_cohort(db: Database, cmd: NewCohort) -> CohortRow:
    try:
        program = ProgramType(cmd.program_type)
    except ValueError as exc:
        choices = ", ".join(p.value for p in ProgramType)
        raise ValidationError("program_type", f"{cmd.program_type!r} is not one of {choices}") from exc
    if cmd.student_count < 0:
        raise ValidationError("student_count", "cannot be negative")
    if cmd.start_date and cmd.end_date and cmd.end_date < cmd.start_date:
        raise ValidationError("end_date", "is before the start date")
    with db.session() as s:
        inst = _get(s, Institution, cmd.institution_id, "institution")
        sponsor_email = (
            validation.validate_email(cmd.sponsor_email, "sponsor_email") if cmd.sponsor_email else None
        )
        if cmd.sponsor_id is not None:
            sponsor = _get(s, Sponsor, cmd.sponsor_id, "sponsor")
            if sponsor.institution_id != inst.id:
                raise ValidationError("sponsor_id", "the sponsor belongs to another institution")
            sponsor_email = sponsor_email or sponsor.contact_email
        cohort = Cohort(
            account_id=inst.account_id,
            institution_id=inst.id,
            name=_require_text(cmd.name, "name"),
            program_type=program.value,
            sponsor_id=cmd.sponsor_id,
            sponsor_email=sponsor_email,
            student_count=cmd.student_count,
            main_template_id=cmd.main_template_id,
            supporting_templates=list(cmd.supporting_templates),
            required_document_types=validation.validate_document_types(list(cmd.required_document_types)),
            start_date=cmd.start_date,
            end_date=cmd.end_date,
            state=CohortState.DRAFT.value,
            created_by_id=cmd.created_by_id,
        )
        s.add(cohort)
        s.flush()
        return cohort_row(cohort)


def get_cohort(db: Database, cohort_id: int) -> CohortRow:
    with db.read_session() as s:
        return cohort_row(_get(s, Cohort, cohort_id, "cohort"))


def list_cohorts(db: Database, institution_id: int | None = None) -> list[CohortRow]:
    with db.read_session() as s:
        stmt = select(Cohort).where(Cohort.deleted_at.is_(None)).order_by(Cohort.name)
        if institution_id is not None:
            stmt = stmt.where(Cohort.institution_id == institution_id)
        return [cohort_row(c) for c in s.scalars(stmt)]


def change_cohort_state(
    db: Database, cohort_id: int, target: CohortState | str, expected_row_version: int | None = None
) -> CohortRow:
    """Move a cohort along draft → active → completed (or to cancelled), guards first."""
    with db.session() as s:
        cohort = _get(s, Cohort, cohort_id, "cohort", lock=True)
        _check_version(cohort, expected_row_version, "cohort")
        reasons = cohort_blockers(cohort_row(cohort), target)
        if reasons:
            raise InvalidTransition(
                "cohort", cohort.state, str(CohortState(target).value), "; ".join(reasons)
            )
        target_state = CohortState(target)
        cohort.state = target_state.value
        if target_state is CohortState.ACTIVE and cohort.admin_signed_at is None:
            cohort.admin_signed_at = datetime.now(UTC)
        s.flush()
        return cohort_row(cohort)


# --- enrollments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewEnrollment:
    cohort_id: int
    user_id: int
    student_data: dict[str, Any] = field(default_factory=dict)
    uploaded_documents: dict[str, Any] = field(default_factory=dict)
    submission_id: int | None = None


def enroll(db: Database, cmd: NewEnrollment) -> EnrollmentRow:
    student_data = validation.validate_student_data(cmd.student_data)
    documents = validation.validate_uploaded_documents(cmd.uploaded_documents)
    with db.session() as s:
        cohort = _get(s, Cohort, cmd.cohort_id, "cohort")
        _get(s, User, cmd.user_id, "user")
        if cohort.state in (CohortState.COMPLETED.value, CohortState.CANCELLED.value):
            raise ValidationError("cohort_id", f"the cohort is {cohort.state}; it takes no new enrollments")
        exists = s.scalar(
            select(CohortEnrollment.id).where(
                CohortEnrollment.cohort_id == cohort.id,
                CohortEnrollment.user_id == cmd.user_id,
                CohortEnrollment.deleted_at.is_(None),
            )
        )
        if exists:
            raise ValidationError("user_id", "this student is already enrolled in the cohort")
        enrollment = CohortEnrollment(
            account_id=cohort.account_id,
            cohort_id=cohort.id,
            user_id=cmd.user_id,
            submission_id=cmd.submission_id,
            student_data=student_data,
            uploaded_documents=documents,
            state=EnrollmentState.WAITING.value,
            document_verification_state=VerificationState.PENDING.value,
            pending_since=datetime.now(UTC),
        )
        s.add(enrollment)
        s.flush()
        return enrollment_row(enrollment)


def get_enrollment(db: Database, enrollment_id: int) -> EnrollmentRow:
    with db.read_session() as s:
        return enrollment_row(_get(s, CohortEnrollment, enrollment_id, "enrollment"))


def change_enrollment_state(
    db: Database, enrollment_id: int, target: EnrollmentState | str, expected_row_version: int | None = None
) -> EnrollmentRow:
    with db.session() as s:
        enrollment = _get(s, CohortEnrollment, enrollment_id, "enrollment", lock=True)
        _check_version(enrollment, expected_row_version, "enrollment")
        reasons = enrollment_blockers(enrollment.state, target)
        if reasons:
            raise InvalidTransition(
                "enrollment", enrollment.state, EnrollmentState(target).value, "; ".join(reasons)
            )
        enrollment.state = EnrollmentState(target).value
        s.flush()
        return enrollment_row(enrollment)

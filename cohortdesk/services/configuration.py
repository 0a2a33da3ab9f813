"""What the super admin's configuration screens ask of the core: one door for reads and edits.

The screens (``views/admin/``) call only this module, so the write path behind it can change without
touching a widget. Reads load what a screen shows in one short unit of work; ``check_*`` functions are
pure (no database) and list *every* problem of a form at once, each naming its field, so a form can mark
all of them; the ``save_*`` functions run the same checks and raise the first as a ``ValidationError``.

Edits go through the one configuration write path (local row + outbox entry in one transaction) once
the sync issue provides it; until then they write the row in one transaction here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.errors import ConflictError, NotFoundError, ValidationError
from cohortdesk.models import Cohort, CohortEnrollment, Institution, Sponsor, Template, TemplateFolder
from cohortdesk.models.enums import CohortState, ProgramType
from cohortdesk.services import cohorts as cohort_services
from cohortdesk.services import validation
from cohortdesk.services.queue import DEFAULT_REJECTION_REASONS, RejectionReason
from cohortdesk.services.queue import _parse_reasons as parse_reasons
from cohortdesk.services.rows import (
    CohortRow,
    InstitutionRow,
    SponsorRow,
    cohort_row,
    institution_row,
    sponsor_row,
)
from cohortdesk.services.states import cohort_blockers

# --- values the screens exchange with the core ---------------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field of a form; ``field`` is the form's key (``contact_email``)."""

    field: str
    message: str


@dataclass(frozen=True)
class InstitutionEdit:
    name: str
    registration_number: str = ""
    address: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    hosting_location: str = ""
    rejection_reasons: tuple[RejectionReason, ...] = ()


@dataclass(frozen=True)
class SponsorEdit:
    company_name: str
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    tax_number: str = ""


@dataclass(frozen=True)
class CohortEdit:
    name: str
    program_type: str
    sponsor_id: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    student_count: int = 0
    main_template_id: int | None = None
    supporting_templates: tuple[int, ...] = ()
    required_document_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class TemplateChoice:
    """A DocuSeal template an agreement can be built on (never an archived one)."""

    id: int
    name: str
    folder: str


@dataclass(frozen=True)
class CohortListItem:
    cohort: CohortRow
    sponsor_name: str | None
    enrolled: int


@dataclass(frozen=True)
class AdminSnapshot:
    """Everything the configuration screens show, read in one unit of work."""

    institution: InstitutionRow
    sponsors: tuple[SponsorRow, ...]
    cohorts: tuple[CohortListItem, ...]
    templates: tuple[TemplateChoice, ...]
    custom_document_types: tuple[str, ...] = field(default_factory=tuple)


# --- institution settings helpers ----------------------------------------------------------------


def rejection_reasons(institution: InstitutionRow) -> tuple[RejectionReason, ...]:
    """The canned reasons officers see: the institution's own, else the suggested ones."""
    return tuple(parse_reasons(institution.settings.get("rejection_reasons")) or DEFAULT_REJECTION_REASONS)


def hosting_location(institution: InstitutionRow) -> str:
    return str(institution.settings.get("hosting_location") or "")


def institution_edit_of(institution: InstitutionRow) -> InstitutionEdit:
    """The form values of a saved institution."""
    return InstitutionEdit(
        name=institution.name,
        registration_number=institution.registration_number or "",
        address=institution.address or "",
        contact_email=institution.contact_email or "",
        contact_phone=institution.contact_phone or "",
        hosting_location=hosting_location(institution),
        rejection_reasons=rejection_reasons(institution),
    )


def sponsor_edit_of(sponsor: SponsorRow) -> SponsorEdit:
    return SponsorEdit(
        company_name=sponsor.company_name,
        contact_name=sponsor.contact_name or "",
        contact_email=sponsor.contact_email or "",
        contact_phone=sponsor.contact_phone or "",
        tax_number=sponsor.tax_number or "",
    )


def cohort_edit_of(cohort: CohortRow) -> CohortEdit:
    return CohortEdit(
        name=cohort.name,
        program_type=cohort.program_type,
        sponsor_id=cohort.sponsor_id,
        start_date=cohort.start_date.date() if cohort.start_date else None,
        end_date=cohort.end_date.date() if cohort.end_date else None,
        student_count=cohort.student_count,
        main_template_id=cohort.main_template_id,
        supporting_templates=tuple(cohort.supporting_templates),
        required_document_types=tuple(cohort.required_document_types),
    )


# --- pure checks ---------------------------------------------------------------------------------

_PHONE_CHARS = re.compile(r"^\+?[0-9 ()\-]+$")
_REASON_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_SLUG_CHARS = re.compile(r"[^a-z0-9]+")


def _text_problem(value: str, key: str, *, required: bool = False, max_len: int = 255) -> FieldProblem | None:
    cleaned = value.strip()
    if required and not cleaned:
        return FieldProblem(key, "is required")
    if len(cleaned) > max_len:
        return FieldProblem(key, f"is longer than {max_len} characters")
    return None


def _email_problem(value: str, key: str) -> FieldProblem | None:
    if not value.strip():
        return None
    try:
        validation.validate_email(value, key)
    except ValidationError as exc:
        return FieldProblem(key, exc.message)
    return None


def phone_problem(value: str, key: str = "contact_phone") -> FieldProblem | None:
    """Phone numbers: digits with optional ``+``, spaces, brackets and dashes; 9 to 15 digits."""
    cleaned = value.strip()
    if not cleaned:
        return None
    digits = re.sub(r"\D", "", cleaned)
    if not _PHONE_CHARS.match(cleaned) or not 9 <= len(digits) <= 15:
        return FieldProblem(key, f"{cleaned!r} is not a phone number (e.g. 012 345 6789 or +27 12 345 6789)")
    return None


def tax_number_problem(value: str, key: str = "tax_number") -> FieldProblem | None:
    """A SARS income tax or VAT reference: 10 digits (spaces allowed)."""
    cleaned = value.replace(" ", "").strip()
    if not cleaned:
        return None
    if not (cleaned.isdigit() and len(cleaned) == 10):
        return FieldProblem(key, f"{value.strip()!r} is not a SARS tax or VAT number (10 digits)")
    return None


def check_rejection_reasons(reasons: tuple[RejectionReason, ...]) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for index, reason in enumerate(reasons, start=1):
        where = f"rejection_reasons.{index}"
        code = reason.code.strip()
        if not code:
            problems.append(FieldProblem(f"{where}.code", f"reason {index} needs a code"))
        elif not _REASON_CODE.match(code):
            problems.append(
                FieldProblem(
                    f"{where}.code",
                    f"reason {index}: code {code!r} must be lower-case letters, digits and underscores",
                )
            )
        elif code in seen:
            problems.append(FieldProblem(f"{where}.code", f"reason {index}: code {code!r} is used twice"))
        seen.add(code)
        if not reason.label.strip():
            problems.append(FieldProblem(f"{where}.label", f"reason {index} needs a label"))
        if not reason.message.strip():
            problems.append(
                FieldProblem(f"{where}.message", f"reason {index} needs the message the learner reads")
            )
    return problems


def check_institution(edit: InstitutionEdit) -> list[FieldProblem]:
    """Every problem with an institution form, in form order."""
    found = [
        _text_problem(edit.name, "name", required=True),
        _text_problem(edit.registration_number, "registration_number", max_len=100),
        _text_problem(edit.address, "address", max_len=2000),
        _email_problem(edit.contact_email, "contact_email"),
        phone_problem(edit.contact_phone, "contact_phone"),
        _text_problem(edit.hosting_location, "hosting_location", max_len=2000),
    ]
    return [p for p in found if p] + check_rejection_reasons(edit.rejection_reasons)


def check_sponsor(edit: SponsorEdit) -> list[FieldProblem]:
    found = [
        _text_problem(edit.company_name, "company_name", required=True),
        _text_problem(edit.contact_name, "contact_name"),
        _email_problem(edit.contact_email, "contact_email"),
        phone_problem(edit.contact_phone, "contact_phone"),
        tax_number_problem(edit.tax_number, "tax_number"),
    ]
    return [p for p in found if p]


def check_cohort(edit: CohortEdit) -> list[FieldProblem]:
    problems = [p for p in [_text_problem(edit.name, "name", required=True)] if p]
    if edit.program_type not in {p.value for p in ProgramType}:
        problems.append(FieldProblem("program_type", "choose a programme type"))
    if edit.start_date and edit.end_date and edit.end_date < edit.start_date:
        problems.append(FieldProblem("end_date", "is before the start date"))
    if edit.student_count < 0:
        problems.append(FieldProblem("student_count", "cannot be negative"))
    try:
        validation.validate_document_types(list(edit.required_document_types))
    except ValidationError as exc:
        problems.append(FieldProblem("required_document_types", exc.message))
    if edit.main_template_id is not None and edit.main_template_id in edit.supporting_templates:
        problems.append(
            FieldProblem(
                "supporting_templates", "the main agreement template cannot also be a supporting one"
            )
        )
    return problems


def custom_document_type(label: str) -> str:
    """The stable key of an institution-defined document type: ``custom_<slug>`` (domain.md §2)."""
    slug = _SLUG_CHARS.sub("_", label.strip().lower()).strip("_")
    if not slug:
        raise ValidationError("custom_document_type", "type a name for the document type")
    key = slug if slug.startswith("custom_") else f"custom_{slug}"
    if len(key) > 100:
        raise ValidationError("custom_document_type", "is longer than 100 characters")
    return key


def _raise_first(problems: list[FieldProblem]) -> None:
    if problems:
        raise ValidationError(problems[0].field, problems[0].message)


def preview_blockers(saved: CohortRow, edit: CohortEdit, target: CohortState | str) -> list[str]:
    """The guards of ``target`` as they would stand with the form's values (nothing is written)."""
    candidate = replace(
        saved,
        main_template_id=edit.main_template_id,
        required_document_types=tuple(edit.required_document_types),
        student_count=edit.student_count,
        start_date=_as_datetime(edit.start_date),
        end_date=_as_datetime(edit.end_date),
    )
    return cohort_blockers(candidate, target)


def _as_datetime(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def _blank_to_none(value: str) -> str | None:
    cleaned = value.strip()
    return cleaned or None


# --- reads ---------------------------------------------------------------------------------------


def _institution(session: Session, institution_id: int) -> Institution:
    inst = session.get(Institution, institution_id)
    if inst is None:
        raise NotFoundError(f"There is no institution with id {institution_id}.")
    return inst


def _templates(session: Session, account_id: int) -> tuple[TemplateChoice, ...]:
    stmt = (
        select(Template.id, Template.name, TemplateFolder.name)
        .join(TemplateFolder, TemplateFolder.id == Template.folder_id, isouter=True)
        .where(Template.account_id == account_id, Template.archived_at.is_(None))
        .order_by(func.lower(Template.name), Template.id)
    )
    return tuple(TemplateChoice(tid, name, folder or "") for tid, name, folder in session.execute(stmt))


def list_templates(db: Database, account_id: int) -> list[TemplateChoice]:
    """DocuSeal's templates of the account, archived ones excluded, by name."""
    with db.read_session() as s:
        return list(_templates(s, account_id))


def list_sponsors(db: Database, institution_id: int) -> list[SponsorRow]:
    with db.read_session() as s:
        stmt = (
            select(Sponsor)
            .where(Sponsor.institution_id == institution_id)
            .order_by(func.lower(Sponsor.company_name), Sponsor.id)
        )
        return [sponsor_row(sp) for sp in s.scalars(stmt)]


def _cohort_items(session: Session, institution_id: int) -> tuple[CohortListItem, ...]:
    enrolled = (
        select(CohortEnrollment.cohort_id, func.count().label("n"))
        .group_by(CohortEnrollment.cohort_id)
        .subquery()
    )
    stmt = (
        select(Cohort, Sponsor.company_name, enrolled.c.n)
        .join(Sponsor, Sponsor.id == Cohort.sponsor_id, isouter=True)
        .join(enrolled, enrolled.c.cohort_id == Cohort.id, isouter=True)
        .where(Cohort.institution_id == institution_id)
        .order_by(func.lower(Cohort.name), Cohort.id)
    )
    return tuple(CohortListItem(cohort_row(c), name, int(n or 0)) for c, name, n in session.execute(stmt))


def list_cohorts(db: Database, institution_id: int) -> list[CohortListItem]:
    with db.read_session() as s:
        return list(_cohort_items(s, institution_id))


def load_admin(db: Database, institution_id: int) -> AdminSnapshot:
    """The institution, its sponsors and cohorts, and the account's templates, in one read."""
    with db.read_session() as s:
        inst = _institution(s, institution_id)
        sponsors = tuple(
            sponsor_row(sp)
            for sp in s.scalars(
                select(Sponsor)
                .where(Sponsor.institution_id == inst.id)
                .order_by(func.lower(Sponsor.company_name), Sponsor.id)
            )
        )
        cohorts = _cohort_items(s, inst.id)
        custom = sorted(
            {
                key
                for item in cohorts
                for key in item.cohort.required_document_types
                if key not in validation.DOCUMENT_TYPES
            }
        )
        return AdminSnapshot(
            institution=institution_row(inst),
            sponsors=sponsors,
            cohorts=cohorts,
            templates=_templates(s, inst.account_id),
            custom_document_types=tuple(custom),
        )


def default_institution_id(db: Database) -> int | None:
    """The first institution of the store (an embedded store holds one)."""
    with db.read_session() as s:
        return s.scalar(select(Institution.id).order_by(Institution.id).limit(1))


# --- edits ---------------------------------------------------------------------------------------


def _check_version(obj: Any, expected: int | None, label: str) -> None:
    if expected is not None and obj.row_version != expected:
        raise ConflictError(
            f"This {label} was changed by someone else since you opened it. "
            "Your edits are still in the form: copy them, reload, and save again."
        )


def save_institution(
    db: Database, institution_id: int, edit: InstitutionEdit, expected_row_version: int | None = None
) -> InstitutionRow:
    """Save the institution's details, hosting note and canned rejection reasons."""
    _raise_first(check_institution(edit))
    with db.session() as s:
        inst = _institution(s, institution_id)
        _check_version(inst, expected_row_version, "institution")
        inst.name = edit.name.strip()
        inst.registration_number = _blank_to_none(edit.registration_number)
        inst.address = _blank_to_none(edit.address)
        inst.contact_email = (
            validation.validate_email(edit.contact_email, "contact_email")
            if edit.contact_email.strip()
            else None
        )
        inst.contact_phone = _blank_to_none(edit.contact_phone)
        settings = dict(inst.settings or {})
        settings["hosting_location"] = edit.hosting_location.strip()
        settings["rejection_reasons"] = [
            {"code": r.code.strip(), "label": r.label.strip(), "message": r.message.strip()}
            for r in edit.rejection_reasons
        ]
        inst.settings = settings
        s.flush()
        return institution_row(inst)


def save_sponsor(
    db: Database,
    institution_id: int,
    sponsor_id: int | None,
    edit: SponsorEdit,
    expected_row_version: int | None = None,
) -> SponsorRow:
    """Create a sponsor (``sponsor_id`` None) or save an existing one."""
    _raise_first(check_sponsor(edit))
    email = (
        validation.validate_email(edit.contact_email, "contact_email") if edit.contact_email.strip() else None
    )
    if sponsor_id is None:
        return cohort_services.create_sponsor(
            db,
            cohort_services.NewSponsor(
                institution_id=institution_id,
                company_name=edit.company_name.strip(),
                contact_email=email,
                contact_name=_blank_to_none(edit.contact_name),
                contact_phone=_blank_to_none(edit.contact_phone),
                tax_number=_blank_to_none(edit.tax_number.replace(" ", "")),
            ),
        )
    with db.session() as s:
        sponsor = s.get(Sponsor, sponsor_id)
        if sponsor is None or sponsor.institution_id != institution_id:
            raise NotFoundError(f"There is no sponsor with id {sponsor_id} in this institution.")
        _check_version(sponsor, expected_row_version, "sponsor")
        sponsor.company_name = edit.company_name.strip()
        sponsor.contact_name = _blank_to_none(edit.contact_name)
        sponsor.contact_email = email
        sponsor.contact_phone = _blank_to_none(edit.contact_phone)
        sponsor.tax_number = _blank_to_none(edit.tax_number.replace(" ", ""))
        s.flush()
        return sponsor_row(sponsor)


def _check_cohort_links(session: Session, inst: Institution, edit: CohortEdit) -> str | None:
    """Check sponsor and templates belong to the institution; returns the sponsor's e-mail."""
    sponsor_email = None
    if edit.sponsor_id is not None:
        sponsor = session.get(Sponsor, edit.sponsor_id)
        if sponsor is None or sponsor.institution_id != inst.id:
            raise ValidationError("sponsor_id", "the sponsor does not exist in this institution")
        sponsor_email = sponsor.contact_email
    template_ids = {t for t in (edit.main_template_id, *edit.supporting_templates) if t is not None}
    if template_ids:
        usable = set(
            session.scalars(
                select(Template.id).where(
                    Template.id.in_(template_ids),
                    Template.account_id == inst.account_id,
                    Template.archived_at.is_(None),
                )
            )
        )
        if edit.main_template_id is not None and edit.main_template_id not in usable:
            raise ValidationError("main_template_id", "the template is archived or no longer exists")
        if set(edit.supporting_templates) - usable:
            raise ValidationError("supporting_templates", "a chosen template is archived or no longer exists")
    return sponsor_email


def save_cohort(
    db: Database,
    institution_id: int,
    cohort_id: int | None,
    edit: CohortEdit,
    expected_row_version: int | None = None,
    created_by_id: int | None = None,
) -> CohortRow:
    """Create a draft cohort (``cohort_id`` None) or save an existing one's configuration."""
    _raise_first(check_cohort(edit))
    doc_types = validation.validate_document_types(list(edit.required_document_types))
    with db.read_session() as s:
        inst = _institution(s, institution_id)
        sponsor_email = _check_cohort_links(s, inst, edit)
    if cohort_id is None:
        return cohort_services.create_cohort(
            db,
            cohort_services.NewCohort(
                institution_id=institution_id,
                name=edit.name.strip(),
                program_type=edit.program_type,
                student_count=edit.student_count,
                sponsor_id=edit.sponsor_id,
                main_template_id=edit.main_template_id,
                supporting_templates=tuple(edit.supporting_templates),
                required_document_types=tuple(doc_types),
                start_date=_as_datetime(edit.start_date),
                end_date=_as_datetime(edit.end_date),
                created_by_id=created_by_id,
            ),
        )
    with db.session() as s:
        cohort = s.get(Cohort, cohort_id)
        if cohort is None or cohort.institution_id != institution_id:
            raise NotFoundError(f"There is no cohort with id {cohort_id} in this institution.")
        _check_version(cohort, expected_row_version, "cohort")
        if cohort.state in (CohortState.COMPLETED.value, CohortState.CANCELLED.value):
            raise ValidationError(
                "state", f"the cohort is {cohort.state}; its configuration can no longer change"
            )
        cohort.name = edit.name.strip()
        cohort.program_type = edit.program_type
        if cohort.sponsor_id != edit.sponsor_id:
            cohort.sponsor_email = sponsor_email
        cohort.sponsor_id = edit.sponsor_id
        cohort.student_count = edit.student_count
        cohort.main_template_id = edit.main_template_id
        cohort.supporting_templates = list(edit.supporting_templates)
        cohort.required_document_types = doc_types
        cohort.start_date = _as_datetime(edit.start_date)
        cohort.end_date = _as_datetime(edit.end_date)
        s.flush()
        return cohort_row(cohort)


def change_cohort_state(
    db: Database, cohort_id: int, target: CohortState | str, expected_row_version: int | None = None
) -> CohortRow:
    """Activate, complete or cancel a cohort; refuses with the guards in words."""
    return cohort_services.change_cohort_state(db, cohort_id, target, expected_row_version)

"""What the super admin's configuration screens ask of the core: one door for reads and edits.

The screens (``views/admin/``) call only this module. Reads gather what a screen shows; ``check_*``
functions are pure (no database) and list *every* problem of a form at once, each naming its field, so
a form can mark all of them; the ``save_*`` functions run the same checks, then write through the one
configuration write path, ``services.configuration.edits`` (local row + outbox entry in one transaction), so an
edit made here syncs like any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from cohortdesk.db import Database
from cohortdesk.enums import CohortState, ProgramType
from cohortdesk.errors import NotFoundError, ValidationError
from cohortdesk.models import Cohort, CohortEnrollment
from cohortdesk.services import validation
from cohortdesk.services.configuration import edits
from cohortdesk.services.configuration import rejection_reasons as canned
from cohortdesk.services.configuration.edits import TemplateChoice
from cohortdesk.services.configuration.rejection_reasons import (
    DEFAULT_REJECTION_REASONS as DEFAULT_REJECTION_REASONS,  # the screens' door names these too
)
from cohortdesk.services.configuration.rejection_reasons import RejectionReason as RejectionReason
from cohortdesk.services.configuration.states import cohort_blockers
from cohortdesk.services.rows import CohortRow, InstitutionRow, SponsorRow
from cohortdesk.services.sync import rows_in_conflict, rows_waiting

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
    #: How old a certified copy may be, in days: None the default (90), 0 no limit, else 1 to 3650.
    certification_max_age_days: int | None = None


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
    #: Ids with an open sync conflict / with a change not yet sent, per table (list markers).
    conflict_ids: dict[str, frozenset[int]] = field(default_factory=dict)
    waiting_ids: dict[str, frozenset[int]] = field(default_factory=dict)


# --- institution settings helpers ----------------------------------------------------------------


def rejection_reasons(institution: InstitutionRow) -> tuple[RejectionReason, ...]:
    """The canned reasons officers see: the institution's own, else the suggested ones."""
    return canned.offered(institution.settings)


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
        certification_max_age_days=cohort.certification_max_age_days,
    )


# --- pure checks ---------------------------------------------------------------------------------

_PHONE_CHARS = re.compile(r"^\+?[0-9 ()\-]+$")
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
        elif not canned.CODE_PATTERN.match(code):
            problems.append(
                FieldProblem(
                    f"{where}.code",
                    f"reason {index}: code {code!r} must be lower-case letters, digits and underscores",
                )
            )
        elif code in seen:
            problems.append(FieldProblem(f"{where}.code", f"reason {index}: code {code!r} is used twice"))
        seen.add(code)
        if len(code) > canned.CODE_MAX:
            problems.append(
                FieldProblem(
                    f"{where}.code", f"reason {index}: the code is longer than {canned.CODE_MAX} characters"
                )
            )
        if not reason.label.strip():
            problems.append(FieldProblem(f"{where}.label", f"reason {index} needs a label"))
        elif len(reason.label.strip()) > canned.LABEL_MAX:
            problems.append(
                FieldProblem(
                    f"{where}.label",
                    f"reason {index}: the label is longer than {canned.LABEL_MAX} characters",
                )
            )
        if not reason.message.strip():
            problems.append(
                FieldProblem(f"{where}.message", f"reason {index} needs the message the learner reads")
            )
        elif len(reason.message.strip()) > canned.MESSAGE_MAX:
            problems.append(
                FieldProblem(
                    f"{where}.message",
                    f"reason {index}: the message is longer than {canned.MESSAGE_MAX} characters",
                )
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
    try:
        validation.validate_certification_max_age(edit.certification_max_age_days)
    except ValidationError as exc:
        problems.append(FieldProblem("certification_max_age_days", exc.message))
    if edit.main_template_id is not None and edit.main_template_id in edit.supporting_templates:
        problems.append(
            FieldProblem(
                "supporting_templates", "the main agreement template cannot also be a supporting one"
            )
        )
    return problems


def custom_document_type(label: str) -> str:
    """The stable key of an institution-defined document type: ``custom_<slug>`` (``docs/domain.md`` §2)."""
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


# --- reads ---------------------------------------------------------------------------------------


def list_templates(db: Database, account_id: int) -> list[TemplateChoice]:
    """DocuSeal's templates an agreement can use: the account's, archived ones excluded."""
    return [t for t in edits.list_templates(db, account_id) if not t.archived]


def list_sponsors(db: Database, institution_id: int) -> list[SponsorRow]:
    return sorted(edits.list_sponsors(db, institution_id), key=lambda s: (s.company_name.lower(), s.id))


def enrolled_counts(db: Database, institution_id: int) -> dict[int, int]:
    """Live enrollments per cohort of the institution (tombstoned rows are not counted)."""
    with db.read_session() as s:
        rows = s.execute(
            select(CohortEnrollment.cohort_id, func.count())
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
            .where(Cohort.institution_id == institution_id, CohortEnrollment.deleted_at.is_(None))
            .group_by(CohortEnrollment.cohort_id)
        ).all()
        return {int(cohort_id): int(n) for cohort_id, n in rows}


def list_cohorts(db: Database, institution_id: int) -> list[CohortListItem]:
    sponsors = {s.id: s.company_name for s in edits.list_sponsors(db, institution_id)}
    return _cohort_items(db, institution_id, sponsors)


def _cohort_items(db: Database, institution_id: int, sponsor_names: dict[int, str]) -> list[CohortListItem]:
    counts = enrolled_counts(db, institution_id)
    cohorts = sorted(edits.list_cohorts(db, institution_id), key=lambda c: (c.name.lower(), c.id))
    return [
        CohortListItem(c, sponsor_names.get(c.sponsor_id) if c.sponsor_id else None, counts.get(c.id, 0))
        for c in cohorts
    ]


MARKED_TABLES = ("institutions", "sponsors", "cohorts")


def load_admin(db: Database, institution_id: int) -> AdminSnapshot:
    """The institution, its sponsors and cohorts, and the account's usable templates."""
    institution = edits.get_institution(db, institution_id)
    sponsors = list_sponsors(db, institution_id)
    cohorts = _cohort_items(db, institution_id, {s.id: s.company_name for s in sponsors})
    custom = sorted(
        {
            k
            for item in cohorts
            for k in item.cohort.required_document_types
            if k not in validation.DOCUMENT_TYPES
        }
    )
    return AdminSnapshot(
        institution=institution,
        sponsors=tuple(sponsors),
        cohorts=tuple(cohorts),
        templates=tuple(list_templates(db, institution.account_id)),
        custom_document_types=tuple(custom),
        **row_marks(db),
    )


def row_marks(db: Database) -> dict[str, dict[str, frozenset[int]]]:
    """Per table, the ids with an open conflict and those with a change not yet sent."""
    return {
        "conflict_ids": {t: rows_in_conflict(db, t) for t in MARKED_TABLES},
        "waiting_ids": {t: rows_waiting(db, t) for t in MARKED_TABLES},
    }


# --- edits ---------------------------------------------------------------------------------------


def save_institution(
    db: Database, institution_id: int, edit: InstitutionEdit, expected_row_version: int | None = None
) -> InstitutionRow:
    """Save the institution's details, hosting note and canned rejection reasons (other settings kept)."""
    _raise_first(check_institution(edit))
    changes = {
        "name": edit.name,
        "registration_number": edit.registration_number,
        "address": edit.address,
        "contact_email": edit.contact_email,
        "contact_phone": edit.contact_phone,
        "settings.hosting_location": edit.hosting_location.strip() or None,
        "settings.rejection_reasons": [
            {"code": r.code.strip(), "label": r.label.strip(), "message": r.message.strip()}
            for r in edit.rejection_reasons
        ],
    }
    edits.update_institution(db, institution_id, changes, expected_row_version)
    return edits.get_institution(db, institution_id)  # as stored: PostgreSQL's trigger bumps row_version


def _sponsor_fields(edit: SponsorEdit) -> dict[str, Any]:
    return {
        "company_name": edit.company_name,
        "contact_name": edit.contact_name,
        "contact_email": edit.contact_email,
        "contact_phone": edit.contact_phone,
        "tax_number": edit.tax_number.replace(" ", ""),
    }


def save_sponsor(
    db: Database,
    institution_id: int,
    sponsor_id: int | None,
    edit: SponsorEdit,
    expected_row_version: int | None = None,
) -> SponsorRow:
    """Create a sponsor (``sponsor_id`` None) or save an existing one."""
    _raise_first(check_sponsor(edit))
    fields = _sponsor_fields(edit)
    if sponsor_id is None:
        return edits.create_sponsor(db, edits.NewSponsor(institution_id=institution_id, **fields)).row
    if edits.get_sponsor(db, sponsor_id).institution_id != institution_id:
        raise NotFoundError(f"There is no sponsor with id {sponsor_id} in this institution.")
    edits.update_sponsor(db, sponsor_id, fields, expected_row_version)
    return edits.get_sponsor(db, sponsor_id)


def _check_templates(db: Database, account_id: int, edit: CohortEdit, before: CohortEdit | None) -> None:
    """Newly chosen templates must be live ones of the account (an archived one already set may stay)."""
    usable = {t.id for t in list_templates(db, account_id)}
    newly_chosen = before is None or before.main_template_id != edit.main_template_id
    if edit.main_template_id is not None and edit.main_template_id not in usable and newly_chosen:
        raise ValidationError("main_template_id", "the template is archived or no longer exists")
    kept = set(before.supporting_templates) if before else set()
    if set(edit.supporting_templates) - usable - kept:
        raise ValidationError("supporting_templates", "a chosen template is archived or no longer exists")


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
    institution = edits.get_institution(db, institution_id)
    if cohort_id is None:
        _check_templates(db, institution.account_id, edit, None)
        return edits.create_cohort(
            db,
            edits.NewCohort(
                institution_id=institution_id,
                name=edit.name,
                program_type=edit.program_type,
                student_count=edit.student_count,
                sponsor_id=edit.sponsor_id,
                main_template_id=edit.main_template_id,
                supporting_templates=tuple(edit.supporting_templates),
                required_document_types=tuple(edit.required_document_types),
                start_date=_as_datetime(edit.start_date),
                end_date=_as_datetime(edit.end_date),
                created_by_id=created_by_id,
                certification_max_age_days=edit.certification_max_age_days,
            ),
        ).row
    current = edits.get_cohort(db, cohort_id)
    if current.institution_id != institution_id:
        raise NotFoundError(f"There is no cohort with id {cohort_id} in this institution.")
    if current.state in (CohortState.COMPLETED.value, CohortState.CANCELLED.value):
        raise ValidationError(
            "state", f"the cohort is {current.state}; its configuration can no longer change"
        )
    _check_templates(db, institution.account_id, edit, cohort_edit_of(current))
    changes: dict[str, Any] = {
        "name": edit.name,
        "program_type": edit.program_type,
        "sponsor_id": edit.sponsor_id,
        "student_count": edit.student_count,
        "main_template_id": edit.main_template_id,
        "supporting_templates": list(edit.supporting_templates),
        "required_document_types": list(edit.required_document_types),
        "start_date": _as_datetime(edit.start_date),
        "end_date": _as_datetime(edit.end_date),
        "certification_max_age_days": edit.certification_max_age_days,
    }
    if edit.sponsor_id != current.sponsor_id:
        changes["sponsor_email"] = (
            edits.get_sponsor(db, edit.sponsor_id).contact_email if edit.sponsor_id else None
        )
    edits.update_cohort(db, cohort_id, changes, expected_row_version)
    return edits.get_cohort(db, cohort_id)


def change_cohort_state(
    db: Database, cohort_id: int, target: CohortState | str, expected_row_version: int | None = None
) -> CohortRow:
    """Activate, complete or cancel a cohort; refuses with the guards in words."""
    edits.change_cohort_state(db, cohort_id, target, expected_row_version)
    return edits.get_cohort(db, cohort_id)

"""Plain, immutable values that services return: never ORM instances.

Qt models, the command line and exports hold these rows; they cannot lazy-load, go stale against a
closed session, or write anything back by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class InstitutionRow:
    id: int
    uuid: str
    account_id: int
    name: str
    registration_number: str | None
    address: str | None
    contact_email: str | None
    contact_phone: str | None
    super_admin_id: int | None
    settings: dict[str, Any]
    row_version: int


@dataclass(frozen=True)
class SponsorRow:
    id: int
    uuid: str
    account_id: int
    institution_id: int
    company_name: str
    contact_email: str | None
    contact_name: str | None
    contact_phone: str | None
    tax_number: str | None
    user_id: int | None
    row_version: int


@dataclass(frozen=True)
class CohortRow:
    id: int
    uuid: str
    account_id: int
    institution_id: int
    name: str
    program_type: str
    state: str
    sponsor_email: str | None
    sponsor_id: int | None
    student_count: int
    main_template_id: int | None
    supporting_templates: tuple[int, ...]
    required_document_types: tuple[str, ...]
    admin_signed_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    row_version: int
    #: How old a certified copy may be, in days: None the default (90), 0 no limit.
    certification_max_age_days: int | None = None


@dataclass(frozen=True)
class EnrollmentRow:
    id: int
    uuid: str
    account_id: int
    cohort_id: int
    user_id: int
    submission_id: int | None
    state: str
    document_verification_state: str
    rejection_reason: str | None
    student_data: dict[str, Any]
    uploaded_documents: dict[str, Any]
    pending_since: datetime | None
    created_at: datetime
    updated_at: datetime
    row_version: int
    # Who holds the pack for review, if anyone (the lease may have lapsed: compare with the clock).
    claimed_by: str | None = None
    claimed_by_user_id: int | None = None
    claim_expires_at: datetime | None = None

    def held_at(self, moment: datetime) -> bool:
        """True while somebody's review lease on this pack is still running at ``moment``."""
        return self.claim_expires_at is not None and self.claim_expires_at > moment


@dataclass(frozen=True)
class VerificationRow:
    id: int
    uuid: str
    cohort_enrollment_id: int
    admin_id: int
    admin_name: str
    document_type: str
    action: str  # approved, rejected, or reversal (an undo of ``reverses_id``)
    reason: str | None
    metadata: dict[str, Any]
    created_at: datetime
    login: str | None = None  # the database login that recorded it (None: before logins were kept)
    internal_note: str | None = None  # for colleagues; never sent to the learner
    reverses_id: int | None = None  # on a reversal: the decision it takes back
    reversed_by_id: int | None = None  # on a decision that was undone: the reversal row

    @property
    def undone(self) -> bool:
        return self.reversed_by_id is not None


@dataclass(frozen=True)
class DecidedEnrollment:
    """An enrollment as a decision left it: what the workstation redraws (no personal data)."""

    id: int
    account_id: int
    cohort_id: int
    state: str
    document_verification_state: str
    rejection_reason: str | None
    row_version: int
    updated_at: datetime | None
    pending_since: datetime | None
    claimed_by: str | None = None
    claimed_by_user_id: int | None = None
    claim_expires_at: datetime | None = None


@dataclass(frozen=True)
class LatestDecision:
    """The decision that counts for one document now (the latest one not undone)."""

    document_type: str
    id: int
    action: str
    reason: str | None
    admin_id: int
    created_at: datetime


@dataclass(frozen=True)
class Changes:
    """What a service call changed, so open screens refresh just that (Anki's ``OpChanges``)."""

    cohort_ids: frozenset[int] = field(default_factory=frozenset)
    enrollment_ids: frozenset[int] = field(default_factory=frozenset)
    institution_ids: frozenset[int] = field(default_factory=frozenset)
    sponsor_ids: frozenset[int] = field(default_factory=frozenset)
    counts: bool = False


#: Length of a review lease. The GUI renews at a third of it, so two missed renewals still hold.
LEASE_SECONDS = 15 * 60


@dataclass(frozen=True)
class Claim:
    """A review lease held by this workstation: present ``token`` and ``row_version`` to decide.

    ``row_version`` is the version of the pack the officer is looking at; it moves only when this
    claim itself writes (a decision), never on renewal, so a change by anyone else is detected.
    """

    enrollment_id: int
    account_id: int
    cohort_id: int
    token: str
    row_version: int
    expires_at: datetime
    claimed_by: str
    user_id: int | None
    lease_seconds: float
    claimed_at: datetime | None = None  # on the database clock; decisions after it are "news"


@dataclass(frozen=True)
class ClaimHolder:
    """Who holds a pack right now, for "held by …" in queues."""

    enrollment_id: int
    user_id: int | None
    login: str
    name: str
    expires_at: datetime
    mine: bool = False


@dataclass(frozen=True)
class DecisionResult:
    """What one decision (or undo) wrote and everything the workstation redraws after it."""

    verification: VerificationRow  # the row written (a reversal for an undo)
    enrollment: DecidedEnrollment
    changes: Changes
    duplicate: bool = False  # True when an identical retry (same idempotency key) was recognised
    claim: Claim | None = None  # the decider's claim afterwards (new row_version), None once released
    latest: dict[str, LatestDecision] = field(default_factory=dict)  # per document, after this decision
    next_pending_id: int | None = None  # the cohort's oldest pack waiting and not held, if any


def institution_row(obj: Any) -> InstitutionRow:
    return InstitutionRow(
        id=obj.id,
        uuid=obj.uuid,
        account_id=obj.account_id,
        name=obj.name,
        registration_number=obj.registration_number,
        address=obj.address,
        contact_email=obj.contact_email,
        contact_phone=obj.contact_phone,
        super_admin_id=obj.super_admin_id,
        settings=dict(obj.settings or {}),
        row_version=obj.row_version,
    )


def sponsor_row(obj: Any) -> SponsorRow:
    return SponsorRow(
        id=obj.id,
        uuid=obj.uuid,
        account_id=obj.account_id,
        institution_id=obj.institution_id,
        company_name=obj.company_name,
        contact_email=obj.contact_email,
        contact_name=obj.contact_name,
        contact_phone=obj.contact_phone,
        tax_number=obj.tax_number,
        user_id=obj.user_id,
        row_version=obj.row_version,
    )


def cohort_row(obj: Any) -> CohortRow:
    return CohortRow(
        id=obj.id,
        uuid=obj.uuid,
        account_id=obj.account_id,
        institution_id=obj.institution_id,
        name=obj.name,
        program_type=obj.program_type,
        state=obj.state,
        sponsor_email=obj.sponsor_email,
        sponsor_id=obj.sponsor_id,
        student_count=obj.student_count,
        main_template_id=obj.main_template_id,
        supporting_templates=tuple(obj.supporting_templates or ()),
        required_document_types=tuple(obj.required_document_types or ()),
        admin_signed_at=obj.admin_signed_at,
        start_date=obj.start_date,
        end_date=obj.end_date,
        row_version=obj.row_version,
        certification_max_age_days=obj.certification_max_age_days,
    )


def enrollment_row(obj: Any) -> EnrollmentRow:
    return EnrollmentRow(
        id=obj.id,
        uuid=obj.uuid,
        account_id=obj.account_id,
        cohort_id=obj.cohort_id,
        user_id=obj.user_id,
        submission_id=obj.submission_id,
        state=obj.state,
        document_verification_state=obj.document_verification_state,
        rejection_reason=obj.rejection_reason,
        student_data=dict(obj.student_data or {}),
        uploaded_documents=dict(obj.uploaded_documents or {}),
        pending_since=obj.pending_since,
        created_at=obj.created_at,
        updated_at=obj.updated_at,
        row_version=obj.row_version,
        claimed_by=obj.claimed_by,
        claimed_by_user_id=obj.claimed_by_user_id,
        claim_expires_at=obj.claim_expires_at,
    )


def verification_row(obj: Any, admin_name: str = "") -> VerificationRow:
    return VerificationRow(
        id=obj.id,
        uuid=obj.uuid,
        cohort_enrollment_id=obj.cohort_enrollment_id,
        admin_id=obj.admin_id,
        admin_name=admin_name,
        document_type=obj.document_type,
        action=obj.action,
        reason=obj.reason,
        metadata=dict(obj.verification_metadata or {}),
        created_at=obj.created_at,
        login=obj.login,
        internal_note=obj.internal_note,
        reverses_id=obj.reverses_id,
    )

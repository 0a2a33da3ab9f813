"""The five tables CohortDesk adds beside DocuSeal's: institutions, sponsors, cohorts,
cohort_enrollments and document_verifications (``docs/data-model.md``).

JSON shapes (validated by ``cohortdesk.services.validation``):

``institutions.settings``
    ``{"rejection_reasons": [{"code": str, "label": str, "message": str}], "hosting_location": str, ...}``
``cohorts.supporting_templates``
    ``[template_id, ...]`` — ids of DocuSeal templates for supporting documents.
``cohorts.required_document_types``
    ``["id_document", "matric_certificate", ...]`` — stable snake_case keys (``docs/domain.md`` §2).
``cohort_enrollments.student_data``
    ``{"age": int?, "date_of_birth": "YYYY-MM-DD"?, "race": "BA|BC|BI|Wh|Oth|U",
    "gender": "M|F", "disability": "N|01..07|09", "city": str, "sa_id_number": "13 digits"?,
    "phone": str?}`` — demographic codes as in SETMIS.
``cohort_enrollments.uploaded_documents``
    ``{document_type: {"file_name", "content_type", "size", "checksum", "storage_key",
    "uploaded_at"}}`` — ``storage_key`` is the Active Storage blob key; ``checksum`` base64 MD5.
``cohort_enrollments.supporting_submission_ids``
    ``[submission_id, ...]``
``document_verifications.metadata``
    free-form decision context, e.g. ``{"reason_code": "not_certified", "checksum": "..."}``.

Review claims (``0006_review_claims``, ``cohortdesk.services.review.claims``): an enrollment under review
carries a lease: ``claimed_by`` is the PostgreSQL login role that took it (``session_user``, the
identity the database itself vouches for; ``"local"`` on the embedded SQLite store),
``claimed_by_user_id`` the DocuSeal user behind that login (for "held by <name>"), ``claim_token`` a
random uuid new on every claim (the proof of ownership a decision must present) and
``claim_expires_at`` the end of the lease. A decision's ``idempotency_key`` is unique per tenant, so a
retried decision is recorded exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    column,
    select,
    table,
    text,
)
from sqlalchemy.orm import Mapped, aliased, mapped_column

from cohortdesk.enums import (
    CohortState,
    EnrollmentState,
    ProgramType,
    VerificationAction,
    VerificationState,
    check_in,
)
from cohortdesk.models.base import Base, CohortDeskTable
from cohortdesk.models.sync import SyncedColumns
from cohortdesk.models.types import JSONDocument, UTCDateTime

#: Enrollments a verification officer can be given: packs waiting for a decision.
CLAIMABLE_WHERE = "document_verification_state = 'pending' AND deleted_at IS NULL"

NEW_TABLES = ("institutions", "sponsors", "cohorts", "cohort_enrollments", "document_verifications")
#: Foreign keys PostgreSQL enforces but a SQLite store does not hold (migration 0010): a laptop never
#: receives DocuSeal's submissions, so there the link is a plain number (docs/sync-docuseal-rows.md).
SERVER_ONLY_FOREIGN_KEYS = frozenset({"fk_cohort_enrollments_submission_id_submissions"})


class InstallSetting(Base):
    """Facts about this installation of the schema, e.g. ``mode``: ``standalone`` or ``attach``."""

    __tablename__ = "cohortdesk_install"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


class Institution(SyncedColumns, CohortDeskTable, Base):
    __tablename__ = "institutions"
    __table_args__ = (
        Index("ix_institutions_account_id_unique", "account_id", unique=True),
        Index("ix_institutions_account_id_change_seq", "account_id", "change_seq"),
    )

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    registration_number: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(String(255))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    super_admin_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False, default=dict)


class Sponsor(SyncedColumns, CohortDeskTable, Base):
    __tablename__ = "sponsors"
    __table_args__ = (
        Index("ix_sponsors_institution_id", "institution_id"),
        Index("ix_sponsors_account_id", "account_id"),
        Index("ix_sponsors_account_id_change_seq", "account_id", "change_seq"),
    )

    institution_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("institutions.id"), nullable=False)
    company_name: Mapped[str] = mapped_column(String(255), nullable=False)
    contact_email: Mapped[str | None] = mapped_column(String(255))
    contact_name: Mapped[str | None] = mapped_column(String(255))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    tax_number: Mapped[str | None] = mapped_column(String(50))
    user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))


class Cohort(SyncedColumns, CohortDeskTable, Base):
    __tablename__ = "cohorts"
    __table_args__ = (
        CheckConstraint(check_in("program_type", ProgramType), name="program_type"),
        CheckConstraint(check_in("state", CohortState), name="state"),
        CheckConstraint("student_count >= 0", name="student_count"),
        CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates"),
        CheckConstraint(
            "certification_max_age_days IS NULL OR certification_max_age_days BETWEEN 0 AND 3650",
            name="certification_max_age_days",
        ),
        Index("ix_cohorts_account_id", "account_id"),
        Index("ix_cohorts_institution_id_state", "institution_id", "state"),
        Index("ix_cohorts_account_id_change_seq", "account_id", "change_seq"),
    )

    institution_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("institutions.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    program_type: Mapped[str] = mapped_column(String(20), nullable=False)
    sponsor_email: Mapped[str | None] = mapped_column(String(255))
    # Not in the seed: the seed links a sponsor by e-mail only; a key survives an e-mail change.
    sponsor_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("sponsors.id", ondelete="SET NULL"))
    student_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # DocuSeal can hard-delete templates and submissions: our rows must not block that.
    main_template_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("templates.id", ondelete="SET NULL")
    )
    supporting_templates: Mapped[list[int]] = mapped_column(JSONDocument, nullable=False, default=list)
    required_document_types: Mapped[list[str]] = mapped_column(JSONDocument, nullable=False, default=list)
    admin_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default=CohortState.DRAFT.value)
    start_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    #: How old a certified copy may be, in days: NULL the default (90), 0 no limit (migration 0020).
    certification_max_age_days: Mapped[int | None] = mapped_column(Integer)


class CohortEnrollment(SyncedColumns, CohortDeskTable, Base):
    __tablename__ = "cohort_enrollments"
    __table_args__ = (
        CheckConstraint(check_in("state", EnrollmentState), name="state"),
        CheckConstraint(
            check_in("document_verification_state", VerificationState), name="verification_state"
        ),
        # One live enrollment per learner per cohort; a tombstoned one does not block re-enrolling.
        Index(
            "ix_cohort_enrollments_cohort_id_user_id",
            "cohort_id",
            "user_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
        Index("ix_cohort_enrollments_state", "state"),
        Index(
            "ix_cohort_enrollments_queue",
            "account_id",
            "document_verification_state",
            "pending_since",
            "id",
        ),
        Index("ix_cohort_enrollments_user_id", "user_id"),
        # The queue's order (oldest waiting first) within a verification state, and across every
        # state: the first page is read from an index instead of sorting every match (bench/queue.py).
        Index(
            "ix_cohort_enrollments_state_pending_since", "document_verification_state", "pending_since", "id"
        ),
        Index("ix_cohort_enrollments_pending_since_id", "pending_since", "id"),
        Index("ix_cohort_enrollments_account_id_change_seq", "account_id", "change_seq"),
        # The claimable queue: pending packs of one tenant, oldest first. Claims are few, so the lease
        # test (free or expired) is a cheap filter on top of this index.
        Index(
            "ix_cohort_enrollments_claimable",
            "account_id",
            "pending_since",
            "id",
            postgresql_where=text(CLAIMABLE_WHERE),
            sqlite_where=text(CLAIMABLE_WHERE),
        ),
        # Only claimed rows carry a token: a tiny index that finds "my claim" on a retry.
        Index(
            "ix_cohort_enrollments_claim_token",
            "claim_token",
            unique=True,
            postgresql_where=text("claim_token IS NOT NULL"),
            sqlite_where=text("claim_token IS NOT NULL"),
        ),
    )

    cohort_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("cohorts.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False)
    submission_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("submissions.id", ondelete="SET NULL")
    )
    supporting_submission_ids: Mapped[list[int]] = mapped_column(JSONDocument, nullable=False, default=list)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default=EnrollmentState.WAITING.value)
    document_verification_state: Mapped[str] = mapped_column(
        String(20), nullable=False, default=VerificationState.PENDING.value
    )
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    student_data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False, default=dict)
    uploaded_documents: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False, default=dict)
    # Not in the seed: when the pack last started waiting for a verification decision (queue age).
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The review lease (see the module docstring); all four are NULL when nobody holds the pack.
    claimed_by: Mapped[str | None] = mapped_column(String(63))
    # No foreign key: a lease is transient and must never stop DocuSeal deleting a user.
    claimed_by_user_id: Mapped[int | None] = mapped_column(BigInteger)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DocumentVerification(CohortDeskTable, Base):
    """One decision on one document: an append-only audit row, never updated or deleted."""

    __tablename__ = "document_verifications"
    __table_args__ = (
        CheckConstraint(check_in("action", VerificationAction), name="action"),
        CheckConstraint("action <> 'rejected' OR (reason IS NOT NULL AND reason <> '')", name="reason"),
        CheckConstraint("(action = 'reversal') = (reverses_id IS NOT NULL)", name="reversal"),
        Index("ix_document_verifications_reverses_id", "reverses_id", unique=True),
        Index("ix_document_verifications_cohort_enrollment_id", "cohort_enrollment_id"),
        Index("ix_document_verifications_account_id_created_at", "account_id", "created_at"),
        Index(
            "ix_document_verifications_account_id_idempotency_key",
            "account_id",
            "idempotency_key",
            unique=True,
        ),
    )

    cohort_enrollment_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("cohort_enrollments.id"), nullable=False
    )
    admin_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False)
    document_type: Mapped[str] = mapped_column(String(100), nullable=False)
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    verification_metadata: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONDocument, nullable=False, default=dict
    )
    # The client's key for this decision: a retry carrying it again finds this row instead of adding one.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    # The database login that recorded it (``local`` on the embedded store; NULL before it was kept).
    login: Mapped[str | None] = mapped_column(String(63))
    # A review note for colleagues, shown in History and never sent to the learner.
    internal_note: Mapped[str | None] = mapped_column(Text)
    # On an undo (``action = 'reversal'``): the decision it takes back.
    reverses_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("document_verifications.id"))


#: A decision that undid another, as one alias built once: a fresh ``aliased()`` per query cost
#: milliseconds of Python on every keypress (its columns are adapted lazily, per alias).
_REVERSAL = aliased(DocumentVerification, name="reversal")


#: PostgreSQL only (migration 0024): per enrollment, how many of its uploaded documents await a decision
#: on the file as it is now, recounted by triggers whenever its uploads, decisions or undos change
#: (whoever writes; no login may write it). Not a model of ``Base.metadata``: SQLite has no such table
#: and counts live (``services.review.queue.STORED_AWAITING``).
AWAITING = table(
    "cohortdesk_awaiting",
    column("enrollment_id", BigInteger),
    column("account_id", BigInteger),
    column("documents", Integer),
)


def not_undone(decision_id: Any = DocumentVerification.id) -> ColumnElement[bool]:
    """True where no reversal points at the decision ``decision_id`` (a column; by default
    ``document_verifications.id`` of the enclosing query): the decision still stands."""
    return ~select(_REVERSAL.id).where(_REVERSAL.reverses_id == decision_id).exists()

"""Recording verification decisions on an enrollment's documents, and reading their history.

A decision inserts one append-only ``document_verifications`` row and recomputes the enrollment's
``document_verification_state`` and ``rejection_reason`` in the same transaction:

* ``rejected`` when the latest decision on any document is a rejection;
* ``verified`` when every required document's latest decision is an approval;
* ``pending`` otherwise.

A retry carrying the same ``idempotency_key`` returns the decision already recorded instead of
recording it twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.errors import ConflictError, NotFoundError, ValidationError
from cohortdesk.models import Cohort, CohortEnrollment, DocumentVerification, User
from cohortdesk.models.enums import VerificationAction, VerificationState
from cohortdesk.services.rows import (
    Changes,
    DecisionResult,
    VerificationRow,
    enrollment_row,
    verification_row,
)
from cohortdesk.services.validation import canonical_document_type, document_label


@dataclass(frozen=True)
class DecisionCommand:
    enrollment_id: int
    document_type: str
    action: str  # "approved" or "rejected"
    actor_user_id: int
    reason: str | None = None
    reason_code: str | None = None
    expected_row_version: int | None = None
    idempotency_key: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def required_documents(cohort: Cohort | None, uploaded: dict[str, Any]) -> list[str]:
    """The document types an enrollment must have approved: the cohort's list, else what was uploaded."""
    required = list(cohort.required_document_types or []) if cohort is not None else []
    return required or sorted(uploaded)


def latest_decisions(session: Session, enrollment_id: int) -> dict[str, DocumentVerification]:
    rows = session.scalars(
        select(DocumentVerification)
        .where(DocumentVerification.cohort_enrollment_id == enrollment_id)
        .order_by(DocumentVerification.created_at, DocumentVerification.id)
    )
    latest: dict[str, DocumentVerification] = {}
    for row in rows:
        latest[row.document_type] = row
    return latest


def compute_state(required: list[str], latest: dict[str, DocumentVerification]) -> tuple[str, str | None]:
    rejected = [d for d, v in latest.items() if v.action == VerificationAction.REJECTED.value]
    if rejected:
        reason = "\n".join(f"{document_label(d)}: {latest[d].reason}" for d in sorted(rejected))
        return VerificationState.REJECTED.value, reason
    if required and all(
        d in latest and latest[d].action == VerificationAction.APPROVED.value for d in required
    ):
        return VerificationState.VERIFIED.value, None
    return VerificationState.PENDING.value, None


def _find_by_idempotency_key(session: Session, enrollment_id: int, key: str) -> DocumentVerification | None:
    for row in session.scalars(
        select(DocumentVerification).where(DocumentVerification.cohort_enrollment_id == enrollment_id)
    ):
        if (row.verification_metadata or {}).get("idempotency_key") == key:
            return row
    return None


def _user_name(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return user.full_name or user.email if user else f"user {user_id}"


def record_decision(db: Database, cmd: DecisionCommand) -> DecisionResult:
    try:
        action = VerificationAction(cmd.action)
    except ValueError as exc:
        raise ValidationError("action", f"{cmd.action!r} must be 'approved' or 'rejected'") from exc
    reason = (cmd.reason or "").strip() or None
    if action is VerificationAction.REJECTED and not reason:
        raise ValidationError("reason", "a reason is required to reject a document")
    document_type = canonical_document_type(cmd.document_type.strip())
    if not document_type:
        raise ValidationError("document_type", "is required")

    with db.session() as s:
        stmt = select(CohortEnrollment).where(CohortEnrollment.id == cmd.enrollment_id)
        if db.dialect == "postgresql":
            stmt = stmt.with_for_update()
        enrollment = s.scalars(stmt).first()
        if enrollment is None:
            raise NotFoundError(f"There is no enrollment with id {cmd.enrollment_id}.")
        if cmd.idempotency_key:
            earlier = _find_by_idempotency_key(s, enrollment.id, cmd.idempotency_key)
            if earlier is not None:
                return DecisionResult(
                    verification=verification_row(earlier, _user_name(s, earlier.admin_id)),
                    enrollment=enrollment_row(enrollment),
                    changes=Changes(),
                    duplicate=True,
                )
        if cmd.expected_row_version is not None and enrollment.row_version != cmd.expected_row_version:
            raise ConflictError(
                "This enrollment changed since you opened it (someone else recorded a decision or edited it). "
                "Reload it to see what changed; your reason has been kept."
            )
        cohort = s.get(Cohort, enrollment.cohort_id)
        uploaded = enrollment.uploaded_documents or {}
        required = required_documents(cohort, uploaded)
        if document_type not in uploaded and document_type not in required:
            raise ValidationError("document_type", f"{document_type!r} is neither uploaded nor required here")
        metadata = dict(cmd.metadata)
        if cmd.reason_code:
            metadata["reason_code"] = cmd.reason_code
        if cmd.idempotency_key:
            metadata["idempotency_key"] = cmd.idempotency_key
        if document_type in uploaded:
            metadata.setdefault("checksum", uploaded[document_type].get("checksum"))
            metadata.setdefault("storage_key", uploaded[document_type].get("storage_key"))
        now = datetime.now(UTC)
        verification = DocumentVerification(
            account_id=enrollment.account_id,
            cohort_enrollment_id=enrollment.id,
            admin_id=cmd.actor_user_id,
            document_type=document_type,
            action=action.value,
            reason=reason,
            verification_metadata=metadata,
            created_at=now,
            updated_at=now,
        )
        s.add(verification)
        s.flush()
        latest = latest_decisions(s, enrollment.id)
        state, rejection_reason = compute_state(required, latest)
        if state != enrollment.document_verification_state or rejection_reason != enrollment.rejection_reason:
            enrollment.document_verification_state = state
            enrollment.rejection_reason = rejection_reason
        enrollment.updated_at = now  # every decision bumps row_version: others see the enrollment moved
        s.flush()
        return DecisionResult(
            verification=verification_row(verification, _user_name(s, cmd.actor_user_id)),
            enrollment=enrollment_row(enrollment),
            changes=Changes(
                cohort_ids=frozenset({enrollment.cohort_id}),
                enrollment_ids=frozenset({enrollment.id}),
                counts=True,
            ),
        )


def history(db: Database, enrollment_id: int) -> list[VerificationRow]:
    """Every decision on an enrollment, newest first, with the officer's name."""
    with db.read_session() as s:
        full = func.trim(func.coalesce(User.first_name, "") + " " + func.coalesce(User.last_name, ""))
        name = func.coalesce(func.nullif(full, ""), User.email)
        rows = s.execute(
            select(DocumentVerification, name)
            .join(User, User.id == DocumentVerification.admin_id)
            .where(DocumentVerification.cohort_enrollment_id == enrollment_id)
            .order_by(DocumentVerification.created_at.desc(), DocumentVerification.id.desc())
        ).all()
        return [verification_row(v, admin_name) for v, admin_name in rows]

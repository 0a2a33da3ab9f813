"""Recording verification decisions on an enrollment's documents, and reading their history.

A decision inserts one append-only ``document_verifications`` row and recomputes the enrollment's
``document_verification_state`` and ``rejection_reason`` in the same transaction:

* ``rejected`` when the latest decision on any document is a rejection;
* ``verified`` when every required document's latest decision is an approval;
* ``pending`` otherwise.

A retry carrying the same ``idempotency_key`` returns the decision already recorded instead of
recording it twice; the key is unique per tenant in the database, so this holds under concurrency.
Under a review claim (``services.claims``) the write is conditional on the claim.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.errors import ConflictError, NotFoundError, ValidationError
from cohortdesk.models import Cohort, CohortEnrollment, DocumentVerification, User
from cohortdesk.models.enums import VerificationAction, VerificationState
from cohortdesk.services import claims
from cohortdesk.services.rows import (
    Changes,
    Claim,
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
    #: The review claim this decision is made under (workstations always pass it); its token,
    #: unexpired lease and row_version are checked in the same transaction as the write.
    claim: Claim | None = None
    #: Give the pack back to the queue with this decision ("decide and next").
    release_claim: bool = False

    def with_key(self) -> DecisionCommand:
        """This command with an idempotency key (a new one if it had none), ready to be retried."""
        return self if self.idempotency_key else replace(self, idempotency_key=str(uuid.uuid4()))


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


def _find_by_idempotency_key(session: Session, account_id: int, key: str) -> DocumentVerification | None:
    return session.scalars(
        select(DocumentVerification).where(
            DocumentVerification.account_id == account_id, DocumentVerification.idempotency_key == key
        )
    ).first()


def _duplicate(
    session: Session, earlier: DocumentVerification, enrollment: CohortEnrollment, cmd: DecisionCommand
) -> DecisionResult:
    """The result of a retry whose first attempt was recorded: that decision, nothing new."""
    if (
        earlier.cohort_enrollment_id != cmd.enrollment_id
        or earlier.document_type != canonical_document_type(cmd.document_type.strip())
        or earlier.action != cmd.action
    ):
        raise ValidationError(
            "idempotency_key", "was already used for a different decision; a new decision needs a new key"
        )
    claim = cmd.claim
    if claim is not None:
        # The claim as the first attempt left it, if it is still in the row.
        claim = (
            replace(claim, row_version=enrollment.row_version, expires_at=enrollment.claim_expires_at)
            if enrollment.claim_token == claim.token and enrollment.claim_expires_at is not None
            else None
        )
    return DecisionResult(
        verification=verification_row(earlier, _user_name(session, earlier.admin_id)),
        enrollment=enrollment_row(enrollment),
        changes=Changes(),
        duplicate=True,
        claim=claim,
    )


def _officer_name() -> Any:
    """SQL for a user's display name: first and last name, else the e-mail address."""
    full = func.trim(func.coalesce(User.first_name, "") + " " + func.coalesce(User.last_name, ""))
    return func.coalesce(func.nullif(full, ""), User.email)


def _user_name(session: Session, user_id: int) -> str:
    name = session.scalar(select(_officer_name()).where(User.id == user_id))
    return name or f"user {user_id}"


def record_decision(db: Database, cmd: DecisionCommand) -> DecisionResult:
    """Record one decision on one document, exactly once per idempotency key.

    With ``cmd.claim`` the write is conditional on that claim's token and unexpired lease and on the
    pack's ``row_version``; otherwise it is refused while somebody else's lease runs. Either way a
    refusal is a ``ClaimConflict`` / ``ConflictError`` saying what changed and by whom, and nothing
    is written.
    """
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
    if cmd.idempotency_key is not None and not 0 < len(cmd.idempotency_key) <= 64:
        raise ValidationError("idempotency_key", "must be 1 to 64 characters")
    try:
        return _record(db, cmd, action, reason, document_type)
    except IntegrityError as exc:
        # Two attempts with one key raced past the lookup (only possible without the row lock, e.g.
        # on SQLite): the unique index let exactly one in. Answer with that one.
        if cmd.idempotency_key and "idempotency_key" in str(exc.orig):
            with db.session() as s:
                enrollment = s.get(CohortEnrollment, cmd.enrollment_id)
                earlier = enrollment and _find_by_idempotency_key(
                    s, enrollment.account_id, cmd.idempotency_key
                )
                if enrollment is not None and earlier is not None:
                    return _duplicate(s, earlier, enrollment, cmd)
        raise


def _record(
    db: Database, cmd: DecisionCommand, action: VerificationAction, reason: str | None, document_type: str
) -> DecisionResult:
    with db.session() as s:
        # One round trip reads (and on PostgreSQL locks) the enrollment with its cohort, the officer's
        # name and the database's clock.
        officer = select(_officer_name()).where(User.id == cmd.actor_user_id).scalar_subquery()
        stmt = (
            select(CohortEnrollment, Cohort, officer, *claims.clock_columns(s))
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
            .where(CohortEnrollment.id == cmd.enrollment_id)
        )
        if db.dialect == "postgresql":
            stmt = stmt.with_for_update(of=CohortEnrollment)  # not the cohort: officers share it
        found = s.execute(stmt).first()
        if found is None:
            raise NotFoundError(f"There is no enrollment with id {cmd.enrollment_id}.")
        enrollment, cohort, officer_name = found[:3]
        # The key comes first: a retry of a decision that did commit finds it even though the
        # commit moved row_version and may have released the claim. It is its own statement, read
        # after the lock is held: a subquery above would see the snapshot from before the wait.
        if cmd.idempotency_key:
            earlier = _find_by_idempotency_key(s, enrollment.account_id, cmd.idempotency_key)
            if earlier is not None:
                return _duplicate(s, earlier, enrollment, cmd)
        now, login = claims.clock_of(found[3:])
        if cmd.claim is not None:
            claims.check_claim(s, enrollment, cmd.claim, now, login)
        else:
            claims.check_not_held_by_other(s, enrollment, cmd.actor_user_id, now, login)
        if cmd.expected_row_version is not None and enrollment.row_version != cmd.expected_row_version:
            raise ConflictError(
                "This enrollment changed since you opened it (someone else recorded a decision or edited it). "
                "Reload it to see what changed; your reason has been kept."
            )
        uploaded = enrollment.uploaded_documents or {}
        required = required_documents(cohort, uploaded)
        if document_type not in uploaded and document_type not in required:
            raise ValidationError("document_type", f"{document_type!r} is neither uploaded nor required here")
        metadata = dict(cmd.metadata)
        metadata.pop("idempotency_key", None)
        if cmd.reason_code:
            metadata["reason_code"] = cmd.reason_code
        if document_type in uploaded:
            metadata.setdefault("checksum", uploaded[document_type].get("checksum"))
            metadata.setdefault("storage_key", uploaded[document_type].get("storage_key"))
        verification = DocumentVerification(
            account_id=enrollment.account_id,
            cohort_enrollment_id=enrollment.id,
            admin_id=cmd.actor_user_id,
            document_type=document_type,
            action=action.value,
            reason=reason,
            verification_metadata=metadata,
            idempotency_key=cmd.idempotency_key,
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
        claim_after: Claim | None = None
        if cmd.claim is not None and cmd.release_claim:
            enrollment.claimed_by = None
            enrollment.claimed_by_user_id = None
            enrollment.claim_token = None
            enrollment.claim_expires_at = None
        elif cmd.claim is not None:
            # Working on the pack is a sign of life: the lease runs a full length from now.
            enrollment.claim_expires_at = now + timedelta(seconds=cmd.claim.lease_seconds)
        s.flush()
        if cmd.claim is not None and not cmd.release_claim:
            claim_after = replace(
                cmd.claim, row_version=enrollment.row_version, expires_at=enrollment.claim_expires_at
            )
        return DecisionResult(
            verification=verification_row(verification, officer_name or f"user {cmd.actor_user_id}"),
            enrollment=enrollment_row(enrollment),
            changes=Changes(
                cohort_ids=frozenset({enrollment.cohort_id}),
                enrollment_ids=frozenset({enrollment.id}),
                counts=True,
            ),
            claim=claim_after,
        )


def history(db: Database, enrollment_id: int) -> list[VerificationRow]:
    """Every decision on an enrollment, newest first, with the officer's name."""
    with db.read_session() as s:
        rows = s.execute(
            select(DocumentVerification, _officer_name())
            .join(User, User.id == DocumentVerification.admin_id)
            .where(DocumentVerification.cohort_enrollment_id == enrollment_id)
            .order_by(DocumentVerification.created_at.desc(), DocumentVerification.id.desc())
        ).all()
        return [verification_row(v, admin_name) for v, admin_name in rows]

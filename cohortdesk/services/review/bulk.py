"""Bulk decisions: approve (or reject with one reason) the documents of several enrollments at once.

There is no second way to record a decision here. ``run`` takes each enrollment under its own review
claim (``claims.claim``: refused while another officer holds it, so a bulk action never touches what
someone else is reviewing), decides each of its documents through the one decision path
(``verification.record_decision`` with that claim and an idempotency key), and gives the claim back
with the last decision. ``plan`` says beforehand exactly what would change, and ``run``'s result says
what was done and what was skipped and why, enrollment by enrollment.

Which documents: *approve* takes every uploaded document still to check (never decided, or uploaded
again after its last decision); *reject* takes the named document types among those still to check,
all with one reason (sent to each learner) and one internal note.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from cohortdesk.db import Database
from cohortdesk.errors import ClaimConflict, CohortDeskError, NotFoundError, PermissionDenied, ValidationError
from cohortdesk.models import Cohort, CohortEnrollment
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.configuration.rejection_reasons import RejectionReason, rejection_reasons
from cohortdesk.services.review import claims, queue
from cohortdesk.services.review.decisions import DecisionCommand, record_decision
from cohortdesk.services.rows import Claim
from cohortdesk.services.validation import canonical_document_type, document_label

ACTIONS = {"approved": "Approve", "rejected": "Reject"}


@dataclass(frozen=True)
class BulkRequest:
    enrollment_ids: tuple[int, ...]
    action: str  # "approved" or "rejected"
    #: Reject: which document types (required). Approve: ``None`` means every document still to check.
    document_types: tuple[str, ...] | None = None
    reason: str | None = None
    reason_code: str | None = None
    internal_note: str | None = None


@dataclass(frozen=True)
class BulkItem:
    enrollment_id: int
    student_name: str
    cohort_name: str
    documents: tuple[str, ...] = ()  # what is (or would be) decided
    skipped: str | None = None  # why nothing was done, in words

    @property
    def document_labels(self) -> str:
        return ", ".join(document_label(d) for d in self.documents)


@dataclass
class BulkOutcome:
    request: BulkRequest
    items: list[BulkItem] = field(default_factory=list)

    @property
    def done(self) -> list[BulkItem]:
        return [i for i in self.items if i.skipped is None and i.documents]

    @property
    def skipped(self) -> list[BulkItem]:
        return [i for i in self.items if i.skipped is not None]

    @property
    def document_count(self) -> int:
        return sum(len(i.documents) for i in self.done)

    def summary(self, *, planned: bool = False) -> str:
        verb = ACTIONS[self.request.action].lower()
        done, skipped = self.done, self.skipped
        if planned:
            head = (
                f"This will {verb} {self.document_count} document(s) of {len(done)} learner(s)"
                + (f" with the reason “{self.request.reason}”" if self.request.action == "rejected" else "")
                + "."
            )
        else:
            past = "approved" if self.request.action == "approved" else "rejected"
            head = f"{self.document_count} document(s) of {len(done)} learner(s) {past}."
        if skipped:
            head += f" {len(skipped)} skipped."
        return head


def _check(identity: Identity, request: BulkRequest) -> None:
    if not identity.can("decide"):
        raise PermissionDenied("Your role cannot record verification decisions.")
    if request.action not in ACTIONS:
        raise ValidationError("action", "must be approve or reject")
    if request.action == "rejected":
        if not (request.reason or "").strip():
            raise ValidationError("reason", "a reason is required to reject; the learners read it")
        if not request.document_types:
            raise ValidationError("document", "choose which document to reject")
    if not request.enrollment_ids:
        raise ValidationError("selection", "select at least one enrollment")


def _to_check(documents: Sequence[queue.DocumentRow], request: BulkRequest) -> tuple[str, ...]:
    wanted = set(request.document_types) if request.document_types else None
    return tuple(
        d.document_type
        for d in documents
        if d.uploaded
        and (d.latest_action is None or not d.decision_current)
        and (wanted is None or d.document_type in wanted)
    )


def _nothing(request: BulkRequest) -> str:
    if request.document_types:
        names = ", ".join(document_label(d) for d in request.document_types)
        return f"Nothing to {ACTIONS[request.action].lower()}: {names} is not uploaded or already decided."
    return "Nothing to approve: no uploaded document is waiting for a check."


def plan(db: Database, identity: Identity, request: BulkRequest) -> BulkOutcome:
    """What ``run`` would do now: per enrollment, the documents it would decide or why it would skip."""
    _check(identity, request)
    outcome = BulkOutcome(request)
    rows = {r.enrollment_id: r for r in queue.queue_rows(db, list(request.enrollment_ids))}
    held = claims.active_claims(db, identity, list(request.enrollment_ids))
    for enrollment_id in request.enrollment_ids:
        row = rows.get(enrollment_id)
        if row is None:
            outcome.items.append(BulkItem(enrollment_id, "?", "?", skipped="There is no such enrollment."))
            continue
        holder = held.get(enrollment_id)
        documents = _to_check(queue.documents(db, enrollment_id), request)
        skipped = None
        if holder is not None and not holder.mine:
            skipped = f"{holder.name} is reviewing it."
        elif not documents:
            skipped = _nothing(request)
        outcome.items.append(BulkItem(enrollment_id, row.student_name, row.cohort_name, documents, skipped))
    return outcome


def run(
    db: Database,
    identity: Identity,
    request: BulkRequest,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> BulkOutcome:
    """Decide enrollment by enrollment, each under its own claim; never waits for or takes another
    officer's claim. Returns what was done and what was skipped, and why."""
    _check(identity, request)
    outcome = BulkOutcome(request)
    names = {r.enrollment_id: r for r in queue.queue_rows(db, list(request.enrollment_ids))}
    total = len(request.enrollment_ids)
    for n, enrollment_id in enumerate(request.enrollment_ids, start=1):
        row = names.get(enrollment_id)
        student, cohort = (row.student_name, row.cohort_name) if row else ("?", "?")
        if cancelled is not None and cancelled():
            outcome.items.append(BulkItem(enrollment_id, student, cohort, skipped="Stopped before this one."))
            continue
        outcome.items.append(_one(db, identity, request, enrollment_id, student, cohort))
        if progress is not None:
            progress(n, total)
    return outcome


def _one(
    db: Database, identity: Identity, request: BulkRequest, enrollment_id: int, student: str, cohort: str
) -> BulkItem:
    try:
        claim: Claim | None = claims.claim(db, identity, enrollment_id)
    except ClaimConflict as refused:
        why = f"{refused.holder} is reviewing it." if getattr(refused, "holder", None) else str(refused)
        return BulkItem(enrollment_id, student, cohort, skipped=why)
    except NotFoundError:
        return BulkItem(enrollment_id, student, cohort, skipped="There is no such enrollment.")
    decided: list[str] = []
    try:
        documents = _to_check(queue.documents(db, enrollment_id), request)
        if not documents:
            return BulkItem(enrollment_id, student, cohort, skipped=_nothing(request))
        for i, document in enumerate(documents):
            last = i == len(documents) - 1
            result = record_decision(
                db,
                DecisionCommand(
                    enrollment_id=enrollment_id,
                    document_type=document,
                    action=request.action,
                    reason=request.reason if request.action == "rejected" else None,
                    reason_code=request.reason_code,
                    internal_note=request.internal_note or None,
                    idempotency_key=str(uuid.uuid4()),
                    metadata={"bulk": True},
                    claim=claim,
                    release_claim=last,
                ),
                identity,
            )
            claim = result.claim
            decided.append(document)
        return BulkItem(enrollment_id, student, cohort, tuple(decided))
    except CohortDeskError as stopped:
        done = f" ({', '.join(document_label(d) for d in decided)} decided first)" if decided else ""
        return BulkItem(enrollment_id, student, cohort, tuple(decided), skipped=f"{stopped}{done}")
    finally:
        if claim is not None:
            claims.release(db, claim)


@dataclass(frozen=True)
class BulkChoices:
    """What the bulk dialog offers for a selection: its documents (required by the selected learners'
    cohorts, or uploaded by them) and the institution's canned rejection reasons."""

    enrollment_ids: tuple[int, ...]
    documents: tuple[tuple[str, str], ...]  # (document type, label)
    reasons: tuple[RejectionReason, ...]
    institution_id: int | None


def choices(db: Database, enrollment_ids: Sequence[int]) -> BulkChoices:
    with db.read_session() as s:
        found = s.execute(
            select(Cohort.institution_id, Cohort.required_document_types, CohortEnrollment.uploaded_documents)
            .join(CohortEnrollment, CohortEnrollment.cohort_id == Cohort.id)
            .where(CohortEnrollment.id.in_(list(enrollment_ids)))
        ).all()
    documents: dict[str, None] = {}
    for _institution, required, _uploaded in found:
        documents.update(dict.fromkeys(canonical_document_type(d) for d in required or []))
    for _institution, _required, uploaded in found:
        documents.update(dict.fromkeys(sorted(canonical_document_type(d) for d in uploaded or {})))
    institutions = {institution for institution, _r, _u in found}
    institution_id = next(iter(institutions)) if len(institutions) == 1 else None
    return BulkChoices(
        tuple(enrollment_ids),
        tuple((d, document_label(d)) for d in documents),
        tuple(rejection_reasons(db, institution_id)),
        institution_id,
    )

"""The cohort dashboard of an institution: how many learners, how far they got, and where they are stuck.

``institution_dashboard(db, institution_id, cohort_id=None)`` reads once (through row-level security
on PostgreSQL: a login sees only its own institution) and returns a frozen ``Dashboard``:

* **Totals**: every live enrollment of the institution (or of one cohort); **completed** means the
  learner's part is complete *and* every document is verified (a complete enrollment with a rejected
  document needs a re-upload and is not completed); **active** means in an active cohort and not yet
  completed; **awaiting sponsor** counts active learners who signed the main agreement in DocuSeal
  while the cohort's sponsor has not yet (whatever else they still wait for).
* **Average completion time**: from enrolling to the later of the agreement's completion and the last
  decision, over the completed enrollments.
* **Stages**: each active enrollment counted once, at the first thing it waits for (a re-upload,
  missing uploads, an officer's check, the learner's signature, the sponsor's, the institution's).
* **Stuck documents**: per document type, how many active learners have not uploaded it, uploaded one
  that was rejected and not replaced, or wait for an officer to check it, and for how long (median and
  longest, in days).

The work is one pass over the rows in Python (the per-document state lives in JSON that the two
backends query differently); it runs on the background runner, never on the GUI thread.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from cohortdesk.db import Database
from cohortdesk.errors import NotFoundError
from cohortdesk.models import Cohort, CohortEnrollment, DocumentVerification, Institution, Sponsor, User
from cohortdesk.models.docuseal import Submission, Submitter
from cohortdesk.services.validation import canonical_document_type, document_label

#: Stages of an active enrollment, in the order they are tested (the first match counts).
STAGES: tuple[tuple[str, str], ...] = (
    ("reupload", "Needs a re-upload"),
    ("uploads", "Missing uploads"),
    ("check", "Waiting for a check"),
    ("learner_signature", "Awaiting the learner's signature"),
    ("sponsor", "Awaiting the sponsor"),
    ("institution", "Awaiting the institution"),
)
STAGE_LABELS = dict(STAGES)
DAY = 86400.0


@dataclass(frozen=True)
class Waiting:
    """How many learners wait at one step, and for how long (days)."""

    count: int = 0
    median_days: float | None = None
    longest_days: float | None = None

    @staticmethod
    def of(days: Sequence[float]) -> Waiting:
        if not days:
            return Waiting()
        return Waiting(len(days), statistics.median(days), max(days))


@dataclass(frozen=True)
class StuckDocument:
    document_type: str
    label: str
    missing: Waiting
    rejected: Waiting
    to_check: Waiting

    @property
    def total(self) -> int:
        return self.missing.count + self.rejected.count + self.to_check.count


@dataclass(frozen=True)
class StageCount:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class CohortChoice:
    id: int
    name: str
    state: str


@dataclass(frozen=True)
class Dashboard:
    institution_id: int
    institution_name: str
    cohort_id: int | None
    scope_name: str  # the cohort's name, or "All cohorts"
    cohorts: tuple[CohortChoice, ...]  # every cohort of the institution (the scope chooser)
    as_of: datetime
    total: int
    active: int
    completed: int
    awaiting_sponsor: Waiting
    average_completion_days: float | None
    completion_sample: int  # completed enrollments the average is taken over
    stages: tuple[StageCount, ...]
    stuck: tuple[StuckDocument, ...]  # most stuck learners first; documents nobody is stuck on left out
    #: Active learners still missing a required upload: (enrollment id, learner name), longest first.
    missing_uploads: tuple[tuple[int, str], ...] = ()

    @property
    def not_started(self) -> int:
        """Enrollments neither active nor completed (draft, finished or cancelled cohorts)."""
        return self.total - self.active - self.completed


@dataclass
class _Enrollment:
    id: int
    cohort_id: int
    cohort_active: bool
    state: str
    verification: str
    created_at: datetime
    pending_since: datetime | None
    uploaded: dict[str, Any]
    required: list[str]
    submission_id: int | None
    learner_email: str
    sponsor_email: str
    learner_name: str = ""


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, str) and value:
        try:
            return _aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _days(since: datetime | None, now: datetime) -> float | None:
    return None if since is None else max(0.0, (now - since).total_seconds() / DAY)


def institution_dashboard(
    db: Database, institution_id: int, cohort_id: int | None = None, now: datetime | None = None
) -> Dashboard:
    """The dashboard of one institution, or of one of its cohorts."""
    with db.read_session() as s:
        institution = s.execute(
            select(Institution.id, Institution.name).where(
                Institution.id == institution_id, Institution.deleted_at.is_(None)
            )
        ).first()
        if institution is None:
            raise NotFoundError(f"There is no institution with id {institution_id}, or you may not see it.")
        now = now or datetime.now(UTC)
        cohorts = s.execute(
            select(Cohort.id, Cohort.name, Cohort.state, Cohort.sponsor_email, Sponsor.contact_email)
            .outerjoin(Sponsor, Sponsor.id == Cohort.sponsor_id)
            .where(Cohort.institution_id == institution_id, Cohort.deleted_at.is_(None))
            .order_by(Cohort.name, Cohort.id)
        ).all()
        choices = tuple(CohortChoice(c.id, c.name, c.state) for c in cohorts)
        chosen = [c for c in cohorts if cohort_id is None or c.id == cohort_id]
        if cohort_id is not None and not chosen:
            raise NotFoundError(f"There is no cohort with id {cohort_id} in {institution.name}.")
        by_cohort = {c.id: c for c in chosen}
        rows = s.execute(
            select(
                CohortEnrollment.id,
                CohortEnrollment.cohort_id,
                CohortEnrollment.state,
                CohortEnrollment.document_verification_state,
                CohortEnrollment.created_at,
                CohortEnrollment.pending_since,
                CohortEnrollment.uploaded_documents,
                CohortEnrollment.submission_id,
                Cohort.required_document_types,
                User.email,
                User.first_name,
                User.last_name,
            )
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
            .outerjoin(User, User.id == CohortEnrollment.user_id)
            .where(
                CohortEnrollment.deleted_at.is_(None),
                CohortEnrollment.cohort_id.in_(list(by_cohort) or [-1]),
            )
        ).all()
        enrollments = [
            _Enrollment(
                id=r.id,
                cohort_id=r.cohort_id,
                cohort_active=by_cohort[r.cohort_id].state == "active",
                state=r.state,
                verification=r.document_verification_state,
                created_at=_aware(r.created_at) or now,
                pending_since=_aware(r.pending_since),
                uploaded={canonical_document_type(k): v for k, v in (r.uploaded_documents or {}).items()},
                required=[canonical_document_type(d) for d in (r.required_document_types or [])],
                submission_id=r.submission_id,
                learner_email=(r.email or "").strip().lower(),
                sponsor_email=(
                    by_cohort[r.cohort_id].sponsor_email or by_cohort[r.cohort_id].contact_email or ""
                )
                .strip()
                .lower(),
                learner_name=" ".join(p for p in (r.first_name, r.last_name) if p) or (r.email or "?"),
            )
            for r in rows
        ]
        decisions = _latest_decisions(s, [e.id for e in enrollments])
        signatures = _signatures(s, [e.submission_id for e in enrollments if e.submission_id is not None])
    return _build(
        institution_id,
        institution.name,
        cohort_id,
        by_cohort[cohort_id].name if cohort_id is not None else "All cohorts",
        choices,
        now,
        enrollments,
        decisions,
        signatures,
    )


@dataclass(frozen=True)
class _Decision:
    action: str
    at: datetime
    checksum: str | None


def _latest_decisions(session: Any, enrollment_ids: list[int]) -> dict[int, dict[str, _Decision]]:
    latest: dict[int, dict[str, _Decision]] = defaultdict(dict)
    for start in range(0, len(enrollment_ids), 5000):
        chunk = enrollment_ids[start : start + 5000]
        found = session.execute(
            select(
                DocumentVerification.cohort_enrollment_id,
                DocumentVerification.document_type,
                DocumentVerification.action,
                DocumentVerification.created_at,
                DocumentVerification.verification_metadata,
            )
            .where(DocumentVerification.cohort_enrollment_id.in_(chunk))
            .order_by(DocumentVerification.id)
        )
        for enrollment_id, document_type, action, created_at, metadata in found:
            latest[enrollment_id][canonical_document_type(document_type)] = _Decision(
                action, _aware(created_at) or datetime.now(UTC), (metadata or {}).get("checksum")
            )
    return latest


@dataclass(frozen=True)
class _Signatures:
    completed_at: datetime | None
    by_email: dict[str, datetime | None]  # submitter e-mail → when they signed (None: not yet)


def _signatures(session: Any, submission_ids: list[int]) -> dict[int, _Signatures]:
    done: dict[int, datetime | None] = {}
    parties: dict[int, dict[str, datetime | None]] = defaultdict(dict)
    for start in range(0, len(submission_ids), 5000):
        chunk = submission_ids[start : start + 5000]
        for sid, completed in session.execute(
            select(Submission.id, Submission.completed_at).where(Submission.id.in_(chunk))
        ):
            done[sid] = _aware(completed)
        for sid, email, completed in session.execute(
            select(Submitter.submission_id, Submitter.email, Submitter.completed_at).where(
                Submitter.submission_id.in_(chunk)
            )
        ):
            parties[sid][(email or "").strip().lower()] = _aware(completed)
    return {sid: _Signatures(done.get(sid), parties.get(sid, {})) for sid in done}


def _build(
    institution_id: int,
    institution_name: str,
    cohort_id: int | None,
    scope_name: str,
    choices: tuple[CohortChoice, ...],
    now: datetime,
    enrollments: Iterable[_Enrollment],
    decisions: dict[int, dict[str, _Decision]],
    signatures: dict[int, _Signatures],
) -> Dashboard:
    total = active = completed = 0
    completion_days: list[float] = []
    sponsor_days: list[float] = []
    stages: dict[str, int] = dict.fromkeys(STAGE_LABELS, 0)
    missing: dict[str, list[float]] = defaultdict(list)
    rejected: dict[str, list[float]] = defaultdict(list)
    to_check: dict[str, list[float]] = defaultdict(list)
    order: dict[str, int] = {}
    waiting_uploads: list[tuple[datetime, int, str]] = []
    for e in enrollments:
        total += 1
        signed = signatures.get(e.submission_id) if e.submission_id is not None else None
        learner_signed = signed.by_email.get(e.learner_email) if signed else None
        sponsor_pending = bool(
            signed
            and signed.completed_at is None
            and learner_signed is not None
            and e.sponsor_email in signed.by_email
            and signed.by_email[e.sponsor_email] is None
        )
        latest = decisions.get(e.id, {})
        if e.state == "complete" and e.verification == "verified":
            completed += 1
            finished = max(
                [d.at for d in latest.values()]
                + ([signed.completed_at] if signed and signed.completed_at else [])
                or [e.created_at]
            )
            completion_days.append(max(0.0, (finished - e.created_at).total_seconds() / DAY))
            continue
        if not e.cohort_active:
            continue
        active += 1
        if sponsor_pending:
            sponsor_days.append(_days(learner_signed, now) or 0.0)
        documents = list(dict.fromkeys([*e.required, *sorted(e.uploaded)]))
        waits = {"reupload": False, "uploads": False, "check": False}
        for document in documents:
            order.setdefault(document, len(order))
            upload = e.uploaded.get(document)
            decision = latest.get(document)
            if not upload:
                if document in e.required:
                    missing[document].append(_days(e.created_at, now) or 0.0)
                    waits["uploads"] = True
                continue
            current = decision is not None and (
                decision.checksum is None or decision.checksum == (upload or {}).get("checksum")
            )
            if decision is not None and current and decision.action == "rejected":
                rejected[document].append(_days(decision.at, now) or 0.0)
                waits["reupload"] = True
            elif decision is None or not current:
                since = _parse((upload or {}).get("uploaded_at")) or e.pending_since or e.created_at
                to_check[document].append(_days(since, now) or 0.0)
                waits["check"] = True
        if waits["uploads"]:
            waiting_uploads.append((e.created_at, e.id, e.learner_name))
        if waits["reupload"]:
            stages["reupload"] += 1
        elif waits["uploads"]:
            stages["uploads"] += 1
        elif waits["check"]:
            stages["check"] += 1
        elif signed is None or learner_signed is None:
            stages["learner_signature"] += 1
        elif sponsor_pending:
            stages["sponsor"] += 1
        else:
            stages["institution"] += 1
    stuck = [
        StuckDocument(
            document,
            document_label(document),
            Waiting.of(missing.get(document, [])),
            Waiting.of(rejected.get(document, [])),
            Waiting.of(to_check.get(document, [])),
        )
        for document in order
    ]
    stuck = sorted((d for d in stuck if d.total), key=lambda d: (-d.total, order[d.document_type]))
    return Dashboard(
        institution_id=institution_id,
        institution_name=institution_name,
        cohort_id=cohort_id,
        scope_name=scope_name,
        cohorts=choices,
        as_of=now,
        total=total,
        active=active,
        completed=completed,
        awaiting_sponsor=Waiting.of(sponsor_days),
        average_completion_days=statistics.fmean(completion_days) if completion_days else None,
        completion_sample=len(completion_days),
        stages=tuple(StageCount(key, label, stages[key]) for key, label in STAGES),
        stuck=tuple(stuck),
        missing_uploads=tuple((i, name) for _at, i, name in sorted(waiting_uploads)),
    )

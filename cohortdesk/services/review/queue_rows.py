"""The workstation's plain rows: what the queue, the cohort tree and the detail panes read, as frozen
values, in a module that imports no database code (the window is built and its first queue page
painted before SQLAlchemy loads; ``services.review.queue`` fills these from the database).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from cohortdesk.enums import VerificationState
from cohortdesk.services.rows import DecisionResult, VerificationRow
from cohortdesk.services.validation import IdNumberFacts

DEFAULT_PAGE_SIZE = 200


@dataclass(frozen=True)
class CohortCounts:
    enrolled: int = 0
    pending: int = 0
    verified: int = 0
    rejected: int = 0
    #: Pending with at least one uploaded document awaiting a decision (the default queue's rows).
    to_decide: int = 0

    def __add__(self, other: CohortCounts) -> CohortCounts:
        return CohortCounts(
            self.enrolled + other.enrolled,
            self.pending + other.pending,
            self.verified + other.verified,
            self.rejected + other.rejected,
            self.to_decide + other.to_decide,
        )


@dataclass(frozen=True)
class CohortNode:
    id: int
    institution_id: int
    name: str
    state: str
    program_type: str
    expected: int  # cohorts.student_count
    counts: CohortCounts
    row_version: int


@dataclass(frozen=True)
class InstitutionNode:
    id: int
    name: str
    cohorts: tuple[CohortNode, ...]

    @property
    def counts(self) -> CohortCounts:
        return sum((c.counts for c in self.cohorts), start=CohortCounts())


@dataclass(frozen=True)
class QueueFilter:
    """Which enrollments the queue shows. ``None`` means "any"; ``search`` matches every word."""

    verification_state: str | None = VerificationState.PENDING.value
    enrollment_state: str | None = None
    program_type: str | None = None
    cohort_id: int | None = None
    institution_id: int | None = None
    account_id: int | None = None
    search: str = ""
    #: True: only enrollments with at least one uploaded document awaiting a decision ("To decide");
    #: False: only those with none (waiting for the learner's uploads); None: either.
    decidable: bool | None = None
    #: Only these enrollments (e.g. those whose documents' pre-check gave one result); None: any.
    enrollment_ids: tuple[int, ...] | None = None

    def matches(self, row: QueueRow) -> bool:
        """Whether ``row`` (e.g. updated after a decision) still belongs in this queue (no search check)."""
        return (
            (self.verification_state is None or row.verification_state == self.verification_state)
            and (self.decidable is None or (row.documents_awaiting > 0) == self.decidable)
            and (self.enrollment_state is None or row.enrollment_state == self.enrollment_state)
            and (self.program_type is None or row.program_type == self.program_type)
            and (self.cohort_id is None or row.cohort_id == self.cohort_id)
            and (self.institution_id is None or row.institution_id == self.institution_id)
            and (self.enrollment_ids is None or row.enrollment_id in self.enrollment_ids)
        )


#: Sort keys the queue understands (one per visible column).
SORT_KEYS = (
    "student",
    "email",
    "cohort",
    "program_type",
    "enrollment_state",
    "verification_state",
    "documents",
    "waiting_since",
)


@dataclass(frozen=True)
class QueueSort:
    key: str = "waiting_since"
    descending: bool = False


@dataclass(frozen=True)
class QueueRow:
    enrollment_id: int
    cohort_id: int
    institution_id: int
    user_id: int
    student_name: str
    email: str
    cohort_name: str
    program_type: str
    enrollment_state: str
    verification_state: str
    documents_uploaded: int
    documents_required: int
    waiting_since: datetime | None
    row_version: int
    # Who holds the pack for review (``services.review.claims``); the lease may have lapsed: see ``holder_at``.
    claimed_by_user_id: int | None = None
    claim_holder: str | None = None
    claim_expires_at: datetime | None = None
    #: Back in the queue after a rejection (the learner uploaded again): shown as a re-submission.
    resubmitted: bool = False
    #: Required document types uploaded (of ``documents_required``); the rest of the uploads are extras.
    documents_required_uploaded: int = 0
    #: Uploaded documents with no decision on the file as it is now (what an officer can decide).
    documents_awaiting: int = 0

    @property
    def documents_extra(self) -> int:
        """Uploads beyond the required document types (optional documents)."""
        return max(self.documents_uploaded - self.documents_required_uploaded, 0)

    def holder_at(self, moment: datetime) -> str | None:
        """The name of whoever holds a running review lease at ``moment`` (``None``: nobody)."""
        if self.claim_expires_at is None or self.claim_expires_at <= moment:
            return None
        return self.claim_holder or "someone"


@dataclass(frozen=True)
class QueuePage:
    rows: tuple[QueueRow, ...]
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        """True when the page came back full, so another page may follow."""
        return len(self.rows) >= self.limit


@dataclass(frozen=True)
class SensitiveValue:
    """A special-PI value as a screen may show it: ``display`` is the real text only when not masked."""

    field: str
    display: str
    masked: bool


@dataclass(frozen=True, kw_only=True)
class IdCheck(IdNumberFacts):
    """What the SA ID number encodes, as the review screens show it: ``number`` is masked without the
    special-PI capability."""

    number: SensitiveValue

    @classmethod
    def of(cls, facts: IdNumberFacts, number: SensitiveValue) -> IdCheck:
        return cls(number=number, **{f.name: getattr(facts, f.name) for f in fields(IdNumberFacts)})


@dataclass(frozen=True)
class Mismatch:
    """Captured data that disagrees with what the SA ID number encodes."""

    field: str  # "date_of_birth", "age", "gender"
    captured: str
    from_id: str
    message: str


@dataclass(frozen=True)
class StudentDetails:
    enrollment_id: int
    cohort_id: int
    institution_id: int
    student_name: str
    email: str
    phone: str | None
    city: str | None
    province: str | None
    date_of_birth: str | None  # as captured, YYYY-MM-DD
    age: int | None
    gender: str | None  # label: Male / Female
    race: SensitiveValue
    disability: SensitiveValue
    id_check: IdCheck | None  # None when no SA ID number was captured
    alternate_id: SensitiveValue | None
    mismatches: tuple[Mismatch, ...]
    special_pi_masked: bool  # True when any special-PI value above is masked
    enrollment_state: str
    verification_state: str
    rejection_reason: str | None
    captured_at: datetime
    row_version: int
    can_reveal: bool = False  # the identity may reveal the masked values (privacy.reveal_details, logged)

    @property
    def revealed(self) -> bool:
        """Special PI is on show here because of a logged reveal."""
        return self.can_reveal and not self.special_pi_masked and self.has_special_pi

    @property
    def has_special_pi(self) -> bool:
        values = (
            self.race,
            self.disability,
            self.id_check.number if self.id_check else None,
            self.alternate_id,
        )
        return any(v is not None and v.display for v in values)


MASK = "••••••"


def mask_id_number(number: str) -> str:
    """``8001015009087`` → ``800101*****87``: the date of birth stays readable, the rest does not."""
    number = number.strip()
    if len(number) <= 8:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 8) + number[-2:]


@dataclass(frozen=True)
class DocumentRow:
    """One document of an enrollment: uploaded, required, or both, with its latest decision."""

    enrollment_id: int
    document_type: str
    label: str
    required: bool
    uploaded: bool
    file_name: str | None
    content_type: str | None
    size: int | None
    uploaded_at: str | None
    latest_action: str | None  # "approved" / "rejected" / None (undecided)
    latest_reason: str | None
    latest_by: str | None
    latest_at: datetime | None
    #: False when the file was replaced after the latest decision (the decision is about an older file).
    decision_current: bool
    upload: dict[str, Any] = field(default_factory=dict)  # the raw entry, for DocumentStore.read

    @property
    def special_pi(self) -> bool:
        """Health information (``docs/domain.md`` §5): previews need the special-PI capability."""
        return self.document_type == "disability_proof"


@dataclass(frozen=True)
class EnrollmentDetail:
    student: StudentDetails
    documents: tuple[DocumentRow, ...]
    history: tuple[VerificationRow, ...]  # newest first


@dataclass(frozen=True)
class QueueDecision:
    """A recorded decision and everything the workstation redraws after it."""

    result: DecisionResult
    row: QueueRow
    counts: dict[int, CohortCounts]
    detail: EnrollmentDetail


def utc_moment(value: datetime | str | None) -> datetime | None:
    """A stored moment as an aware ``datetime``: SQLite gives naive UTC (as a ``datetime`` through
    SQLAlchemy, as ISO text through ``sqlite3``), PostgreSQL an aware one, kept as it is."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def row_from_columns(values: Sequence[Any]) -> QueueRow:
    """One queue row from the page query's columns, in their order (``queue._row_columns``, and its
    SQLite copy ``first_page.PAGE_SQL``)."""
    (
        eid,
        cohort_id,
        inst_id,
        user_id,
        name,
        email,
        cohort_name,
        program,
        state,
        vstate,
        up,
        req,
        since,
        version,
        holder_id,
        holder,
        expires,
        resubmitted,
        required_uploaded,
        awaiting,
    ) = values
    expires_at = utc_moment(expires)
    return QueueRow(
        enrollment_id=eid,
        cohort_id=cohort_id,
        institution_id=inst_id,
        user_id=user_id,
        student_name=name or email,
        email=email,
        cohort_name=cohort_name,
        program_type=program,
        enrollment_state=state,
        verification_state=vstate,
        documents_uploaded=int(up or 0),
        documents_required=int(req or 0),
        waiting_since=utc_moment(since),
        row_version=version,
        claimed_by_user_id=holder_id if expires_at is not None else None,
        claim_holder=holder if expires_at is not None else None,
        claim_expires_at=expires_at,
        resubmitted=bool(resubmitted),
        documents_required_uploaded=int(required_uploaded or 0),
        documents_awaiting=int(awaiting or 0),
    )

"""What the verification officer's workstation reads: the cohort tree with live counts, the enrollment
queue (filtered, searched, sorted and paged in SQL), one enrollment's student details with its SA ID
decoded and compared, and its documents. (The canned rejection reasons are configuration:
``services.configuration.rejection_reasons``.)

Everything here only reads and returns frozen rows. Special personal information (race, disability,
the full SA ID number) leaves this module masked; a masked value says so explicitly
(``SensitiveValue.masked``), and a holder of ``SPECIAL_PI`` sees it only through a logged reveal
(``privacy.reveal_details``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import cache, lru_cache, wraps
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Select,
    and_,
    any_,
    bindparam,
    case,
    cast,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session, aliased

from cohortdesk.db import Database
from cohortdesk.enums import VerificationState
from cohortdesk.errors import NotFoundError, PermissionDenied, ValidationError
from cohortdesk.models import Cohort, CohortEnrollment, DocumentVerification, Institution, User, not_undone
from cohortdesk.models.cohorts import AWAITING
from cohortdesk.services.access.identity import SPECIAL_PI, Identity
from cohortdesk.services.review.decisions import history
from cohortdesk.services.review.queue_rows import (
    DEFAULT_PAGE_SIZE,
    MASK,
    SORT_KEYS,
    CohortCounts,
    CohortNode,
    DocumentRow,
    EnrollmentDetail,
    IdCheck,
    InstitutionNode,
    Mismatch,
    QueueDecision,
    QueueFilter,
    QueuePage,
    QueueRow,
    QueueSort,
    SensitiveValue,
    StudentDetails,
    mask_id_number,
    row_from_columns,
)
from cohortdesk.services.rows import DecisionResult
from cohortdesk.services.validation import (
    DISABILITY_STATUSES,
    GENDERS,
    LEGACY_DOCUMENT_KEYS,
    POPULATION_GROUPS,
    PROVINCES,
    canonical_document_type,
    decode_masked_sa_id,
    decode_sa_id,
    document_label,
)

# --- the cohort tree ----------------------------------------------------------------------------


_COHORT_STATE_ORDER = {"active": 0, "draft": 1, "completed": 2, "cancelled": 3}


def cohort_counts(
    db: Database, cohort_ids: Sequence[int] | None = None, *, session: Session | None = None
) -> dict[int, CohortCounts]:
    """Enrolled / pending / verified / rejected / to decide per cohort, in one grouped query
    (``session``: in that one, as the live re-read does)."""
    if cohort_ids is None:
        stmt, params = _cohort_counts_statement(db.dialect), {}
    else:
        stmt, params = _cohort_counts_of(db.dialect), {"ids": [int(i) for i in cohort_ids]}
    with db.statement_reads(session) as s:
        return {
            cohort_id: CohortCounts(int(enrolled), int(pending), int(verified), int(rejected), int(deciding))
            for cohort_id, enrolled, pending, verified, rejected, deciding in s.execute(stmt, params)
        }


def _ids_in(column: Any, dialect: str) -> ColumnElement[bool]:
    """``column`` among the ``ids`` parameter, in one statement object for any number of ids, built
    once: SQLAlchemy computes a new statement's cache key by walking it (about a millisecond for the
    queue's row). On PostgreSQL one array parameter also keeps the statement's text the same (an IN
    list of each length was a new statement, planned on every read), so a connection prepares it."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=ARRAY(BigInteger)))
    return column.in_(bindparam("ids", expanding=True))


@cache
def _cohort_counts_of(dialect: str) -> Select[Any]:
    return _cohort_counts_statement(dialect).where(_ids_in(CohortEnrollment.cohort_id, dialect))


@cache
def _cohort_counts_statement(dialect: str) -> Select[Any]:
    """``cohort_counts``'s grouped query, built once per dialect (statements are immutable; building
    this one costs more Python time than running it on a small store)."""
    state = CohortEnrollment.document_verification_state

    def count_of(value: str) -> Any:
        return func.coalesce(func.sum(case((state == value, 1), else_=0)), 0)

    to_decide = case((and_(state == VerificationState.PENDING.value, _awaits_decision(dialect)), 1), else_=0)
    return (
        select(
            CohortEnrollment.cohort_id,
            func.count(),
            count_of(VerificationState.PENDING.value),
            count_of(VerificationState.VERIFIED.value),
            count_of(VerificationState.REJECTED.value),
            func.coalesce(func.sum(to_decide), 0),
        )
        .where(CohortEnrollment.deleted_at.is_(None))
        .group_by(CohortEnrollment.cohort_id)
    )


def cohort_tree(db: Database, account_id: int | None = None) -> list[InstitutionNode]:
    """Institutions (by name) and their cohorts (active first, then by name) with live counts."""
    stmt = (
        select(
            Institution.id,
            Institution.name,
            Cohort.id,
            Cohort.name,
            Cohort.state,
            Cohort.program_type,
            Cohort.student_count,
            Cohort.row_version,
        )
        .outerjoin(Cohort, and_(Cohort.institution_id == Institution.id, Cohort.deleted_at.is_(None)))
        .where(Institution.deleted_at.is_(None))
        .order_by(func.lower(Institution.name), Institution.id)
    )
    if account_id is not None:
        stmt = stmt.where(Institution.account_id == account_id)
    with db.read_session() as s:
        rows = s.execute(stmt).all()
    counts = cohort_counts(db) if rows else {}
    institutions: dict[int, tuple[str, list[CohortNode]]] = {}
    for inst_id, inst_name, cohort_id, name, state, program, expected, version in rows:
        _name, cohorts = institutions.setdefault(inst_id, (inst_name, []))
        if cohort_id is not None:
            cohorts.append(
                CohortNode(
                    id=cohort_id,
                    institution_id=inst_id,
                    name=name,
                    state=state,
                    program_type=program,
                    expected=expected,
                    counts=counts.get(cohort_id, CohortCounts()),
                    row_version=version,
                )
            )
    return [
        InstitutionNode(
            id=inst_id,
            name=inst_name,
            cohorts=tuple(
                sorted(cohorts, key=lambda c: (_COHORT_STATE_ORDER.get(c.state, 9), c.name.lower(), c.id))
            ),
        )
        for inst_id, (inst_name, cohorts) in institutions.items()
    ]


# --- the enrollment queue -----------------------------------------------------------------------


def _student_name(user: Any = User) -> ColumnElement[str]:
    first = func.coalesce(user.first_name, "")
    last = func.coalesce(user.last_name, "")
    return func.trim(first + " " + last)


def _student_columns() -> tuple[Any, Any]:
    """The student's name and email for a row already chosen, each looked up by primary key. Joined
    instead, PostgreSQL read every user of the account under row-level security (4,000 users: about
    1 ms of a two-row live re-read, growing with the institution), since a join cannot be pushed into
    the policy's subquery; a correlated lookup is one index probe per row. It finds what the join
    did: every enrollment has its student (``user_id`` is NOT NULL, a foreign key), a user of the
    enrollment's own account, whom the reader's policy shows with the enrollment."""
    student = aliased(User, name="student")

    def lookup(column: Any) -> Any:
        return select(column).where(student.id == CohortEnrollment.user_id).scalar_subquery()

    return lookup(_student_name(student)), lookup(student.email)


def _uploaded_count(dialect: str) -> Any:
    keys_fn = func.jsonb_object_keys if dialect == "postgresql" else func.json_each
    keys = keys_fn(CohortEnrollment.uploaded_documents).table_valued("key")
    return select(func.count()).select_from(keys).scalar_subquery()


def _required_count(dialect: str) -> Any:
    length = func.jsonb_array_length if dialect == "postgresql" else func.json_array_length
    return func.coalesce(length(Cohort.required_document_types), 0)


def _uploads(dialect: str) -> Any:
    """The enrollment's uploads as a table (key = document type as uploaded, value = the entry)."""
    each = func.jsonb_each if dialect == "postgresql" else func.json_each
    return each(CohortEnrollment.uploaded_documents).table_valued("key", "value").alias("upload")


def _canonical_key(key: Any) -> Any:
    """SQL twin of ``validation.canonical_document_type`` (legacy upload keys → today's types)."""
    return case(
        *((key == legacy, canonical) for legacy, canonical in LEGACY_DOCUMENT_KEYS.items()), else_=key
    )


def _json_text(dialect: str, document: Any, key: str) -> Any:
    if dialect == "postgresql":
        return document.op("->>")(key)
    return func.json_extract(document, f"$.{key}")


def _required_uploaded_count(dialect: str) -> Any:
    """How many of the cohort's required document types were uploaded."""
    upload = _uploads(dialect)
    elements = func.jsonb_array_elements_text if dialect == "postgresql" else func.json_each
    required = elements(Cohort.required_document_types).table_valued("value").alias("required_type")
    return (
        select(func.count())
        .select_from(upload)
        .where(_canonical_key(upload.c.key).in_(select(required.c.value)))
        .scalar_subquery()
    )


#: Where "how many of an enrollment's uploaded documents await a decision" comes from, per dialect. In
#: these the database keeps it per enrollment (``models.cohorts.AWAITING``, migration 0024: triggers
#: recount an enrollment whenever its uploads, decisions or undos change, whoever writes), and the cohort
#: counts, the "To decide" filter and the queue rows read it. Elsewhere (SQLite: one person's store, no
#: crowd of windows re-reading counts) ``live_awaiting_count`` evaluates the rule in the query, and
#: ``first_page`` copies that. Live, one count of a cohort of 4,000 pending enrollments re-read every
#: enrollment's uploads and latest decisions (60-100 ms, docs/deployment.md).
STORED_AWAITING = frozenset({"postgresql"})


@cache
def _awaiting_count(dialect: str) -> Any:
    """How many of the enrollment's uploaded documents await a decision (a queue row's column): the
    stored value or the live rule (``STORED_AWAITING``). Built once per dialect, like ``_row_columns``."""
    if dialect in STORED_AWAITING:
        return (
            select(AWAITING.c.documents)
            .where(AWAITING.c.enrollment_id == CohortEnrollment.id)
            .scalar_subquery()
        )
    return live_awaiting_count(dialect)


@cache
def _awaits_decision(dialect: str) -> ColumnElement[bool]:
    """True where at least one uploaded document awaits a decision (the "To decide" filter and count).
    Stored: membership in the enrollments whose value is above zero, which PostgreSQL joins (a filter)
    or hashes once (the counts' sum), where a lookup per enrollment cost twice as much."""
    if dialect in STORED_AWAITING:
        return CohortEnrollment.id.in_(select(AWAITING.c.enrollment_id).where(AWAITING.c.documents > 0))
    return live_awaiting_count(dialect) > 0


@cache
def live_awaiting_count(dialect: str) -> Any:
    """The rule: how many uploaded documents have no decision on the file as it is now: no decision yet
    (undos and the decisions they took back do not count, as in ``_documents``), or the latest was about
    an earlier file. On PostgreSQL the database keeps its value per enrollment (migration 0024 writes
    this rule in SQL; tests compare the two)."""
    upload = _uploads(dialect)
    doc_type = _canonical_key(upload.c.key)
    latest_id = (
        select(DocumentVerification.id)
        .where(
            DocumentVerification.cohort_enrollment_id == CohortEnrollment.id,
            DocumentVerification.document_type == doc_type,
            # Not a reversal (the CHECK constraint ties action and reverses_id). Said with the action:
            # "reverses_id IS NULL" led SQLite to walk that index over every decision, per upload.
            DocumentVerification.action.in_(("approved", "rejected")),
            not_undone(),
        )
        .order_by(DocumentVerification.created_at.desc(), DocumentVerification.id.desc())
        .limit(1)
        # Two levels down from the enrollment and its upload: SQL's automatic correlation reaches only
        # the SELECT just around this one, so without this the lookup ran over every enrollment.
        .correlate(CohortEnrollment, upload)
        .scalar_subquery()
    )
    latest = aliased(DocumentVerification, name="latest_decision")
    decided_checksum = _json_text(dialect, latest.verification_metadata, "checksum")
    file_checksum = _json_text(dialect, upload.c.value, "checksum")
    decided = (
        select(latest.id)
        .where(
            latest.id == latest_id,
            latest.action.in_(("approved", "rejected")),
            or_(decided_checksum.is_(None), file_checksum.is_(None), decided_checksum == file_checksum),
        )
        .exists()
    )
    return select(func.count()).select_from(upload).where(~decided).scalar_subquery()


def _search_condition(text: str, dialect: str) -> ColumnElement[bool] | None:
    words = text.split()
    if not words:
        return None
    name = _student_name()
    sa_id = CohortEnrollment.student_data["sa_id_number"].as_string()

    def matches(word: str) -> ColumnElement[bool]:
        found = [
            name.icontains(word, autoescape=True),
            User.email.icontains(word, autoescape=True),
            sa_id.contains(word, autoescape=True),
        ]
        if dialect == "postgresql" and word.isdigit() and len(word) >= 13:
            # A login reads ID numbers masked: a whole number is matched by the server.
            exact = select(func.cohortdesk_enrollments_with_id_number(word).column_valued("id"))
            found.append(CohortEnrollment.id.in_(exact))
        return or_(*found)

    return and_(*(matches(word) for word in words))


def _where(stmt: Select[Any], flt: QueueFilter, dialect: str) -> Select[Any]:
    stmt = stmt.where(CohortEnrollment.deleted_at.is_(None))  # tombstoned by sync: gone for everyone
    if flt.verification_state:
        stmt = stmt.where(CohortEnrollment.document_verification_state == flt.verification_state)
    if flt.enrollment_state:
        stmt = stmt.where(CohortEnrollment.state == flt.enrollment_state)
    if flt.program_type:
        stmt = stmt.where(Cohort.program_type == flt.program_type)
    if flt.cohort_id is not None:
        stmt = stmt.where(CohortEnrollment.cohort_id == flt.cohort_id)
    if flt.institution_id is not None:
        stmt = stmt.where(Cohort.institution_id == flt.institution_id)
    if flt.account_id is not None:
        stmt = stmt.where(CohortEnrollment.account_id == flt.account_id)
    if flt.decidable is not None:
        awaiting = _awaits_decision(dialect)
        stmt = stmt.where(awaiting if flt.decidable else ~awaiting)
    if flt.enrollment_ids is not None:
        stmt = stmt.where(CohortEnrollment.id.in_(flt.enrollment_ids or (-1,)))
    condition = _search_condition(flt.search, dialect)
    if condition is not None:
        stmt = stmt.where(condition)
    return stmt


def _order_by(sort: QueueSort, dialect: str, *, joined_user: bool = True) -> list[Any]:
    """The page's order; ``joined_user=False`` for the row columns' statement, which looks the
    student up per row instead of joining ``users``."""
    if sort.key not in SORT_KEYS:
        raise ValidationError(
            "sort", f"{sort.key!r} is not a queue column; use one of {', '.join(SORT_KEYS)}"
        )
    name, email = (_student_name(), User.email) if joined_user else _student_columns()
    columns: dict[str, list[Any]] = {
        "student": [func.lower(name)],
        "email": [email],
        "cohort": [func.lower(Cohort.name)],
        "program_type": [Cohort.program_type],
        "enrollment_state": [CohortEnrollment.state],
        "verification_state": [CohortEnrollment.document_verification_state],
        "documents": [_uploaded_count(dialect), _required_count(dialect)],
        "waiting_since": [CohortEnrollment.pending_since],
    }
    # NULL sorts as "latest" in both directions, which is PostgreSQL's own order, so an ascending or
    # backward index scan serves it; the id breaks ties in the same direction, for stable pages.
    if sort.descending:
        keys = [c.desc().nulls_first() for c in columns[sort.key]]
        return [*keys, CohortEnrollment.id.desc()]
    keys = [c.asc().nulls_last() for c in columns[sort.key]]
    return [*keys, CohortEnrollment.id.asc()]


def _holder_name() -> Any:
    """The name of the officer holding the pack's review lease (a correlated lookup, page rows only)."""
    holder = aliased(User)
    return (
        select(holder.display_name).where(holder.id == CohortEnrollment.claimed_by_user_id).scalar_subquery()
    )


@cache
def _row_columns(dialect: str) -> Select[Any]:
    """The columns of a ``QueueRow``, over enrollments joined to their cohort. Built once
    per dialect and shared (statements are immutable; ``.where``/``.join`` return new ones): building
    it took ~30 ms of Python per call, more than running it, on every keypress's read-back."""
    stmt: Select[*tuple[Any, ...]] = (
        select(
            CohortEnrollment.id,
            CohortEnrollment.cohort_id,
            Cohort.institution_id,
            CohortEnrollment.user_id,
            *_student_columns(),
            Cohort.name,
            Cohort.program_type,
            CohortEnrollment.state,
            CohortEnrollment.document_verification_state,
            _uploaded_count(dialect),
            _required_count(dialect),
            CohortEnrollment.pending_since,
            CohortEnrollment.row_version,
            CohortEnrollment.claimed_by_user_id,
            func.coalesce(_holder_name(), CohortEnrollment.claimed_by),
            CohortEnrollment.claim_expires_at,
            _resubmitted(),
            _required_uploaded_count(dialect),
            _awaiting_count(dialect),
        )
        .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
    )
    return stmt


def _resubmitted() -> Any:
    """A pack back in the queue after a rejection: the learner uploaded again (``docs/notifications.md``)."""
    return and_(
        CohortEnrollment.document_verification_state == VerificationState.PENDING.value,
        select(DocumentVerification.id)
        .where(
            DocumentVerification.cohort_enrollment_id == CohortEnrollment.id,
            DocumentVerification.action == "rejected",
            not_undone(),
        )
        .exists(),
    )


def _kept_unless_searching(build: Callable[..., Select[Any]]) -> Callable[..., Select[Any]]:
    """``build(dialect, flt, ...)`` with its statements kept for the latest 64 arguments: a statement
    object used again needs no new cache key, which SQLAlchemy computes by walking the whole statement
    (a millisecond or two of the window's CPU for the page's). A search is built afresh every time:
    kept statements would keep what was typed (an ID number, say) in memory."""
    kept = lru_cache(maxsize=64)(build)

    @wraps(build)
    def statement(dialect: str, flt: QueueFilter, *args: Any) -> Select[Any]:
        return (build if flt.search.strip() else kept)(dialect, flt, *args)

    return statement


@_kept_unless_searching
def queue_statement(dialect: str, flt: QueueFilter, sort: QueueSort, offset: int, limit: int) -> Select[Any]:
    """The page query itself (exposed for EXPLAIN in benchmarks).

    The page's ids are chosen first (filter, sort, offset, limit over narrow rows), then only those
    rows get their columns: the database never builds the skipped rows' JSON-derived columns, so a
    deep page costs about what the first one does.
    """
    ids = select(CohortEnrollment.id)
    # Join only what the filter or the sort reads: the default view walks one index and nothing else.
    if (
        flt.program_type
        or flt.institution_id is not None
        or sort.key in ("cohort", "program_type", "documents")
    ):
        ids = ids.join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
    if sort.key in ("student", "email"):
        ids = ids.join(User, User.id == CohortEnrollment.user_id)
    if flt.search.strip():
        # Evaluate the search once over every row, then sort and page what matched. Left to itself the
        # planner walks the order index hoping to meet 200 matches soon, which for a rare name means
        # visiting every row by index (twice as slow at 100,000 enrollments; bench/queue.py).
        matches = (
            _where(
                select(CohortEnrollment.id)
                .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
                .join(User, User.id == CohortEnrollment.user_id),
                flt,
                dialect,
            )
            .cte("search_matches")
            .prefix_with("MATERIALIZED")
        )
        ids = _where(ids, replace(flt, search=""), dialect).where(
            CohortEnrollment.id.in_(select(matches.c.id))
        )
    else:
        ids = _where(ids, flt, dialect)
    page = ids.order_by(*_order_by(sort, dialect)).offset(offset).limit(limit).subquery("page")
    order = _order_by(sort, dialect, joined_user=False)
    if dialect == "postgresql":
        # A login reads enrollments through a security-barrier view that masks special PI per row, and
        # PostgreSQL cannot push a join into such a view: joined to the page, it built the masked JSON
        # of every enrollment of the account (2.4 s for a page at 20,000). An array of the page's ids
        # is a plain value the view takes as an index condition, so only the page's rows are read.
        page_ids = cast(select(func.array_agg(page.c.id)).scalar_subquery(), ARRAY(BigInteger))
        return _row_columns(dialect).where(CohortEnrollment.id == any_(page_ids)).order_by(*order)
    return _row_columns(dialect).join(page, page.c.id == CohortEnrollment.id).order_by(*order)


def queue_page(
    db: Database,
    flt: QueueFilter | None = None,
    sort: QueueSort | None = None,
    offset: int = 0,
    limit: int = DEFAULT_PAGE_SIZE,
) -> QueuePage:
    """One page of the queue, filtered, searched and sorted in SQL."""
    flt = flt or QueueFilter()
    sort = sort or QueueSort()
    if offset < 0 or limit <= 0:
        raise ValidationError("page", "offset must be 0 or more and limit at least 1")
    with db.statement_reads() as s:
        rows = s.execute(queue_statement(db.dialect, flt, sort, offset, limit)).all()
    return QueuePage(rows=tuple(row_from_columns(r) for r in rows), offset=offset, limit=limit)


def queue_count(db: Database, flt: QueueFilter | None = None, *, session: Session | None = None) -> int:
    """How many enrollments match ``flt``; joins only what the filter needs."""
    with db.statement_reads(session) as s:
        return int(s.scalar(_count_statement(db.dialect, flt or QueueFilter())) or 0)


@_kept_unless_searching
def _count_statement(dialect: str, flt: QueueFilter) -> Select[Any]:
    stmt = select(func.count()).select_from(CohortEnrollment)
    if flt.program_type or flt.institution_id is not None:
        stmt = stmt.join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
    if flt.search.strip():
        stmt = stmt.join(User, User.id == CohortEnrollment.user_id)
    return _where(stmt, flt, dialect)


def queue_row(db: Database, enrollment_id: int) -> QueueRow:
    """One enrollment as a queue row (after a decision, to update the row in place)."""
    stmt = _row_columns(db.dialect).where(CohortEnrollment.id == enrollment_id)
    with db.read_session() as s:
        values = s.execute(stmt).first()
    if values is None:
        raise NotFoundError(f"There is no enrollment with id {enrollment_id}.")
    return row_from_columns(values)


def queue_rows(db: Database, enrollment_ids: Sequence[int], *, session: Session | None = None) -> list[QueueRow]:
    """Several enrollments as queue rows (live refresh); ids that are gone are left out."""
    if not enrollment_ids:
        return []
    with db.statement_reads(session) as s:
        rows = s.execute(_rows_of(db.dialect), {"ids": [int(i) for i in enrollment_ids]}).all()
    return [row_from_columns(values) for values in rows]


@cache
def _rows_of(dialect: str) -> Select[Any]:
    return _row_columns(dialect).where(_ids_in(CohortEnrollment.id, dialect))


# --- student details ----------------------------------------------------------------------------


def _sensitive(field_name: str, text: str, allowed: bool) -> SensitiveValue:
    if allowed or not text:
        return SensitiveValue(field_name, text, masked=False)
    return SensitiveValue(field_name, MASK, masked=True)


def _age_on(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def compare_with_id(
    student_data: dict[str, Any], dob_from_id: date | None, sex_from_id: str, captured_at: date, today: date
) -> list[Mismatch]:
    """Captured date of birth, age and gender checked against the decoded ID number."""
    found: list[Mismatch] = []
    captured_dob = student_data.get("date_of_birth")
    if dob_from_id is not None and captured_dob and str(captured_dob) != dob_from_id.isoformat():
        found.append(
            Mismatch(
                "date_of_birth",
                str(captured_dob),
                dob_from_id.isoformat(),
                f"Date of birth captured as {captured_dob}, but the ID number says {dob_from_id.isoformat()}.",
            )
        )
    age = student_data.get("age")
    if dob_from_id is not None and isinstance(age, int) and not isinstance(age, bool):
        # The age was typed at capture time; accept it if it was right then or is right now.
        possible = {_age_on(dob_from_id, captured_at), _age_on(dob_from_id, today)}
        if age not in possible:
            expected = _age_on(dob_from_id, captured_at)
            found.append(
                Mismatch(
                    "age",
                    str(age),
                    str(expected),
                    f"Age captured as {age}, but the ID number's date of birth makes it {expected}.",
                )
            )
    gender = student_data.get("gender")
    if sex_from_id and gender in GENDERS and gender != sex_from_id:
        found.append(
            Mismatch(
                "gender",
                GENDERS[gender],
                GENDERS[sex_from_id],
                f"Gender captured as {GENDERS[gender]}, but the ID number is registered as {GENDERS[sex_from_id]}.",
            )
        )
    return found


def student_details(
    db: Database,
    enrollment_id: int,
    identity: Identity,
    today: date | None = None,
    *,
    unmasked: bool = False,
    revealed: dict[str, Any] | None = None,
) -> StudentDetails:
    """The captured details of one enrollment, its SA ID decoded and compared, special PI masked.

    Special PI is masked for everyone, capability holders included, until they reveal it for one learner
    (``privacy.reveal_details`` logs the reveal, then reads with ``unmasked=True``)."""
    if unmasked and not identity.can(SPECIAL_PI):
        raise PermissionDenied(
            "Your role may not see special personal information (race, disability, ID number)."
        )
    today = today or datetime.now(UTC).date()
    with db.read_session() as s:
        found = s.execute(
            select(CohortEnrollment, Cohort.institution_id, _student_name(), User.email)
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
            .join(User, User.id == CohortEnrollment.user_id)
            .where(CohortEnrollment.id == enrollment_id)
        ).first()
        if found is None:
            raise NotFoundError(f"There is no enrollment with id {enrollment_id}.")
        enrollment, institution_id, name, email = found
        data: dict[str, Any] = dict(enrollment.student_data or {})
        if unmasked and revealed:
            data.update(revealed)  # what the server revealed (a login reads masked values only)
        allowed = unmasked
        race_code, disability_code = str(data.get("race") or ""), str(data.get("disability") or "")
        race = _sensitive("race", POPULATION_GROUPS.get(race_code, race_code), allowed)
        disability = _sensitive(
            "disability", DISABILITY_STATUSES.get(disability_code, disability_code), allowed
        )
        id_check: IdCheck | None = None
        mismatches: list[Mismatch] = []
        number = str(data.get("sa_id_number") or "").strip()
        if number:
            if "*" in number and s.get_bind().dialect.name == "postgresql":
                # A login reads the number masked; the server says what the full number encodes.
                facts = s.scalar(text("SELECT cohortdesk_sa_id_facts(:e)"), {"e": enrollment_id})
                info = decode_masked_sa_id(number, facts, today)
            else:
                info = decode_sa_id(number, today)
            shown = SensitiveValue(
                "sa_id_number", number if allowed else mask_id_number(number), masked=not allowed
            )
            id_check = IdCheck.of(info, shown)
            captured_at = enrollment.created_at.astimezone(UTC).date()
            mismatches = compare_with_id(data, info.date_of_birth, info.sex, captured_at, today)
        alternate = data.get("alternate_id")
        alternate_value = None
        if alternate:
            label = f"{data.get('alternate_id_type', 'Other ID')}: "
            alternate_value = SensitiveValue(
                "alternate_id",
                label + (str(alternate) if allowed else mask_id_number(str(alternate))),
                masked=not allowed,
            )
        age = data.get("age")
        return StudentDetails(
            enrollment_id=enrollment.id,
            cohort_id=enrollment.cohort_id,
            institution_id=institution_id,
            student_name=name or email,
            email=email,
            phone=data.get("phone"),
            city=data.get("city"),
            province=PROVINCES.get(str(data.get("province")), data.get("province"))
            if data.get("province")
            else None,
            date_of_birth=str(data["date_of_birth"]) if data.get("date_of_birth") else None,
            age=age if isinstance(age, int) and not isinstance(age, bool) else None,
            gender=GENDERS.get(data.get("gender", ""), data.get("gender")),
            race=race,
            disability=disability,
            id_check=id_check,
            alternate_id=alternate_value,
            mismatches=tuple(mismatches),
            special_pi_masked=any(
                v is not None and v.masked
                for v in (race, disability, id_check.number if id_check else None, alternate_value)
            ),
            enrollment_state=enrollment.state,
            verification_state=enrollment.document_verification_state,
            rejection_reason=enrollment.rejection_reason,
            captured_at=enrollment.created_at,
            row_version=enrollment.row_version,
            can_reveal=identity.can(SPECIAL_PI),
        )


# --- documents ----------------------------------------------------------------------------------


def _documents(session: Session, enrollment: CohortEnrollment, required: Sequence[str]) -> list[DocumentRow]:
    # Undos (reversal rows) and the decisions they took back do not count.
    decisions = session.execute(
        select(DocumentVerification, User.display_name)
        .join(User, User.id == DocumentVerification.admin_id)
        .where(
            DocumentVerification.cohort_enrollment_id == enrollment.id,
            DocumentVerification.reverses_id.is_(None),
            not_undone(),
        )
        .order_by(DocumentVerification.created_at, DocumentVerification.id)
    ).all()
    latest: dict[str, tuple[DocumentVerification | None, str | None]] = {}
    for made, by in decisions:
        latest[canonical_document_type(made.document_type)] = (made, by)
    uploaded = {canonical_document_type(k): v for k, v in (enrollment.uploaded_documents or {}).items()}
    ordered = list(dict.fromkeys([*required, *sorted(uploaded)]))
    rows: list[DocumentRow] = []
    for doc_type in ordered:
        upload = dict(uploaded.get(doc_type) or {})
        decision, officer = latest.get(doc_type, (None, None))
        current = True
        if decision is not None and upload:
            decided_checksum = (decision.verification_metadata or {}).get("checksum")
            current = decided_checksum is None or decided_checksum == upload.get("checksum")
        rows.append(
            DocumentRow(
                enrollment_id=enrollment.id,
                document_type=doc_type,
                label=document_label(doc_type),
                required=doc_type in required,
                uploaded=bool(upload),
                file_name=upload.get("file_name"),
                content_type=upload.get("content_type"),
                size=upload.get("size"),
                uploaded_at=upload.get("uploaded_at"),
                latest_action=decision.action if decision is not None else None,
                latest_reason=decision.reason if decision is not None else None,
                latest_by=officer,
                latest_at=decision.created_at if decision is not None else None,
                decision_current=current,
                upload=upload,
            )
        )
    return rows


def documents(db: Database, enrollment_id: int) -> list[DocumentRow]:
    """The enrollment's documents: required ones first (in the cohort's order), then other uploads."""
    with db.read_session() as s:
        found = s.execute(
            select(CohortEnrollment, Cohort.required_document_types)
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
            .where(CohortEnrollment.id == enrollment_id)
        ).first()
        if found is None:
            raise NotFoundError(f"There is no enrollment with id {enrollment_id}.")
        enrollment, required = found
        return _documents(s, enrollment, [canonical_document_type(d) for d in (required or [])])


# --- everything the detail panes show, in one round trip ---------------------------------------


def enrollment_detail(
    db: Database, enrollment_id: int, identity: Identity, today: date | None = None
) -> EnrollmentDetail:
    """Student details, documents and decision history of one enrollment (one call on the db lane)."""
    student = student_details(db, enrollment_id, identity, today)
    docs = documents(db, enrollment_id)
    if not identity.can(SPECIAL_PI):
        docs = [replace(d, upload={}) if d.special_pi else d for d in docs]
    return EnrollmentDetail(student=student, documents=tuple(docs), history=tuple(history(db, enrollment_id)))


# --- deciding from the workstation --------------------------------------------------------------


def decision_outcome(db: Database, result: DecisionResult, identity: Identity) -> QueueDecision:
    """What the workstation redraws after ``verification.record_decision``: the queue row, the
    cohort's counts and the enrollment's detail (reads only; the decision is already recorded)."""
    row = queue_row(db, result.enrollment.id)
    return QueueDecision(
        result=result,
        row=row,
        counts=cohort_counts(db, [row.cohort_id]),
        detail=enrollment_detail(db, result.enrollment.id, identity),
    )

"""The SQL behind the reports: which cohorts a report covers, and their rows, streamed from the database.

Every query runs inside a session the caller holds open for the whole export (one snapshot), and
the large ones stream: ``yield_per`` makes SQLAlchemy use a server-side cursor on PostgreSQL and fetch
in chunks, so memory stays flat however many enrollments a cohort has. Rows come back as plain tuples
and small frozen dataclasses, never ORM instances.

Scope: a report covers one cohort or every cohort the identity's institution (else account) owns; a
cohort outside that scope is reported as not found, exactly like a missing one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Result, Select, and_, func, select, true
from sqlalchemy.orm import Session, aliased

from cohortdesk.enums import ProgramType
from cohortdesk.errors import NotFoundError
from cohortdesk.models import (
    Cohort,
    CohortEnrollment,
    DocumentVerification,
    Institution,
    Sponsor,
    User,
    not_undone,
)
from cohortdesk.services.access.identity import Identity


@dataclass(frozen=True)
class CohortInfo:
    id: int
    name: str
    institution_id: int
    institution_name: str
    program_type: str
    program_label: str
    state: str
    sponsor_name: str | None
    student_count: int
    required_document_types: tuple[str, ...]
    start_date: datetime | None
    end_date: datetime | None


@dataclass(frozen=True)
class Scope:
    """The cohorts one export covers, in the order reports list them (by name)."""

    cohorts: tuple[CohortInfo, ...]
    single: bool  # True when the user asked for one cohort

    @property
    def ids(self) -> list[int]:
        return [c.id for c in self.cohorts]

    @property
    def institution_name(self) -> str:
        """The institution the cohorts belong to (one: a report never spans institutions)."""
        return ", ".join(dict.fromkeys(c.institution_name for c in self.cohorts))

    def by_id(self) -> dict[int, CohortInfo]:
        return {c.id: c for c in self.cohorts}

    def describe(self) -> str:
        if self.single:
            cohort = self.cohorts[0]
            return f"Cohort {cohort.id}: {cohort.name}"
        institutions = sorted({c.institution_name for c in self.cohorts})
        where = f" of {', '.join(institutions)}" if institutions else ""
        return f"All cohorts{where} ({len(self.cohorts)})"


def _tenant_filter(identity: Identity) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    if identity.account_id is not None:
        clauses.append(Cohort.account_id == identity.account_id)
    if identity.institution_id is not None:
        clauses.append(Cohort.institution_id == identity.institution_id)
    return and_(true(), *clauses)


def resolve_scope(session: Session, identity: Identity, cohort_id: int | None) -> Scope:
    """The cohorts an export covers; ``NotFoundError`` for a cohort that is missing or not the user's."""
    stmt = (
        select(Cohort, Institution.name)
        .join(Institution, Institution.id == Cohort.institution_id)
        .where(_tenant_filter(identity), Cohort.deleted_at.is_(None))
        .order_by(Cohort.name, Cohort.id)
    )
    if cohort_id is not None:
        stmt = stmt.where(Cohort.id == cohort_id)
    found = session.execute(stmt).all()
    if cohort_id is not None and not found:
        raise NotFoundError(f"There is no cohort with id {cohort_id}.")
    sponsor_names = _sponsor_names(session, [cohort for cohort, _ in found])
    infos = tuple(
        CohortInfo(
            id=cohort.id,
            name=cohort.name,
            institution_id=cohort.institution_id,
            institution_name=institution_name,
            program_type=cohort.program_type,
            program_label=ProgramType.label_of(cohort.program_type),
            state=cohort.state,
            sponsor_name=sponsor_names.get(cohort.id),
            student_count=cohort.student_count,
            required_document_types=tuple(cohort.required_document_types or ()),
            start_date=cohort.start_date,
            end_date=cohort.end_date,
        )
        for cohort, institution_name in found
    )
    return Scope(cohorts=infos, single=cohort_id is not None)


def _sponsor_names(session: Session, cohorts: Sequence[Cohort]) -> dict[int, str]:
    """Each cohort's sponsor company name: by ``sponsor_id``, else by the sponsor e-mail within the
    cohort's institution (the seed links sponsors by e-mail only)."""
    institution_ids = {c.institution_id for c in cohorts}
    if not institution_ids:
        return {}
    sponsors = session.execute(
        select(Sponsor.id, Sponsor.institution_id, Sponsor.company_name, Sponsor.contact_email)
        .where(Sponsor.institution_id.in_(institution_ids), Sponsor.deleted_at.is_(None))
        .order_by(Sponsor.id)
    ).all()
    by_id = {s.id: s.company_name for s in sponsors}
    by_email: dict[tuple[int, str], str] = {}
    for s in sponsors:
        if s.contact_email:
            by_email.setdefault((s.institution_id, s.contact_email.strip().lower()), s.company_name)
    names: dict[int, str] = {}
    for c in cohorts:
        name = by_id.get(c.sponsor_id) if c.sponsor_id is not None else None
        if name is None and c.sponsor_email:
            name = by_email.get((c.institution_id, c.sponsor_email.strip().lower()))
        if name:
            names[c.id] = name
    return names


def _in_scope(scope: Scope) -> ColumnElement[bool]:
    """Enrollments of the scope's cohorts, tombstoned ones included (the audit trail keeps them)."""
    return CohortEnrollment.cohort_id.in_(scope.ids)


def _live_in_scope(scope: Scope) -> ColumnElement[bool]:
    """Enrollments of the scope's cohorts that are not deleted (synced rows are tombstoned, never removed)."""
    return and_(CohortEnrollment.cohort_id.in_(scope.ids), CohortEnrollment.deleted_at.is_(None))


#: A select of any columns (a report's row).
AnySelect = Select[*tuple[Any, ...]]


def _stream(session: Session, statements: Sequence[AnySelect], chunk_size: int) -> Iterator[Any]:
    """The rows of ``statements``, one after the other, each read in chunks of ``chunk_size`` (Core
    execution: plain rows, no ORM bookkeeping per row). A statement runs only when the one before it
    is read to its end."""
    connection = session.connection()
    options = {"yield_per": chunk_size}
    results = (connection.execute(stmt, execution_options=options) for stmt in statements)
    if connection.dialect.name == "postgresql":
        return _prefetched(results)
    return _plain(results)


def _plain(results: Iterator[Result[Any]]) -> Iterator[Any]:
    for result in results:
        try:
            yield from result
        finally:
            result.close()


_END = object()


def _prefetched(results: Iterator[Result[Any]], depth: int = 2) -> Iterator[Any]:
    """The rows of ``results``, the next chunk fetched (and the next statement run) on a helper thread
    while the caller writes this one: the server's work and the network then overlap the writing of
    the file instead of adding to it. Only the helper touches the connection until it has finished; an
    error it meets is raised here, and a caller that stops early (cancel, error) stops it first."""
    chunks: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for result in results:
                try:
                    for chunk in result.partitions():
                        if stop.is_set():
                            return
                        chunks.put(chunk)
                finally:
                    result.close()
            chunks.put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
            chunks.put(exc)

    helper = threading.Thread(target=fetch, name="cohortdesk-report-rows", daemon=True)
    helper.start()
    try:
        while (chunk := chunks.get()) is not _END:
            if isinstance(chunk, BaseException):
                raise chunk
            yield from chunk
    finally:
        stop.set()
        while helper.is_alive():  # let a helper blocked on a full queue see the stop
            try:
                chunks.get(timeout=0.05)
            except queue.Empty:
                pass
        helper.join()


def cohort_groups(scope: Scope, counts: Mapping[int, int], rows: int) -> list[list[int]]:
    """The scope's cohorts cut, in their order, into runs of at least ``rows`` live enrollments (the
    last may hold fewer). A report ordered by cohort reads one run per statement: the server then sorts
    a run at a time, and the first rows arrive after sorting the first run, not the whole scope."""
    groups: list[list[int]] = []
    current: list[int] = []
    held = 0
    for cohort in scope.cohorts:
        current.append(cohort.id)
        held += counts.get(cohort.id, 0)
        if held >= rows:
            groups.append(current)
            current, held = [], 0
    if current:
        groups.append(current)
    return groups


# --- enrollments --------------------------------------------------------------------------------


def enrollment_counts(session: Session, scope: Scope) -> dict[int, int]:
    """Live enrollments per cohort of the scope (cohorts without any left out)."""
    if not scope.cohorts:
        return {}
    stmt = (
        select(CohortEnrollment.cohort_id, func.count())
        .where(_live_in_scope(scope))
        .group_by(CohortEnrollment.cohort_id)
    )
    return {cohort_id: count for cohort_id, count in session.execute(stmt)}


def count_enrollments(session: Session, scope: Scope) -> int:
    return sum(enrollment_counts(session, scope).values())


#: Whom an enrollment's row is about: ``(enrollment_id, cohort_id, first_name, last_name, email)``.
_LEARNER = (CohortEnrollment.id, CohortEnrollment.cohort_id, User.first_name, User.last_name, User.email)
#: Reports list learners by cohort (name, then id: the scope's order), then surname and first name.
_BY_COHORT_AND_NAME = (Cohort.name, Cohort.id, User.last_name, User.first_name, CohortEnrollment.id)


def _student_data(*keys: str) -> list[ColumnElement[str]]:
    """Captured student data fields (``student_data ->> key``), as text."""
    return [CohortEnrollment.student_data[key].as_string() for key in keys]


def roster_rows(
    session: Session, scope: Scope, chunk_size: int = 2000, counts: Mapping[int, int] | None = None
) -> Iterator[Any]:
    """One row per enrollment, ordered by cohort, surname, first name:
    ``(enrollment_id, cohort_id, first_name, last_name, email, race, gender, disability, city,
    sa_id_number, date_of_birth, state, verification_state)``. With the live enrollments per cohort
    (``counts``) the cohorts are read a run at a time (``cohort_groups``), in the same order."""

    def statement(cohort_ids: list[int]) -> AnySelect:
        return (
            select(
                *_LEARNER,
                *_student_data("race", "gender", "disability", "city", "sa_id_number", "date_of_birth"),
                CohortEnrollment.state,
                CohortEnrollment.document_verification_state,
            )
            .join(User, User.id == CohortEnrollment.user_id)
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
            .where(CohortEnrollment.cohort_id.in_(cohort_ids), CohortEnrollment.deleted_at.is_(None))
            .order_by(*_BY_COHORT_AND_NAME)
        )

    groups = [scope.ids] if counts is None else cohort_groups(scope, counts, chunk_size)
    return _stream(session, [statement(ids) for ids in groups], chunk_size)


def demographic_rows(session: Session, scope: Scope, chunk_size: int = 5000) -> Iterator[Any]:
    """``(enrollment_id, cohort_id, race, gender, disability, sa_id_number, date_of_birth)`` per enrollment,
    unordered."""
    stmt = select(
        CohortEnrollment.id,
        CohortEnrollment.cohort_id,
        *_student_data("race", "gender", "disability", "sa_id_number", "date_of_birth"),
    ).where(_live_in_scope(scope))
    return _stream(session, [stmt], chunk_size)


def verification_rows(session: Session, scope: Scope, chunk_size: int = 2000) -> Iterator[Any]:
    """Enrollments joined to the latest decision on each of their document types (a window function),
    ordered so one enrollment's rows are consecutive:
    ``(enrollment_id, cohort_id, first_name, last_name, email, verification_state, uploaded_documents,
    document_type, action, reason, decided_at, officer_name)``; the decision columns are NULL for an
    enrollment without decisions."""
    ranked = (
        select(
            DocumentVerification.cohort_enrollment_id,
            DocumentVerification.document_type,
            DocumentVerification.action,
            DocumentVerification.reason,
            DocumentVerification.created_at,
            DocumentVerification.admin_id,
            func.row_number()
            .over(
                partition_by=(DocumentVerification.cohort_enrollment_id, DocumentVerification.document_type),
                order_by=(DocumentVerification.created_at.desc(), DocumentVerification.id.desc()),
            )
            .label("rank"),
        )
        .join(CohortEnrollment, CohortEnrollment.id == DocumentVerification.cohort_enrollment_id)
        .where(
            _in_scope(scope),
            # An undo (a reversal row) and the decision it took back do not count.
            DocumentVerification.reverses_id.is_(None),
            not_undone(),
        )
        .subquery("ranked")
    )
    officer = aliased(User, name="officer")
    stmt = (
        select(
            *_LEARNER,
            CohortEnrollment.document_verification_state,
            CohortEnrollment.uploaded_documents,
            ranked.c.document_type,
            ranked.c.action,
            ranked.c.reason,
            ranked.c.created_at,
            officer.display_name,
        )
        .join(User, User.id == CohortEnrollment.user_id)
        .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
        .outerjoin(ranked, and_(ranked.c.cohort_enrollment_id == CohortEnrollment.id, ranked.c.rank == 1))
        .outerjoin(officer, officer.id == ranked.c.admin_id)
        .where(_live_in_scope(scope))
        .order_by(*_BY_COHORT_AND_NAME, ranked.c.document_type)
    )
    return _stream(session, [stmt], chunk_size)


# --- decisions ----------------------------------------------------------------------------------


def _audit_filter(
    scope: Scope, start: datetime | None, end: datetime | None, officer_id: int | None
) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = [_in_scope(scope)]
    if start is not None:
        clauses.append(DocumentVerification.created_at >= start)
    if end is not None:
        clauses.append(DocumentVerification.created_at < end)
    if officer_id is not None:
        clauses.append(DocumentVerification.admin_id == officer_id)
    return and_(*clauses)


def count_decisions(
    session: Session, scope: Scope, start: datetime | None, end: datetime | None, officer_id: int | None
) -> int:
    if not scope.cohorts:
        return 0
    stmt = (
        select(func.count())
        .select_from(DocumentVerification)
        .join(CohortEnrollment, CohortEnrollment.id == DocumentVerification.cohort_enrollment_id)
        .where(_audit_filter(scope, start, end, officer_id))
    )
    return session.scalar(stmt) or 0


def audit_rows(
    session: Session,
    scope: Scope,
    start: datetime | None,
    end: datetime | None,
    officer_id: int | None,
    chunk_size: int = 2000,
) -> Iterator[Any]:
    """Every decision in ``[start, end)``, oldest first:
    ``(decided_at, cohort_id, first_name, last_name, email, document_type, action, officer_name,
    reason, reason_code)``."""
    officer = aliased(User, name="officer")
    stmt = (
        select(
            DocumentVerification.created_at,
            CohortEnrollment.cohort_id,
            User.first_name,
            User.last_name,
            User.email,
            DocumentVerification.document_type,
            DocumentVerification.action,
            officer.display_name,
            DocumentVerification.reason,
            DocumentVerification.verification_metadata["reason_code"].as_string(),
        )
        .join(CohortEnrollment, CohortEnrollment.id == DocumentVerification.cohort_enrollment_id)
        .join(User, User.id == CohortEnrollment.user_id)
        .join(officer, officer.id == DocumentVerification.admin_id)
        .where(_audit_filter(scope, start, end, officer_id))
        .order_by(DocumentVerification.created_at, DocumentVerification.id)
    )
    return _stream(session, [stmt], chunk_size)


def officer_name(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"There is no user with id {user_id}.")
    return user.full_name or user.email


@dataclass(frozen=True)
class OfficerChoice:
    user_id: int
    name: str


def decision_officers(session: Session, scope: Scope) -> list[OfficerChoice]:
    """The people who recorded decisions on the scope's enrollments, by name (for a filter list)."""
    if not scope.cohorts:
        return []
    name = User.display_name.label("name")
    rows = session.execute(
        select(User.id, name)
        .where(
            User.id.in_(
                select(DocumentVerification.admin_id)
                .join(CohortEnrollment, CohortEnrollment.id == DocumentVerification.cohort_enrollment_id)
                .where(_in_scope(scope))
            )
        )
        .order_by(name, User.id)
    ).all()
    return [OfficerChoice(user_id=r.id, name=r.name) for r in rows]


# --- progress -----------------------------------------------------------------------------------


def progress_counts(session: Session, scope: Scope) -> dict[int, dict[tuple[str, str], int]]:
    """``{cohort_id: {(state, verification_state): count}}`` for every cohort in scope."""
    counts: dict[int, dict[tuple[str, str], int]] = {c.id: {} for c in scope.cohorts}
    if not scope.cohorts:
        return counts
    rows = session.execute(
        select(
            CohortEnrollment.cohort_id,
            CohortEnrollment.state,
            CohortEnrollment.document_verification_state,
            func.count(),
        )
        .where(_live_in_scope(scope))
        .group_by(
            CohortEnrollment.cohort_id, CohortEnrollment.state, CohortEnrollment.document_verification_state
        )
    ).all()
    for cohort_id, state, verification_state, count in rows:
        counts[cohort_id][(state, verification_state)] = count
    return counts


# --- ages ---------------------------------------------------------------------------------------


def birth_date(date_of_birth: str | None, sa_id_number: str | None, today: date) -> date | None:
    """The captured date of birth, else the one an SA ID number encodes (century inferred as in
    ``validation.decode_sa_id``: 20YY unless that lies after ``today``); ``None`` when unknown."""
    if date_of_birth:
        try:
            return date.fromisoformat(date_of_birth[:10])
        except ValueError:
            pass
    # A masked number (``800101*****87``, what a login reads) keeps the birth date.
    if (
        sa_id_number
        and len(sa_id_number) == 13
        and sa_id_number[:6].isdigit()
        and (sa_id_number.isdigit() or "*" in sa_id_number)
    ):
        yy, mm, dd = int(sa_id_number[0:2]), int(sa_id_number[2:4]), int(sa_id_number[4:6])
        try:
            born = date(2000 + yy, mm, dd)
            return born if born <= today else date(1900 + yy, mm, dd)
        except ValueError:
            try:
                return date(1900 + yy, mm, dd)
            except ValueError:
                return None
    return None


def age_on(born: date | None, on: date) -> int | None:
    """Whole years between ``born`` and ``on``; ``None`` when unknown or born after ``on``."""
    if born is None or born > on:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))

"""Review claims: which officer is reviewing which enrollment, as a lease in the row.

The design (``docs/claims-sync-security.md``, Claims), applied to ``cohort_enrollments``:

* **Claim, commit, show.** ``claim`` / ``claim_next`` each run one short transaction that writes a
  lease (login, user, a new random token, an expiry on the database clock) and commits before the
  officer sees anything; no transaction or row lock is held while a person looks at a document.
* On PostgreSQL every lease write is a server function (``cohortdesk_claim_next``,
  ``cohortdesk_claim_one``, ``cohortdesk_renew_claim``, ``cohortdesk_release_claim``,
  ``cohortdesk_force_release_claim``; migration ``0015_decision_functions``): the login and person come
  from ``session_user``, the expiry from the server clock, a lease is never longer than the
  installation's ``claim_lease_max_seconds``, and taking a pack gives back any other the login holds
  (one running claim per login). Application logins cannot write the claim columns themselves.
  The candidate row is picked by ``FOR UPDATE SKIP LOCKED`` inside a ``MATERIALIZED`` CTE joined by
  ``UPDATE … FROM`` (never ``IN (subquery)``, which may claim more rows than its ``LIMIT``:
  PostgreSQL bug report #15715). Officers racing for work get different packs without waiting; an
  expired lease is claimable again by the same query, so no reaper job is needed.
* ``renew`` extends the lease (the GUI calls it every third of a lease) and does not move
  ``row_version``; ``claim`` and ``release`` do, so other screens see who holds what.
* A decision presents its ``Claim`` (token and the row_version it was looking at): see
  ``services.review.decisions.record_decision``, which uses ``check_claim`` below. A lost claim or a
  changed pack raises ``ClaimConflict`` whose message says what changed and by whom.

On the embedded SQLite store there is a single user; the same calls work there (plain statements,
the Python clock), so the GUI needs no second code path.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select, text, true, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.enums import VerificationState
from cohortdesk.errors import ClaimConflict, NotFoundError, PermissionDenied
from cohortdesk.models import CohortEnrollment, DocumentVerification, User
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.connection import connectivity
from cohortdesk.services.rows import LEASE_SECONDS, Claim, ClaimHolder
from cohortdesk.services.validation import document_label

RENEW_EVERY_SECONDS = LEASE_SECONDS / 3
#: ``claimed_by`` on the embedded SQLite store, which has no login roles.
LOCAL_LOGIN = "local"
#: What ``record_decision`` and friends tell the officer about their typed input after a conflict.
KEPT = "Nothing was saved; what you typed is kept."

E = CohortEnrollment.__table__


@dataclass(frozen=True)
class QueueFilters:
    """Which part of the tenant's queue ``claim_next`` may take from (empty: all of it)."""

    cohort_ids: tuple[int, ...] = ()


# --- helpers ------------------------------------------------------------------------------------


def _tenant(identity: Identity) -> int:
    if identity.account_id is None:
        raise PermissionDenied("This login is not linked to an institution, so it has no review queue.")
    if not identity.can("decide"):
        raise PermissionDenied("Only verification officers and super admins review documents.")
    return identity.account_id


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC time (SQLite gives naive ones back)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_utc = utc


def clock_text(moment: datetime | None) -> str:
    """A moment as the officer reads it: local wall-clock time, with the date when not today."""
    if moment is None:
        return "an unknown time"
    local = _utc(moment).astimezone()
    if local.date() == datetime.now().astimezone().date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def user_names(session: Session, user_ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, User.first_name, User.last_name, User.email).where(User.id.in_(ids))
    ).all()
    names: dict[int, str] = {}
    for user_id, first, last, email in rows:
        full = " ".join(part for part in (first, last) if part)
        names[user_id] = full or email or f"user {user_id}"
    return names


def holder_name(session: Session, user_id: int | None, login: str | None) -> str:
    if user_id is not None:
        name = user_names(session, {user_id}).get(user_id)
        if name:
            return name
    return login or "someone"


def _pg(db_or_session: Database | Session) -> bool:
    if isinstance(db_or_session, Session):
        return db_or_session.get_bind().dialect.name == "postgresql"
    return db_or_session.dialect == "postgresql"


def _claim_from(row: object, token: str, lease_seconds: float, user_id: int | None) -> Claim:
    expires_at = _utc(row.claim_expires_at)  # type: ignore[attr-defined]
    return Claim(
        enrollment_id=row.id,  # type: ignore[attr-defined]
        account_id=row.account_id,  # type: ignore[attr-defined]
        cohort_id=row.cohort_id,  # type: ignore[attr-defined]
        token=token,
        row_version=row.row_version,  # type: ignore[attr-defined]
        expires_at=expires_at,
        claimed_by=row.claimed_by,  # type: ignore[attr-defined]
        user_id=user_id,
        lease_seconds=lease_seconds,
        claimed_at=expires_at - timedelta(seconds=lease_seconds),
    )


def _lease_update() -> Any:
    """An UPDATE of the lease columns that leaves ``updated_at`` alone (the ORM column's
    ``onupdate`` would stamp it): a lease is not an edit, and the sync trigger must see none."""
    return update(E).values(updated_at=E.c.updated_at)


def _call(db: Database, sql: str, params: dict[str, object]) -> Any:
    """One lease function call. Lease calls are safe to repeat (a token finds what an earlier attempt
    took), so a connection that went away while idle costs one more try, not an error; anything else
    (a lock or statement timeout included) is the caller's to handle."""
    try:
        return db.call(sql, params)
    except DBAPIError as error:
        if not connectivity.is_disconnect(error):
            raise
        return db.call(sql, params)


def _pg_claim(db: Database, sql: str, params: dict[str, object], user_id: int | None) -> Claim | None:
    """Call a claiming function; its JSON answer as a ``Claim`` (``None``: nothing was taken)."""
    answer = _call(db, sql, params)
    if answer is None:
        return None
    row = answer if isinstance(answer, dict) else json.loads(answer)
    expires_at = _utc(datetime.fromisoformat(row["claim_expires_at"]))
    lease = float(row["lease_seconds"])
    return Claim(
        enrollment_id=row["id"],
        account_id=row["account_id"],
        cohort_id=row["cohort_id"],
        token=row["claim_token"],
        row_version=row["row_version"],
        expires_at=expires_at,
        claimed_by=row["claimed_by"],
        user_id=user_id,
        lease_seconds=lease,
        claimed_at=expires_at - timedelta(seconds=lease),
    )


_PG_CLAIM_NEXT = (
    "SELECT cohortdesk_claim_next(CAST(:cohort_ids AS bigint[]), CAST(:lease AS double precision), "
    ":token, :user_id, :account_id)"
)
_PG_CLAIM_ONE = (
    "SELECT cohortdesk_claim_one(:enrollment_id, CAST(:lease AS double precision), :token, :user_id, "
    ":account_id)"
)


def _sqlite_take(
    session: Session, where: ColumnElement[bool], identity: Identity, token: str, lease: float
) -> object | None:
    now = datetime.now(UTC)
    candidate = select(E.c.id).where(where).order_by(E.c.pending_since, E.c.id).limit(1).scalar_subquery()
    stmt = (
        _lease_update()
        .where(E.c.id == candidate)
        .values(
            claimed_by=identity.db_role or LOCAL_LOGIN,
            claimed_by_user_id=identity.user_id,
            claim_token=token,
            claim_expires_at=now + timedelta(seconds=lease),
            row_version=E.c.row_version + 1,
        )
        .returning(
            E.c.id, E.c.account_id, E.c.cohort_id, E.c.row_version, E.c.claim_expires_at, E.c.claimed_by
        )
    )
    taken = session.execute(stmt).first()
    if taken is not None:
        # One running claim per login (and person), as on the server: give back any other.
        session.execute(
            _lease_update()
            .where(
                E.c.id != taken.id,
                E.c.claim_token.is_not(None),
                E.c.claimed_by == (identity.db_role or LOCAL_LOGIN),
                E.c.claimed_by_user_id.is_(None)
                if identity.user_id is None
                else E.c.claimed_by_user_id == identity.user_id,
            )
            .values(
                claimed_by=None,
                claimed_by_user_id=None,
                claim_token=None,
                claim_expires_at=None,
                row_version=E.c.row_version + 1,
            )
        )
    return taken


# --- claiming -----------------------------------------------------------------------------------


def claim_next(
    db: Database,
    identity: Identity,
    filters: QueueFilters | None = None,
    *,
    lease_seconds: float = LEASE_SECONDS,
    token: str | None = None,
) -> Claim | None:
    """Claim the oldest pending pack nobody else holds; ``None`` when there is none.

    Packs other officers hold (or are claiming at this very moment) are skipped, not waited for.
    Pass the ``token`` of an attempt whose outcome is unknown (a dropped connection) to retry it:
    if that attempt did commit, its claim is returned instead of a second one being taken.
    """
    account_id = _tenant(identity)
    filters = filters or QueueFilters()
    if token is not None:
        earlier = find_claim(db, identity, token, lease_seconds=lease_seconds)
        if earlier is not None:
            return earlier
    token = token or str(uuid.uuid4())
    if _pg(db):
        params: dict[str, object] = {
            "cohort_ids": list(filters.cohort_ids) or None,
            "lease": float(lease_seconds),
            "token": token,
            "user_id": identity.user_id,
            "account_id": account_id,
        }
        return _pg_claim(db, _PG_CLAIM_NEXT, params, identity.user_id)
    with db.session() as s:
        now = datetime.now(UTC)
        where = and_(
            E.c.account_id == account_id,
            E.c.document_verification_state == VerificationState.PENDING.value,
            E.c.deleted_at.is_(None),
            or_(E.c.claim_token.is_(None), E.c.claim_expires_at < now),
            E.c.cohort_id.in_(filters.cohort_ids) if filters.cohort_ids else true(),
        )
        row = _sqlite_take(s, where, identity, token, lease_seconds)
        return None if row is None else _claim_from(row, token, lease_seconds, identity.user_id)


def claim(
    db: Database,
    identity: Identity,
    enrollment_id: int,
    *,
    lease_seconds: float = LEASE_SECONDS,
    token: str | None = None,
) -> Claim:
    """Claim one pack the officer opened. Raises ``ClaimConflict`` naming whoever holds it.

    The officer's own earlier claim on it (another window, a restarted workstation) is taken over.
    ``token`` retries an attempt whose outcome is unknown, as in ``claim_next``.
    """
    account_id = _tenant(identity)
    token = token or str(uuid.uuid4())
    if _pg(db):
        try:
            taken = _pg_claim(
                db,
                _PG_CLAIM_ONE,
                {
                    "enrollment_id": enrollment_id,
                    "lease": float(lease_seconds),
                    "token": token,
                    "user_id": identity.user_id,
                    "account_id": account_id,
                },
                identity.user_id,
            )
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) == "P0002":
                raise NotFoundError(f"There is no enrollment with id {enrollment_id}.") from error
            raise
        if taken is not None:
            return taken
        raise _why_not_claimed(db, identity, enrollment_id)
    with db.session() as s:
        now = datetime.now(UTC)
        where = and_(
            E.c.id == enrollment_id,
            E.c.account_id == account_id,
            E.c.deleted_at.is_(None),
            or_(
                E.c.claim_token.is_(None),
                E.c.claim_expires_at < now,
                E.c.claim_token == token,
                E.c.claimed_by_user_id == identity.user_id,
            ),
        )
        row = _sqlite_take(s, where, identity, token, lease_seconds)
        if row is not None:
            return _claim_from(row, token, lease_seconds, identity.user_id)
    raise _why_not_claimed(db, identity, enrollment_id)


def _why_not_claimed(db: Database, identity: Identity, enrollment_id: int) -> Exception:
    with db.read_session() as s:
        enrollment = s.get(CohortEnrollment, enrollment_id)
        if enrollment is None or enrollment.account_id != identity.account_id or enrollment.deleted_at:
            return NotFoundError(f"There is no enrollment with id {enrollment_id}.")
        if enrollment.claim_token is None:
            # Our SKIP LOCKED passed over it: another officer's claim was being written right then.
            return ClaimConflict(
                "Another officer is opening this enrollment at this moment. Pick another one, or try "
                "again in a moment.",
                enrollment_id=enrollment_id,
            )
        name = holder_name(s, enrollment.claimed_by_user_id, enrollment.claimed_by)
        return ClaimConflict(
            f"{name} is reviewing this enrollment (their claim runs until "
            f"{clock_text(enrollment.claim_expires_at)}). You can look at it, but not decide on it; a "
            "super admin can release the claim.",
            enrollment_id=enrollment_id,
            holder=name,
        )


def find_claim(
    db: Database, identity: Identity, token: str, *, lease_seconds: float = LEASE_SECONDS
) -> Claim | None:
    """The claim holding ``token``, if it is still in the row (a retried claim whose reply was lost)."""
    with db.read_session() as s:
        enrollment = s.scalars(
            select(CohortEnrollment).where(
                CohortEnrollment.claim_token == token, CohortEnrollment.account_id == identity.account_id
            )
        ).first()
        if enrollment is None:
            return None
        return _claim_from(enrollment, token, lease_seconds, enrollment.claimed_by_user_id)


# --- keeping and giving back --------------------------------------------------------------------


def renew(db: Database, claim: Claim) -> Claim:
    """Extend the lease by its full length; raises ``ClaimConflict`` once the pack is no longer ours.

    A lapsed lease nobody else took is renewed too (a workstation that slept a while).
    ``row_version`` is left alone: renewal is not a change anybody else needs to see.
    """
    if _pg(db):
        expires = _call(
            db,
            "SELECT cohortdesk_renew_claim(:id, :token, CAST(:lease AS double precision), :user_id)",
            {
                "id": claim.enrollment_id,
                "token": claim.token,
                "lease": float(claim.lease_seconds),
                "user_id": claim.user_id,
            },
        )
        if expires is not None:
            return replace(claim, expires_at=_utc(expires))
        with db.read_session() as s:
            raise lost_claim(s, claim, None)
    with db.session() as s:
        expires = s.execute(
            _lease_update()
            .where(E.c.id == claim.enrollment_id, E.c.claim_token == claim.token)
            .values(claim_expires_at=datetime.now(UTC) + timedelta(seconds=claim.lease_seconds))
            .returning(E.c.claim_expires_at)
        ).scalar()
        if expires is not None:
            return replace(claim, expires_at=_utc(expires))
        raise lost_claim(s, claim, None)


def release(db: Database, claim: Claim) -> bool:
    """Give the pack back to the queue; ``False`` if it was no longer ours (nothing to do then)."""
    if _pg(db):
        return bool(
            _call(
                db,
                "SELECT cohortdesk_release_claim(:id, :token, :user_id)",
                {"id": claim.enrollment_id, "token": claim.token, "user_id": claim.user_id},
            )
        )
    with db.session() as s:
        released = s.execute(
            _lease_update()
            .where(E.c.id == claim.enrollment_id, E.c.claim_token == claim.token)
            .values(
                claimed_by=None,
                claimed_by_user_id=None,
                claim_token=None,
                claim_expires_at=None,
                row_version=E.c.row_version + 1,
            )
            .returning(E.c.id)
        ).first()
        return released is not None


def force_release(db: Database, identity: Identity, enrollment_id: int) -> ClaimHolder | None:
    """A super admin frees a pack someone holds (a person gone home with it open).

    Returns who held it, or ``None`` when nobody did. The former holder's next renewal or decision
    is refused with a message saying the claim was released.
    """
    if not identity.can("release_claims"):
        raise PermissionDenied("Only a super admin can release another officer's claim.")
    account_id = identity.account_id
    with db.session() as s:
        stmt = select(CohortEnrollment).where(
            CohortEnrollment.id == enrollment_id, CohortEnrollment.account_id == account_id
        )
        if _pg(s):
            stmt = stmt.with_for_update()
        enrollment = s.scalars(stmt).first()
        if enrollment is None:
            raise NotFoundError(f"There is no enrollment with id {enrollment_id}.")
        if enrollment.claim_token is None:
            return None
        former = ClaimHolder(
            enrollment_id=enrollment.id,
            user_id=enrollment.claimed_by_user_id,
            login=enrollment.claimed_by or "",
            name=holder_name(s, enrollment.claimed_by_user_id, enrollment.claimed_by),
            expires_at=_utc(enrollment.claim_expires_at)
            if enrollment.claim_expires_at
            else datetime.now(UTC),
            mine=enrollment.claimed_by_user_id == identity.user_id,
        )
        if _pg(s):
            s.execute(text("SELECT cohortdesk_force_release_claim(:id)"), {"id": enrollment.id})
            return former
        # A plain statement, not an ORM flush: the lease is not an edit (no updated_at), but
        # row_version moves so every open screen sees the pack changed hands.
        s.execute(
            _lease_update()
            .where(E.c.id == enrollment.id)
            .values(
                claimed_by=None,
                claimed_by_user_id=None,
                claim_token=None,
                claim_expires_at=None,
                row_version=E.c.row_version + 1,
            )
        )
        return former


# --- who holds what -----------------------------------------------------------------------------


def active_claims(
    db: Database, identity: Identity, enrollment_ids: list[int] | tuple[int, ...] | None = None
) -> dict[int, ClaimHolder]:
    """Running leases in the tenant's queue (optionally only among ``enrollment_ids``), by pack id."""
    if identity.account_id is None:
        return {}
    with db.read_session() as s:
        now = s.scalar(select(func.now())) if _pg(s) else datetime.now(UTC)
        stmt = select(
            CohortEnrollment.id,
            CohortEnrollment.claimed_by_user_id,
            CohortEnrollment.claimed_by,
            CohortEnrollment.claim_expires_at,
        ).where(
            CohortEnrollment.account_id == identity.account_id,
            CohortEnrollment.claim_token.is_not(None),
            CohortEnrollment.claim_expires_at > now,
        )
        if enrollment_ids is not None:
            stmt = stmt.where(CohortEnrollment.id.in_(list(enrollment_ids)))
        rows = s.execute(stmt).all()
        names = user_names(s, {r.claimed_by_user_id for r in rows})
        return {
            r.id: ClaimHolder(
                enrollment_id=r.id,
                user_id=r.claimed_by_user_id,
                login=r.claimed_by or "",
                name=names.get(r.claimed_by_user_id) or r.claimed_by or "someone",
                expires_at=_utc(r.claim_expires_at),
                mine=r.claimed_by_user_id is not None and r.claimed_by_user_id == identity.user_id,
            )
            for r in rows
        }


# --- checking a claim inside a decision ---------------------------------------------------------


def session_clock(session: Session) -> tuple[datetime, str]:
    """The database's clock and this connection's login (``local`` on SQLite)."""
    columns = clock_columns(session)
    return clock_of(session.execute(select(*columns)).one() if columns else ())


def clock_columns(session: Session) -> tuple[Any, ...]:
    """What ``session_clock`` reads, for a caller to fold into a SELECT of its own (none on SQLite)."""
    return (func.statement_timestamp(), literal_column("session_user")) if _pg(session) else ()


def clock_of(values: Any) -> tuple[datetime, str]:
    """``session_clock``'s answer from the values of ``clock_columns`` (empty on SQLite)."""
    if len(values):
        return _utc(values[0]), str(values[1])
    return datetime.now(UTC), LOCAL_LOGIN


def check_claim(
    session: Session, enrollment: CohortEnrollment, claim: Claim, now: datetime, login: str
) -> None:
    """Raise ``ClaimConflict`` unless ``claim`` still holds ``enrollment`` under a running lease and
    the pack is unchanged since the claim's ``row_version`` (the embedded store's check; PostgreSQL's
    decision function makes the same one)."""
    ours = enrollment.claim_token == claim.token and (login == LOCAL_LOGIN or enrollment.claimed_by == login)
    expires = _utc(enrollment.claim_expires_at) if enrollment.claim_expires_at else None
    if not ours or expires is None or expires <= now:
        raise lost_claim(session, claim, enrollment, now=now)
    if enrollment.row_version != claim.row_version:
        raise changed_since_claim(session, enrollment, claim)


def changed_since_claim(session: Session, enrollment: CohortEnrollment, claim: Claim) -> ClaimConflict:
    """The pack moved since ``claim`` vouched for it: what changed, in words."""
    return ClaimConflict(
        f"This enrollment changed since you opened it: {_latest_change(session, enrollment, claim)}. "
        f"Reload it to see what changed. {KEPT}",
        enrollment_id=enrollment.id,
        claim_lost=False,
    )


def check_not_held_by_other(
    session: Session, enrollment: CohortEnrollment, user_id: int | None, now: datetime, login: str
) -> None:
    """A decision made without a claim may not cut across somebody else's running lease."""
    if enrollment.claim_token is None or enrollment.claim_expires_at is None:
        return
    if _utc(enrollment.claim_expires_at) <= now:
        return
    if enrollment.claimed_by_user_id == user_id and (login == LOCAL_LOGIN or enrollment.claimed_by == login):
        return
    raise held_by_other(session, enrollment)


def held_by_other(session: Session, enrollment: CohortEnrollment) -> ClaimConflict:
    """Somebody else's running lease stops a decision: who, and until when."""
    name = holder_name(session, enrollment.claimed_by_user_id, enrollment.claimed_by)
    return ClaimConflict(
        f"{name} is reviewing this enrollment right now (until {clock_text(enrollment.claim_expires_at)}), "
        f"so only they can decide on it. {KEPT}",
        enrollment_id=enrollment.id,
        holder=name,
    )


def lost_claim(
    session: Session, claim: Claim, enrollment: CohortEnrollment | None, *, now: datetime | None = None
) -> ClaimConflict:
    """Explain, from the row as it is now, how ``claim`` was lost."""
    if enrollment is None:
        enrollment = session.get(CohortEnrollment, claim.enrollment_id, populate_existing=True)
    if enrollment is None:
        return ClaimConflict(
            f"This enrollment no longer exists. {KEPT}", enrollment_id=claim.enrollment_id, claim_lost=True
        )
    if now is None:
        now = session_clock(session)[0]
    own_expired = claim.expires_at <= now
    how = f"expired at {clock_text(claim.expires_at)}" if own_expired else "was released by a super admin"
    news = _decision_since(session, enrollment, claim)
    changed = f" Since then {news}." if news else ""
    holder: str | None = None
    if enrollment.claim_token == claim.token:
        message = f"Your claim on this enrollment expired at {clock_text(enrollment.claim_expires_at)}."
        message += changed + f" Claim it again to carry on. {KEPT}"
    elif (
        enrollment.claim_token is not None
        and enrollment.claim_expires_at is not None
        and _utc(enrollment.claim_expires_at) > now
    ):
        holder = holder_name(session, enrollment.claimed_by_user_id, enrollment.claimed_by)
        message = f"Your claim on this enrollment {how} and {holder} is reviewing it now." + changed
        message += f" {KEPT}"
    else:
        message = f"Your claim on this enrollment {how}." + changed + f" Claim it again to carry on. {KEPT}"
    return ClaimConflict(message, enrollment_id=enrollment.id, holder=holder, claim_lost=True)


def _decision_since(session: Session, enrollment: CohortEnrollment, claim: Claim) -> str | None:
    """The newest decision on the pack made after ``claim`` was taken, in words; ``None`` if none."""
    stmt = (
        select(DocumentVerification)
        .where(DocumentVerification.cohort_enrollment_id == enrollment.id)
        .order_by(DocumentVerification.created_at.desc(), DocumentVerification.id.desc())
        .limit(1)
    )
    if claim.claimed_at is not None:
        stmt = stmt.where(DocumentVerification.created_at > claim.claimed_at)
    latest = session.scalars(stmt).first()
    if latest is None:
        return None
    name = holder_name(session, latest.admin_id, None)
    return (
        f"{document_label(latest.document_type)} was {latest.action} by {name} at "
        f"{clock_text(latest.created_at)}, and the pack is now {enrollment.document_verification_state}"
    )


def _latest_change(session: Session, enrollment: CohortEnrollment, claim: Claim) -> str:
    news = _decision_since(session, enrollment, claim)
    if news is not None:
        return news
    return (
        f"it was edited at {clock_text(enrollment.updated_at)} and is now "
        f"{enrollment.document_verification_state}"
    )

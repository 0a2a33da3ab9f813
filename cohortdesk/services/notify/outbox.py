"""The notification outbox: claiming digests, recording attempts, reminders, and what the app shows.

On PostgreSQL every write is a server function (``0010_notifications``): ``claim`` calls
``cohortdesk_notify_claim`` (``FOR UPDATE SKIP LOCKED``: two senders never take the same row),
``progress`` calls ``cohortdesk_notify_progress`` (finish the last attempts and start the next in one
round trip), ``remind`` calls ``cohortdesk_notify_remind``. On the embedded SQLite store (one person)
the same steps run here as plain statements, each in one write transaction.

The rows themselves are queued by the database in the transaction of their cause (triggers on
decisions and on the verification state), never by this module.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import md5
from typing import Any

from sqlalchemy import Boolean, bindparam, case, func, insert, or_, select, text, update

from cohortdesk.db import Database
from cohortdesk.errors import PermissionDenied
from cohortdesk.models import (
    Cohort,
    CohortEnrollment,
    DocumentVerification,
    NotificationAttempt,
    NotificationOutbox,
    NotificationSettings,
    User,
    not_undone,
)
from cohortdesk.services.access.identity import Identity

O = NotificationOutbox.__table__  # noqa: E741 - the table, as in the SQL
A = NotificationAttempt.__table__
UNKNOWN_AFTER_CRASH = (
    "The sender stopped during the SMTP conversation: the e-mail may or may not have been delivered, "
    "so it is not sent again by itself."
)
STATUS_LABELS = {
    "pending": "Waiting",
    "sending": "Sending",
    "sent": "Sent",
    "failed": "Failed",
    "unknown": "Outcome unknown",
    "superseded": "Not needed",
}


@dataclass(frozen=True)
class OutboxRow:
    id: int
    account_id: int
    institution_id: int
    kind: str
    cohort_enrollment_id: int
    recipient_email: str | None
    recipient_name: str | None
    document_type: str | None
    reason: str | None
    details: dict[str, Any]
    created_at: datetime
    status: str
    attempts: int
    message_key: str | None
    claim_token: str | None
    sent_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Digest:
    """The rows of one learner claimed together: one e-mail."""

    claim_token: str
    message_key: str
    account_id: int
    institution_id: int
    recipient_email: str
    recipient_name: str
    rows: tuple[OutboxRow, ...]


@dataclass(frozen=True)
class Finished:
    attempt_id: int
    outcome: str  # sent, retry, failed, unknown
    detail: str = ""
    retry_seconds: int = 60


@dataclass(frozen=True)
class ReminderOutcome:
    enrollment_id: int
    queued: bool
    detail: str


@dataclass
class OutboxSummary:
    counts: dict[str, int] = field(default_factory=dict)
    recent: list[OutboxRow] = field(default_factory=list)


def _row(r: Any) -> OutboxRow:
    def aware(v: datetime | None) -> datetime | None:
        if v is None:
            return None
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v

    details = r.details
    if isinstance(details, str):
        details = json.loads(details)
    return OutboxRow(
        id=r.id,
        account_id=r.account_id,
        institution_id=r.institution_id,
        kind=r.kind,
        cohort_enrollment_id=r.cohort_enrollment_id,
        recipient_email=r.recipient_email,
        recipient_name=r.recipient_name,
        document_type=r.document_type,
        reason=r.reason,
        details=details or {},
        created_at=aware(r.created_at),  # type: ignore[arg-type]
        status=r.status,
        attempts=r.attempts,
        message_key=r.message_key,
        claim_token=r.claim_token,
        sent_at=aware(r.sent_at),
        last_error=r.last_error,
    )


def _digests(rows: Iterable[OutboxRow]) -> list[Digest]:
    groups: dict[str, list[OutboxRow]] = {}
    for row in rows:
        groups.setdefault(row.message_key or "", []).append(row)
    out = []
    for key, members in groups.items():
        first = members[0]
        out.append(
            Digest(
                claim_token=first.claim_token or "",
                message_key=key,
                account_id=first.account_id,
                institution_id=first.institution_id,
                recipient_email=first.recipient_email or "",
                recipient_name=next((m.recipient_name for m in members if m.recipient_name), ""),
                rows=tuple(sorted(members, key=lambda m: m.id)),
            )
        )
    return sorted(out, key=lambda d: min(r.created_at for r in d.rows))


def _pg(db: Database) -> bool:
    return db.dialect == "postgresql"


# --- claiming -----------------------------------------------------------------------------------


def claim(db: Database, *, learners: int = 50, lease_seconds: int = 300, flush: bool = False) -> list[Digest]:
    """Claim the due rows of up to ``learners`` learners, grouped into one digest per learner."""
    if _pg(db):
        with db.session() as s:
            rows = s.execute(
                text("SELECT * FROM cohortdesk_notify_claim(:n, :lease, :flush)"),
                {"n": learners, "lease": lease_seconds, "flush": flush},
            ).all()
        return _digests(_row(r) for r in rows)
    return _sqlite_claim(db, learners, lease_seconds, flush)


def _sqlite_claim(db: Database, learners: int, lease_seconds: int, flush: bool) -> list[Digest]:
    token = str(uuid.uuid4())
    now = datetime.now(UTC)
    with db.session() as s:
        expired = s.execute(
            select(O.c.id, O.c.claim_token, O.c.message_key).where(
                O.c.status == "sending", O.c.claim_expires_at < now
            )
        ).all()
        for row_id, row_token, key in expired:
            started = s.scalar(
                select(func.count()).where(
                    A.c.claim_token == row_token, A.c.message_key == key, A.c.finished_at.is_(None)
                )
            )
            if started:
                s.execute(
                    update(O)
                    .where(O.c.id == row_id)
                    .values(
                        status="unknown",
                        last_error=UNKNOWN_AFTER_CRASH,
                        claimed_by=None,
                        claim_expires_at=None,
                    )
                )
                s.execute(
                    update(A)
                    .where(A.c.claim_token == row_token, A.c.message_key == key, A.c.finished_at.is_(None))
                    .values(
                        finished_at=now,
                        outcome="unknown",
                        detail="the sender stopped before recording how the SMTP conversation ended",
                    )
                )
            else:
                s.execute(
                    update(O)
                    .where(O.c.id == row_id)
                    .values(status="pending", claim_token=None, claimed_by=None, claim_expires_at=None)
                )
        # A rejection no longer counts once it was undone, or once a later approval or rejection of
        # the same document stands (one that was not undone itself).
        later = select(DocumentVerification.id).where(
            DocumentVerification.cohort_enrollment_id == O.c.cohort_enrollment_id,
            DocumentVerification.document_type == O.c.document_type,
            DocumentVerification.id > O.c.document_verification_id,
            DocumentVerification.action.in_(("approved", "rejected")),
            not_undone(),
        )
        s.execute(
            update(O)
            .where(
                O.c.status == "pending",
                O.c.kind == "rejection",
                or_(later.exists(), ~not_undone(O.c.document_verification_id)),
            )
            .values(status="superseded")
        )
        not_verified = select(CohortEnrollment.id).where(
            CohortEnrollment.id == O.c.cohort_enrollment_id,
            CohortEnrollment.document_verification_state != "verified",
        )
        s.execute(
            update(O)
            .where(O.c.status == "pending", O.c.kind == "all_verified", not_verified.exists())
            .values(status="superseded")
        )
        s.execute(
            update(O)
            .where(O.c.status == "pending", O.c.recipient_email.is_(None))
            .values(status="failed", last_error="The learner has no e-mail address in DocuSeal.")
        )
        windows = {
            r.institution_id: r.digest_minutes
            for r in s.execute(
                select(NotificationSettings.institution_id, NotificationSettings.digest_minutes)
            )
        }
        ready = or_(O.c.next_attempt_at.is_(None), O.c.next_attempt_at <= now)
        groups = s.execute(
            select(O.c.account_id, O.c.recipient_email, O.c.institution_id, func.min(O.c.created_at))
            .where(O.c.status == "pending", ready)
            .group_by(O.c.account_id, O.c.recipient_email, O.c.institution_id)
            .order_by(func.min(O.c.created_at))
        ).all()
        chosen: list[tuple[int, str]] = []
        for account_id, email, institution_id, oldest in groups:
            oldest = oldest.replace(tzinfo=UTC) if oldest.tzinfo is None else oldest
            if flush or oldest <= now - timedelta(minutes=windows.get(institution_id, 15)):
                chosen.append((account_id, email))
            if len(chosen) >= learners:
                break
        for account_id, email in chosen:
            key = md5(f"{token}{account_id}{email}".encode()).hexdigest()
            s.execute(
                update(O)
                .where(
                    O.c.status == "pending", ready, O.c.account_id == account_id, O.c.recipient_email == email
                )
                .values(
                    status="sending",
                    claim_token=token,
                    claimed_by="local",
                    claim_expires_at=now + timedelta(seconds=lease_seconds),
                    message_key=key,
                )
            )
        rows = s.execute(
            select(O).where(O.c.claim_token == token, O.c.status == "sending").order_by(O.c.id)
        ).all()
    return _digests(_row(r) for r in rows)


def progress(
    db: Database,
    finished: Sequence[Finished],
    start: Digest | None,
    host: str,
) -> int | None:
    """Record how ``finished`` attempts ended and start an attempt on ``start`` (its id, or ``None``
    when the claim is no longer ours and it must not be sent)."""
    payload = [
        {"attempt": f.attempt_id, "outcome": f.outcome, "detail": f.detail, "retry_seconds": f.retry_seconds}
        for f in finished
    ]
    if _pg(db):
        # One statement in autocommit: one round trip per e-mail (no BEGIN/COMMIT of its own).
        return db.call(
            "SELECT cohortdesk_notify_progress(CAST(:f AS jsonb), :token, :key, :host)",
            {
                "f": json.dumps(payload),
                "token": start.claim_token if start else None,
                "key": start.message_key if start else None,
                "host": host,
            },
        )
    return _sqlite_progress(db, payload, start, host)


# The SQLite sender's bookkeeping, built once: the sender runs these once per e-mail, and building a
# statement costs more than running it on SQLite.
_ATTEMPT = select(A.c.claim_token, A.c.message_key, A.c.finished_at, A.c.outcome).where(
    A.c.id == bindparam("p_attempt")
)
_FINISH_ATTEMPT = (
    update(A)
    .where(A.c.id == bindparam("p_attempt"))
    .values(finished_at=bindparam("p_now"), outcome=bindparam("p_outcome"), detail=bindparam("p_detail"))
)
_TRIES = O.c.attempts + 1
_LIMIT = func.coalesce(
    select(NotificationSettings.max_attempts)
    .where(NotificationSettings.institution_id == O.c.institution_id)
    .scalar_subquery(),
    8,
)
_FINISH_ROWS = (
    update(O)
    .where(
        O.c.claim_token == bindparam("p_claim_token"),  # the claim's index, not a scan of the outbox
        O.c.message_key == bindparam("p_message_key"),
        O.c.status.in_(("sending", "unknown")),
    )
    .values(
        attempts=_TRIES,
        status=case(
            (bindparam("p_retry", type_=Boolean) & (_TRIES >= _LIMIT), "failed"), else_=bindparam("p_status")
        ),
        next_attempt_at=bindparam("p_next_attempt_at"),
        sent_at=bindparam("p_sent_at"),
        last_error=bindparam("p_last_error"),
        claim_token=case((bindparam("p_keep_claim", type_=Boolean), O.c.claim_token), else_=None),
        claimed_by=None,
        claim_expires_at=None,
    )
)
_CLAIMED_IDS = select(O.c.id).where(
    O.c.claim_token == bindparam("p_claim_token"),
    O.c.message_key == bindparam("p_message_key"),
    O.c.status == "sending",
    O.c.claim_expires_at > bindparam("p_now"),
)
_START_ATTEMPT = insert(A).returning(A.c.id)


def _sqlite_progress(
    db: Database, payload: list[dict[str, Any]], start: Digest | None, host: str
) -> int | None:
    """The steps of ``cohortdesk_notify_progress`` in one write transaction on the embedded store."""
    now = datetime.now(UTC)
    with db.session() as s:
        for item in payload:
            found = s.execute(_ATTEMPT, {"p_attempt": item["attempt"]}).first()
            if found is None or (found.finished_at is not None and found.outcome != "unknown"):
                continue
            outcome = item["outcome"]
            detail = (item["detail"] or "")[:2000]
            s.execute(
                _FINISH_ATTEMPT,
                {"p_attempt": item["attempt"], "p_now": now, "p_outcome": outcome, "p_detail": detail},
            )
            retry = outcome == "retry"
            s.execute(
                _FINISH_ROWS,
                {
                    "p_claim_token": found.claim_token,
                    "p_message_key": found.message_key,
                    "p_retry": retry,
                    "p_status": "pending" if retry else outcome,
                    "p_next_attempt_at": now + timedelta(seconds=item["retry_seconds"]) if retry else None,
                    "p_sent_at": now if outcome == "sent" else None,
                    "p_last_error": None if outcome == "sent" else detail,
                    "p_keep_claim": outcome == "unknown",
                },
            )
        if start is None:
            return None
        ids = s.scalars(
            _CLAIMED_IDS,
            {"p_claim_token": start.claim_token, "p_message_key": start.message_key, "p_now": now},
        ).all()
        if not ids:
            return None
        return s.scalar(
            _START_ATTEMPT,
            {
                "account_id": start.account_id,
                "claim_token": start.claim_token,
                "message_key": start.message_key,
                "recipient_email": start.recipient_email,
                "outbox_ids": sorted(ids),
                "started_at": now,
                "sender": "local",
                "host": host[:255],
            },
        )


# --- reminders and resending --------------------------------------------------------------------


def remind(db: Database, identity: Identity, enrollment_ids: Sequence[int] | None) -> list[ReminderOutcome]:
    """Queue a reminder of missing uploads for each enrollment, or say why not.

    ``None`` runs the institution's scheduled rule (the sender does, each cycle).
    """
    if enrollment_ids is not None and not identity.can("decide"):
        raise PermissionDenied("Only officers and super admins remind learners.")
    if _pg(db):
        with db.session() as s:
            rows = s.execute(
                text("SELECT * FROM cohortdesk_notify_remind(CAST(:ids AS bigint[]))"),
                {"ids": None if enrollment_ids is None else list(enrollment_ids)},
            ).all()
        return [ReminderOutcome(r.enrollment_id, r.queued, r.detail) for r in rows]
    return _sqlite_remind(db, enrollment_ids)


def missing_documents(required: Sequence[str] | None, uploaded: dict[str, Any] | None) -> list[str]:
    uploaded = uploaded or {}
    return [d for d in (required or []) if d not in uploaded]


def _sqlite_remind(db: Database, enrollment_ids: Sequence[int] | None) -> list[ReminderOutcome]:
    now = datetime.now(UTC)
    out: list[ReminderOutcome] = []
    with db.session() as s:
        settings = {r.institution_id: r for r in s.scalars(select(NotificationSettings))}
        if enrollment_ids is None:
            candidates = []
            rows = s.execute(
                select(CohortEnrollment, Cohort)
                .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
                .where(
                    CohortEnrollment.deleted_at.is_(None),
                    Cohort.deleted_at.is_(None),
                    Cohort.state == "active",
                )
            ).all()
            for e, c in rows:
                rule = settings.get(c.institution_id)
                if rule is None or not (rule.reminder_rule or {}).get("enabled"):
                    continue
                after = (rule.reminder_rule or {}).get("after_days")
                after = 7 if after is None else int(after)  # 0 means "from the day they enrolled"
                created = e.created_at.replace(tzinfo=UTC) if e.created_at.tzinfo is None else e.created_at
                if created <= now - timedelta(days=after) and missing_documents(
                    c.required_document_types, e.uploaded_documents
                ):
                    candidates.append(e.id)
            enrollment_ids = candidates
            automatic = True
        else:
            automatic = False
        for enrollment_id in enrollment_ids:
            found = s.execute(
                select(CohortEnrollment, Cohort, User.email, User.first_name, User.last_name)
                .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
                .outerjoin(User, User.id == CohortEnrollment.user_id)
                .where(CohortEnrollment.id == enrollment_id, CohortEnrollment.deleted_at.is_(None))
            ).first()
            if found is None:
                out.append(ReminderOutcome(enrollment_id, False, "There is no such enrollment."))
                continue
            e, c, email, first, last = found
            missing = missing_documents(c.required_document_types, e.uploaded_documents)
            if not missing:
                out.append(
                    ReminderOutcome(
                        enrollment_id, False, "Nothing is missing: every required document is uploaded."
                    )
                )
                continue
            if not (email or "").strip():
                out.append(ReminderOutcome(enrollment_id, False, "The learner has no e-mail address."))
                continue
            min_days = settings[c.institution_id].reminder_min_days if c.institution_id in settings else 3
            last_at = s.scalar(
                select(func.max(O.c.created_at)).where(
                    O.c.cohort_enrollment_id == enrollment_id, O.c.kind == "reminder", O.c.status != "failed"
                )
            )
            if last_at is not None:
                last_at = last_at.replace(tzinfo=UTC) if last_at.tzinfo is None else last_at
                if last_at > now - timedelta(days=min_days):
                    if not automatic:
                        out.append(
                            ReminderOutcome(
                                enrollment_id,
                                False,
                                f"Reminded on {last_at:%Y-%m-%d %H:%M} UTC; your institution allows one "
                                f"reminder every {min_days} day(s).",
                            )
                        )
                    continue
            s.add(
                NotificationOutbox(
                    account_id=e.account_id,
                    institution_id=c.institution_id,
                    kind="reminder",
                    cohort_enrollment_id=e.id,
                    recipient_user_id=e.user_id,
                    recipient_email=email.strip(),
                    recipient_name=" ".join(p for p in (first, last) if p) or None,
                    details={"cohort_name": c.name, "missing": missing},
                    created_at=now,
                    status="pending",
                    attempts=0,
                )
            )
            out.append(ReminderOutcome(enrollment_id, True, "Reminder queued: " + ", ".join(missing) + "."))
    return out


def resend(db: Database, identity: Identity, outbox_ids: Sequence[int]) -> int:
    """Put failed or unknown-outcome notifications back in the queue (a super admin's decision)."""
    if not identity.can("configure"):
        raise PermissionDenied("Only a super admin sends a notification again.")
    if _pg(db) and identity.db_role is not None:
        with db.session() as s:
            return int(
                s.scalar(
                    text("SELECT cohortdesk_notify_resend(CAST(:ids AS bigint[]))"), {"ids": list(outbox_ids)}
                )
                or 0
            )
    with db.session() as s:
        result = s.execute(
            update(O)
            .where(O.c.id.in_(list(outbox_ids)), O.c.status.in_(("unknown", "failed")))
            .values(status="pending", attempts=0, next_attempt_at=None, claim_token=None, message_key=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)


# --- reads for the application ------------------------------------------------------------------


def summary(db: Database, limit: int = 200) -> OutboxSummary:
    """Counts per status and the most recent notifications (the super admin's outbox view)."""
    with db.read_session() as s:
        counts: dict[str, int] = {
            status: count
            for status, count in s.execute(select(O.c.status, func.count()).group_by(O.c.status))
        }
        recent = [_row(r) for r in s.execute(select(O).order_by(O.c.id.desc()).limit(limit))]
    return OutboxSummary(counts=counts, recent=recent)


def for_enrollment(db: Database, enrollment_id: int) -> list[OutboxRow]:
    """The notifications of one enrollment, newest first (History shows them beside the decisions)."""
    with db.read_session() as s:
        return [
            _row(r)
            for r in s.execute(
                select(O).where(O.c.cohort_enrollment_id == enrollment_id).order_by(O.c.id.desc())
            )
        ]


def rows(db: Database, ids: Sequence[int] | None = None) -> list[OutboxRow]:
    with db.read_session() as s:
        stmt = select(O).order_by(O.c.id)
        if ids is not None:
            stmt = stmt.where(O.c.id.in_(list(ids)))
        return [_row(r) for r in s.execute(stmt)]


def attempts(db: Database) -> list[NotificationAttempt]:
    with db.read_session() as s:
        found = list(s.scalars(select(NotificationAttempt).order_by(NotificationAttempt.id)))
        s.expunge_all()
        return found

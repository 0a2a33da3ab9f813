"""The three tables of learner notifications: settings per institution, the outbox and its attempts.

``notification_settings`` (one row per institution)
    SMTP host, port, security (``starttls``, ``tls`` or ``none``) and login name; sender name and
    address, reply-to; the digest window, the reminder limits and rule, whether "all your documents
    are verified" is sent, and the e-mail templates a super admin edited (``{kind: {"subject",
    "text", "html"}}``; a kind left out uses the built-in English text). The SMTP password is never
    here: it lives in the keyring of the machine that sends.
``notification_outbox`` (one row per thing a learner should hear of)
    Written in the same transaction as its cause by the database itself (triggers on decisions and on
    the enrollment's verification state; reminders by the remind function), so a decision and its
    notification exist together or not at all. A sender claims rows (``status`` ``sending`` with a
    ``claim_token`` and a lease) and every row of one learner goes out as one digest e-mail whose
    ``Message-ID`` is built from ``message_key``.
``notification_attempts`` (one row per SMTP attempt of one digest)
    Written before the SMTP transaction starts and finished after it: an attempt left unfinished by a
    sender that died means the outcome is unknown, and the rows are then never sent again by
    themselves (see ``docs/notifications.md``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from cohortdesk.models.base import Base
from cohortdesk.models.types import BigIntPK, JSONDocument, UTCDateTime, utcnow

NOTIFICATION_KINDS = ("rejection", "reminder", "all_verified")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "unknown", "superseded")
ATTEMPT_OUTCOMES = ("sent", "retry", "failed", "unknown")
SMTP_SECURITY = ("starttls", "tls", "none")
NOTIFY_TABLES = ("notification_settings", "notification_outbox", "notification_attempts")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class NotificationSettings(Base):
    __tablename__ = "notification_settings"
    __table_args__ = (
        CheckConstraint(_in("smtp_security", SMTP_SECURITY), name="smtp_security"),
        CheckConstraint("smtp_port > 0 AND smtp_port < 65536", name="smtp_port"),
        CheckConstraint("digest_minutes >= 0", name="digest_minutes"),
        CheckConstraint("reminder_min_days >= 1", name="reminder_min_days"),
        CheckConstraint("max_attempts >= 1", name="max_attempts"),
        Index("ix_notification_settings_account_id", "account_id"),
    )

    institution_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("institutions.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False)
    smtp_host: Mapped[str | None] = mapped_column(String(255))
    smtp_port: Mapped[int] = mapped_column(Integer, nullable=False, default=587)
    smtp_security: Mapped[str] = mapped_column(String(10), nullable=False, default="starttls")
    smtp_username: Mapped[str | None] = mapped_column(String(255))
    sender_name: Mapped[str | None] = mapped_column(String(255))
    sender_address: Mapped[str | None] = mapped_column(String(255))
    reply_to: Mapped[str | None] = mapped_column(String(255))
    notify_all_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    digest_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=15)
    reminder_min_days: Mapped[int] = mapped_column(Integer, nullable=False, default=3)
    #: ``{"enabled": bool, "after_days": int}``: remind learners still missing uploads this many days
    #: after they enrolled, then again every ``reminder_min_days``.
    reminder_rule: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False, default=dict)
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=8)
    templates: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(63))


class NotificationOutbox(Base):
    __tablename__ = "notification_outbox"
    __table_args__ = (
        CheckConstraint(_in("kind", NOTIFICATION_KINDS), name="kind"),
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        Index("ix_notification_outbox_cohort_enrollment_id", "cohort_enrollment_id"),
        Index("ix_notification_outbox_account_id_created_at", "account_id", "created_at"),
        # What a sender looks for: pending rows, by learner, oldest first.
        Index(
            "ix_notification_outbox_pending",
            "account_id",
            "recipient_email",
            "created_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_notification_outbox_claim_token",
            "claim_token",
            postgresql_where=text("claim_token IS NOT NULL"),
            sqlite_where=text("claim_token IS NOT NULL"),
        ),
        # How an attempt's outcome finds its digest's rows (one lookup per e-mail sent).
        Index(
            "ix_notification_outbox_message_key",
            "message_key",
            postgresql_where=text("message_key IS NOT NULL"),
            sqlite_where=text("message_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False)
    institution_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("institutions.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    cohort_enrollment_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("cohort_enrollments.id"), nullable=False
    )
    # No foreign key: the decision history is append-only and must keep refusing TRUNCATE by itself.
    document_verification_id: Mapped[int | None] = mapped_column(BigInteger)
    # No foreign key: DocuSeal may delete a user; the row keeps whom it was for.
    recipient_user_id: Mapped[int | None] = mapped_column(BigInteger)
    recipient_email: Mapped[str | None] = mapped_column(String(255))
    recipient_name: Mapped[str | None] = mapped_column(String(255))
    document_type: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    #: ``{"cohort_name": str, "officer": str, "missing": [document_type, ...]}``
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    claimed_by: Mapped[str | None] = mapped_column(String(63))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_key: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class NotificationAttempt(Base):
    __tablename__ = "notification_attempts"
    __table_args__ = (
        CheckConstraint(_in("outcome", ATTEMPT_OUTCOMES), name="outcome"),
        Index("ix_notification_attempts_account_id_started_at", "account_id", "started_at"),
        Index("ix_notification_attempts_message_key", "message_key"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False)
    claim_token: Mapped[str] = mapped_column(String(36), nullable=False)
    message_key: Mapped[str] = mapped_column(String(64), nullable=False)
    recipient_email: Mapped[str | None] = mapped_column(String(255))
    outbox_ids: Mapped[list[int]] = mapped_column(JSONDocument, nullable=False, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(10))
    detail: Mapped[str | None] = mapped_column(Text)
    #: The login (``session_user``) and machine that made the attempt.
    sender: Mapped[str | None] = mapped_column(String(63))
    host: Mapped[str | None] = mapped_column(String(255))

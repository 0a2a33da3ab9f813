"""An institution's e-mail settings: SMTP server, sender, limits, the reminder rule and templates.

Read from ``notification_settings`` (defaults when the institution saved none); written on
PostgreSQL only through ``cohortdesk_notify_save_settings`` (super admins of that institution, the
database stamps who and when), on the embedded store directly. The SMTP password is never stored
with them: ``smtp_password`` / ``set_smtp_password`` keep it in the keyring of the machine that
sends, under an account name made of the institution, login and host.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text

from cohortdesk.db import Database
from cohortdesk.errors import PermissionDenied, ValidationError
from cohortdesk.models import Institution, NotificationSettings
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.connection import secrets
from cohortdesk.services.notify.templates import check_templates

SECURITY_CHOICES = {
    "starttls": "STARTTLS (usually port 587)",
    "tls": "TLS (usually port 465)",
    "none": "None",
}
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass(frozen=True)
class NotifySettings:
    institution_id: int
    institution_name: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str = ""
    sender_name: str = ""
    sender_address: str = ""
    reply_to: str = ""
    notify_all_verified: bool = False
    digest_minutes: int = 15
    reminder_min_days: int = 3
    reminder_rule_enabled: bool = False
    reminder_after_days: int = 7
    max_attempts: int = 8
    templates: dict[str, dict[str, str]] = field(default_factory=dict)
    saved: bool = False  # False: nothing saved yet, these are the defaults

    @property
    def configured(self) -> bool:
        return bool(self.smtp_host and self.sender_address)

    @property
    def keyring_account(self) -> str:
        return smtp_keyring_account(self.institution_id, self.smtp_username, self.smtp_host)

    def payload(self) -> dict[str, Any]:
        """The JSON the save function takes."""
        data = asdict(self)
        for name in (
            "institution_id",
            "institution_name",
            "saved",
            "reminder_rule_enabled",
            "reminder_after_days",
        ):
            data.pop(name)
        data["reminder_rule"] = {
            "enabled": self.reminder_rule_enabled,
            "after_days": self.reminder_after_days,
        }
        return data


def smtp_keyring_account(institution_id: int, username: str, host: str) -> str:
    return f"smtp:{institution_id}:{username}@{host}"


def smtp_password(settings: NotifySettings) -> str | None:
    """The SMTP password from this machine's keyring (``None`` when none is kept here)."""
    if not settings.smtp_username:
        return None
    return secrets.get_password(settings.keyring_account)


def set_smtp_password(settings: NotifySettings, password: str) -> None:
    secrets.set_password(settings.keyring_account, password)


def _from_row(row: NotificationSettings | None, institution_id: int, name: str) -> NotifySettings:
    if row is None:
        return NotifySettings(institution_id=institution_id, institution_name=name)
    rule = row.reminder_rule or {}
    return NotifySettings(
        institution_id=institution_id,
        institution_name=name,
        smtp_host=row.smtp_host or "",
        smtp_port=row.smtp_port,
        smtp_security=row.smtp_security,
        smtp_username=row.smtp_username or "",
        sender_name=row.sender_name or "",
        sender_address=row.sender_address or "",
        reply_to=row.reply_to or "",
        notify_all_verified=row.notify_all_verified,
        digest_minutes=row.digest_minutes,
        reminder_min_days=row.reminder_min_days,
        reminder_rule_enabled=bool(rule.get("enabled")),
        reminder_after_days=7 if rule.get("after_days") is None else int(rule["after_days"]),
        max_attempts=row.max_attempts,
        templates=dict(row.templates or {}),
        saved=True,
    )


def load(db: Database, institution_id: int) -> NotifySettings:
    with db.read_session() as s:
        name = s.scalar(select(Institution.name).where(Institution.id == institution_id)) or ""
        row = s.get(NotificationSettings, institution_id)
        return _from_row(row, institution_id, name)


def load_all(db: Database) -> dict[int, NotifySettings]:
    """Every visible institution's settings (a sender serving more than one institution)."""
    with db.read_session() as s:
        rows = {r.institution_id: r for r in s.scalars(select(NotificationSettings))}
        return {i.id: _from_row(rows.get(i.id), i.id, i.name) for i in s.scalars(select(Institution))}


def validate(settings: NotifySettings) -> NotifySettings:
    """Clean and check what a super admin typed; ``ValidationError`` naming the field and the fix."""
    host = settings.smtp_host.strip()
    if host and (" " in host or "/" in host):
        raise ValidationError("SMTP server", "is a host name such as smtp.example.co.za, without spaces or /")
    if not 0 < settings.smtp_port < 65536:
        raise ValidationError("Port", "must be between 1 and 65535 (587 for STARTTLS, 465 for TLS)")
    if settings.smtp_security not in SECURITY_CHOICES:
        raise ValidationError("Security", "must be STARTTLS, TLS or none")
    for label, value in (("Sender address", settings.sender_address), ("Reply-to", settings.reply_to)):
        if value.strip() and not _EMAIL.match(value.strip()):
            raise ValidationError(label, f"{value!r} is not an e-mail address (name@example.co.za)")
    if host and not settings.sender_address.strip():
        raise ValidationError("Sender address", "is needed to send e-mail (the From: address)")
    if settings.digest_minutes < 0 or settings.digest_minutes > 24 * 60:
        raise ValidationError("Digest window", "must be 0 to 1440 minutes")
    if settings.reminder_min_days < 1:
        raise ValidationError("Reminders", "may be sent at most once a day: use 1 day or more")
    if settings.reminder_after_days < 0:
        raise ValidationError("Reminder rule", "days after enrolling cannot be negative")
    if not 1 <= settings.max_attempts <= 50:
        raise ValidationError("Attempts", "must be 1 to 50")
    return replace(
        settings,
        smtp_host=host,
        smtp_username=settings.smtp_username.strip(),
        sender_name=settings.sender_name.strip(),
        sender_address=settings.sender_address.strip(),
        reply_to=settings.reply_to.strip(),
        templates=check_templates(settings.templates),
    )


def save(db: Database, identity: Identity, settings: NotifySettings) -> NotifySettings:
    """Save an institution's settings (super admins of that institution)."""
    if not identity.can("configure"):
        raise PermissionDenied("Only a super admin changes the e-mail settings.")
    settings = validate(settings)
    if db.dialect == "postgresql" and identity.db_role is not None:
        if identity.institution_id != settings.institution_id:
            raise PermissionDenied("You can change only your own institution's e-mail settings.")
        import json

        with db.session() as s:
            s.execute(
                text("SELECT cohortdesk_notify_save_settings(CAST(:p AS jsonb))"),
                {"p": json.dumps(settings.payload())},
            )
    else:
        with db.session() as s:
            account_id = s.scalar(
                select(Institution.account_id).where(Institution.id == settings.institution_id)
            )
            row = s.get(NotificationSettings, settings.institution_id)
            if row is None:
                row = NotificationSettings(institution_id=settings.institution_id, account_id=account_id)
                s.add(row)
            for key, value in settings.payload().items():
                setattr(row, key, value)
            now = s.scalar(select(func.now())) if db.dialect == "postgresql" else None
            row.updated_at = now or datetime.now(UTC)
            row.updated_by = identity.db_role or "local"
    return load(db, settings.institution_id)

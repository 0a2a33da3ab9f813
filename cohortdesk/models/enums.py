"""The enumerations of the seed data model, as Python ``StrEnum`` values.

The same value lists become CHECK constraints in the database, so a row written by any client must
use them.
"""

from __future__ import annotations

from enum import StrEnum


class ProgramType(StrEnum):
    LEARNERSHIP = "learnership"
    INTERNSHIP = "internship"
    CANDIDACY = "candidacy"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class CohortState(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class EnrollmentState(StrEnum):
    WAITING = "waiting"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"


class VerificationState(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class VerificationAction(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class AppRole(StrEnum):
    """A CohortDesk role; each maps to a NOLOGIN group role ``cohortdesk_<value>`` on PostgreSQL."""

    SUPER_ADMIN = "super_admin"
    OFFICER = "officer"
    REPORT_VIEWER = "report_viewer"

    @property
    def group_role(self) -> str:
        return f"cohortdesk_{self.value}"

    @property
    def label(self) -> str:
        return {"super_admin": "Super admin", "officer": "Verification officer"}.get(
            self.value, "Report viewer"
        )


class AccessKind(StrEnum):
    """What an access-log entry records (POPIA: views, reveals, exports and permission changes)."""

    DOCUMENT_VIEW = "document_view"
    SPECIAL_PI_REVEAL = "special_pi_reveal"
    EXPORT = "export"
    PERMISSION_CHANGE = "permission_change"


def check_in(column: str, enum: type[StrEnum]) -> str:
    """SQL text for a CHECK constraint that keeps ``column`` inside ``enum``'s values."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"

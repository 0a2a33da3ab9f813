"""The enumerations of the seed data model, as Python ``StrEnum`` values, with the words people read.

The same value lists become CHECK constraints in the database, so a row written by any client must
use them. Each member's ``label`` is the one wording screens, reports and exports show. This module
imports nothing of the ORM, so the Qt views may use it.
"""

from __future__ import annotations

from enum import StrEnum


class LabelledEnum(StrEnum):
    """A ``StrEnum`` whose members say themselves in words: ``in_progress`` → "In progress"."""

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @classmethod
    def label_of(cls, value: str | None) -> str:
        """The label of a stored value; an unknown value is shown as it is (never an error)."""
        if value is None:
            return ""
        try:
            return cls(value).label
        except ValueError:
            return value


class ProgramType(LabelledEnum):
    LEARNERSHIP = "learnership"
    INTERNSHIP = "internship"
    CANDIDACY = "candidacy"


class CohortState(LabelledEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class EnrollmentState(LabelledEnum):
    WAITING = "waiting"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"


class VerificationState(LabelledEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class VerificationAction(LabelledEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    #: An undo: a row of its own that takes back the decision ``reverses_id`` points at.
    REVERSAL = "reversal"


class AppRole(LabelledEnum):
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
    """What an access-log entry records (POPIA: views, reveals, exports, permission changes, and the
    server's comparisons of an ID number read off a document with the hidden captured one)."""

    DOCUMENT_VIEW = "document_view"
    SPECIAL_PI_REVEAL = "special_pi_reveal"
    EXPORT = "export"
    PERMISSION_CHANGE = "permission_change"
    ID_NUMBER_CHECK = "id_number_check"


def check_in(column: str, enum: type[StrEnum]) -> str:
    """SQL text for a CHECK constraint that keeps ``column`` inside ``enum``'s values."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"

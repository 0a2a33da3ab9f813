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


def check_in(column: str, enum: type[StrEnum]) -> str:
    """SQL text for a CHECK constraint that keeps ``column`` inside ``enum``'s values."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"

"""Typed, user-ready errors raised by the Qt-free core.

Every error carries a message written for the person at the keyboard; the GUI shows it as is in one
place and the command line prints it. Anything that is not a ``CohortDeskError`` is a bug and gets a
generic message with details to copy.
"""

from __future__ import annotations


class CohortDeskError(Exception):
    """Base class: ``str(error)`` is a plain-words message fit to show a user."""


class ValidationError(CohortDeskError):
    """Input was refused. ``field`` names what was wrong (``student_data.sa_id_number``, ``email``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFoundError(CohortDeskError):
    """The record asked for does not exist (or is not visible to this login)."""


class InvalidTransition(CohortDeskError):
    """A state change its state machine does not allow; nothing was written."""

    def __init__(self, entity: str, current: str, target: str, why: str = "") -> None:
        text = f"A {entity} cannot go from {current!r} to {target!r}"
        super().__init__(f"{text}: {why}" if why else f"{text}.")
        self.entity = entity
        self.current = current
        self.target = target


class ConflictError(CohortDeskError):
    """Somebody else changed the record since it was read; nothing was overwritten."""


class ClaimConflict(ConflictError):
    """A review claim could not be taken, kept or used; the message says what changed and by whom.

    ``enrollment_id`` names the pack; ``holder`` is who holds it now (a display name) or ``None``;
    ``claim_lost`` is true when the caller's own lease is gone (expired, released or taken over), false
    when the lease is intact but the pack changed underneath it. The caller's typed input is never
    touched: the GUI keeps it for a retry.
    """

    def __init__(
        self, message: str, *, enrollment_id: int, holder: str | None = None, claim_lost: bool = False
    ) -> None:
        super().__init__(message)
        self.enrollment_id = enrollment_id
        self.holder = holder
        self.claim_lost = claim_lost


class PermissionDenied(CohortDeskError):
    """The login may not do this."""


class OfflineError(CohortDeskError):
    """The database cannot be reached right now."""


class SchemaError(CohortDeskError):
    """The database schema is one this version cannot work with (too new, unknown, or missing)."""


class StorageError(CohortDeskError):
    """An uploaded document's bytes are missing, unreadable or do not match their record."""


class SyncError(CohortDeskError):
    """Synchronisation with the server could not go on; every local change is still kept."""


class SyncSchemaTooOld(SchemaError):
    """The server accepts only newer laptops: update CohortDesk. The waiting changes are kept."""

    #: How the message starts; the sync indicator recognises a recorded failure of this kind by it.
    PREFIX = "The server needs a newer CohortDesk"

    def __init__(self, client_version: int, min_version: int, waiting: int) -> None:
        super().__init__(
            f"{self.PREFIX} (sync schema {min_version} or later; this laptop has "
            f"{client_version}). Update CohortDesk, then sync again: your {waiting} waiting "
            f"change{'s stay' if waiting != 1 else ' stays'} safely on this laptop until then."
        )
        self.client_version = client_version
        self.min_version = min_version
        self.waiting = waiting


class EmptyReportError(CohortDeskError):
    """A report would have no rows (an empty cohort, no decisions in the range); no file was written."""


class OperationCancelled(CohortDeskError):
    """The person cancelled a long operation (an export); nothing it was writing was kept."""

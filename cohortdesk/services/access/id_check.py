"""Is the ID number read off a document the learner's captured one, when the login may not see it?

On PostgreSQL a login reads the captured SA ID number masked (``800101*****87``), so a number read off
an ID document can be compared on its visible digits only. The database answers the whole question
without giving the number (migration ``0021_id_number_check``, ``docs/claims-sync-security.md``):

1. ``cohortdesk_id_number_check(enrollment, candidate)`` compares, writes the access log and keeps the
   answer under a ticket; this call commits on its own (``Database.call`` runs in autocommit);
2. ``cohortdesk_id_number_check_result(ticket)`` gives the answer, only once step 1 has committed.

Limits per login (3 different numbers per learner's ID document, 20 numbers answered "no" and 1,000
checks in any 24 hours) are the database's; a refusal arrives as ``PermissionDenied`` in words.

``check_id_number(db, enrollment_id, candidate) -> bool`` runs both steps (on the database lane of the
background runner: two short round trips). SQLite has no masked numbers, so nothing calls this there.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from cohortdesk.db import Database
from cohortdesk.errors import NotFoundError, PermissionDenied, ValidationError

_CHECK = "SELECT cohortdesk_id_number_check(:enrollment_id, :candidate)"
_RESULT = "SELECT cohortdesk_id_number_check_result(:ticket)"
#: SQLSTATEs of the functions' refusals: a limit reached, an answer asked for too early or too late.
LIMIT_REACHED, NOT_ANSWERABLE = "CD010", "CD011"


def check_id_number(db: Database, enrollment_id: int, candidate: str) -> bool:
    """True when ``candidate`` (13 digits, as read off the document) is the enrollment's captured SA ID
    number. Logged and counted by the database; raises ``PermissionDenied`` (not a reviewer of this
    institution, or a limit reached: the message says until when), ``NotFoundError`` (no such
    enrollment here, no ID document or no captured number) or ``ValidationError`` (not 13 digits)."""
    digits = "".join(candidate.split())
    if not (len(digits) == 13 and digits.isdigit()):
        raise ValidationError("sa_id_number", "an SA ID number is 13 digits")
    try:
        ticket = db.call(_CHECK, {"enrollment_id": enrollment_id, "candidate": digits})
        return bool(db.call(_RESULT, {"ticket": int(ticket)}))
    except sa_exc.DBAPIError as error:
        raise _refusal(error) from error


def _refusal(error: sa_exc.DBAPIError) -> Exception:
    state = getattr(error.orig, "sqlstate", None)
    diag = getattr(error.orig, "diag", None)
    said = str((getattr(diag, "message_primary", None) if diag is not None else None) or error.orig)
    words = said[:1].upper() + said[1:].rstrip(".") + "."
    if state in ("42501", LIMIT_REACHED, NOT_ANSWERABLE):
        return PermissionDenied(words)
    if state == "P0002":
        return NotFoundError(words)
    if state == "22023":
        return ValidationError("sa_id_number", said)
    if state == "42883":  # the function is missing: a server not yet upgraded to 0021
        return PermissionDenied(
            "This server cannot compare hidden ID numbers yet (its schema needs an upgrade)."
        )
    return error

"""Special personal information (POPIA s26): race, disability and the full ID number, masked unless
the identity holds the ``special_pi`` capability, and revealed per learner only with a logged reason.

* ``masked_student_data(student_data, identity)``: the copy any list, grid or panel shows.
* ``reveal_student_pi(db, identity, enrollment_id, reason)``: the unmasked values for one learner,
  written to the access log (field names and reason, never the values) in the same transaction.
* ``reveal_details(db, identity, enrollment_id, reason)``: the workstation's student details page of
  one learner with special PI on show, after the same logged reveal.
* ``document_needs_special_pi(document_type)``: medical letters (``disability_proof``) are health
  information; only capability holders may open them.

The masks are the queue's (``queue.MASK``, ``queue.mask_id_number``: an ID number keeps the birth
date an officer compares against the scan), so every screen and export hides the same way. A view
shows masked values as they are and never tries to unmask them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from cohortdesk.db import Database
from cohortdesk.errors import NotFoundError, PermissionDenied, ValidationError
from cohortdesk.models import AccessKind, CohortEnrollment
from cohortdesk.services import access_log
from cohortdesk.services.identity import SPECIAL_PI, Identity
from cohortdesk.services.queue import MASK, StudentDetails, mask_id_number, student_details
from cohortdesk.services.validation import DISABILITY_STATUSES, POPULATION_GROUPS

#: ``student_data`` keys holding special personal information (or identifying numbers masked with it).
SPECIAL_PI_FIELDS = ("race", "disability", "sa_id_number", "alternate_id")
#: Document types that are themselves special personal information (health).
SPECIAL_PI_DOCUMENTS = frozenset({"disability_proof"})


def can_see_special_pi(identity: Identity) -> bool:
    return identity.can(SPECIAL_PI)


def masked_student_data(student_data: dict[str, Any] | None, identity: Identity) -> dict[str, Any]:
    """A copy of ``student_data`` with special PI masked unless ``identity`` holds the capability."""
    data = dict(student_data or {})
    if can_see_special_pi(identity):
        return data
    for key in ("race", "disability"):
        if data.get(key) not in (None, ""):
            data[key] = MASK
    for key in ("sa_id_number", "alternate_id"):
        if data.get(key):
            data[key] = mask_id_number(str(data[key]))
    return data


def document_needs_special_pi(document_type: str) -> bool:
    return document_type in SPECIAL_PI_DOCUMENTS


def check_document_access(identity: Identity, document_type: str) -> None:
    """Refuse to open a medical letter for someone without the special-PI capability."""
    if document_needs_special_pi(document_type) and not can_see_special_pi(identity):
        raise PermissionDenied(
            "This document is health information (special personal information under POPIA); "
            "your role may not open it. Ask a colleague who holds that permission."
        )


@dataclass(frozen=True)
class RevealedPI:
    enrollment_id: int
    race: str | None
    race_label: str | None
    disability: str | None
    disability_label: str | None
    sa_id_number: str | None
    alternate_id: str | None
    revealed_at: datetime
    log_id: int


def reveal_student_pi(db: Database, identity: Identity, enrollment_id: int, reason: str) -> RevealedPI:
    """One learner's special personal information, unmasked, with the reveal logged (who, when, why)."""
    if not can_see_special_pi(identity):
        raise PermissionDenied(
            "Your role may not see special personal information (race, disability, ID number)."
        )
    cleaned = (reason or "").strip()
    if len(cleaned) < 3:
        raise ValidationError("reason", "say why you need to see this learner's special personal information")
    with db.session() as s:
        student_data = s.scalar(
            select(CohortEnrollment.student_data).where(CohortEnrollment.id == enrollment_id)
        )
        if student_data is None:
            raise NotFoundError(f"There is no enrollment with id {enrollment_id}.")
        fields = [f for f in SPECIAL_PI_FIELDS if student_data.get(f) not in (None, "")]
        log_id = access_log.append(
            s,
            identity,
            AccessKind.SPECIAL_PI_REVEAL,
            object_table="cohort_enrollments",
            object_id=enrollment_id,
            purpose=cleaned,
            details={"fields": fields},
        )
    race = student_data.get("race")
    disability = student_data.get("disability")
    return RevealedPI(
        enrollment_id=enrollment_id,
        race=race,
        race_label=POPULATION_GROUPS.get(race) if race else None,
        disability=disability,
        disability_label=DISABILITY_STATUSES.get(disability) if disability else None,
        sa_id_number=student_data.get("sa_id_number"),
        alternate_id=student_data.get("alternate_id"),
        revealed_at=datetime.now(UTC),
        log_id=log_id,
    )


#: Purposes offered when revealing (the officer may type another); the chosen one goes to the access log.
REVEAL_PURPOSES = (
    "Checking this learner's documents against their details",
    "Disability support arrangements",
    "Employment equity reporting",
    "The learner asked to see or correct their details",
)


def reveal_details(db: Database, identity: Identity, enrollment_id: int, reason: str) -> StudentDetails:
    """One learner's student details with special PI unmasked, after logging the reveal with its reason."""
    reveal_student_pi(db, identity, enrollment_id, reason)
    return student_details(db, enrollment_id, identity, unmasked=True)

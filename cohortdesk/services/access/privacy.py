"""Special personal information (POPIA s26): race, disability and the full ID number, masked unless
the identity holds the ``special_pi`` capability, and revealed per learner only with a logged reason.

* ``masked_student_data(student_data, identity)``: the copy any list, grid or panel shows.
* ``reveal_student_pi(db, identity, enrollment_id, reason)``: the unmasked values for one learner,
  written to the access log (field names and reason, never the values) in the same transaction. On
  PostgreSQL a login cannot read these values from any table or view (it reads the masked view
  ``cohortdesk_docuseal.cohort_enrollments``); ``cohortdesk_reveal_special_pi`` checks the capability,
  logs and returns them.
* ``reveal_details(db, identity, enrollment_id, reason)``: the workstation's student details page of
  one learner with special PI on show, after the same logged reveal.
* ``fetch_document(db, identity, enrollment_id, document_type)``: a document's entry with its storage
  key, the view logged (how a health document's key is obtained on the server).
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
from cohortdesk.services.access import log as access_log
from cohortdesk.services.access.identity import SPECIAL_PI, Identity
from cohortdesk.services.review.queue import MASK, StudentDetails, mask_id_number, student_details
from cohortdesk.services.validation import DISABILITY_STATUSES, POPULATION_GROUPS, canonical_document_type

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


def fetch_document(
    db: Database, identity: Identity, enrollment_id: int, document_type: str, purpose: str = "verification"
) -> dict[str, Any]:
    """One document's ``uploaded_documents`` entry with its storage key, the view logged. A login reads
    health documents' entries without their key (the masked view): on PostgreSQL the key comes only
    from ``cohortdesk_fetch_document``, which checks the enrollment is the login's institution's and the
    capability for health documents."""
    check_document_access(identity, document_type)
    with db.session() as s:
        if access_log.on_server(s, identity):
            return access_log.fetch_document_entry(s, enrollment_id, document_type, purpose)[0]
        documents = s.scalar(
            select(CohortEnrollment.uploaded_documents).where(CohortEnrollment.id == enrollment_id)
        )
        if documents is None:
            raise NotFoundError(f"There is no enrollment with id {enrollment_id}.")
        entry = next(
            (v for k, v in documents.items() if canonical_document_type(k) == document_type and v), None
        )
        if not entry:
            raise NotFoundError(f"Enrollment {enrollment_id} has no {document_type} uploaded.")
        access_log.append(
            s,
            identity,
            AccessKind.DOCUMENT_VIEW,
            object_table="cohort_enrollments",
            object_id=enrollment_id,
            purpose=purpose,
            details={"document_type": document_type},
        )
        return dict(entry)


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
        if access_log.on_server(s, identity):
            # The login cannot read these values at all; the database reveals them and logs it.
            revealed = access_log.reveal_on_server(s, enrollment_id, cleaned)
            student_data, log_id = dict(revealed.get("values") or {}), int(revealed["log_id"])
        else:
            found = s.scalar(
                select(CohortEnrollment.student_data).where(CohortEnrollment.id == enrollment_id)
            )
            if found is None:
                raise NotFoundError(f"There is no enrollment with id {enrollment_id}.")
            student_data = dict(found)
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
    pi = reveal_student_pi(db, identity, enrollment_id, reason)
    values = {
        "race": pi.race,
        "disability": pi.disability,
        "sa_id_number": pi.sa_id_number,
        "alternate_id": pi.alternate_id,
    }
    revealed = {k: v for k, v in values.items() if v not in (None, "")}
    return student_details(db, enrollment_id, identity, unmasked=True, revealed=revealed)

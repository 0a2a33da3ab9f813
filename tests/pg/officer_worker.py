"""An officer in a process of its own, for the multi-process claim tests (spawned, so importable)."""

from __future__ import annotations

from cohortdesk.db import Database
from cohortdesk.services.access.identity import ROLE_CAPABILITIES, Identity
from cohortdesk.services.review import claims
from cohortdesk.services.review import decisions as vs


def work_the_queue(url: str, account_id: int, user_id: int) -> list[int]:
    """Claim and approve packs until the queue is empty; returns the ids this officer decided."""
    db = Database(url)
    me = Identity(
        user_id=user_id,
        display_name=f"officer {user_id}",
        account_id=account_id,
        institution_id=None,
        role="officer",
        capabilities=ROLE_CAPABILITIES["officer"],
    )
    decided: list[int] = []
    try:
        while (claim := claims.claim_next(db, me)) is not None:
            cmd = vs.DecisionCommand(
                enrollment_id=claim.enrollment_id,
                document_type="id_document",
                action="approved",
                claim=claim,
                release_claim=True,
            ).with_key()
            vs.record_decision(db, cmd, me)
            decided.append(claim.enrollment_id)
    finally:
        db.dispose()
    return decided

"""The workstation's review calls (Qt-free), each one unit of work on the GUI's database lane.

* ``open_for_review``: the officer selected (or reloads) an enrollment. Give back the claim held so
  far, claim this one or learn who holds it, then read its detail, in that order, so the detail shown
  is at least as new as the ``row_version`` the claim vouches for.
* ``decide``: ``verification.record_decision`` (the one decision path) under the claim, retried
  briefly with its one idempotency key when the connection drops (exactly once), then what the
  screen redraws; a longer outage surfaces as ``OfflineError`` and the GUI keeps the command in its
  ``verification.DecisionOutbox`` for replay. Decisions made in a row go one after another on the
  lane, each carried across its predecessors' moves (``verification.DecisionChain``). ``undo`` is
  the same path with ``action="undo"``.
* ``live_rows``: the queue rows and cohort counts a change notification (or a poll) asks to redraw.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from cohortdesk.db import Database
from cohortdesk.errors import ClaimConflict, NotFoundError
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.connection import connectivity
from cohortdesk.services.review import claims, queue
from cohortdesk.services.review import decisions as verification
from cohortdesk.services.review.decisions import DecisionCommand
from cohortdesk.services.review.queue import (
    CohortCounts,
    EnrollmentDetail,
    QueueDecision,
    QueueFilter,
    QueueRow,
)
from cohortdesk.services.rows import Claim, ClaimHolder

log = logging.getLogger(__name__)

#: The GUI retries a decision only briefly on the database lane (a dropped pooled connection, a lock
#: timeout); a longer outage is the offline state's business, not a frozen lane's.
GUI_RETRY = connectivity.RetryPolicy(attempts=3, first_delay=0.2, max_delay=1.0)


@dataclass(frozen=True)
class ReviewOpening:
    """An enrollment opened for review: its detail and either our claim or why there is none."""

    detail: EnrollmentDetail
    claim: Claim | None
    holder: ClaimHolder | None = None  # somebody else's running lease
    refusal: str | None = None  # why no claim was taken, in words
    #: False for a pack outside the login's tenant (the embedded store shows every institution):
    #: there is no claim to take, and decisions go without one.
    claimable: bool = True


def can_claim(identity: Identity | None) -> bool:
    return identity is not None and identity.account_id is not None and identity.can("decide")


def open_for_review(
    db: Database,
    identity: Identity,
    enrollment_id: int,
    current: Claim | None = None,
    *,
    lease_seconds: float = claims.LEASE_SECONDS,
) -> ReviewOpening:
    """Claim ``enrollment_id`` (giving back ``current`` if it is another pack) and read its detail.

    Reopening the pack ``current`` holds claims it again with the same token: the claim then vouches
    for the ``row_version`` about to be shown, not for the one read when it was first opened.
    """
    token: str | None = None
    if current is not None and current.enrollment_id != enrollment_id:
        release_quietly(db, current)
    elif current is not None:
        token = current.token
    claim: Claim | None = None
    holder: ClaimHolder | None = None
    refusal: str | None = None
    claimable = can_claim(identity)
    if claimable:
        try:
            claim = claims.claim(db, identity, enrollment_id, lease_seconds=lease_seconds, token=token)
        except ClaimConflict as refused:
            refusal = str(refused)
            holder = claims.active_claims(db, identity, [enrollment_id]).get(enrollment_id)
        except NotFoundError:
            claimable = False  # another tenant's pack; the detail read below says if it is gone
    detail = queue.enrollment_detail(db, enrollment_id, identity)
    return ReviewOpening(detail=detail, claim=claim, holder=holder, refusal=refusal, claimable=claimable)


def release_quietly(db: Database, claim: Claim) -> bool:
    """Give a claim back; a claim already lost, or a database out of reach, is not an error here
    (the lease runs out by itself)."""
    try:
        return claims.release(db, claim)
    except Exception as error:  # noqa: BLE001 - best effort: the lease expires anyway
        log.info("Releasing the claim on %s failed (%s); its lease will lapse", claim.enrollment_id, error)
        return False


def decide(
    db: Database,
    cmd: DecisionCommand,
    identity: Identity,
    policy: connectivity.RetryPolicy | None = None,
    chain: verification.DecisionChain | None = None,
) -> QueueDecision:
    """Record ``cmd`` through ``verification.record_decision`` (retried with its one key), then read
    back what the workstation redraws (queue row, cohort counts, the enrollment's detail). Through
    ``chain`` (the outbox's), a decision sent before the one ahead of it was answered is carried
    across the versions that one moved the pack to."""
    chain = chain or verification.DecisionChain()
    result = chain.send(db, cmd, identity, retry=policy or GUI_RETRY)
    return queue.decision_outcome(db, result, identity)


def undo(
    db: Database,
    identity: Identity,
    enrollment_id: int,
    claim: Claim | None = None,
    decision_id: int | None = None,
) -> QueueDecision:
    """Undo the officer's own latest decision on ``enrollment_id`` (Ctrl+Z), then read back as ``decide``."""
    result = verification.undo_last(
        db, identity, enrollment_id, decision_id=decision_id, claim=claim, retry=GUI_RETRY
    )
    return queue.decision_outcome(db, result, identity)


@dataclass(frozen=True)
class LiveRows:
    rows: tuple[QueueRow, ...]
    counts: dict[int, CohortCounts]
    total: int | None = None  # how many match the queue's filter now (when it was asked for)


def live_rows(
    db: Database,
    enrollment_ids: Sequence[int],
    cohort_ids: Sequence[int] | None,
    flt: QueueFilter | None = None,
) -> LiveRows:
    """Fresh rows for ``enrollment_ids``, counts for ``cohort_ids`` (``None``: every cohort; empty:
    none) and, given the queue's filter, its new total."""
    with db.statement_reads() as s:
        rows = queue.queue_rows(db, list(enrollment_ids), session=s) if enrollment_ids else []
        if cohort_ids is None:
            counts = queue.cohort_counts(db, None, session=s)
        else:
            counts = queue.cohort_counts(db, list(cohort_ids), session=s) if cohort_ids else {}
        total = queue.queue_count(db, flt, session=s) if flt is not None else None
    return LiveRows(rows=tuple(rows), counts=counts, total=total)


def health(db: Database) -> bool:
    return connectivity.health_check(db, timeout_seconds=3.0)

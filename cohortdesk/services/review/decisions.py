"""The one way a verification decision is recorded (approve, reject, undo), and the decision history.

``record_decision(db, cmd, identity)`` is the only entry point: the workstation, bulk decisions, the
outbox replay after a lost connection, the command line, tests and benches all call it. It checks
that ``identity`` may decide, retries transient failures with the command's one idempotency key (so
a retry after a lost reply records the decision exactly once) and returns a ``DecisionResult`` with
what the screens redraw. ``undo_last`` is the same call with ``action="undo"``.

* **PostgreSQL**: one call of the server function ``cohortdesk_record_decision`` (one round trip on
  ``Database.call``'s kept connection). The server takes the person from ``session_user``, the time
  from its clock, checks the claim token and ``row_version``, honours the idempotency key, writes the
  decision with the login that made it, derives the enrollment's state and returns the result. Its
  refusals come back as ``ClaimConflict`` / ``ConflictError`` / ``PermissionDenied`` in words.
* **The embedded SQLite store** (one local person, no attacker): the same rules in Python, in one
  transaction.

The rules both follow (docs/decisions-and-claims.md): per document the decision that counts is the
latest one not undone and made on the file now on record (same checksum); the enrollment is
``rejected`` when any counting decision is a rejection, ``verified`` when every required document's is
an approval, else ``pending``. A decision on a document already decided is allowed and both stay in
the history. An officer may undo their own latest decision on a document for ``UNDO_WINDOW_SECONDS``;
the undo is a ``reversal`` row pointing at it, never a delete.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from cohortdesk.db import Database
from cohortdesk.enums import VerificationAction, VerificationState
from cohortdesk.errors import (
    ClaimConflict,
    ConflictError,
    NotFoundError,
    OfflineError,
    PermissionDenied,
    ValidationError,
)
from cohortdesk.models import Cohort, CohortEnrollment, DocumentVerification, InstallSetting, User, not_undone
from cohortdesk.services.access.identity import Identity
from cohortdesk.services.connection import connectivity
from cohortdesk.services.review import claims
from cohortdesk.services.rows import (
    Changes,
    Claim,
    DecidedEnrollment,
    DecisionResult,
    LatestDecision,
    VerificationRow,
    verification_row,
)
from cohortdesk.services.validation import canonical_document_type, document_label

#: How long an officer may undo their own last decision (the server reads its own copy from
#: ``cohortdesk_install.undo_window_seconds``; both are set by the same migration).
UNDO_WINDOW_SECONDS = 300
#: ``DecisionCommand.action`` of an undo.
UNDO = "undo"
DECISION_ACTIONS = (VerificationAction.APPROVED.value, VerificationAction.REJECTED.value)
REVERSAL = VerificationAction.REVERSAL.value
#: Retries a decision gets by default: short, so a frozen screen never waits long; a longer outage
#: becomes ``OfflineError`` and the caller's ``DecisionOutbox`` keeps the command.
DEFAULT_RETRY = connectivity.RetryPolicy(attempts=3, first_delay=0.2, max_delay=1.0)
NOTE_MAX = 4000


@dataclass(frozen=True)
class DecisionCommand:
    enrollment_id: int
    document_type: str  # for an undo: ignored (the undone decision's document)
    action: str  # "approved", "rejected" or "undo"
    reason: str | None = None
    reason_code: str | None = None
    #: A review note for colleagues (History), never sent to the learner.
    internal_note: str | None = None
    expected_row_version: int | None = None
    idempotency_key: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The review claim this decision is made under (workstations always pass it); its token,
    #: unexpired lease and row_version are checked in the same transaction as the write.
    claim: Claim | None = None
    #: Give the pack back to the queue with this decision ("decide and next").
    release_claim: bool = False
    #: For an undo: the decision to take back (None: the caller's latest on this enrollment).
    undo_id: int | None = None

    def with_key(self) -> DecisionCommand:
        """This command with an idempotency key (a new one if it had none), ready to be retried."""
        return self if self.idempotency_key else replace(self, idempotency_key=str(uuid.uuid4()))


# --- the one entry point ------------------------------------------------------------------------


def record_decision(
    db: Database,
    cmd: DecisionCommand,
    identity: Identity,
    *,
    retry: connectivity.RetryPolicy | None = None,
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> DecisionResult:
    """Record one decision (or undo) as ``identity``, exactly once per idempotency key.

    With ``cmd.claim`` the write is conditional on that claim's token and unexpired lease and on the
    pack's ``row_version``; otherwise it is refused while somebody else's lease runs. A refusal is a
    ``ClaimConflict`` / ``ConflictError`` saying what changed and by whom, and nothing is written.
    Transient failures (a dropped connection, a lock timeout) are retried with the same key; after
    the last attempt a disconnect is an ``OfflineError`` and the command may be replayed later.
    """
    _check_identity(identity)
    cmd = _validated(cmd).with_key()
    record = _record_pg if db.dialect == "postgresql" else _record_local
    return connectivity.call_with_retry(
        record, db, cmd, identity, policy=retry or DEFAULT_RETRY, on_retry=on_retry
    )


def undo_last(
    db: Database,
    identity: Identity,
    enrollment_id: int,
    *,
    decision_id: int | None = None,
    claim: Claim | None = None,
    internal_note: str | None = None,
    idempotency_key: str | None = None,
    retry: connectivity.RetryPolicy | None = None,
) -> DecisionResult:
    """Undo the caller's latest decision on ``enrollment_id`` (or ``decision_id``, which must be theirs
    and the latest on its document), within ``UNDO_WINDOW_SECONDS``: records a reversal row."""
    return record_decision(
        db,
        DecisionCommand(
            enrollment_id=enrollment_id,
            document_type="",
            action=UNDO,
            internal_note=internal_note,
            idempotency_key=idempotency_key,
            claim=claim,
            undo_id=decision_id,
        ),
        identity,
        retry=retry,
    )


def _check_identity(identity: Identity) -> None:
    if not identity.can("decide"):
        raise PermissionDenied("Your role cannot record verification decisions.")
    if identity.user_id is None:
        raise PermissionDenied(
            "This login is not linked to a CohortDesk user, so a decision could not be attributed to you."
        )


def _validated(cmd: DecisionCommand) -> DecisionCommand:
    if cmd.action not in (*DECISION_ACTIONS, UNDO):
        raise ValidationError("action", f"{cmd.action!r} must be 'approved', 'rejected' or 'undo'")
    reason = (cmd.reason or "").strip() or None
    if cmd.action == VerificationAction.REJECTED.value and not reason:
        raise ValidationError("reason", "a reason is required to reject a document")
    if cmd.action != VerificationAction.REJECTED.value:
        reason = None
    note = (cmd.internal_note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise ValidationError("internal_note", f"is at most {NOTE_MAX} characters")
    if reason is not None and len(reason) > NOTE_MAX:
        raise ValidationError("reason", f"is at most {NOTE_MAX} characters")
    document_type = canonical_document_type((cmd.document_type or "").strip())
    if cmd.action != UNDO and not document_type:
        raise ValidationError("document_type", "is required")
    if cmd.idempotency_key is not None and not 0 < len(cmd.idempotency_key) <= 64:
        raise ValidationError("idempotency_key", "must be 1 to 64 characters")
    return replace(cmd, reason=reason, internal_note=note, document_type=document_type)


# --- PostgreSQL: one call of the server function ------------------------------------------------

_PG_CALL = (
    "SELECT cohortdesk_record_decision(:enrollment_id, :document_type, :action, :reason, :reason_code, "
    ":internal_note, :claim_token, :expected_row_version, :idempotency_key, :release_claim, "
    "CAST(:lease_seconds AS double precision), CAST(:metadata AS jsonb), :undo_id, :acting_user_id)"
)

# SQLSTATEs the function raises for refusals (see migration 0015_decision_functions).
_CLAIM_LOST, _CHANGED, _HELD, _UNDO_REFUSED, _KEY_REUSED = "CD001", "CD002", "CD003", "CD004", "CD005"


def _record_pg(db: Database, cmd: DecisionCommand, identity: Identity) -> DecisionResult:
    claim = cmd.claim
    params = {
        "enrollment_id": cmd.enrollment_id,
        "document_type": cmd.document_type,
        "action": cmd.action,
        "reason": cmd.reason,
        "reason_code": cmd.reason_code,
        "internal_note": cmd.internal_note,
        "claim_token": claim.token if claim else None,
        "expected_row_version": claim.row_version if claim else cmd.expected_row_version,
        "idempotency_key": cmd.idempotency_key,
        "release_claim": bool(claim and cmd.release_claim),
        "lease_seconds": float(claim.lease_seconds) if claim else None,
        "metadata": json.dumps(cmd.metadata or {}),
        "undo_id": cmd.undo_id,
        "acting_user_id": identity.user_id,
    }
    try:
        answer = db.call(_PG_CALL, params)
    except sa_exc.DBAPIError as error:
        refusal = _refusal(db, cmd, error)
        if refusal is error:
            raise
        raise refusal from error
    return _result_from_json(answer if isinstance(answer, dict) else json.loads(answer), cmd)


def _refusal(db: Database, cmd: DecisionCommand, error: sa_exc.DBAPIError) -> Exception:
    """The server's refusal in words (reading what changed and by whom), or the error as it was."""
    state = getattr(error.orig, "sqlstate", None)
    said = _server_message(error)
    if state == _CLAIM_LOST and cmd.claim is not None:
        with db.read_session() as s:
            return claims.lost_claim(s, cmd.claim, None)
    if state == _CHANGED:
        if cmd.claim is not None:
            with db.read_session() as s:
                enrollment = s.get(CohortEnrollment, cmd.enrollment_id)
                if enrollment is not None:
                    return claims.changed_since_claim(s, enrollment, cmd.claim)
        return ConflictError(_CHANGED_WORDS)
    if state == _HELD:
        with db.read_session() as s:
            enrollment = s.get(CohortEnrollment, cmd.enrollment_id)
            if enrollment is not None and enrollment.claim_token is not None:
                return claims.held_by_other(s, enrollment)
        return ClaimConflict(f"{said}. {claims.KEPT}", enrollment_id=cmd.enrollment_id)
    if state == _UNDO_REFUSED:
        return ConflictError(f"Nothing was undone: {said}.")
    if state == _KEY_REUSED:
        return ValidationError(
            "idempotency_key", "was already used for a different decision; a new decision needs a new key"
        )
    if state == "P0002":
        return NotFoundError(f"There is no enrollment with id {cmd.enrollment_id}.")
    if state == "42501":
        return PermissionDenied(f"The database refused the decision: {said}.")
    if state == "22023":
        return ValidationError("decision", said)
    return error


def _server_message(error: sa_exc.DBAPIError) -> str:
    diag = getattr(error.orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return str(primary or str(error.orig).splitlines()[0]).rstrip(".")


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _result_from_json(answer: dict[str, Any], cmd: DecisionCommand) -> DecisionResult:
    d, e = answer["decision"], answer["enrollment"]
    verification = VerificationRow(
        id=d["id"],
        uuid=d["uuid"],
        cohort_enrollment_id=d["cohort_enrollment_id"],
        admin_id=d["admin_id"],
        admin_name=d.get("admin_name") or f"user {d['admin_id']}",
        document_type=d["document_type"],
        action=d["action"],
        reason=d.get("reason"),
        metadata=dict(d.get("metadata") or {}),
        created_at=_moment(d["created_at"]),  # type: ignore[arg-type]
        login=d.get("login"),
        internal_note=d.get("internal_note"),
        reverses_id=d.get("reverses_id"),
    )
    enrollment = DecidedEnrollment(
        id=e["id"],
        account_id=e["account_id"],
        cohort_id=e["cohort_id"],
        state=e["state"],
        document_verification_state=e["document_verification_state"],
        rejection_reason=e.get("rejection_reason"),
        row_version=e["row_version"],
        updated_at=_moment(e.get("updated_at")),
        pending_since=_moment(e.get("pending_since")),
        claimed_by=e.get("claimed_by"),
        claimed_by_user_id=e.get("claimed_by_user_id"),
        claim_expires_at=_moment(e.get("claim_expires_at")),
    )
    latest = {
        doc: LatestDecision(
            document_type=doc,
            id=v["id"],
            action=v["action"],
            reason=v.get("reason"),
            admin_id=v["admin_id"],
            created_at=_moment(v["created_at"]),  # type: ignore[arg-type]
        )
        for doc, v in (answer.get("latest") or {}).items()
    }
    claim_after: Claim | None = None
    if cmd.claim is not None and e.get("claim_held") and enrollment.claim_expires_at is not None:
        claim_after = replace(
            cmd.claim, row_version=enrollment.row_version, expires_at=enrollment.claim_expires_at
        )
    duplicate = bool(answer.get("duplicate"))
    return DecisionResult(
        verification=verification,
        enrollment=enrollment,
        changes=Changes() if duplicate else _changes(enrollment),
        duplicate=duplicate,
        claim=claim_after,
        latest=latest,
        next_pending_id=answer.get("next_pending_id"),
    )


def _changes(enrollment: DecidedEnrollment) -> Changes:
    return Changes(
        cohort_ids=frozenset({enrollment.cohort_id}), enrollment_ids=frozenset({enrollment.id}), counts=True
    )


_CHANGED_WORDS = (
    "This enrollment changed since you opened it (someone else recorded a decision or edited it). "
    "Reload it to see what changed; your reason has been kept."
)


# --- the embedded store: the same rules in Python ----------------------------------------------

_LOCAL_LOCK = threading.Lock()  # one writer at a time: an idempotency check and its insert stay together
#: History's join to the undo of each decision, built once (see ``models.cohorts.not_undone``).
_UNDONE_BY = aliased(DocumentVerification, name="undone_by")


def required_documents(cohort: Cohort | None, uploaded: dict[str, Any]) -> list[str]:
    """The document types an enrollment must have approved: the cohort's list, else what was uploaded."""
    required = list(cohort.required_document_types or []) if cohort is not None else []
    return required or sorted(uploaded)


def _is_current(decision: DocumentVerification, uploaded: dict[str, Any]) -> bool:
    """Whether a decision concerns the file on record (a re-upload makes older decisions stale)."""
    checksum = (decision.verification_metadata or {}).get("checksum")
    upload = uploaded.get(decision.document_type)
    return checksum is None or not isinstance(upload, dict) or checksum == upload.get("checksum")


def latest_decisions(session: Session, enrollment_id: int) -> dict[str, DocumentVerification]:
    """Per document, the latest approval or rejection that was not undone."""
    rows = session.scalars(
        select(DocumentVerification)
        .where(
            DocumentVerification.cohort_enrollment_id == enrollment_id,
            DocumentVerification.action.in_(DECISION_ACTIONS),
            not_undone(),
        )
        .order_by(DocumentVerification.created_at, DocumentVerification.id)
    )
    latest: dict[str, DocumentVerification] = {}
    for row in rows:
        latest[row.document_type] = row
    return latest


def compute_state(
    required: list[str], latest: dict[str, DocumentVerification], uploaded: dict[str, Any] | None = None
) -> tuple[str, str | None]:
    counting = {d: v for d, v in latest.items() if _is_current(v, uploaded or {})}
    rejected = [d for d, v in counting.items() if v.action == VerificationAction.REJECTED.value]
    if rejected:
        reason = "\n".join(f"{document_label(d)}: {counting[d].reason}" for d in sorted(rejected))
        return VerificationState.REJECTED.value, reason
    if required and all(
        d in counting and counting[d].action == VerificationAction.APPROVED.value for d in required
    ):
        return VerificationState.VERIFIED.value, None
    return VerificationState.PENDING.value, None


def _record_local(db: Database, cmd: DecisionCommand, identity: Identity) -> DecisionResult:
    with _LOCAL_LOCK, db.session() as s:
        found = s.execute(
            select(CohortEnrollment, Cohort)
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
            .where(CohortEnrollment.id == cmd.enrollment_id, CohortEnrollment.deleted_at.is_(None))
        ).first()
        if found is None:
            raise NotFoundError(f"There is no enrollment with id {cmd.enrollment_id}.")
        enrollment, cohort = found
        login = identity.db_role or claims.LOCAL_LOGIN
        user_id: int = identity.user_id  # type: ignore[assignment]
        if cmd.idempotency_key:
            earlier = s.scalars(
                select(DocumentVerification).where(
                    DocumentVerification.account_id == enrollment.account_id,
                    DocumentVerification.idempotency_key == cmd.idempotency_key,
                )
            ).first()
            if earlier is not None:
                return _duplicate(s, earlier, enrollment, cohort, cmd)
        now = datetime.now(UTC)
        if cmd.claim is not None:
            claims.check_claim(s, enrollment, cmd.claim, now, login)
        else:
            claims.check_not_held_by_other(s, enrollment, user_id, now, login)
            if cmd.expected_row_version is not None and enrollment.row_version != cmd.expected_row_version:
                raise ConflictError(_CHANGED_WORDS)
        uploaded = enrollment.uploaded_documents or {}
        required = required_documents(cohort, uploaded)
        reverses: DocumentVerification | None = None
        metadata = {
            k: v
            for k, v in (cmd.metadata or {}).items()
            if k not in ("checksum", "storage_key", "reason_code", "idempotency_key", "internal_note")
        }
        if cmd.action == UNDO:
            reverses = _undo_target(s, enrollment.id, cmd, user_id, login, now)
            document_type, action = reverses.document_type, REVERSAL
            metadata = {"reverses_action": reverses.action}
        else:
            document_type, action = cmd.document_type, cmd.action
            if document_type not in uploaded and document_type not in required:
                raise ValidationError(
                    "document_type", f"{document_type!r} is neither uploaded nor required here"
                )
            if cmd.reason_code:
                metadata["reason_code"] = cmd.reason_code.strip()[:64]
            if document_type in uploaded:
                metadata["checksum"] = uploaded[document_type].get("checksum")
        verification = DocumentVerification(
            account_id=enrollment.account_id,
            cohort_enrollment_id=enrollment.id,
            admin_id=user_id,
            login=login,
            document_type=document_type,
            action=action,
            reason=cmd.reason,
            internal_note=cmd.internal_note,
            reverses_id=reverses.id if reverses is not None else None,
            verification_metadata=metadata,
            idempotency_key=cmd.idempotency_key,
            created_at=now,
            updated_at=now,
        )
        s.add(verification)
        s.flush()
        latest = latest_decisions(s, enrollment.id)
        state, rejection_reason = compute_state(required, latest, uploaded)
        enrollment.document_verification_state = state
        enrollment.rejection_reason = rejection_reason
        enrollment.updated_at = now  # every decision bumps row_version: others see the enrollment moved
        if cmd.claim is not None and cmd.release_claim:
            enrollment.claimed_by = None
            enrollment.claimed_by_user_id = None
            enrollment.claim_token = None
            enrollment.claim_expires_at = None
        elif cmd.claim is not None:
            # Working on the pack is a sign of life: the lease runs a full length from now.
            enrollment.claim_expires_at = now + timedelta(seconds=cmd.claim.lease_seconds)
        s.flush()
        claim_after: Claim | None = None
        if cmd.claim is not None and not cmd.release_claim:
            claim_after = replace(
                cmd.claim,
                row_version=enrollment.row_version,
                expires_at=enrollment.claim_expires_at or cmd.claim.expires_at,
            )
        return DecisionResult(
            verification=verification_row(verification, _user_name(s, user_id)),
            enrollment=_decided(enrollment),
            changes=_changes(_decided(enrollment)),
            claim=claim_after,
            latest=_latest_rows(latest),
            next_pending_id=_next_pending(s, enrollment, now),
        )


def _undo_target(
    s: Session, enrollment_id: int, cmd: DecisionCommand, user_id: int, login: str, now: datetime
) -> DocumentVerification:
    stmt = select(DocumentVerification).where(
        DocumentVerification.cohort_enrollment_id == enrollment_id,
        DocumentVerification.action.in_(DECISION_ACTIONS),
    )
    if cmd.undo_id is not None:
        stmt = stmt.where(DocumentVerification.id == cmd.undo_id)
    else:
        stmt = stmt.where(
            DocumentVerification.admin_id == user_id,
            DocumentVerification.login == login,
            not_undone(),
        )
    target = s.scalars(
        stmt.order_by(DocumentVerification.created_at.desc(), DocumentVerification.id.desc()).limit(1)
    ).first()
    if target is None:
        raise ConflictError("Nothing was undone: there is no decision of yours on this enrollment to undo.")
    if target.admin_id != user_id or target.login != login:
        raise ConflictError("Nothing was undone: only the officer who made a decision can undo it.")
    if s.scalar(select(DocumentVerification.id).where(DocumentVerification.reverses_id == target.id)):
        raise ConflictError("Nothing was undone: this decision was already undone.")
    window = _undo_window(s)
    if now - claims.utc(target.created_at) > timedelta(seconds=window):
        raise ConflictError(
            f"Nothing was undone: a decision can be undone only within {window:g} seconds of making it."
        )
    later = s.scalar(
        select(func.count()).where(
            DocumentVerification.cohort_enrollment_id == enrollment_id,
            DocumentVerification.document_type == target.document_type,
            DocumentVerification.action.in_(DECISION_ACTIONS),
            DocumentVerification.id != target.id,
            DocumentVerification.created_at >= target.created_at,
            DocumentVerification.id > target.id,
        )
    )
    if later:
        raise ConflictError(
            "Nothing was undone: a later decision on this document replaced it; decide again instead."
        )
    return target


def _undo_window(s: Session) -> float:
    value = s.scalar(select(InstallSetting.value).where(InstallSetting.key == "undo_window_seconds"))
    try:
        return float(value) if value is not None else float(UNDO_WINDOW_SECONDS)
    except ValueError:
        return float(UNDO_WINDOW_SECONDS)


def _duplicate(
    s: Session,
    earlier: DocumentVerification,
    enrollment: CohortEnrollment,
    cohort: Cohort,
    cmd: DecisionCommand,
) -> DecisionResult:
    """The result of a retry whose first attempt was recorded: that decision, nothing new."""
    same = earlier.cohort_enrollment_id == cmd.enrollment_id and (
        earlier.action == REVERSAL
        if cmd.action == UNDO
        else (earlier.document_type == cmd.document_type and earlier.action == cmd.action)
    )
    if not same:
        raise ValidationError(
            "idempotency_key", "was already used for a different decision; a new decision needs a new key"
        )
    claim = cmd.claim
    if claim is not None:
        # The claim as the first attempt left it, if it is still in the row.
        claim = (
            replace(claim, row_version=enrollment.row_version, expires_at=enrollment.claim_expires_at)
            if enrollment.claim_token == claim.token and enrollment.claim_expires_at is not None
            else None
        )
    return DecisionResult(
        verification=verification_row(earlier, _user_name(s, earlier.admin_id)),
        enrollment=_decided(enrollment),
        changes=Changes(),
        duplicate=True,
        claim=claim,
        latest=_latest_rows(latest_decisions(s, enrollment.id)),
    )


def _decided(e: CohortEnrollment) -> DecidedEnrollment:
    return DecidedEnrollment(
        id=e.id,
        account_id=e.account_id,
        cohort_id=e.cohort_id,
        state=e.state,
        document_verification_state=e.document_verification_state,
        rejection_reason=e.rejection_reason,
        row_version=e.row_version,
        updated_at=e.updated_at,
        pending_since=e.pending_since,
        claimed_by=e.claimed_by,
        claimed_by_user_id=e.claimed_by_user_id,
        claim_expires_at=e.claim_expires_at,
    )


def _latest_rows(latest: dict[str, DocumentVerification]) -> dict[str, LatestDecision]:
    return {
        doc: LatestDecision(doc, v.id, v.action, v.reason, v.admin_id, v.created_at)
        for doc, v in latest.items()
    }


def _next_pending(s: Session, enrollment: CohortEnrollment, now: datetime) -> int | None:
    waiting = CohortEnrollment
    return s.scalar(
        select(waiting.id)
        .where(
            waiting.account_id == enrollment.account_id,
            waiting.cohort_id == enrollment.cohort_id,
            waiting.id != enrollment.id,
            waiting.document_verification_state == VerificationState.PENDING.value,
            waiting.deleted_at.is_(None),
            waiting.claim_token.is_(None) | (waiting.claim_expires_at < now),
        )
        .order_by(waiting.pending_since, waiting.id)
        .limit(1)
    )


def _user_name(session: Session, user_id: int) -> str:
    name = session.scalar(select(User.display_name).where(User.id == user_id))
    return name or f"user {user_id}"


# --- reading --------------------------------------------------------------------------------------


def history(db: Database, enrollment_id: int) -> list[VerificationRow]:
    """Every decision on an enrollment, newest first, with the officer's name, the login that made it,
    any review note, and for each undone decision the reversal that took it back."""
    reversal = _UNDONE_BY
    with db.read_session() as s:
        rows = s.execute(
            select(DocumentVerification, User.display_name, reversal.id)
            .join(User, User.id == DocumentVerification.admin_id)
            .outerjoin(reversal, reversal.reverses_id == DocumentVerification.id)
            .where(DocumentVerification.cohort_enrollment_id == enrollment_id)
            .order_by(DocumentVerification.created_at.desc(), DocumentVerification.id.desc())
        ).all()
        return [replace(verification_row(v, name), reversed_by_id=undone_by) for v, name, undone_by in rows]


# --- decisions whose answer was lost ------------------------------------------------------------


@dataclass
class DecisionChain:
    """Decisions sent one after another, each before the one ahead of it was answered.

    A decision is conditional on the pack's ``row_version`` as the officer saw it (the claim's, or
    ``expected_row_version``), and every decision moves that version on. A second decision made on
    the same pack before the first one's answer came back was made on the version the first one
    started from, and would be refused as "changed since you opened it" though the only change was
    the officer's own. The chain remembers each move its own decisions made (from the version they
    were checked against to the one they left, in the same transaction) and ``resolve`` carries a
    later command across those moves, and only those: a change by anybody else still refuses it.

    Commands are resolved and recorded in the order they are written (one database lane)."""

    #: (enrollment, claim token or "") -> {row_version checked -> row_version left}
    moves: dict[tuple[int, str], dict[int, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @staticmethod
    def _key(cmd: DecisionCommand) -> tuple[int, str]:
        return cmd.enrollment_id, cmd.claim.token if cmd.claim is not None else ""

    def resolve(self, cmd: DecisionCommand) -> DecisionCommand:
        """``cmd`` conditional on the version its pack has after this chain's own earlier decisions."""
        seen = cmd.claim.row_version if cmd.claim is not None else cmd.expected_row_version
        if seen is None:
            return cmd
        with self._lock:
            moves = self.moves.get(self._key(cmd), {})
            version = seen
            for _ in range(len(moves)):
                if version not in moves:
                    break
                version = moves[version]
        if version == seen:
            return cmd
        if cmd.claim is not None:
            return replace(cmd, claim=replace(cmd.claim, row_version=version))
        return replace(cmd, expected_row_version=version)

    def record(self, cmd: DecisionCommand, result: DecisionResult) -> None:
        """``cmd`` (as resolved and sent) was written: remember the move it made."""
        seen = cmd.claim.row_version if cmd.claim is not None else cmd.expected_row_version
        if seen is None or result.duplicate or result.enrollment.row_version == seen:
            return  # a retry recognised by its key moved nothing now
        with self._lock:
            self.moves.setdefault(self._key(cmd), {})[seen] = result.enrollment.row_version

    def send(self, db: Database, cmd: DecisionCommand, identity: Identity, **kwargs: Any) -> DecisionResult:
        """``record_decision`` of ``cmd`` carried across this chain's earlier decisions."""
        resolved = self.resolve(cmd)
        result = record_decision(db, resolved, identity, **kwargs)
        self.record(resolved, result)
        return result


@dataclass
class DecisionOutbox:
    """Decisions sent but not yet answered, kept by idempotency key until an answer comes.

    A decision whose reply was lost stays here; ``replay`` sends each again with its own key through
    ``record_decision`` (the same permission check and rules), so the database records it once
    whether or not the first attempt got through. Decisions are sent, and replayed, in the order
    they were made, through one ``DecisionChain``.
    """

    pending: dict[str, DecisionCommand] = field(default_factory=dict)
    chain: DecisionChain = field(default_factory=DecisionChain)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, cmd: DecisionCommand) -> DecisionCommand:
        keyed = cmd.with_key()
        with self._lock:
            self.pending[keyed.idempotency_key or ""] = keyed
        return keyed

    def done(self, cmd: DecisionCommand) -> None:
        with self._lock:
            self.pending.pop(cmd.idempotency_key or "", None)

    def __len__(self) -> int:
        return len(self.pending)

    def replay(
        self, db: Database, identity: Identity
    ) -> list[tuple[DecisionCommand, DecisionResult | None, BaseException | None]]:
        """Send every pending decision once more. Answered ones (recorded, duplicate or refused for a
        reason that is not the connection) leave the outbox; disconnects stay for the next replay."""
        outcomes: list[tuple[DecisionCommand, DecisionResult | None, BaseException | None]] = []
        with self._lock:
            commands = list(self.pending.values())
        for cmd in commands:
            try:
                result = self.chain.send(db, cmd, identity)
            except Exception as error:  # noqa: BLE001 - reported to the caller per decision
                if isinstance(error, OfflineError) or connectivity.is_transient(error):
                    outcomes.append((cmd, None, error))
                    continue
                self.done(cmd)
                outcomes.append((cmd, None, error))
            else:
                self.done(cmd)
                outcomes.append((cmd, result, None))
        return outcomes

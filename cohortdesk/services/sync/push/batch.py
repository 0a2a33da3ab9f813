"""One pushed batch from start to end: ``apply_batch`` skips what was already applied (idempotency by
per-device mutation id), stops at a gap, and hands the rest to ``BatchApplier``, which sends each
mutation to the applier of its kind in order and writes what they queued at the right moments; then
the device's progress is recorded and one result per mutation returned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from cohortdesk.errors import PermissionDenied
from cohortdesk.services.sync.push.deletes import DeleteApplier
from cohortdesk.services.sync.push.inserts import InsertApplier
from cohortdesk.services.sync.push.ledger import ConflictLedger
from cohortdesk.services.sync.push.mutation import Mutation, Outcome
from cohortdesk.services.sync.push.state import BatchState
from cohortdesk.services.sync.push.updates import UpdateApplier
from cohortdesk.services.sync.server import Handshake, clock
from cohortdesk.services.sync.spec import SPECS

RESULT_STATUSES = ("applied", "partial_conflict", "conflict", "duplicate", "rejected")


@dataclass(frozen=True)
class MutationResult:
    mutation_id: int
    status: str  # one of RESULT_STATUSES
    conflict_ids: tuple[int, ...] = ()
    detail: str | None = None


@dataclass(frozen=True)
class PushResult:
    results: tuple[MutationResult, ...]
    last_mutation_id: int
    last_seq: int
    #: Set when the batch stopped early (a gap in mutation ids); results cover what came before.
    error: str | None = None


class BatchApplier:
    """Applies one batch: every target row is locked up front, then mutations run in order, each by
    the applier of its kind; inserts and updates are queued and written together, before anything that
    may read or change what they wrote."""

    def __init__(self, conn: Connection, hs: Handshake, mutations: Sequence[Mutation]) -> None:
        self.state = BatchState(conn, hs.account_id, hs.device_id)
        self.ledger = ConflictLedger(self.state)
        self.inserts = InsertApplier(self.state, self.ledger)
        self.updates = UpdateApplier(self.state, self.ledger)
        self.deletes = DeleteApplier(self.state, self.ledger, mutations)
        self.ledger.read(self.state.read(mutations))

    def apply(self, m: Mutation) -> Outcome:
        if self.inserts.waits_before(m):
            self.inserts.flush()  # what follows may read or change the new rows
        if self.updates.queued and m.op in ("insert", "delete"):
            self.updates.flush()
        if m.op == "resolve_conflict":
            return self.ledger.resolve(m)
        if m.table_name not in SPECS:
            return self.ledger.reject(m, f"{m.table_name!r} is not a synced table")
        if m.op == "insert":
            return self.inserts.apply(m)
        if m.op in ("update", "change_state", "restore"):
            return self.updates.apply(m)
        if m.op == "delete":
            return self.deletes.apply(m)
        return self.ledger.reject(m, f"unknown operation {m.op!r}")

    def finish(self) -> None:
        """Write what is still queued and settle held deletes; outcomes are final only after this."""
        self.inserts.flush()
        self.updates.flush()
        self.deletes.release_held()


def apply_batch(
    conn: Connection, hs: Handshake, mutations: Sequence[Mutation], app_version: str | None = None
) -> PushResult:
    """Apply one batch inside the caller's transaction. Idempotent: re-sent mutations are skipped."""
    device = conn.execute(text("SELECT * FROM cohortdesk_sync_begin(:d)"), {"d": hs.device_id}).first()
    if device is None or not device.active:
        raise PermissionDenied("This laptop's sync access was revoked on the server. Ask your administrator.")
    last = int(device.last_mutation_id)
    results: list[MutationResult] = []
    todo: list[Mutation] = []
    error: str | None = None
    expected = last + 1
    for m in mutations:
        if m.mutation_id <= last:
            results.append(MutationResult(m.mutation_id, "duplicate", detail="already applied"))
            continue
        if m.mutation_id != expected:
            error = (
                f"change {m.mutation_id} does not follow {expected - 1}: changes "
                f"{expected}..{m.mutation_id - 1} are missing, so nothing after them was sent"
            )
            break
        todo.append(m)
        expected += 1
    applier = BatchApplier(conn, hs, todo)
    outcomes = [(m, applier.apply(m)) for m in todo]
    applier.finish()  # writes the new rows still queued; their outcomes are final only after it
    for m, outcome in outcomes:
        results.append(
            MutationResult(m.mutation_id, outcome.status, tuple(outcome.conflict_ids), outcome.detail)
        )
        last = m.mutation_id
    conn.execute(
        text("SELECT cohortdesk_sync_progress(:d, :last, :schema, :app)"),
        {
            "d": hs.device_id,
            "last": last,
            "schema": max(m.schema_version for m in mutations) if mutations else device.schema_version,
            "app": app_version or device.app_version,
        },
    )
    return PushResult(tuple(results), last, clock(conn, hs.account_id), error)

"""The conflicts a batch records: this device's open inbox entries on the rows it targets, and the
writes that open, refresh, close and resolve them (``sync_conflict``, through the server's write
function). Nothing vanishes: a change that cannot apply becomes an entry here, and a later edit of the
same device to a row already waiting is folded into that entry, so the inbox shows one per row and
field."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from cohortdesk.models import SyncConflict
from cohortdesk.services.sync.push.mutation import Mutation, Outcome
from cohortdesk.services.sync.push.state import BatchState, Key
from cohortdesk.services.sync.spec import record_to_json

_conflict = SyncConflict.__table__


def row_json(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A server row as a conflict stores it (``theirs``)."""
    return None if row is None else record_to_json(row)


class ConflictLedger:
    """This device's open conflicts on the batch's rows, and the writes that keep them."""

    def __init__(self, state: BatchState) -> None:
        self.state = state
        self.open: dict[Key, list[dict[str, Any]]] = defaultdict(list)

    def read(self, targets: dict[str, set[int]]) -> None:
        """The device's open conflicts on the targeted rows."""
        row_ids = sorted({i for ids in targets.values() for i in ids})
        if not row_ids:
            return
        stmt = select(_conflict).where(
            _conflict.c.account_id == self.state.account_id,
            _conflict.c.device_id == self.state.device_id,
            _conflict.c.status == "open",
            _conflict.c.row_id.in_(row_ids),
        )
        for conflict in self.state.conn.execute(stmt):
            self.open[(conflict.table_name, conflict.row_id)].append(dict(conflict._mapping))

    def record(
        self,
        m: Mutation,
        kind: str,
        *,
        field_name: str | None = None,
        base: Any = None,
        mine: Any = None,
        theirs: Any = None,
        detail: str | None = None,
        row: dict[str, Any] | None = None,
    ) -> int:
        """Open a conflict of ``kind`` for ``m`` (``row``: the server's row it met); its id."""
        values = {
            "account_id": self.state.account_id,
            "device_id": self.state.device_id,
            "mutation_id": m.mutation_id,
            "op": m.op,
            "table_name": m.table_name,
            "row_id": m.row_id,
            "field": field_name,
            "kind": kind,
            "base_value": base,
            "mine": mine,
            "theirs": theirs,
            "detail": detail,
            "server_row_version": row["row_version"] if row else None,
            "theirs_updated_by": row.get("updated_by") if row else None,
            "theirs_updated_at": row.get("updated_at") if row else None,
            "started_at": m.created_at,
            "status": "open",
        }
        (result,) = self.state.write([{"op": "conflict", "values": record_to_json(values)}])
        conflict_id = result["id"]
        self.open[(m.table_name, m.row_id)].append({**values, "id": conflict_id})
        return int(conflict_id)

    def reject(self, m: Mutation, reason: str, row: dict[str, Any] | None = None) -> Outcome:
        """``m`` refused (validation, a guard, a missing reservation ...): a ``rejected`` conflict."""
        conflict_id = self.record(m, "rejected", mine=m.changes, theirs=row_json(row), detail=reason, row=row)
        return Outcome("rejected", [conflict_id], reason)

    def _set(self, conflict_id: int, values: dict[str, Any]) -> None:
        self.state.write([{"op": "conflict_set", "id": conflict_id, "values": record_to_json(values)}])

    def refresh(self, conflict: dict[str, Any], m: Mutation, **values: Any) -> int:
        """Fold ``m`` into a waiting conflict (its newer values replace the older ones); its id."""
        values["mutation_id"] = m.mutation_id
        self._set(int(conflict["id"]), values)
        conflict.update(values)
        return int(conflict["id"])

    def close(self, conflict: dict[str, Any], status: str, reason: str) -> None:
        self._set(int(conflict["id"]), {"status": status, "resolution": {"reason": reason}})
        self.open[(conflict["table_name"], conflict["row_id"])].remove(conflict)

    def resolve(self, m: Mutation) -> Outcome:
        """The person's resolution of conflict ``m.row_id`` (kept mine, kept theirs, merged, withdrawn)."""
        status = m.changes.get("status")
        if status not in ("kept_mine", "kept_theirs", "merged", "withdrawn"):
            return Outcome("rejected", detail=f"unknown resolution {status!r}")
        self._set(m.row_id, {"status": status, "resolution": m.changes.get("resolution")})
        for conflicts in self.open.values():
            conflicts[:] = [c for c in conflicts if c["id"] != m.row_id]
        return Outcome("applied")

    def waiting_insert(self, key: Key) -> dict[str, Any] | None:
        """This device's open conflict holding a whole row it created (insert not applied)."""
        return next((c for c in self.open.get(key, []) if c["op"] == "insert" and c["field"] is None), None)

    def waiting(self, key: Key, kind: str, field_name: str | None = None) -> dict[str, Any] | None:
        """This device's open conflict of ``kind`` on a row (and field)."""
        return next(
            (c for c in self.open.get(key, []) if c["kind"] == kind and c["field"] == field_name), None
        )

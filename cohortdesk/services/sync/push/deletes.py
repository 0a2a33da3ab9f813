"""Deletes (tombstones). No "delete wins": a delete whose ``base_row_version`` differs from the
server's is a ``delete_vs_edit`` conflict when the row now differs from what the laptop saw when it
deleted it (changes the laptop itself pushed earlier do not count), or when live children were added
on the server; both sides are kept. A cohort goes with the enrollments deleted with it in the same
push: their deletes are held until the cohort's own, then all apply, or all wait in one conflict."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, true

from cohortdesk.services.sync.push.ledger import ConflictLedger
from cohortdesk.services.sync.push.mutation import Mutation, Outcome
from cohortdesk.services.sync.push.state import BatchState, refused_by_database
from cohortdesk.services.sync.spec import SPECS, same, to_json


class DeleteApplier:
    """Applies the batch's deletes, holding a deleted cohort's enrollments until the cohort's delete."""

    def __init__(self, state: BatchState, ledger: ConflictLedger, mutations: Sequence[Mutation]) -> None:
        self.state = state
        self.ledger = ledger
        #: Cohorts this batch deletes, and the deletes of their enrollments held until the cohort's own
        #: (the cohort and its enrollments go together, or all wait in one conflict).
        self.cohort_deletes = {m.row_id for m in mutations if m.table_name == "cohorts" and m.op == "delete"}
        self.held: dict[int, list[tuple[Mutation, Outcome]]] = defaultdict(list)

    def apply(self, m: Mutation, *, hold: bool = True) -> Outcome:
        spec = SPECS[m.table_name]
        key = (m.table_name, m.row_id)
        row = self.state.rows.get(key)
        if (
            hold
            and row is not None
            and row["deleted_at"] is None
            and m.table_name == "cohort_enrollments"
            and row["cohort_id"] in self.cohort_deletes
        ):
            outcome = Outcome("applied")
            self.held[row["cohort_id"]].append((m, outcome))
            return outcome
        if row is None:
            pending = self.ledger.waiting_insert(key)
            if pending is not None:
                self.ledger.close(pending, "withdrawn", "deleted on the laptop before it reached the server")
                return Outcome("applied", detail="the waiting new row was withdrawn")
            return Outcome("applied", detail="nothing to delete on the server")
        if row["deleted_at"] is not None:
            waiting = self.ledger.waiting(key, "row_deleted")
            if waiting is not None:
                self.ledger.close(waiting, "withdrawn", "deleted on the laptop too")
            return Outcome("applied", detail="already deleted on the server")
        seen = m.changes.get("row") or {}
        differing = []
        if m.base_row_version is not None and row["row_version"] != m.base_row_version:
            differing = [
                c
                for c in seen
                if c in spec.table.columns and c != "updated_at" and not same(seen[c], to_json(row[c]))
            ]
        live_children = self._live_children(m)
        if differing or live_children:
            return self._delete_vs_edit(m, row, seen, differing, live_children)
        held = self.held.pop(m.row_id, []) if m.table_name == "cohorts" else []
        op = {"op": "delete", "table": m.table_name, "id": m.row_id, "children": [h[0].row_id for h in held]}
        results = self.state.try_write([op]) or [refused_by_database()]
        result = results[0]
        if not result.get("ok"):
            outcome = self.ledger.reject(m, str(result.get("error") or "refused by the server"), row)
            for _held_m, held_outcome in held:
                held_outcome.status, held_outcome.conflict_ids = "conflict", list(outcome.conflict_ids)
                held_outcome.detail = f"part of the {spec.label} delete the server refused"
            return outcome
        self.state.rows[key] = {
            **row,
            "deleted_at": True,
            "row_version": result.get("row_version") or row["row_version"],
        }
        return Outcome("applied")

    def _live_children(self, m: Mutation) -> dict[str, int]:
        """Live child rows on the server per child table (a cohort's held enrollments not counted)."""
        held_ids = [h[0].row_id for h in self.held.get(m.row_id, [])] if m.table_name == "cohorts" else []
        live_children: dict[str, int] = {}
        for child_table, column in SPECS[m.table_name].children:
            child = SPECS[child_table].table
            count = self.state.conn.scalar(
                select(func.count())
                .select_from(child)
                .where(
                    child.c[column] == m.row_id,
                    child.c.deleted_at.is_(None),
                    child.c.id.not_in(held_ids) if child_table == "cohort_enrollments" else true(),
                )
            )
            if count:
                live_children[child_table] = int(count)
        return live_children

    def _delete_vs_edit(
        self,
        m: Mutation,
        row: dict[str, Any],
        seen: dict[str, Any],
        differing: list[str],
        live_children: dict[str, int],
    ) -> Outcome:
        """The delete waits in one ``delete_vs_edit`` conflict (with the enrollments held for it)."""
        spec = SPECS[m.table_name]
        reasons = []
        if differing:
            reasons.append("changed on the server after you last saw it: " + ", ".join(differing))
        if live_children:
            reasons.append(
                "it has "
                + ", ".join(f"{n} live {SPECS[t].label}(s)" for t, n in live_children.items())
                + " on the server"
            )
        theirs = {c: to_json(row[c]) for c in differing}
        if live_children:
            theirs["live_children"] = live_children
        mine: dict[str, Any] = {"deleted_at": m.changes.get("deleted_at")}
        held = self.held.pop(m.row_id, []) if m.table_name == "cohorts" else []
        if held:
            # One conflict for the whole delete: the cohort and the enrollments deleted with it.
            mine["children"] = {"cohort_enrollments": [h[0].row_id for h in held]}
            reasons.append(f"your delete also removed {len(held)} enrollment(s); none of it was applied")
        conflict_id = self.ledger.record(
            m,
            "delete_vs_edit",
            base={c: seen[c] for c in differing},
            mine=mine,
            theirs=theirs,
            detail="; ".join(reasons),
            row=row,
        )
        for _held_m, held_outcome in held:
            held_outcome.status, held_outcome.conflict_ids = "conflict", [conflict_id]
            held_outcome.detail = f"part of the {spec.label} delete waiting in conflict {conflict_id}"
        return Outcome("conflict", [conflict_id], "; ".join(reasons))

    def release_held(self) -> None:
        """Enrollments held for a cohort whose delete did not come in this batch: deleted on their own."""
        for held in self.held.values():
            for m, outcome in held:
                outcome.become(self.apply(m, hold=False))
        self.held.clear()

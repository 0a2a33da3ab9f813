"""Edits (``update``, ``change_state``, ``restore``) of existing rows, by the three-way rule per field:
the server's value equal to the laptop's ``old`` → apply ``new``; equal to ``new`` → nothing to do;
anything else → a ``field_conflict`` while the other fields still apply, so edits to different fields
merge. The merged row must pass the state machine's guards (from the server's current state), point
at live rows and pass the shared validation, or the whole edit is ``rejected``. An edit of a
tombstoned row is ``row_deleted``; an edit of a new row still waiting in the inbox is folded into it.
Applied edits are written together, in the batch's one update call."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from cohortdesk.errors import ValidationError
from cohortdesk.services.configuration.states import cohort_blockers, enrollment_blockers
from cohortdesk.services.rows import cohort_row
from cohortdesk.services.sync.push.ledger import ConflictLedger, row_json
from cohortdesk.services.sync.push.mutation import Mutation, Outcome
from cohortdesk.services.sync.push.state import BatchState, refused_by_database
from cohortdesk.services.sync.spec import (
    SPECS,
    get_field,
    normalise_field,
    record_from_json,
    record_to_json,
    same,
    set_field,
    split_field,
    validate_record,
)

#: (mutation, fields to apply, its outcome, the server's row before it)
Queued = tuple[Mutation, dict[str, Any], Outcome, dict[str, Any]]


class UpdateApplier:
    """Merges the batch's edits into the rows it holds; ``flush`` writes them."""

    def __init__(self, state: BatchState, ledger: ConflictLedger) -> None:
        self.state = state
        self.ledger = ledger
        #: Merged updates waiting for the batch's one ``cohortdesk_write`` call (see ``flush``).
        self.queued: list[Queued] = []

    def apply(self, m: Mutation) -> Outcome:
        spec = SPECS[m.table_name]
        key = (m.table_name, m.row_id)
        row = self.state.rows.get(key)
        if row is None:
            pending = self.ledger.waiting_insert(key)
            if pending is not None:
                return self._fold_into_insert(m, pending)
            return self.ledger.reject(m, f"there is no {spec.label} with id {m.row_id} on the server")
        changes = {k: v for k, v in m.changes.items() if isinstance(v, list) and len(v) == 2}
        if row["deleted_at"] is not None and m.op != "restore":
            return self._row_deleted(m, row, changes)

        to_apply: dict[str, Any] = {}
        clashes: list[tuple[str, Any, Any, Any]] = []
        for name, (old, new) in changes.items():
            column, sub_key = split_field(name)
            if name == "deleted_at" and m.op == "restore":
                if row["deleted_at"] is not None:
                    to_apply[name] = None
                continue
            if not (name in spec.editable or (sub_key is not None and column in spec.split_json)):
                return self.ledger.reject(m, f"{name} cannot be changed by a sync", row)
            try:
                new = normalise_field(m.table_name, name, new)
            except ValidationError as exc:
                return self.ledger.reject(m, str(exc), row)
            current = get_field(row, name)
            if same(current, old):
                to_apply[name] = new
            elif same(current, new) or name in spec.first_wins and current is not None:
                continue
            else:
                clashes.append((name, old, new, current))

        merged = dict(row)
        for name, new in to_apply.items():
            set_field(spec.table, merged, name, new)
        problem = self._problem(m.table_name, row, merged, to_apply)
        if problem is not None:
            return self.ledger.reject(m, problem, row)

        outcome = Outcome("applied")
        if to_apply:
            # Written with the batch's other updates in one call (``flush``); later mutations of this
            # batch see the merged row.
            self.queued.append((m, to_apply, outcome, row))
            self.state.rows[key] = {**merged, "row_version": row["row_version"] + 1}
        conflict_ids = [self._field_conflict(m, row, *clash) for clash in clashes]
        if conflict_ids:
            outcome.status = "partial_conflict" if to_apply else "conflict"
            outcome.conflict_ids = conflict_ids
            outcome.detail = ", ".join(c[0] for c in clashes) + " changed on the server too"
        return outcome

    def _row_deleted(self, m: Mutation, row: dict[str, Any], changes: dict[str, Any]) -> Outcome:
        """An edit of a row deleted on the server: a ``row_deleted`` conflict (or added to the waiting one)."""
        spec = SPECS[m.table_name]
        waiting = self.ledger.waiting((m.table_name, m.row_id), "row_deleted")
        if waiting is not None:
            base, mine = dict(waiting["base_value"] or {}), dict(waiting["mine"] or {})
            for name, (old, new) in changes.items():
                base.setdefault(name, old)
                mine[name] = new
            conflict_id = self.ledger.refresh(waiting, m, base_value=base, mine=mine)
        else:
            conflict_id = self.ledger.record(
                m,
                "row_deleted",
                base={k: v[0] for k, v in changes.items()},
                mine={k: v[1] for k, v in changes.items()},
                theirs=row_json(row),
                detail=f"the {spec.label} was deleted on the server",
                row=row,
            )
        return Outcome("conflict", [conflict_id], f"the {spec.label} was deleted on the server")

    def _field_conflict(
        self, m: Mutation, row: dict[str, Any], name: str, old: Any, new: Any, current: Any
    ) -> int:
        """A field both sides changed: a ``field_conflict`` (or the waiting one on it, refreshed)."""
        waiting = self.ledger.waiting((m.table_name, m.row_id), "field_conflict", name)
        if waiting is not None and same(waiting["mine"], old):
            return self.ledger.refresh(
                waiting, m, mine=new, theirs=current, server_row_version=row["row_version"]
            )
        return self.ledger.record(
            m, "field_conflict", field_name=name, base=old, mine=new, theirs=current, row=row
        )

    def _problem(
        self, table_name: str, row: dict[str, Any], merged: dict[str, Any], to_apply: dict[str, Any]
    ) -> str | None:
        """Why the merged row may not be written: a state guard, a template or a referenced row gone,
        the shared validation; ``None`` when it may."""
        problem = self._guard(table_name, row, merged, to_apply)
        if problem is None and table_name == "cohorts":
            changed_templates: dict[str, Any] = {
                k: to_apply[k] for k in ("main_template_id", "supporting_templates") if k in to_apply
            }
            problem = self.state.foreign_problem("cohorts", changed_templates)
        if problem is None:
            for column, table in SPECS[table_name].refs:
                if column in to_apply and to_apply[column] is not None:
                    target = self.state.rows.get((table, to_apply[column]))
                    if target is None or target["deleted_at"] is not None:
                        problem = f"the {SPECS[table].label} (id {to_apply[column]}) is deleted or missing on the server"
        if problem is None:
            try:
                validate_record(table_name, merged)
            except ValidationError as exc:
                problem = str(exc)
        return problem

    @staticmethod
    def _guard(
        table_name: str, row: dict[str, Any], merged: dict[str, Any], to_apply: dict[str, Any]
    ) -> str | None:
        """The state machine's guards, on the merged row, from the server's current state."""
        if "state" not in to_apply:
            return None
        target = to_apply["state"]
        if table_name == "cohorts":
            candidate = cohort_row(SimpleNamespace(**{**merged, "state": row["state"]}))
            reasons = cohort_blockers(candidate, target)
        elif table_name == "cohort_enrollments":
            reasons = enrollment_blockers(row["state"], target)
        else:
            reasons = []
        return f"it cannot become {target}: {'; '.join(reasons)}" if reasons else None

    def _fold_into_insert(self, m: Mutation, conflict: dict[str, Any]) -> Outcome:
        """An edit of a row whose insert waits in the inbox: the waiting row takes the new values."""
        spec = SPECS[m.table_name]
        row = dict(conflict["mine"] or {})
        as_record = record_from_json(spec.table, row)
        for name, pair in m.changes.items():
            if name == "deleted_at":
                continue
            set_field(spec.table, as_record, name, pair[1])
        conflict_id = self.ledger.refresh(conflict, m, mine=record_to_json(as_record))
        return Outcome("conflict", [conflict_id], "added to the waiting new row")

    def flush(self) -> None:
        """Send the batch's merged updates in one ``cohortdesk_write`` call (per-key JSON fields merge on
        the server); a refusal becomes that mutation's ``rejected`` conflict."""
        queued, self.queued = self.queued, []
        ops = [
            {
                "op": "update",
                "table": m.table_name,
                "id": m.row_id,
                "set": {k: v for k, v in to_apply.items() if k != "deleted_at"},
                "restore": "deleted_at" in to_apply,
            }
            for m, to_apply, _outcome, _row in queued
        ]
        results = self.state.try_write(ops)
        if results is None:
            results = [(self.state.try_write([op_]) or [refused_by_database()])[0] for op_ in ops]
        for (m, _to_apply, outcome, row), result in zip(queued, results, strict=True):
            key = (m.table_name, m.row_id)
            if result.get("ok"):
                if key in self.state.rows and result.get("row_version") is not None:
                    self.state.rows[key]["row_version"] = int(result["row_version"])
                continue
            detail = f"the server refused it: {result.get('error') or 'no reason given'}"
            conflict_id = self.ledger.record(
                m, "rejected", mine=m.changes, theirs=row_json(row), detail=detail, row=row
            )
            self.state.rows[key] = row
            outcome.status, outcome.detail = "rejected", detail
            outcome.conflict_ids = [*outcome.conflict_ids, conflict_id]

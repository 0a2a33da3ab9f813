"""Rows created on a laptop: each checked against what the batch holds (a free id reserved for this
device, the tenant's account, a live parent, the cohort still taking enrollments, the DocuSeal rows it
points at, the shared validation), then queued and written together, one multi-row insert per table.
A row the server refuses (a learner enrolled twice) becomes that row's own conflict; the others still
apply."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from cohortdesk.errors import ValidationError
from cohortdesk.services.sync.push.ledger import ConflictLedger, row_json
from cohortdesk.services.sync.push.mutation import Mutation, Outcome
from cohortdesk.services.sync.push.state import BatchState, Key
from cohortdesk.services.sync.spec import SPECS, record_from_json, record_to_json, validate_record

Queued = tuple[Mutation, dict[str, Any], Outcome]


class InsertApplier:
    """Checks and queues the batch's inserts; ``flush`` writes the queue."""

    def __init__(self, state: BatchState, ledger: ConflictLedger) -> None:
        self.state = state
        self.ledger = ledger
        #: New rows checked and waiting to be written together (see ``flush``).
        self.pending: list[Queued] = []
        self.pending_keys: set[Key] = set()

    def waits_before(self, m: Mutation) -> bool:
        """Whether the queue must be written before ``m`` (which may read or change the new rows):
        anything but another insert into the same table."""
        return bool(self.pending) and not (
            m.op == "insert" and m.table_name == self.pending[-1][0].table_name
        )

    def apply(self, m: Mutation) -> Outcome:
        spec = SPECS[m.table_name]
        key = (m.table_name, m.row_id)
        rows = self.state.rows
        if key in rows or key in self.pending_keys:
            return self.ledger.reject(m, f"a {spec.label} with id {m.row_id} already exists", rows.get(key))
        reservation = self.state.reserved.get(key)
        if reservation is None or reservation.device_id != self.state.device_id:
            return self.ledger.reject(m, f"id {m.row_id} was not reserved for this laptop")
        record = record_from_json(spec.table, {c: m.changes.get(c) for c in spec.insert_columns})
        record["id"] = m.row_id
        if record.get("account_id") != self.state.account_id:
            return self.ledger.reject(m, "the row belongs to another institution's account")
        record["row_version"] = 1
        missing = self._missing_parent(m, record)
        if missing is not None:
            return missing
        if m.table_name == "cohort_enrollments":
            cohort = rows[("cohorts", record["cohort_id"])]
            if cohort["state"] not in ("draft", "active"):
                return self.ledger.reject(
                    m, f"the cohort is {cohort['state']}; it takes no new enrollments", cohort
                )
        problem = self.state.foreign_problem(m.table_name, record)
        if problem:
            return self.ledger.reject(m, problem)
        try:
            validate_record(m.table_name, record)
        except ValidationError as exc:
            return self.ledger.reject(m, str(exc))
        # Queued, then written together with the other new rows of the batch (``flush``): one
        # multi-row INSERT instead of a savepoint and an INSERT per row.
        outcome = Outcome("applied")
        self.pending.append((m, record, outcome))
        self.pending_keys.add(key)
        return outcome

    def _missing_parent(self, m: Mutation, record: dict[str, Any]) -> Outcome | None:
        """A ``parent_deleted`` conflict when a row the new one points at is deleted or absent."""
        spec = SPECS[m.table_name]
        refs = ([spec.parent] if spec.parent else []) + list(spec.refs)
        for column, table in refs:
            ref_id = record.get(column)
            if ref_id is None:
                continue
            parent = self.state.rows.get((table, ref_id))
            if parent is None or parent["deleted_at"] is not None:
                label = SPECS[table].label
                detail = (
                    f"the {label} (id {ref_id}) was deleted on the server"
                    if parent is not None
                    else f"the {label} (id {ref_id}) does not exist on the server"
                )
                conflict_id = self.ledger.record(
                    m, "parent_deleted", mine=m.changes, theirs=row_json(parent), detail=detail, row=parent
                )
                return Outcome("conflict", [conflict_id], detail)
        return None

    def flush(self) -> None:
        """Write the queued new rows: one ``cohortdesk_write`` insert per table; if the server refuses
        any of them (a learner enrolled twice), row by row in one more call, so each refusal becomes that
        row's own conflict and the others still apply."""
        pending, self.pending = self.pending, []
        self.pending_keys.clear()
        by_table: dict[str, list[Queued]] = defaultdict(list)
        for item in pending:
            by_table[item[0].table_name].append(item)
        for table_name, items in by_table.items():
            # The rows travel as one JSON parameter: a single short statement, whatever the batch size.
            whole = {"op": "insert", "table": table_name, "rows": [record_to_json(r) for _m, r, _o in items]}
            results = self.state.try_write([whole])
            if results is not None and results[0].get("ok"):
                for m, record, _outcome in items:
                    self._written(m, record)
                continue
            single = [
                {"op": "insert", "table": table_name, "rows": [record_to_json(r)]} for _m, r, _o in items
            ]
            results = self.state.try_write(single)
            if results is None:
                for m, record, outcome in items:
                    self._insert_one(m, record, outcome)
                continue
            for (m, record, outcome), result in zip(items, results, strict=True):
                self._result(m, record, outcome, result)

    def _written(self, m: Mutation, record: dict[str, Any]) -> None:
        self.state.rows[(m.table_name, m.row_id)] = {
            **record,
            "row_version": 1,
            "deleted_at": None,
            "updated_by": None,
            "change_seq": None,
        }

    def _insert_one(self, m: Mutation, record: dict[str, Any], outcome: Outcome) -> None:
        """One row on its own, when even the row-by-row call raised: the database's refusal in words."""
        op = {"op": "insert", "table": m.table_name, "rows": [record_to_json(record)]}
        try:
            with self.state.conn.begin_nested():
                (result,) = self.state.write([op])
        except DBAPIError as exc:
            code = "duplicate" if "cohort_id_user_id" in str(exc.orig) else "refused"
            result = {
                "ok": False,
                "code": code,
                "error": f"the database refused the row: {str(exc.orig).splitlines()[0]}",
            }
        self._result(m, record, outcome, result)

    def _result(self, m: Mutation, record: dict[str, Any], outcome: Outcome, result: dict[str, Any]) -> None:
        """A row's write result: written, or its conflict (``duplicate``, ``parent_deleted``, ``rejected``)."""
        if result.get("ok"):
            self._written(m, record)
            return
        code, detail = result.get("code"), str(result.get("error") or "refused by the server")
        if code == "duplicate" and m.table_name == "cohort_enrollments":
            table = SPECS[m.table_name].table
            existing = self.state.conn.execute(
                select(table).where(
                    table.c.cohort_id == record["cohort_id"],
                    table.c.user_id == record["user_id"],
                    table.c.deleted_at.is_(None),
                )
            ).first()
            theirs = dict(existing._mapping) if existing else None
            detail = "this learner is already enrolled in the cohort" + (
                f" (enrollment {theirs['id']})" if theirs else ""
            )
            conflict_id = self.ledger.record(
                m, "duplicate", mine=m.changes, theirs=row_json(theirs), detail=detail, row=theirs
            )
            outcome.status, outcome.conflict_ids, outcome.detail = "conflict", [conflict_id], detail
            return
        if code == "parent_deleted":
            conflict_id = self.ledger.record(m, "parent_deleted", mine=m.changes, detail=detail)
            outcome.status, outcome.conflict_ids, outcome.detail = "conflict", [conflict_id], detail
            return
        outcome.become(self.ledger.reject(m, detail))

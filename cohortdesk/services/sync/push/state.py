"""What one pushed batch holds of the server: the rows it targets, locked up front and kept current
as the batch applies, the ids reserved for its new rows, and the DocuSeal users and templates its rows
may point at. Its checks read only this (no round trip per row); its writes go through the server's
one write function inside a savepoint."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError

from cohortdesk.models import SyncIdReservation, Template, User
from cohortdesk.services.sync.push.mutation import Mutation
from cohortdesk.services.sync.server import write
from cohortdesk.services.sync.spec import SPECS, record_from_json

_reservation = SyncIdReservation.__table__

Key = tuple[str, int]  # (table name, row id)


def refused_by_database() -> dict[str, Any]:
    """The result of a write the database raised on (as ``cohortdesk_write`` reports a refusal)."""
    return {"ok": False, "code": "refused", "error": "the database refused the change"}


class BatchState:
    """The server rows one batch works on, read once (``read``) and updated as its writes go out."""

    def __init__(self, conn: Connection, account_id: int, device_id: str) -> None:
        self.conn = conn
        self.account_id = account_id
        self.device_id = device_id
        #: The batch's target rows as the server holds them (locked), then as the batch left them.
        self.rows: dict[Key, dict[str, Any]] = {}
        #: Id reservations of the batch's new rows (an insert needs one made for this device).
        self.reserved: dict[Key, Any] = {}
        #: DocuSeal learners and templates of the tenant's account the batch's rows point at.
        self.users: set[int] = set()
        self.templates: set[int] = set()

    def read(self, mutations: Sequence[Mutation]) -> dict[str, set[int]]:
        """Lock every row the batch targets (the rows themselves and the ones new rows and changed
        references point at), in a fixed order (parents first, then by id) that keeps pushes
        deadlock-free; read the new rows' id reservations and the DocuSeal rows they may point at.
        Returns the targeted ids per table."""
        targets: dict[str, set[int]] = defaultdict(set)
        inserts: dict[str, set[int]] = defaultdict(set)
        user_ids: set[int] = set()
        for m in mutations:
            spec = SPECS.get(m.table_name)
            if spec is None:
                continue
            targets[m.table_name].add(m.row_id)
            if m.op == "insert":
                inserts[m.table_name].add(m.row_id)
                refs = ([spec.parent] if spec.parent else []) + list(spec.refs)
                for column, table in refs:
                    if isinstance(m.changes.get(column), int):
                        targets[table].add(m.changes[column])
                if isinstance(m.changes.get("user_id"), int):
                    user_ids.add(m.changes["user_id"])
            else:
                for column, table in spec.refs:
                    pair = m.changes.get(column)
                    if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], int):
                        targets[table].add(pair[1])
        for table_name in SPECS:
            ids = sorted(targets.get(table_name, ()))
            if not ids:
                continue
            spec_table = SPECS[table_name].table
            locked = self.conn.execute(
                text("SELECT cohortdesk_sync_lock(:t, CAST(:ids AS bigint[]))"), {"t": table_name, "ids": ids}
            ).scalars()
            for found in locked:
                row = record_from_json(spec_table, found)
                if row["account_id"] == self.account_id:
                    self.rows[(table_name, row["id"])] = row
        for table_name, new_ids in inserts.items():
            stmt = select(_reservation).where(
                _reservation.c.table_name == table_name, _reservation.c.id.in_(new_ids)
            )
            for reservation in self.conn.execute(stmt):
                self.reserved[(table_name, reservation.id)] = reservation
        if user_ids:
            self.users = set(
                self.conn.scalars(
                    select(User.id).where(User.id.in_(sorted(user_ids)), User.account_id == self.account_id)
                )
            )
        self.templates = set(
            self.conn.scalars(select(Template.id).where(Template.account_id == self.account_id))
        )
        return targets

    def foreign_problem(self, table_name: str, record: dict[str, Any]) -> str | None:
        """DocuSeal rows a synced row points at must exist in the tenant's account."""
        user_id = record.get("user_id")
        if table_name == "cohort_enrollments" and user_id not in self.users:
            return f"there is no learner with user id {user_id} in this institution's account"
        if table_name != "cohorts":
            return None
        templates = [record.get("main_template_id"), *(record.get("supporting_templates") or [])]
        for template_id in templates:
            if template_id is not None and template_id not in self.templates:
                return f"DocuSeal template {template_id} does not exist (it may have been deleted)"
        return None

    def write(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``cohortdesk_write`` with this device's reserved ids."""
        return write(self.conn, self.device_id, ops)

    def try_write(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """``write`` inside a savepoint; ``None`` when the database raised (nothing of it stays)."""
        try:
            with self.conn.begin_nested():
                return self.write(ops)
        except DBAPIError:
            return None

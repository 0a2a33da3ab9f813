"""Comparing stores with the server, and small helpers shared by the sync tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from cohortdesk.db import Database
from cohortdesk.services.sync.spec import SPECS, record_to_json


def snapshot(db: Database, account_id: int) -> dict[str, dict[int, dict[str, Any]]]:
    """Every synced row of the tenant (tombstones included), column by column, in JSON form."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    with db.engine.connect() as conn:
        for name, spec in SPECS.items():
            rows = conn.execute(select(spec.table).where(spec.table.c.account_id == account_id))
            out[name] = {r.id: record_to_json(dict(r._mapping)) for r in rows}
    return out


def assert_same_as_server(laptop: Database, server: Database, account_id: int) -> None:
    mine, theirs = snapshot(laptop, account_id), snapshot(server, account_id)
    for table in SPECS:
        assert mine[table].keys() == theirs[table].keys(), table
        for row_id, row in theirs[table].items():
            assert mine[table][row_id] == row, (table, row_id)


def server_sql(server: Database, sql: str, **params: Any) -> Any:
    with server.engine.begin() as conn:
        result = conn.execute(text(sql), params)
        return result.all() if result.returns_rows else None


def outbox(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT * FROM sync_outbox ORDER BY mutation_id")).all()

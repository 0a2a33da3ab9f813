"""The laptop's side of the sync bookkeeping: its ``sync_state`` row, the outbox, the reserved id
pools, the status-bar counts and the "export unsynced changes" escape hatch.

A store is *paired* once its first sync named a server and a tenant (account). Before that it is a
plain standalone database: edits get ordinary auto-increment ids and queue nothing. Once paired, every
configuration edit takes its new row ids from the reserved pools and appends to the outbox, in the
same SQLite transaction as the edit itself.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from cohortdesk.db import Database
from cohortdesk.errors import SyncError, SyncSchemaTooOld
from cohortdesk.models import SyncConflict, SyncIdPool, SyncOutbox, SyncState
from cohortdesk.services.sync.spec import SPECS, SYNC_SCHEMA_VERSION

STATE_ID = 1
#: How a recorded failure starts when the server could not be reached (the status bar says "Offline").
OFFLINE_PREFIX = "The server cannot be reached"
#: How many ids of each kind a laptop keeps in reserve; topped up when a pool falls below half.
#: Enrollments: twice a large import, so a 500-learner XLSX fits offline.
DEFAULT_POOL_SIZES = {"institutions": 2, "sponsors": 50, "cohorts": 50, "cohort_enrollments": 1000}

_state = SyncState.__table__
_outbox = SyncOutbox.__table__
_pool = SyncIdPool.__table__
_conflict = SyncConflict.__table__


@dataclass(frozen=True)
class LocalState:
    device_id: str
    account_id: int | None
    server_url: str | None
    last_pulled_seq: int
    last_mutation_id: int
    last_synced_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    clock_offset_seconds: int | None

    @property
    def paired(self) -> bool:
        return self.account_id is not None and self.server_url is not None


def state(session: Session) -> LocalState:
    """This store's sync state, created (with a new device id) on first use."""
    row = session.execute(select(_state).where(_state.c.id == STATE_ID)).first()
    if row is None:
        session.execute(
            insert(_state).values(
                id=STATE_ID,
                device_id=str(uuid.uuid4()),
                last_pulled_seq=0,
                last_mutation_id=0,
                schema_version=SYNC_SCHEMA_VERSION,
            )
        )
        row = session.execute(select(_state).where(_state.c.id == STATE_ID)).one()
    return LocalState(
        device_id=row.device_id,
        account_id=row.account_id,
        server_url=row.server_url,
        last_pulled_seq=row.last_pulled_seq,
        last_mutation_id=row.last_mutation_id,
        last_synced_at=row.last_synced_at,
        last_attempt_at=row.last_attempt_at,
        last_error=row.last_error,
        clock_offset_seconds=row.clock_offset_seconds,
    )


def is_paired(session: Session) -> bool:
    """Whether this store syncs with a server, read without writing anything.

    Always ``False`` on PostgreSQL: the shared server is never a laptop, its ``sync_state`` is unused
    (and no application login may touch it), and edits there are the server's own.
    """
    if session.get_bind().dialect.name != "sqlite":
        return False
    row = session.execute(
        select(_state.c.account_id, _state.c.server_url).where(_state.c.id == STATE_ID)
    ).first()
    return row is not None and row.account_id is not None and row.server_url is not None


def read_state(db: Database) -> LocalState:
    with db.session() as s:
        return state(s)


def update_state(session: Session, **values: Any) -> None:
    state(session)
    session.execute(update(_state).where(_state.c.id == STATE_ID).values(**values))


# --- ids -----------------------------------------------------------------------------------------


def allocate_id(session: Session, table_name: str, paired: bool) -> int | None:
    """An id for a row created here: from the reserved pool when paired, else ``None`` (auto-increment)."""
    if not paired:
        return None
    next_id = session.scalar(select(func.min(_pool.c.id)).where(_pool.c.table_name == table_name))
    if next_id is None:
        label = SPECS[table_name].label
        raise SyncError(
            f"This laptop has no more reserved ids for a new {label}. Connect to the network and sync "
            f"once to reserve more; nothing you made so far is lost."
        )
    session.execute(delete(_pool).where(_pool.c.table_name == table_name, _pool.c.id == next_id))
    return int(next_id)


def pool_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(_pool.c.table_name, func.count()).group_by(_pool.c.table_name)).all()
    counts = {name: 0 for name in SPECS}
    counts.update({name: int(n) for name, n in rows})
    return counts


def add_to_pool(session: Session, table_name: str, ids: list[int]) -> None:
    if ids:
        session.execute(insert(_pool), [{"table_name": table_name, "id": i} for i in ids])


# --- outbox --------------------------------------------------------------------------------------


def queue(
    session: Session,
    table_name: str,
    row_id: int,
    op: str,
    changes: dict[str, Any],
    base_row_version: int | None = None,
) -> int:
    """Append one mutation to the outbox; returns its mutation id (strictly increasing per device)."""
    state(session)
    mutation_id = session.execute(
        update(_state)
        .where(_state.c.id == STATE_ID)
        .values(last_mutation_id=_state.c.last_mutation_id + 1)
        .returning(_state.c.last_mutation_id)
    ).scalar_one()
    session.execute(
        insert(_outbox).values(
            mutation_id=mutation_id,
            table_name=table_name,
            row_id=row_id,
            op=op,
            base_row_version=base_row_version,
            changes_json=changes,
            schema_version=SYNC_SCHEMA_VERSION,
            created_at=datetime.now(UTC),
            status="pending",
        )
    )
    return int(mutation_id)


def pending_count(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(_outbox).where(_outbox.c.status != "acknowledged"))
        or 0
    )


def open_conflict_count(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(_conflict).where(_conflict.c.status == "open")) or 0
    )


@dataclass(frozen=True)
class SyncStatus:
    """What the status bar shows; every figure is a cheap local query."""

    paired: bool
    server_url: str | None
    device_id: str
    waiting: int
    conflicts: int
    last_synced_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    clock_offset_seconds: int | None

    @property
    def online(self) -> bool | None:
        """``True`` if the last attempt reached the server, ``False`` if it failed, ``None`` if never tried."""
        if self.last_attempt_at is None:
            return None
        return self.last_error is None

    @property
    def offline(self) -> bool:
        """The last attempt could not reach the server (the changes wait; nothing else is wrong)."""
        return bool(self.last_error and self.last_error.startswith(OFFLINE_PREFIX))

    @property
    def failed(self) -> bool:
        """The last sync reached the server but stopped with an error: counts may be stale."""
        return self.last_error is not None and not self.offline and not self.needs_update

    @property
    def needs_update(self) -> bool:
        """The last sync was refused because the server accepts only a newer CohortDesk (the outbox is
        kept as it was; updating the app and syncing again sends it)."""
        return bool(self.last_error and self.last_error.startswith(SyncSchemaTooOld.PREFIX))

    def describe(self) -> str:
        """E.g. ``3 changes waiting · 1 conflict``. After a sync that did not finish it says so first
        (``Last sync failed · 3 changes waiting``, ``Offline · …``, ``Update needed · …``) and names
        conflicts only when some are known: the ones that sync would have brought are not, so "0
        conflicts" is never claimed then."""
        changes = f"{self.waiting} change{'s' if self.waiting != 1 else ''} waiting"
        conflicts = f"{self.conflicts} conflict{'s' if self.conflicts != 1 else ''}"
        if self.last_error:
            prefix = (
                "Update needed" if self.needs_update else "Offline" if self.offline else "Last sync failed"
            )
            return f"{prefix} · {changes}" + (f" · {conflicts}" if self.conflicts else "")
        return f"{changes} · {conflicts}"


def sync_status(db: Database) -> SyncStatus:
    with db.session() as s:
        st = state(s)
        return SyncStatus(
            paired=st.paired,
            server_url=st.server_url,
            device_id=st.device_id,
            waiting=pending_count(s),
            conflicts=open_conflict_count(s),
            last_synced_at=st.last_synced_at,
            last_attempt_at=st.last_attempt_at,
            last_error=st.last_error,
            clock_offset_seconds=st.clock_offset_seconds,
        )


def rows_waiting(db: Database, table_name: str) -> frozenset[int]:
    """Ids of rows of ``table_name`` with an edit not yet acknowledged by the server (for list markers).

    Empty on the server itself (edits there are already the server's)."""
    if not db.is_sqlite:
        return frozenset()
    with db.read_session() as s:
        ids = s.scalars(
            select(_outbox.c.row_id)
            .where(_outbox.c.table_name == table_name, _outbox.c.status != "acknowledged")
            .distinct()
        )
        return frozenset(int(i) for i in ids)


def rows_in_conflict(db: Database, table_name: str) -> frozenset[int]:
    """Ids of rows of ``table_name`` with an open conflict (the list delegate marks them); the inbox
    is a laptop's, so empty on the server itself."""
    if not db.is_sqlite:
        return frozenset()
    with db.read_session() as s:
        ids = s.scalars(
            select(_conflict.c.row_id)
            .where(_conflict.c.table_name == table_name, _conflict.c.status == "open")
            .distinct()
        )
        return frozenset(int(i) for i in ids)


def export_unsynced(db: Database, path: Path | str | None = None) -> dict[str, Any]:
    """Every change not yet acknowledged and every open conflict, as JSON (written to ``path`` if given).

    The escape hatch when a laptop cannot sync: nothing is removed from the store.
    """
    with db.read_session() as s:
        st = state(s)
        entries = s.execute(
            select(_outbox).where(_outbox.c.status != "acknowledged").order_by(_outbox.c.mutation_id)
        ).all()
        conflicts = s.execute(
            select(_conflict).where(_conflict.c.status == "open").order_by(_conflict.c.id)
        ).all()

    def plain(row: Any) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row._mapping.items()}

    document = {
        "format": "cohortdesk-unsynced-changes",
        "version": 1,
        "exported_at": datetime.now(UTC).isoformat(),
        "device_id": st.device_id,
        "account_id": st.account_id,
        "server_url": st.server_url,
        "sync_schema_version": SYNC_SCHEMA_VERSION,
        "changes": [plain(e) for e in entries],
        "conflicts": [plain(c) for c in conflicts],
    }
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
        target.chmod(0o600)
    return document

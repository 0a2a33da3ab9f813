"""``sync()``: push the outbox, top up the reserved ids, pull what changed, in that order.

    report = sync(local_db, server_db, progress=None, cancelled=None)

* **Push** in batches, each one server transaction (``push.apply_batch``); the local outbox entries of a
  batch are acknowledged only after the server committed. A crash or a dropped connection anywhere
  is resumed by syncing again: the server recognises mutation ids it already applied, so nothing is
  applied twice and nothing is lost. A server that accepts only newer laptops raises
  ``SyncSchemaTooOld`` and the outbox is kept as it is.
* **Pull** only when the outbox is empty (push before pull), in one REPEATABLE READ READ ONLY
  snapshot whose first statement reads ``hi = tenant_clock.last_seq``: rows with
  ``cursor < change_seq <= hi``, parents before children, page by page, applied (tombstones too)
  in ONE SQLite transaction, after which the cursor becomes ``hi``. Rows this laptop pushed are
  re-read as the server now has them (a row whose insert waits in the inbox leaves the local store;
  the inbox keeps it), DocuSeal's template list is re-read in full, and this device's conflicts are
  copied into the local inbox.
* ``cancelled()`` is checked between push batches and between pull pages; a cancelled pull leaves
  the store exactly as before it. ``progress(done, total, text)`` reports as it goes (the names match
  the background runner's ``with_progress`` keywords).
* The laptop clock is compared with the server's; more than 5 minutes apart gives a warning (order
  and conflicts depend on server counters only, never on laptop clocks).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cohortdesk import __version__
from cohortdesk.db import Database
from cohortdesk.errors import CohortDeskError, OfflineError, SyncError
from cohortdesk.models import SyncConflict, SyncOutbox
from cohortdesk.services.sync import local, push, server
from cohortdesk.services.sync.spec import SPECS, SYNC_SCHEMA_VERSION, upcast

log = logging.getLogger(__name__)

PUSH_BATCH = 500
PULL_PAGE = 5000
CLOCK_SKEW_WARNING = timedelta(minutes=5)
_TRANSIENT = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.LockNotAvailable,
)

_outbox = SyncOutbox.__table__
_conflict = SyncConflict.__table__

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class SyncReport:
    pushed: int = 0
    applied: int = 0
    conflicts: int = 0  # mutations that left something in the inbox (conflict or partial)
    rejected: int = 0
    duplicates: int = 0
    batches: int = 0
    pulled: int = 0
    pull_skipped: bool = False  # new local edits arrived during the sync: pushed next time
    cancelled: bool = False
    last_seq: int = 0
    waiting: int = 0
    open_conflicts: int = 0
    reserved: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    clock_offset_seconds: int = 0

    def describe(self) -> str:
        parts = [f"sent {self.pushed} change{'s' if self.pushed != 1 else ''}"]
        if self.pushed:
            parts[-1] += f" ({self.applied} applied, {self.conflicts} with conflicts, {self.rejected} refused"
            parts[-1] += f", {self.duplicates} already there)" if self.duplicates else ")"
        parts.append(f"received {self.pulled} row{'s' if self.pulled != 1 else ''}")
        parts.append(f"{self.waiting} change{'s' if self.waiting != 1 else ''} waiting")
        parts.append(f"{self.open_conflicts} conflict{'s' if self.open_conflicts != 1 else ''}")
        text_ = " · ".join(parts)
        if self.cancelled:
            text_ = "Cancelled: " + text_
        return text_[0].upper() + text_[1:]


class _Cancelled(Exception):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


def sync(
    local_db: Database,
    server_db: Database,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    *,
    account_id: int | None = None,
    batch_size: int = PUSH_BATCH,
    page_size: int = PULL_PAGE,
    pool_sizes: dict[str, int] | None = None,
    on_batch_pushed: Callable[[int], None] | None = None,
) -> SyncReport:
    """Push this laptop's outbox to ``server_db``, top up reserved ids, pull the server's changes.

    ``on_batch_pushed(n)`` runs after the server committed batch ``n`` and before the laptop marks it
    acknowledged (the riskiest moment to crash; tests use it to kill the process there).
    """
    with _failures_recorded(local_db):
        return _Sync(
            local_db, server_db, progress, cancelled, account_id, batch_size, page_size, pool_sizes
        ).run(on_batch_pushed)


def reserve_ids(local_db: Database, server_db: Database, table_name: str, count: int) -> int:
    """Reserve ``count`` more ids of ``table_name`` for this paired laptop now (online), on top of its
    pool; returns how many the pool then holds. Used before a large import instead of a full sync.

    Raises ``OfflineError`` (recorded like a failed sync) when the server cannot be reached.
    """
    with _failures_recorded(local_db):
        worker = _Sync(local_db, server_db, None, None, None, PUSH_BATCH, PULL_PAGE, None)
        hs, _offset = worker._handshake()
        got: list[int] = []
        with server_db.engine.begin() as conn:
            for start in range(0, count, server.MAX_RESERVE):
                got += server.reserve_ids(
                    conn, hs.device_id, table_name, min(server.MAX_RESERVE, count - start)
                )
        with local_db.session() as s:
            local.add_to_pool(s, table_name, got)
            return local.pool_counts(s)[table_name]


@contextmanager
def _failures_recorded(local_db: Database) -> Iterator[None]:
    """Record any failure in the store's sync state (the status bar shows it) and word it."""
    try:
        yield
    except CohortDeskError as exc:
        _record_failure(local_db, str(exc))
        raise
    except DBAPIError as exc:
        first = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
        if isinstance(exc.orig, psycopg.OperationalError) or exc.connection_invalidated:
            message = f"{local.OFFLINE_PREFIX} ({first}). Your changes are kept."
            _record_failure(local_db, message)
            raise OfflineError(message) from exc
        where = "the server" if isinstance(exc.orig, psycopg.Error) else "this laptop's store"
        message = f"The sync stopped: {where} refused it ({first}). Your changes are kept."
        _record_failure(local_db, message)
        raise SyncError(message) from exc
    except Exception as exc:
        # Anything else still leaves the store saying the sync failed, never "up to date".
        _record_failure(local_db, f"The sync stopped: {type(exc).__name__}: {str(exc)[:200]}")
        raise


def _record_failure(local_db: Database, message: str) -> None:
    try:
        with local_db.session() as s:
            local.update_state(s, last_attempt_at=_now(), last_error=message)
    except Exception:  # noqa: BLE001 - never hide the original error behind a bookkeeping one
        log.exception("could not record the sync failure")


class _Sync:
    def __init__(
        self,
        local_db: Database,
        server_db: Database,
        progress: Progress | None,
        cancelled: Callable[[], bool] | None,
        account_id: int | None,
        batch_size: int,
        page_size: int,
        pool_sizes: dict[str, int] | None,
    ) -> None:
        self.local_db = local_db
        self.server_db = server_db
        self.progress = progress or (lambda done, total, text_: None)
        self.cancelled = cancelled or (lambda: False)
        self.account_id = account_id
        self.batch_size = max(1, batch_size)
        self.page_size = max(1, page_size)
        self.pool_sizes = pool_sizes or local.DEFAULT_POOL_SIZES
        self.stats: dict[str, Any] = {
            "pushed": 0,
            "applied": 0,
            "conflicts": 0,
            "rejected": 0,
            "duplicates": 0,
            "batches": 0,
        }
        self.warnings: list[str] = []

    def run(self, on_batch_pushed: Callable[[int], None] | None) -> SyncReport:
        hs, offset = self._handshake()
        cancelled = self._push(hs, on_batch_pushed)
        reserved: dict[str, int] = {}
        pulled, skipped, last_seq = 0, False, 0
        if not cancelled:
            reserved = self._top_up(hs)
            try:
                pulled, skipped, last_seq = self._pull(hs, offset)
            except _Cancelled:
                cancelled = True
        with self.local_db.session() as s:
            waiting, conflicts = local.pending_count(s), local.open_conflict_count(s)
            if cancelled:
                local.update_state(s, last_attempt_at=_now(), last_error=None)
        return SyncReport(
            **self.stats,
            pulled=pulled,
            pull_skipped=skipped,
            cancelled=cancelled,
            last_seq=last_seq,
            waiting=waiting,
            open_conflicts=conflicts,
            reserved=reserved,
            warnings=tuple(self.warnings),
            clock_offset_seconds=offset,
        )

    # handshake ------------------------------------------------------------------------------------

    def _handshake(self) -> tuple[server.Handshake, int]:
        with self.local_db.session() as s:
            st = local.state(s)
            waiting = local.pending_count(s)
        self.progress(0, 0, "Connecting to the server")
        before = _now()
        with self.server_db.engine.begin() as conn:
            hs = server.handshake(
                conn,
                st.device_id,
                account_id=self.account_id or st.account_id,
                label=socket.gethostname(),
                app_version=__version__,
                client_schema=SYNC_SCHEMA_VERSION,
                waiting=waiting,
            )
        local_mid = before + (_now() - before) / 2
        offset = int((hs.server_time - local_mid).total_seconds())
        if abs(offset) > CLOCK_SKEW_WARNING.total_seconds():
            self.warnings.append(
                f"This laptop's clock is {abs(offset) // 60} minutes {'behind' if offset > 0 else 'ahead of'} "
                "the server's. Sync still works (it orders changes by the server's counters), but times "
                "shown for your edits will be off: set the clock."
            )
        if st.paired and st.account_id != hs.account_id:
            raise SyncError("This laptop syncs another institution than the one this login belongs to.")
        if hs.last_mutation_id > st.last_mutation_id:
            raise SyncError(
                "The server has seen newer changes from this laptop than this store holds: the store was "
                "probably restored from an older copy. Export its unsynced changes and start a fresh store; "
                "nothing was sent."
            )
        if not st.paired:
            self._pair(hs.account_id)
        with self.local_db.session() as s:
            local.update_state(s, clock_offset_seconds=offset, schema_version=SYNC_SCHEMA_VERSION)
        return hs, offset

    def _pair(self, account_id: int) -> None:
        with self.local_db.session() as s:
            for spec in SPECS.values():
                if s.execute(select(spec.table.c.id).limit(1)).first() is not None:
                    raise SyncError(
                        f"This local store already holds {spec.label} data made without a server, so it "
                        "cannot start syncing. Use a new local store for the laptop (its first sync fills it)."
                    )
            url = self.server_db.url.render_as_string(hide_password=True)
            local.update_state(s, account_id=account_id, server_url=url)

    # push -----------------------------------------------------------------------------------------

    def _push(self, hs: server.Handshake, on_batch_pushed: Callable[[int], None] | None) -> bool:
        with self.local_db.session() as s:
            total = local.pending_count(s)
        done = 0
        while True:
            if self.cancelled():
                return True
            with self.local_db.session() as s:
                rows = s.execute(
                    select(_outbox)
                    .where(_outbox.c.status != "acknowledged")
                    .order_by(_outbox.c.mutation_id)
                    .limit(self.batch_size)
                ).all()
                if rows:
                    s.execute(
                        update(_outbox)
                        .where(_outbox.c.mutation_id.in_([r.mutation_id for r in rows]))
                        .values(status="sent")
                    )
            if not rows:
                return False
            mutations = [self._mutation(r) for r in rows]
            self.progress(done, max(total, done + len(rows)), f"Sending changes ({done} of {total})")
            result = self._push_batch(hs, mutations)
            self.stats["batches"] += 1
            if on_batch_pushed is not None:
                on_batch_pushed(self.stats["batches"])
            self._acknowledge(result)
            done += len(result.results)
            if result.error:
                raise SyncError(f"The server stopped the sync: {result.error}. Your changes are kept.")

    @staticmethod
    def _mutation(row: Any) -> push.Mutation:
        entry = upcast(dict(row._mapping))
        return push.Mutation(
            mutation_id=entry["mutation_id"],
            table_name=entry["table_name"],
            row_id=entry["row_id"],
            op=entry["op"],
            changes=entry["changes_json"],
            base_row_version=entry["base_row_version"],
            schema_version=entry["schema_version"],
            created_at=entry["created_at"],
        )

    def _push_batch(self, hs: server.Handshake, mutations: list[push.Mutation]) -> push.PushResult:
        for attempt in range(3):
            try:
                with self.server_db.engine.begin() as conn:
                    return push.apply_batch(conn, hs, mutations, app_version=__version__)
            except DBAPIError as exc:
                if isinstance(exc.orig, _TRANSIENT) and attempt < 2:
                    log.info("push batch retried after %s", type(exc.orig).__name__)
                    continue
                raise
        raise AssertionError("unreachable")

    def _acknowledge(self, result: push.PushResult) -> None:
        now = _now()
        with self.local_db.session() as s:
            if result.results:
                s.execute(
                    update(_outbox)
                    .where(_outbox.c.mutation_id == bindparam("mid"))
                    .values(
                        status="acknowledged",
                        result=bindparam("res"),
                        last_error=bindparam("err"),
                        acknowledged_at=now,
                    ),
                    [{"mid": r.mutation_id, "res": r.status, "err": r.detail} for r in result.results],
                )
        for r in result.results:
            self.stats["pushed"] += 1
            if r.status == "applied":
                self.stats["applied"] += 1
            elif r.status in ("conflict", "partial_conflict"):
                self.stats["conflicts"] += 1
            elif r.status == "rejected":
                self.stats["rejected"] += 1
            elif r.status == "duplicate":
                self.stats["duplicates"] += 1

    # ids ------------------------------------------------------------------------------------------

    def _top_up(self, hs: server.Handshake) -> dict[str, int]:
        with self.local_db.session() as s:
            counts = local.pool_counts(s)
        need = {
            t: size - counts.get(t, 0) for t, size in self.pool_sizes.items() if counts.get(t, 0) < size / 2
        }
        if not need:
            return {}
        self.progress(0, 0, "Reserving ids for work offline")
        with self.server_db.engine.begin() as conn:
            got = {t: server.reserve_ids(conn, hs.device_id, t, n) for t, n in need.items()}
        with self.local_db.session() as s:
            for table_name, ids in got.items():
                local.add_to_pool(s, table_name, ids)
        return {t: len(ids) for t, ids in got.items()}

    # pull -----------------------------------------------------------------------------------------

    def _pull(self, hs: server.Handshake, offset: int) -> tuple[int, bool, int]:
        account = hs.account_id
        pulled = 0
        with self.server_db.engine.connect() as raw:
            conn = raw.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                hi = server.clock(conn, account)  # the snapshot's first statement: a safe cursor
                with self.local_db.session() as ls:
                    # Write first, so this transaction holds SQLite's write lock before it checks the
                    # outbox: no edit can slip in between the check and the apply.
                    local.update_state(ls, last_attempt_at=_now())
                    if local.pending_count(ls):
                        return 0, True, hi
                    cursor = local.state(ls).last_pulled_seq
                    ls.execute(text("PRAGMA defer_foreign_keys = ON"))
                    self.progress(0, 0, "Receiving the template list")
                    self._apply_reference(ls, account, server.read_reference(conn, account))
                    refetch = self._refetch_ids(ls)
                    fetched = {t: server.read_rows(conn, t, account, ids) for t, ids in refetch.items()}
                    for table_name in reversed(SPECS):
                        present = {r["id"] for r in fetched.get(table_name, [])}
                        gone = sorted(refetch.get(table_name, set()) - present)
                        if gone:
                            table = SPECS[table_name].table
                            ls.execute(delete(table).where(table.c.id.in_(gone)))
                    for table_name in SPECS:
                        older = [r for r in fetched.get(table_name, []) if r["change_seq"] <= cursor]
                        self._upsert(ls, SPECS[table_name].table, older)
                        after = cursor
                        while True:
                            if self.cancelled():
                                raise _Cancelled
                            page = server.read_changes(conn, table_name, account, after, hi, self.page_size)
                            self._upsert(ls, SPECS[table_name].table, page)
                            pulled += len(page)
                            if page:
                                after = page[-1]["change_seq"]
                                self.progress(
                                    after - cursor, max(hi - cursor, 1), f"Receiving changes ({pulled} rows)"
                                )
                            if len(page) < self.page_size:
                                break
                    local_open = ls.scalars(select(_conflict.c.id).where(_conflict.c.status == "open")).all()
                    conflicts = server.read_conflicts(conn, account, hs.device_id, local_open)
                    self._upsert(ls, _conflict, conflicts)
                    ls.execute(delete(_outbox).where(_outbox.c.status == "acknowledged"))
                    local.update_state(
                        ls,
                        last_pulled_seq=hi,
                        last_synced_at=_now(),
                        last_error=None,
                        clock_offset_seconds=offset,
                    )
        with self.server_db.engine.begin() as conn:
            server.mark_pulled(conn, hs.device_id, hi)
        self.progress(1, 1, f"Up to date ({pulled} rows received)")
        return pulled, False, hi

    @staticmethod
    def _refetch_ids(session: Session) -> dict[str, set[int]]:
        """Rows to re-read as the server has them: every row pushed since the last pull, and every
        row created here that the server has not confirmed (its insert may wait in the inbox)."""
        ids: dict[str, set[int]] = {name: set() for name in SPECS}
        rows = session.execute(
            select(_outbox.c.table_name, _outbox.c.row_id)
            .where(_outbox.c.status == "acknowledged")
            .distinct()
        )
        for table_name, row_id in rows:
            if table_name in ids:
                ids[table_name].add(int(row_id))
        for name, spec in SPECS.items():
            ids[name].update(session.scalars(select(spec.table.c.id).where(spec.table.c.change_seq == 0)))
        return {name: found for name, found in ids.items() if found}

    @staticmethod
    def _upsert(
        session: Session, table: Any, rows: list[dict[str, Any]], columns: list[str] | None = None
    ) -> None:
        if not rows:
            return
        names = columns or [c.name for c in table.columns]
        stmt = sqlite_insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[k] for k in (c.name for c in table.primary_key.columns)],
            set_={c: stmt.excluded[c] for c in names if not table.c[c].primary_key},
        )
        session.execute(stmt, [{c: r.get(c) for c in names} for r in rows])

    def _apply_reference(
        self, session: Session, account_id: int, reference: dict[str, list[dict[str, Any]]]
    ) -> None:
        for name, rows in reference.items():
            table = server.REFERENCE_MODELS[name].__table__
            self._upsert(session, table, rows, list(server.REFERENCE_COLUMNS[name]))
        for name in ("templates", "template_folders"):
            table = server.REFERENCE_MODELS[name].__table__
            keep = [r["id"] for r in reference[name]]
            session.execute(delete(table).where(table.c.account_id == account_id, table.c.id.not_in(keep)))

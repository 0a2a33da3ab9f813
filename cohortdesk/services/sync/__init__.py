"""Offline-first sync of configuration between a laptop's SQLite store and the shared PostgreSQL.

Modules: ``spec`` (what syncs, value codec, shared validation), ``local`` (sync_state, outbox, id
pools, status counts, export), ``server`` (device registration, id reservation, the write function,
pull reads), ``push`` (a pushed batch applied on the server: its package docstring maps the parts),
``engine`` (``sync()``: push, top up ids, pull), ``conflicts`` (the inbox and its resolutions). The
write path is ``cohortdesk.services.configuration.edits``.

Design choices (the whole design: ``docs/claims-sync-security.md``, Sync):

* **Identities of rows created offline: reserved id pools (option A).** While online, each laptop
  draws blocks of ids from each synced table's *own* sequence (``cohortdesk_reserve_ids``, recorded
  per device in ``sync_id_reservation``) and spends them offline; a pushed insert is accepted only
  with an id reserved for that device. Why: the shared schema uses ``bigint`` keys everywhere
  (DocuSeal's and ours), and a reserved id is final the moment the row is created, so children,
  outbox entries and open screens never need re-keying after a push (the classic "row vanished"
  bug of client-UUID-mapped-on-push schemes), and the ORM maps rows identically on both sides.
  ``nextval`` never hands a value out twice, so server inserts and two laptops creating cohorts
  offline at the same time can never collide. Cost: a laptop needs one online moment before going
  offline (true after its first sync) and a pool can run dry in a very long offline session; pools
  are topped up at every sync when below half (``local.DEFAULT_POOL_SIZES``), and an empty pool
  refuses the new row with a plain message instead of inventing an id.
* **Change counter per tenant, bumped by a trigger in the writing transaction** (``tenant_clock``,
  migration ``0007_sync``): a sequence or ``updated_at`` cursor loses rows when transactions commit
  out of order; the counter row's lock makes values visible in commit order.
* **Push runs as Python in one server transaction** (SQLAlchemy Core on the server connection), not
  as a PL/pgSQL ``sync_push``: the three-way merge needs the same validation and state-machine guards
  the laptop and the online services run (``spec.validate_record``, ``services.configuration.states``), and
  duplicating them in PL/pgSQL would let the two drift. It stays correct under row-level security
  because every statement runs as the login itself (``session_user``): RLS and grants confine a push
  exactly as they confine any other write of that login, the device row must belong to that login,
  and ids come only from ``cohortdesk_reserve_ids`` (SECURITY DEFINER, checks the device's login).
  Round trips are kept per batch, not per row: all target rows of a batch are locked with one
  ``SELECT … FOR UPDATE`` per table (in a fixed order, which also avoids deadlocks between pushes).
"""

from cohortdesk.services.sync.local import (
    DEFAULT_POOL_SIZES,
    LocalState,
    SyncStatus,
    export_unsynced,
    read_state,
    rows_in_conflict,
    rows_waiting,
    sync_status,
)
from cohortdesk.services.sync.spec import SYNC_SCHEMA_VERSION

__all__ = [
    "DEFAULT_POOL_SIZES",
    "SYNC_SCHEMA_VERSION",
    "LocalState",
    "SyncStatus",
    "export_unsynced",
    "read_state",
    "rows_in_conflict",
    "rows_waiting",
    "sync_status",
]

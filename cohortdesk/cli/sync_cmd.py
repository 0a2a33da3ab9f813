"""``cohortdesk sync``: push this laptop's waiting changes and pull the server's, from a terminal.

    cohortdesk sync --server postgresql://me@server/cohortdesk     # first time: pairs the local store
    cohortdesk sync                                                # later: the server remembered
    cohortdesk sync --status                                       # changes waiting, conflicts, last sync
    cohortdesk sync --export unsynced.json                         # the escape hatch: nothing is removed

The local store is ``--url`` (default: the embedded SQLite store). The server URL comes from
``--server``, else ``COHORTDESK_SYNC_SERVER``, else the one this store last synced with (stored without
its password: libpq's ``PGPASSWORD`` or ``~/.pgpass`` supply it). Ctrl+C stops between batches; what
was sent stays sent and the rest waits for the next sync.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Any

from cohortdesk.cli.common import open_database
from cohortdesk.db import Database, migrate
from cohortdesk.errors import SyncError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sync", help="send waiting configuration changes and receive the server's")
    parser.add_argument(
        "--server", help="PostgreSQL URL of the shared server (remembered after the first sync)"
    )
    parser.add_argument("--account", type=int, help="account (tenant) id, when the server cannot tell")
    parser.add_argument("--batch-size", type=int, default=500, help="changes sent per server transaction")
    parser.add_argument("--status", action="store_true", help="show what waits, without syncing")
    parser.add_argument(
        "--export", metavar="FILE", help="write every unsynced change and open conflict as JSON"
    )
    parser.set_defaults(handler=_sync)


def _print_status(local_db: Database) -> None:
    from cohortdesk.services.sync import sync_status

    status = sync_status(local_db)
    print(status.describe())
    print(f"server:      {status.server_url or 'not paired yet'}")
    print(f"device:      {status.device_id}")
    last = status.last_synced_at.isoformat(timespec="seconds") if status.last_synced_at else "never"
    print(f"last synced: {last}")
    if status.last_error:
        print(f"last error:  {status.last_error}")


def _sync(args: argparse.Namespace) -> int:
    from cohortdesk.services.sync import engine, export_unsynced, read_state

    local_db = open_database(args)
    migrate.ensure_schema(local_db)
    if args.status:
        _print_status(local_db)
        return 0
    if args.export:
        document = export_unsynced(local_db, args.export)
        print(
            f"wrote {len(document['changes'])} changes and {len(document['conflicts'])} conflicts to {args.export}"
        )
        return 0
    server_url = args.server or os.environ.get("COHORTDESK_SYNC_SERVER") or read_state(local_db).server_url
    if not server_url:
        raise SyncError("Name the server the first time: cohortdesk sync --server postgresql://user@host/db")
    server_db = Database(server_url)
    stop = threading.Event()
    last_print = [0.0, ""]

    def progress(done: int, total: int, text: str) -> None:
        now = time.monotonic()
        if text != last_print[1] and (now - last_print[0] > 0.5 or done >= total):
            print(f"  {text}", file=sys.stderr, flush=True)
            last_print[:] = [now, text]

    try:
        report = engine.sync(
            local_db,
            server_db,
            progress=progress,
            cancelled=stop.is_set,
            account_id=args.account,
            batch_size=args.batch_size,
        )
    except KeyboardInterrupt:
        stop.set()
        print("cohortdesk: sync interrupted; run it again to continue", file=sys.stderr)
        return 130
    finally:
        server_db.dispose()
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(report.describe())
    if report.pull_skipped:
        print("new changes were made during the sync: run it again to send them")
    return 0

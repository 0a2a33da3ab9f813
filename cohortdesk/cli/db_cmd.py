"""``cohortdesk db upgrade|downgrade|current``: run the schema migrations."""

from __future__ import annotations

import argparse
from typing import Any

from cohortdesk.cli.common import open_database
from cohortdesk.db import migrate


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="create or migrate the database schema")
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    up = actions.add_parser("upgrade", help="upgrade the schema (default: to the newest revision)")
    up.add_argument("revision", nargs="?", default="head")
    mode = up.add_mutually_exclusive_group()
    mode.add_argument(
        "--attach",
        action="store_const",
        const="attach",
        dest="mode",
        help="the database already holds DocuSeal's tables: create only CohortDesk's",
    )
    mode.add_argument(
        "--standalone",
        action="store_const",
        const="standalone",
        dest="mode",
        help="a database of CohortDesk's own: create DocuSeal's core tables too",
    )
    up.set_defaults(handler=_upgrade)
    down = actions.add_parser(
        "downgrade", help="downgrade the schema (default: remove everything CohortDesk made)"
    )
    down.add_argument("revision", nargs="?", default="base")
    down.set_defaults(handler=_downgrade)
    cur = actions.add_parser("current", help="show the schema revision and install mode")
    cur.add_argument("--attach", action="store_true", help=argparse.SUPPRESS)
    cur.set_defaults(handler=_current)


def _report(status: migrate.SchemaStatus, db_name: str) -> None:
    state = "up to date" if status.up_to_date else ("empty" if status.empty else "needs upgrade")
    print(f"{db_name}: revision {status.current or '(none)'} of {status.head}, {status.mode} mode, {state}")


def _upgrade(args: argparse.Namespace) -> int:
    db = open_database(args)
    _report(migrate.upgrade(db, args.revision, args.mode), db.describe())
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    db = open_database(args)
    _report(migrate.downgrade(db, args.revision), db.describe())
    return 0


def _current(args: argparse.Namespace) -> int:
    db = open_database(args)
    _report(migrate.schema_status(db), db.describe())
    return 0

"""``cohortdesk demo [--students N]``: load realistic demo data into the database."""

from __future__ import annotations

import argparse
from typing import Any

from cohortdesk.cli.common import open_database
from cohortdesk.db import migrate


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="load demo institutions, cohorts, students and documents")
    parser.add_argument("--students", type=int, default=200, help="number of enrollments (default 200)")
    parser.add_argument("--seed", type=int, default=7, help="random seed, for repeatable data")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from cohortdesk.services import demo

    db = open_database(args)
    migrate.ensure_schema(db)
    summary = demo.load_demo(db, students=args.students, seed=args.seed)
    print(summary.describe())
    return 0

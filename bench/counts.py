"""One cohort's counts (``queue.cohort_counts``: enrolled, pending, verified, rejected, to decide) for a
cohort of 4,000 pending enrollments, as an officer's login reads them on PostgreSQL, against the same
grouped count with the "to decide" rule evaluated live in the query (``queue.live_awaiting_count``, what
every count did before migration 0024), in the same run; and the plain grouped count without "to decide"
as the floor. Each window re-reads its cohorts' counts every 10-15 s (``LiveBatch``), so with many
windows this read is what the server spends most on (docs/deployment.md).

    python bench/counts.py [--items 4000] [--runs 30]

Runs on a private PostgreSQL cluster on a free loopback port (never the shared server), seeded as
``bench/stations.py`` seeds it (``bench/officers.py``), removed at the end.
"""

# ruff: noqa: E402 - the import path is fixed before the imports (see below)
from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the standard library's ``queue``: keep this folder off the import path.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(BENCH.parent))

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, case, func, select, text

from bench import officers  # its seeding: a demo tenant and bulk pending items
from cohortdesk.db import Database
from cohortdesk.models import CohortEnrollment
from cohortdesk.services.access import logins
from cohortdesk.services.review import queue as q

LOGIN = "counts_officer"


def timed(read: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Median and p95 in ms of ``runs`` calls (after one to warm up), and the last answer."""
    answer = read()
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        answer = read()
        seconds.append(time.perf_counter() - began)
    seconds.sort()
    return statistics.median(seconds) * 1000, seconds[int(0.95 * (runs - 1))] * 1000, answer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    from tests.pg.private_server import PrivatePostgres

    server, why = PrivatePostgres.find()
    if server is None:
        print(f"counts: cannot run a private PostgreSQL server here ({why})")
        return 0
    try:
        server.init()
        server.start()
        server.psql("CREATE DATABASE cdbench_counts")
        url = server.url("cdbench_counts")
        world = officers.seed(url.render_as_string(hide_password=False), args.items, 1)
        admin = Database(url)
        try:
            with admin.read_session() as s:
                cohort, institution = s.execute(
                    text(
                        "SELECT e.cohort_id, c.institution_id FROM cohort_enrollments e "
                        "JOIN cohorts c ON c.id = e.cohort_id WHERE e.account_id = :a "
                        "GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1"
                    ),
                    {"a": world.account_id},
                ).one()
            logins.add_user(
                admin,
                logins.NewLogin(LOGIN, "officer", world.officer_ids[0], institution_id=institution),
                None,
            )
        finally:
            admin.dispose()
        db = Database(url.set(username=LOGIN))
        try:
            state = CohortEnrollment.document_verification_state
            grouped = (
                select(CohortEnrollment.cohort_id, func.count())
                .where(CohortEnrollment.deleted_at.is_(None), CohortEnrollment.cohort_id == cohort)
                .group_by(CohortEnrollment.cohort_id)
            )
            live_rule = getattr(q, "live_awaiting_count", None)

            def read(stmt: Any, jit_off: bool = False) -> Callable[[], Any]:
                def run() -> Any:
                    with db.read_session() as s:
                        if jit_off:  # as cohort_counts did while it counted live
                            s.execute(text("SET LOCAL jit = off"))
                        return s.execute(stmt).all()

                return run

            rows: list[tuple[str, float, float, Any]] = []
            rows.append(("cohort_counts", *timed(lambda: q.cohort_counts(db, [cohort]), args.runs)))
            if live_rule is not None:
                pending = state == "pending"
                to_decide = func.sum(case((and_(pending, live_rule("postgresql") > 0), 1), else_=0))
                rows.append(
                    ("to decide counted live", *timed(read(grouped.add_columns(to_decide), True), args.runs))
                )
            floor = grouped.add_columns(
                *(func.sum(case((state == s_, 1), else_=0)) for s_ in ("pending", "verified", "rejected"))
            )
            rows.append(("without to decide (floor)", *timed(read(floor), args.runs)))
        finally:
            db.dispose()
        base = rows[0][1]
        print(f"cohort of {args.items} pending enrollments, an officer's login, {args.runs} runs")
        print(f"{'read':28} {'median':>9} {'p95':>9} {'x cohort_counts':>16}  answer")
        for name, median, p95, answer in rows:
            print(f"{name:28} {median:>7.1f}ms {p95:>7.1f}ms {median / base:>16.2f}  {answer}")
    finally:
        server.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""N verification officers working one queue of 10,000 pending enrollments on PostgreSQL at once.

Each officer is a process of its own. Through CohortDesk's services an officer loops
``claims.claim_next`` (the ``FOR UPDATE SKIP LOCKED`` CTE, one short transaction) then
``verification.record_decision`` under that claim with an idempotency key, giving the claim back
with the decision (as the workstation does: claim, commit, show, decide). On PostgreSQL each of the
two is one server-function call in autocommit on a kept connection: one round trip each.
The baseline, in the same run over a fresh copy of the same data, is the same two transactions in
bare psycopg: a raw ``SKIP LOCKED`` claim, then lock the row, insert the decision and update the
enrollment. Printed for each: decisions per second (all officers together, wall clock from the
common start), p50/p95 latency of one claim-and-decide, the statements and network round trips the
client sent per item (counted on the services side with SQLAlchemy events; BEGIN, COMMIT and pool
pings count as round trips; the raw loop's are fixed by its code), and the ratios services / raw
SQL. Then
each run is checked: every one of the 10,000 items has exactly one decision (zero doubled, zero
lost) and no claim is left behind.

    python bench/officers.py [--officers 16] [--items 10000] [--keep]

Creates its own databases on ``COHORTDESK_BENCH_PG_URL`` (default the local server's ``postgres``
database as admin): one loaded with a small ``services.demo`` tenant plus ``--items`` pending
enrollments bulk-inserted in SQL, and a copy of it (``CREATE DATABASE … TEMPLATE``) for the
baseline; drops both unless ``--keep``.
"""

# ruff: noqa: E402 - the import path is fixed before the imports (see below)
from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the standard library's ``queue``: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import multiprocessing as mp
import os
import queue
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import create_engine, event, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cohortdesk.db import Database, migrate
from cohortdesk.services import demo
from cohortdesk.services.access.identity import ROLE_CAPABILITIES, Identity
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.review import claims
from cohortdesk.services.review import decisions as vs

ADMIN_URL = os.environ.get("COHORTDESK_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REASON = "Certification older than three months"
DOCUMENT = "id_document"


# --- databases -------------------------------------------------------------------------------


def _admin() -> Any:
    return create_engine(
        ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )


def create_database(template: str | None = None) -> str:
    name = f"cdbench_officers_{uuid.uuid4().hex[:8]}"
    engine = _admin()
    with engine.connect() as conn:
        if template:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                    "AND pid <> pg_backend_pid()"
                ),
                {"n": template},
            )
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    engine.dispose()
    return make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(False)


def drop_database(url: str) -> None:
    name = make_url(url).database
    engine = _admin()
    with engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                "AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _copy_rows(
    conn: psycopg.Connection, table: str, template_id: int, n: int, overrides: dict[str, str]
) -> None:
    """Insert ``n`` copies of one row of ``table`` (every column but ``id``), with SQL ``overrides``
    per column (``g`` is the copy's number, 1..n)."""
    columns = [
        c
        for (c,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s AND column_name <> 'id' AND is_generated = 'NEVER' ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    ]
    values = [overrides.get(c, f"t.{c}") for c in columns]
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "
        f"FROM {table} t, generate_series(1, %s) g WHERE t.id = %s",
        (n, template_id),
    )


@dataclass(frozen=True)
class World:
    account_id: int
    officer_ids: tuple[int, ...]
    items: int


def seed(url: str, items: int, officers: int) -> World:
    """A small demo tenant, then exactly ``items`` pending enrollments of one account (one document
    each) and ``officers`` officer users, bulk-inserted in SQL."""
    db = Database(url)
    try:
        migrate.upgrade(db)
        # The uploads' files are not read by any bench: the folder goes with the seeding.
        with tempfile.TemporaryDirectory(prefix="cdbench-officers-") as files:
            demo.load_demo(db, students=60, store=DocumentStore(Path(files)))
    finally:
        db.dispose()
    tag = uuid.uuid4().hex[:6]
    with psycopg.connect(libpq(url), autocommit=False) as conn:
        account_id, cohort_id, template_enrollment, template_user = conn.execute(
            "SELECT e.account_id, e.cohort_id, e.id, e.user_id FROM cohort_enrollments e "
            "WHERE e.uploaded_documents ? 'id_document' ORDER BY e.id LIMIT 1"
        ).fetchone()
        first_user = conn.execute("SELECT max(id) FROM users").fetchone()[0] + 1
        _copy_rows(
            conn,
            "users",
            template_user,
            items + officers,
            {
                "email": f"'bench-{tag}-' || g || '@example.co.za'",
                "uuid": "gen_random_uuid()::text",
                "first_name": f"CASE WHEN g > {items} THEN 'Officer' ELSE 'Student' END",
                "last_name": "g::text",
            },
        )
        ids = [
            i
            for (i,) in conn.execute(
                "SELECT id FROM users WHERE email LIKE %s ORDER BY id", (f"bench-{tag}-%",)
            ).fetchall()
        ]
        students, officer_ids = ids[:items], ids[items:]
        assert students[0] >= first_user and len(officer_ids) == officers
        # Everything of this account that waited is settled; only the bench's items wait.
        conn.execute(
            "UPDATE cohort_enrollments SET document_verification_state = 'verified', rejection_reason = NULL "
            "WHERE account_id = %s AND document_verification_state = 'pending'",
            (account_id,),
        )
        _copy_rows(
            conn,
            "cohort_enrollments",
            template_enrollment,
            items,
            {
                "user_id": f"{students[0]} + g - 1",
                "uuid": "gen_random_uuid()::text",
                "uploaded_documents": "jsonb_build_object('id_document', t.uploaded_documents -> 'id_document')",
                "document_verification_state": "'pending'",
                "rejection_reason": "NULL",
                "pending_since": "now() - make_interval(secs => g)",
                "claimed_by": "NULL",
                "claimed_by_user_id": "NULL",
                "claim_token": "NULL",
                "claim_expires_at": "NULL",
                "deleted_at": "NULL",
                "row_version": "1",
            },
        )
        assert students[-1] == students[0] + items - 1  # user ids are consecutive (one statement)
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")
        pending = conn.execute(
            "SELECT count(*) FROM cohort_enrollments WHERE account_id = %s AND document_verification_state = 'pending'",
            (account_id,),
        ).fetchone()[0]
        assert pending == items, (pending, items)
        del cohort_id
    return World(account_id=account_id, officer_ids=tuple(officer_ids), items=items)


# --- the officers ------------------------------------------------------------------------------


class RoundTrips:
    """What a client sent: statements, and every round trip (statements, BEGIN/COMMIT/ROLLBACK, pings)."""

    def __init__(self, db: Database) -> None:
        self.statements = 0
        self.round_trips = 0
        engine = db.engine
        event.listen(engine, "before_cursor_execute", self._statement)
        for name in ("begin", "commit", "rollback"):
            event.listen(engine, name, self._other)
        ping = engine.dialect.do_ping

        def counted_ping(dbapi_connection: Any) -> bool:
            self.round_trips += 1
            return ping(dbapi_connection)

        engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]

    def _statement(self, *_args: Any) -> None:
        self.statements += 1
        self.round_trips += 1

    def _other(self, *_args: Any) -> None:
        self.round_trips += 1


def services_officer(url: str, account_id: int, user_id: int, start: Any, out: Any) -> None:
    """Claim and decide through CohortDesk's services until the queue is empty."""
    db = Database(url)
    sent = RoundTrips(db)
    me = Identity(
        user_id=user_id,
        display_name=f"Officer {user_id}",
        account_id=account_id,
        institution_id=None,
        role="officer",
        capabilities=ROLE_CAPABILITIES["officer"],
    )
    latencies: list[float] = []
    decided: list[int] = []
    with db.engine.connect():
        pass  # open the pool's first connection before the clock starts
    start.wait()
    sent.statements = sent.round_trips = 0
    while True:
        began = time.perf_counter()
        claim = claims.claim_next(db, me)
        if claim is None:
            break
        vs.record_decision(
            db,
            vs.DecisionCommand(
                enrollment_id=claim.enrollment_id,
                document_type=DOCUMENT,
                action="rejected",
                reason=REASON,
                claim=claim,
                release_claim=True,
            ).with_key(),
            me,
        )
        latencies.append(time.perf_counter() - began)
        decided.append(claim.enrollment_id)
    out.put((time.perf_counter(), latencies, decided, sent.statements, sent.round_trips))
    db.dispose()


CLAIM_SQL = """
WITH candidate AS MATERIALIZED (
    SELECT id FROM cohort_enrollments
     WHERE account_id = %(account)s AND document_verification_state = 'pending' AND deleted_at IS NULL
       AND (claim_token IS NULL OR claim_expires_at < now())
     ORDER BY pending_since, id
     LIMIT 1
     FOR UPDATE SKIP LOCKED)
UPDATE cohort_enrollments e
   SET claimed_by = session_user, claimed_by_user_id = %(user)s, claim_token = %(token)s,
       claim_expires_at = now() + interval '15 minutes', row_version = e.row_version + 1
  FROM candidate c
 WHERE e.id = c.id
RETURNING e.id, e.row_version
"""

DECIDE_SQL = (
    "SELECT row_version FROM cohort_enrollments WHERE id = %(id)s AND claim_token = %(token)s "
    "AND claimed_by = session_user AND claim_expires_at > now() FOR UPDATE",
    "INSERT INTO document_verifications (uuid, account_id, cohort_enrollment_id, admin_id, document_type, "
    "action, reason, metadata, idempotency_key, created_at, updated_at, row_version) "
    "VALUES (gen_random_uuid()::text, %(account)s, %(id)s, %(user)s, 'id_document', 'rejected', %(reason)s, "
    "'{}'::jsonb, %(key)s, now(), now(), 1)",
    "UPDATE cohort_enrollments SET document_verification_state = 'rejected', "
    "rejection_reason = 'Certified ID: ' || %(reason)s, claimed_by = NULL, claimed_by_user_id = NULL, "
    "claim_token = NULL, claim_expires_at = NULL, updated_at = now(), row_version = row_version + 1 "
    "WHERE id = %(id)s",
)


def raw_officer(url: str, account_id: int, user_id: int, start: Any, out: Any) -> None:
    """The same two transactions per item in bare psycopg: the baseline."""
    conn = psycopg.connect(libpq(url), application_name="cohortdesk-bench-raw")
    latencies: list[float] = []
    decided: list[int] = []
    start.wait()
    while True:
        began = time.perf_counter()
        token = str(uuid.uuid4())
        with conn.transaction():
            row = conn.execute(CLAIM_SQL, {"account": account_id, "user": user_id, "token": token}).fetchone()
        if row is None:
            break
        params = {
            "id": row[0],
            "token": token,
            "account": account_id,
            "user": user_id,
            "reason": REASON,
            "key": str(uuid.uuid4()),
        }
        with conn.transaction():
            locked = conn.execute(DECIDE_SQL[0], params).fetchone()
            assert locked is not None
            conn.execute(DECIDE_SQL[1], params)
            conn.execute(DECIDE_SQL[2], params)
        latencies.append(time.perf_counter() - began)
        decided.append(row[0])
    # Per item: a claim (BEGIN, UPDATE, COMMIT) and a decision (BEGIN, 3 statements, COMMIT), plus
    # the final claim that found nothing.
    items = len(decided)
    out.put((time.perf_counter(), latencies, decided, 4 * items + 1, 8 * items + 3))
    conn.close()


@dataclass
class Figures:
    label: str
    seconds: float
    decisions: int
    p50_ms: float
    p95_ms: float
    statements: int
    round_trips: int

    @property
    def per_second(self) -> float:
        return self.decisions / self.seconds


def run_officers(label: str, target: Any, url: str, world: World, officers: int) -> Figures:
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    out = ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(url, world.account_id, world.officer_ids[i], start, out))
        for i in range(officers)
    ]
    for p in procs:
        p.start()
    time.sleep(2.0)  # let every process import and connect before the common start
    began = time.perf_counter()
    start.set()
    results = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=1.0))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                raise SystemExit(f"{label}: an officer process failed (see above)") from None
    for p in procs:
        p.join(timeout=60)
    ended = max(r[0] for r in results)
    latencies = sorted(x for r in results for x in r[1])
    decided = [e for r in results for e in r[2]]
    if len(decided) != len(set(decided)):
        raise SystemExit(f"{label}: an item was decided by two officers")
    return Figures(
        label=label,
        seconds=ended - began,
        decisions=len(decided),
        p50_ms=statistics.median(latencies) * 1000,
        p95_ms=latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        statements=sum(r[3] for r in results),
        round_trips=sum(r[4] for r in results),
    )


def check(url: str, world: World) -> tuple[int, int, int]:
    """(doubled, lost, claims left) over the run's items, counted from ``document_verifications``."""
    with psycopg.connect(libpq(url)) as conn:
        officers = list(world.officer_ids)
        doubled = conn.execute(
            "SELECT count(*) FROM (SELECT cohort_enrollment_id FROM document_verifications "
            "WHERE admin_id = ANY(%s) GROUP BY cohort_enrollment_id HAVING count(*) > 1) d",
            (officers,),
        ).fetchone()[0]
        decided = conn.execute(
            "SELECT count(DISTINCT cohort_enrollment_id) FROM document_verifications WHERE admin_id = ANY(%s)",
            (officers,),
        ).fetchone()[0]
        still_pending = conn.execute(
            "SELECT count(*) FROM cohort_enrollments WHERE account_id = %s "
            "AND document_verification_state = 'pending'",
            (world.account_id,),
        ).fetchone()[0]
        claims_left = conn.execute(
            "SELECT count(*) FROM cohort_enrollments WHERE claim_token IS NOT NULL"
        ).fetchone()[0]
    lost = world.items - decided + still_pending
    return doubled, lost, claims_left


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--officers", type=int, default=16)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the two databases")
    args = parser.parse_args()

    seeded = create_database()
    copy: str | None = None
    try:
        started = time.perf_counter()
        world = seed(seeded, args.items, args.officers)
        copy = create_database(template=make_url(seeded).database)
        print(
            f"Seeded {args.items:,} pending enrollments and {args.officers} officers in "
            f"{time.perf_counter() - started:.1f} s (and a copy for the baseline)"
        )
        print(f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the run")
        runs = [
            run_officers("services", services_officer, seeded, world, args.officers),
            run_officers("raw SQL", raw_officer, copy, world, args.officers),
        ]
        print(f"Load average after the runs: {os.getloadavg()[0]:.2f}")
        ok = True
        for figures, url in zip(runs, (seeded, copy), strict=True):
            doubled, lost, left = check(url, world)
            ok &= doubled == 0 and lost == 0 and left == 0 and figures.decisions == args.items
            print(
                f"{figures.label:>9}: {figures.decisions:,} decisions by {args.officers} officers in "
                f"{figures.seconds:.1f} s = {figures.per_second:,.0f} decisions/s; latency p50 "
                f"{figures.p50_ms:.1f} ms, p95 {figures.p95_ms:.1f} ms; doubled {doubled}, lost {lost}, "
                f"claims left {left}; per claim-and-decide {figures.statements / figures.decisions:.2f} "
                f"statements, {figures.round_trips / figures.decisions:.2f} round trips"
            )
        services, raw = runs
        print(
            f"Ratio services / raw SQL: throughput {services.per_second / raw.per_second:.2f}x, "
            f"p95 latency {services.p95_ms / raw.p95_ms:.2f}x, p50 latency {services.p50_ms / raw.p50_ms:.2f}x"
        )
        print("Zero doubled, zero lost: OK" if ok else "CHECK FAILED: doubled or lost decisions")
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"Kept: {seeded} and {copy}")
        else:
            drop_database(seeded)
            if copy:
                drop_database(copy)


if __name__ == "__main__":
    sys.exit(main())

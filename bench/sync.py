"""Sync throughput: push 10,000 outbox mutations and pull 100,000 changed rows through CohortDesk's sync
engine (``services.sync.engine.sync``, a laptop SQLite store against PostgreSQL), each against a raw
bulk upsert of the same rows measured in the same run.

* **Push**: a laptop enrolls 10,000 learners offline (``config_edits.enroll_many``: 10,000 outbox
  inserts), then syncs. Figures: the push phase (handshake to the last batch acknowledged) and the whole
  sync (which also re-reads the 10,000 pushed rows as the server now has them). Baseline: the same
  10,000 rows written to an identical copy of the server database with psycopg ``COPY`` into a
  temporary table and one ``INSERT … SELECT … ON CONFLICT (id) DO UPDATE`` (the change-counter
  triggers fire there too); ``executemany`` of the same upsert is printed for reference.
* **Edits**: the laptop then changes one student detail of each of those learners offline
  (``config_edits.update_enrollment``: 10,000 per-key ``student_data.city`` updates of rows the server
  already has) and syncs. Baseline: ``COPY`` + ``ON CONFLICT … DO UPDATE`` of the same 10,000 edited
  rows into a copy of the server taken just before.
* **Pull**: 100,000 enrollments change on the server; the laptop syncs. Baseline: a psycopg ``SELECT``
  of the same rows from PostgreSQL and a ``sqlite3`` ``executemany`` upsert of them into a copy of the
  laptop's store, in one transaction.

* **Import on a paired laptop**: 10,000 learners (DocuSeal users on the server, pulled by the laptop's
  first sync) imported from a CSV into one cohort (``enrollment_import.preview_file`` then
  ``commit_import``) on a paired laptop, online: its pool holds 1,000 enrollment ids, so the commit
  reserves the rest from the server first. Baseline: the same import on an identical copy of the store
  that is not paired (no ids to reserve, no outbox).

Ratios are engine seconds / baseline seconds (1.00 = as fast as the bare drivers).

    python bench/sync.py [--push 10000] [--edits 10000] [--pull 100000] [--import-rows 10000] [--keep]

``COHORTDESK_BENCH_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``) names a server
where the script may create (and then drops) two databases.
"""

# ruff: noqa: E402 - the import path is fixed before the imports
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

# bench/queue.py is named like the standard library's ``queue``: keep this folder off the import path
# so ``import queue`` (psycopg) finds the real one.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import create_engine, make_url, select, text

from cohortdesk.db import Database, migrate
from cohortdesk.models import Account, User
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.sync import engine
from cohortdesk.services.sync.spec import SPECS

ADMIN_URL = os.environ.get("COHORTDESK_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
LEARNERS = 1000
ENROLLMENTS = SPECS["cohort_enrollments"].table


def _admin():
    url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT")


def create_database(template: str | None = None) -> str:
    name = f"cdbench_sync_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    with admin.connect() as conn:
        suffix = f' TEMPLATE "{make_url(template).database}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
    admin.dispose()
    return make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(False)


def drop_database(url: str) -> None:
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def seed(server: Database, cohorts: int) -> tuple[int, int, list[int], list[int]]:
    """An account with ``LEARNERS`` learners, an institution and ``cohorts`` draft cohorts."""
    with server.session() as s:
        acc = Account(name="Bench", uuid=str(uuid.uuid4()))
        s.add(acc)
        s.flush()
        learners = [
            User(
                account_id=acc.id,
                email=f"learner{i}@bench.example",
                first_name="Learner",
                last_name=f"No {i}",
                uuid=str(uuid.uuid4()),
            )
            for i in range(LEARNERS)
        ]
        s.add_all(learners)
        s.flush()
        account, users = acc.id, [u.id for u in learners]
    inst = ce.create_institution(server, ce.NewInstitution(account_id=account, name="Bench Training")).row
    made = [
        ce.create_cohort(server, ce.NewCohort(inst.id, f"Cohort {i:03d}", "learnership")).row.id
        for i in range(cohorts)
    ]
    return inst.id, account, users, made


def _columns() -> list[str]:
    """What a push writes: the insert columns, and ``row_version`` (1 for a new row)."""
    return [*SPECS["cohort_enrollments"].insert_columns, "row_version"]


def _pg_value(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict | list) else value


def raw_push_copy(url: str, rows: list[dict[str, Any]]) -> float:
    """COPY into a temporary table, then one set-based upsert; one transaction."""
    cols = _columns()
    listed = ", ".join(cols)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != "id")
    with psycopg.connect(dsn(url)) as conn:
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(
                f"CREATE TEMP TABLE incoming ON COMMIT DROP AS SELECT {listed} FROM cohort_enrollments LIMIT 0"
            )
            with conn.cursor().copy(f"COPY incoming ({listed}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row([_pg_value(r[c]) for c in cols])
            conn.execute(
                f"INSERT INTO cohort_enrollments ({listed}) SELECT {listed} FROM incoming "
                f"ON CONFLICT (id) DO UPDATE SET {updates}"
            )
        return time.perf_counter() - started


def raw_push_executemany(url: str, rows: list[dict[str, Any]]) -> float:
    cols = _columns()
    listed = ", ".join(cols)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != "id")
    sql = (
        f"INSERT INTO cohort_enrollments ({listed}) VALUES ({', '.join(['%s'] * len(cols))}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )
    with psycopg.connect(dsn(url)) as conn:
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(sql, [[_pg_value(r[c]) for c in cols] for r in rows])
        return time.perf_counter() - started


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value


def raw_pull(url: str, account: int, after: int, sqlite_path: Path) -> tuple[float, int]:
    """SELECT the changed rows from PostgreSQL, upsert them into SQLite with executemany."""
    cols = [c.name for c in ENROLLMENTS.columns]
    listed = ", ".join(cols)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id")
    started = time.perf_counter()
    with psycopg.connect(dsn(url)) as pg:
        pg.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        rows = pg.execute(
            f"SELECT {listed} FROM cohort_enrollments WHERE account_id = %s AND change_seq > %s ORDER BY change_seq",
            (account, after),
        ).fetchall()
        pg.rollback()
    lite = sqlite3.connect(sqlite_path)
    with lite:
        lite.executemany(
            f"INSERT INTO cohort_enrollments ({listed}) VALUES ({', '.join(['?'] * len(cols))}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            ([_sqlite_value(v) for v in r] for r in rows),
        )
    lite.close()
    return time.perf_counter() - started, len(rows)


def bench_import(
    server: Database, institution: int, account: int, rows: int, workdir: Path
) -> tuple[float, float]:
    """(paired seconds, unpaired seconds) for preview + commit of ``rows`` learners from a CSV."""
    from cohortdesk.services.configuration import enrollment_import as ei

    with server.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (account_id, email, encrypted_password, first_name, last_name, role, uuid, "
                "sign_in_count, failed_attempts, otp_required_for_login, created_at, updated_at) "
                "SELECT :a, 'import' || g || '@bench.example', '', 'Import', 'Learner ' || g, 'viewer', "
                "gen_random_uuid()::text, 0, 0, false, now(), now() FROM generate_series(1, :n) AS g"
            ),
            {"a": account, "n": rows},
        )
    cohort = ce.create_cohort(server, ce.NewCohort(institution, "Import cohort", "learnership")).row.id
    paired = Database(f"sqlite:///{workdir / 'import-paired.sqlite3'}")
    migrate.upgrade(paired)
    engine.sync(paired, server)  # pairs; the default pool holds 1,000 enrollment ids
    paired.dispose()
    shutil.copyfile(workdir / "import-paired.sqlite3", workdir / "import-unpaired.sqlite3")
    unpaired = Database(f"sqlite:///{workdir / 'import-unpaired.sqlite3'}")
    with unpaired.engine.begin() as conn:
        conn.execute(text("UPDATE sync_state SET account_id = NULL, server_url = NULL"))
    csv_path = workdir / "learners.csv"
    lines = ["Email,First name,Last name,City"]
    lines += [f"import{i}@bench.example,Import,Learner {i},Durban" for i in range(1, rows + 1)]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.environ["COHORTDESK_SYNC_SERVER"] = server.url.render_as_string(hide_password=False)

    def run(db: Database) -> float:
        started = time.perf_counter()
        preview = ei.preview_file(db, cohort, csv_path)
        assert preview.counts["importable"] == rows, preview.summary()
        result = ei.commit_import(db, preview)
        assert result.enrolled == rows
        return time.perf_counter() - started

    try:
        unpaired_seconds = run(unpaired)
        paired = Database(f"sqlite:///{workdir / 'import-paired.sqlite3'}")
        paired_seconds = run(paired)
    finally:
        os.environ.pop("COHORTDESK_SYNC_SERVER", None)
        unpaired.dispose()
        paired.dispose()
    return paired_seconds, unpaired_seconds


def timed_sync(laptop: Database, server: Database, **kw: Any) -> tuple[engine.SyncReport, float, float]:
    """(report, push-phase seconds, whole-sync seconds)."""
    marks: dict[str, float] = {}

    def progress(_done: int, _total: int, text_: str) -> None:
        if not text_.startswith(("Connecting", "Sending")):
            marks.setdefault("push_done", time.perf_counter())

    started = time.perf_counter()
    report = engine.sync(laptop, server, progress=progress, **kw)
    ended = time.perf_counter()
    return report, marks.get("push_done", ended) - started, ended - started


def line(label: str, rows: int, seconds: float, base: float | None = None) -> str:
    text_ = f"  {label:<58} {seconds:8.2f} s  {rows / seconds:10,.0f} rows/s"
    if base:
        text_ += f"   ratio {seconds / base:5.2f}x"
    return text_


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--push", type=int, default=10_000, help="outbox mutations to push")
    parser.add_argument("--edits", type=int, default=10_000, help="offline edits of pushed rows to push")
    parser.add_argument("--pull", type=int, default=100_000, help="changed rows to pull")
    parser.add_argument("--import-rows", type=int, default=10_000, help="learners in the paired import")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the store")
    args = parser.parse_args()
    push_cohorts = -(-args.push // LEARNERS)
    pull_cohorts = -(-args.pull // LEARNERS)

    server_url = create_database()
    base_url: str | None = None
    workdir = Path(tempfile.mkdtemp(prefix="cdbench-sync-"))
    try:
        server = Database(server_url)
        migrate.upgrade(server)
        institution, account, users, cohorts = seed(server, push_cohorts + pull_cohorts)
        import_paired, import_unpaired = bench_import(server, institution, account, args.import_rows, workdir)
        laptop = Database(f"sqlite:///{workdir / 'laptop.sqlite3'}")
        migrate.upgrade(laptop)
        pools = {"institutions": 2, "sponsors": 50, "cohorts": 50, "cohort_enrollments": args.push}
        engine.sync(laptop, server, pool_sizes=pools)

        # --- push -------------------------------------------------------------------------------
        commands = [
            ce.NewEnrollment(cohorts[i // LEARNERS], users[i % LEARNERS], student_data={"city": "Durban"})
            for i in range(args.push)
        ]
        started = time.perf_counter()
        ce.enroll_many(laptop, commands)
        local_seconds = time.perf_counter() - started
        with laptop.engine.connect() as conn:
            pushed_rows = [
                {**r._mapping, "row_version": 1}
                for r in conn.execute(select(ENROLLMENTS).where(ENROLLMENTS.c.change_seq == 0))
            ]
        server.dispose()
        base_url = create_database(template=server_url)  # the same server, before the push
        report, push_seconds, push_total = timed_sync(laptop, server, pool_sizes=pools)
        assert report.applied == args.push, report
        copy_seconds = raw_push_copy(base_url, pushed_rows)
        drop_database(base_url)
        server.dispose()
        base_url = create_database(template=server_url)
        many_seconds = raw_push_executemany(base_url, pushed_rows)
        drop_database(base_url)
        base_url = None

        # --- edits of rows the server has ---------------------------------------------------------
        edits = min(args.edits, args.push)
        edited_ids = [r["id"] for r in pushed_rows[:edits]]
        started = time.perf_counter()
        for enrollment_id in edited_ids:
            ce.update_enrollment(laptop, enrollment_id, {"student_data": {"city": "Cape Town"}})
        edit_local_seconds = time.perf_counter() - started
        with laptop.engine.connect() as conn:
            edited_rows = [
                {**r._mapping, "row_version": r.row_version + 1}
                for r in conn.execute(select(ENROLLMENTS).where(ENROLLMENTS.c.id.in_(edited_ids)))
            ]
        server.dispose()
        base_url = create_database(template=server_url)  # the server before the edits arrive
        report, edit_seconds, _edit_total = timed_sync(laptop, server, pool_sizes=pools)
        assert report.applied == edits, report
        edit_copy_seconds = raw_push_copy(base_url, edited_rows)

        # --- pull -------------------------------------------------------------------------------
        with server.engine.begin() as conn:
            conn.execute(text("SET LOCAL statement_timeout = 0"))  # setting up: 100,000 rows at once
            cursor = conn.scalar(
                text("SELECT last_seq FROM tenant_clock WHERE account_id = :a"), {"a": account}
            )
            conn.execute(
                text(
                    "INSERT INTO cohort_enrollments (account_id, cohort_id, user_id, supporting_submission_ids, "
                    "state, document_verification_state, student_data, uploaded_documents, pending_since, uuid, "
                    "created_at, updated_at, row_version) "
                    "SELECT :a, c.id, u.id, '[]', 'waiting', 'pending', "
                    "jsonb_build_object('city', 'Polokwane', 'gender', 'F'), '{}', now(), gen_random_uuid()::text, "
                    "now(), now(), 1 FROM unnest(CAST(:cohorts AS bigint[])) c(id) "
                    "CROSS JOIN unnest(CAST(:users AS bigint[])) u(id) LIMIT :n"
                ),
                {"a": account, "cohorts": cohorts[push_cohorts:], "users": users, "n": args.pull},
            )
        laptop.dispose()
        shutil.copyfile(workdir / "laptop.sqlite3", workdir / "baseline.sqlite3")
        report, _push, pull_seconds = timed_sync(laptop, server, pool_sizes=pools)
        assert report.pulled >= args.pull, report
        raw_seconds, raw_rows = raw_pull(server_url, account, cursor, workdir / "baseline.sqlite3")
        assert raw_rows == args.pull

        print(
            f"sync bench: push {args.push:,} mutations, pull {args.pull:,} changed rows (PostgreSQL + SQLite)"
        )
        print("push")
        print(line(f"local: enroll_many writes {args.push:,} rows + outbox", args.push, local_seconds))
        print(line("baseline: COPY + INSERT … ON CONFLICT (psycopg)", args.push, copy_seconds))
        print(
            line(
                "reference: executemany INSERT … ON CONFLICT (psycopg)", args.push, many_seconds, copy_seconds
            )
        )
        print(
            line(
                "engine: push phase (handshake → last batch acknowledged)",
                args.push,
                push_seconds,
                copy_seconds,
            )
        )
        print(
            line(
                "engine: whole sync (push + re-read of the pushed rows)", args.push, push_total, copy_seconds
            )
        )
        print("edits of rows the server has")
        print(line(f"local: update_enrollment × {edits:,} + outbox", edits, edit_local_seconds))
        print(line("baseline: COPY + INSERT … ON CONFLICT DO UPDATE (psycopg)", edits, edit_copy_seconds))
        print(
            line(
                "engine: push phase (handshake → last batch acknowledged)",
                edits,
                edit_seconds,
                edit_copy_seconds,
            )
        )
        print("pull")
        print(line("baseline: psycopg SELECT + sqlite3 executemany upsert", args.pull, raw_seconds))
        print(line("engine: whole sync (pull)", report.pulled, pull_seconds, raw_seconds))
        print(f"import of {args.import_rows:,} learners (CSV preview + commit)")
        print(line("baseline: the same store, not paired", args.import_rows, import_unpaired))
        print(
            line(
                "paired laptop, online (ids reserved on demand + outbox)",
                args.import_rows,
                import_paired,
                import_unpaired,
            )
        )
        laptop.dispose()
        server.dispose()
        if args.keep:
            print(f"kept: {server_url} and {workdir}")
        return 0
    finally:
        if not args.keep:
            drop_database(server_url)
            shutil.rmtree(workdir, ignore_errors=True)
        if base_url:
            drop_database(base_url)


if __name__ == "__main__":
    raise SystemExit(main())

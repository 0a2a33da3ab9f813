"""N headless workstations on one PostgreSQL: server connections held and how fast the queue and a
decision stay, directly and behind PgBouncer.

Each station does what the window's runner does, through CohortDesk's services: it opens the queue
(``queue.queue_page``, 200 rows), listens for changes (``QueueListener`` on its session connection)
and re-reads what they name, paced as the window paces it (``LiveBatch``, ``workstation.live_rows``,
on the station's own thread as on the window's one database lane), and polls as the window does
(every 60 s while listening, every 20 s behind a transaction-mode pooler; ``--no-live-reads``: it
only hears notifications, and polls just the queue's count behind the pooler, as this bench did
before); then, as a person would, it takes the next
enrollment (``claims.claim_next``), looks at it for ``--think`` seconds (mean; 15 by default),
renews the claim now and then (``claims.renew``), decides (``record_decision`` under the claim,
releasing it) and now and then reloads the queue page. One station (the probe) works without
pauses and reloads the page every time: the latencies are what a person sees while the N - 1
others work at a person's pace; at N = 1 the probe is alone, the baseline. Each station logs in as
its own officer (a login per person, as deployed: row-level security applies, and PgBouncer keeps
one pool per login). The other stations are threads spread over a few worker processes (one
database, one pool and one listener each, like one window); the probe has a process of its own.
The ``pages``/``decisions`` columns count the probe's.

For N in ``--stations`` (default 1, 25, 100, 200) and each mode (``direct``: straight to the server;
``pooler``: PgBouncer in transaction mode, as docs/deployment.md recommends, with polling), it
prints the server connections held once every station is idle (per station), and the p95 of a
queue page and of a decision while they work, with each p95's ratio to N = 1 of the same mode in the
same run. With each row: what the busy server sessions wait on (``WaitSampler``) and how many cores
the listeners' server processes, the other server processes, the stations and the probe kept busy
(``CpuMeter``: an idle listener is not an active session, so what notifications cost shows only
there), the probe's claim p95, and how many decisions a second the others made against a
person's pace (the load really made). Goal: at most 1 connection per idle station; p95 at N = 200
within 2x of N = 1. The machine's load average is printed with each row: on a shared machine the
ratios mean little when it is far above the number of cores.

What is measured is the steady state of a room at work, and the server's share of it:

* **Warm-up** (``--warmup``, 2.5 think times by default): the stations work before anything is
  measured, so each has claimed and decided, and opened its connections (the decision connection
  is kept 60 s, longer than a think time), as in a room already at work. ``--warmup 0`` measures from
  the first second: 200 connections opening in the window (each new server process plans and
  compiles afresh), which is a room switched on at once, not people at work.
* **The others' own CPU** (``--nice``, 10 by default): the N - 1 other stations run at a lower
  priority than the server and the probe. On this machine their Python shares the server's cores;
  in a room it runs on N other computers. ``--nice 0``: the same priority. The others' decisions a
  second show that they still keep a person's pace.
* ``--statements`` loads ``pg_stat_statements`` and prints, after each N, the statements the server
  spent the work phase on (every login's together), the probe's own, and the server sessions
  started a second (rows of such a run carry the extension's own cost).

    python bench/stations.py [--stations 1,25,100,200] [--modes direct,pooler] [--seconds 45]

Everything runs on a private PostgreSQL cluster (and PgBouncer) on free loopback ports, in a
temporary folder, removed at the end; never the shared server. Bounded: per N, an ``--idle`` wait,
``--warmup`` seconds of work and ``--seconds`` of measured work; ``--think`` seconds (mean) between
a station's actions. ``--items`` pending enrollments (8,000) are seeded once for all stages.
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
import math
import multiprocessing as mp
import os
import random
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import URL, Connection, create_engine, text

from bench import officers  # its seeding: a demo tenant and bulk pending items
from cohortdesk.db import Database
from cohortdesk.services.access import logins
from cohortdesk.services.access.identity import ROLE_CAPABILITIES, Identity
from cohortdesk.services.review import claims
from cohortdesk.services.review import decisions as vs
from cohortdesk.services.review import queue as q
from cohortdesk.services.review import workstation as ws
from cohortdesk.services.review.listener import QueueEvent, QueueListener
from cohortdesk.services.review.live_batch import LISTENING_POLL_SECONDS, POLL_SECONDS, LiveBatch

REASON = "Certification older than three months"
DOCUMENT = "id_document"
WORKERS = 4
PAGE_SIZE = 200  # the window's default queue page
PAGE_RELOAD = 0.25  # share of decisions after which the person reloads the page
PROBE_THINK = 0.3  # the measuring station works without pause
STATION_LOGIN = "station_{}"  # a station's login, by its officer's user id


def station_logins(url: URL, world: Any) -> tuple[list[str], list[Identity]]:
    """One login per station, made the way a database administrator adds a person
    (``cohortdesk admin add-user``: ``logins.add_user`` on a privileged connection)."""
    db = Database(url)
    try:
        with db.read_session() as s:
            institution_id = s.execute(
                text(
                    "SELECT c.institution_id FROM cohort_enrollments e JOIN cohorts c ON c.id = e.cohort_id "
                    "WHERE e.user_id = (SELECT min(user_id) FROM cohort_enrollments "
                    "WHERE account_id = :a AND document_verification_state = 'pending')"
                ),
                {"a": world.account_id},
            ).scalar_one()
        rows = [
            logins.add_user(
                db,
                logins.NewLogin(
                    login=STATION_LOGIN.format(user_id),
                    role="officer",
                    user_id=user_id,
                    institution_id=institution_id,
                ),
                None,
            )
            for user_id in world.officer_ids
        ]
    finally:
        db.dispose()
    identities = [
        Identity(
            user_id=row.user_id,
            display_name=row.display_name,
            account_id=row.account_id,
            institution_id=row.institution_id,
            role=row.role,
            capabilities=ROLE_CAPABILITIES[row.role],
        )
        for row in rows
    ]
    return [row.login for row in rows], identities


# --- one station ------------------------------------------------------------------------------


@dataclass
class StationFigures:
    first_pages: list[float] = field(default_factory=list)
    pages: list[float] = field(default_factory=list)
    decisions: list[float] = field(default_factory=list)
    claims: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    events: int = 0
    live_reads: int = 0
    polls: int = 0


def station(
    url: URL,
    pooler: str,
    identity: Identity,
    idle: threading.Event,
    work: threading.Event,
    measure: threading.Event,
    stop: threading.Event,
    think: float,
    out: StationFigures,
    opened: threading.Event,
    probe: bool = False,
    live_reads: bool = True,
) -> None:
    rng = random.Random()
    reload_share = 1.0 if probe else PAGE_RELOAD
    think = PROBE_THINK if probe else think
    db = Database(url.set(username=STATION_LOGIN.format(identity.user_id)), pooler=pooler)
    listener: QueueListener | None = None
    # What the window's LiveRefresh does with notifications: gathers them (on the listener's thread)
    # and re-reads, paced, on its one database lane (here the station's own thread, between actions).
    batch = LiveBatch()
    gathered = threading.Lock()
    loaded: set[int] = set()

    def on_event(event: QueueEvent) -> None:
        out.events += 1
        if live_reads and event.concerns(identity.account_id) and not event.bulk:
            with gathered:
                batch.add(event)

    flt = q.QueueFilter(account_id=identity.account_id)
    next_poll = math.inf

    def arm_poll() -> None:
        """The window's poll timer: its interval (longer while listening), spread by a quarter either way."""
        nonlocal next_poll
        if not live_reads:  # as the bench did before: behind the pooler, the queue's count every 20 s
            next_poll = time.monotonic() + POLL_SECONDS if listener is None else math.inf
            return
        interval = POLL_SECONDS if listener is None else LISTENING_POLL_SECONDS
        next_poll = time.monotonic() + interval * rng.uniform(0.75, 1.25)

    def show(page: q.QueuePage) -> None:
        loaded.clear()
        loaded.update(row.enrollment_id for row in page.rows)

    def lane(seconds: float) -> bool:
        """Wait ``seconds`` as the person does, while the window's lane runs its live re-reads and
        polls; True once the run ends."""
        deadline = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= next_poll:
                if live_reads:  # the window's poll: every loaded row, the total, the counts when due
                    with gathered:
                        counts = batch.poll()
                    ws.live_rows(db, sorted(loaded), None if counts else [], flt)
                else:
                    q.queue_count(db, flt)
                out.polls += measure.is_set()
                arm_poll()
                now = time.monotonic()
            with gathered:
                delay = batch.delay()
                reads = batch.take(loaded.__contains__) if delay == 0.0 else None
            if reads:
                ws.live_rows(db, list(reads.ids), list(reads.cohorts), flt if reads.recount else None)
                out.live_reads += measure.is_set()
                continue
            left = deadline - now
            if left <= 0:
                return stop.is_set()
            wait = min(left, next_poll - now)
            if delay is not None:
                wait = min(wait, delay)
            if stop.wait(max(0.0, wait)):
                return True

    try:
        began = time.perf_counter()
        show(q.queue_page(db, flt, limit=PAGE_SIZE))  # opening the window: the first page
        out.first_pages.append(time.perf_counter() - began)
        if db.live_refresh_mode == "listen":
            listener = QueueListener.for_database(db, on_event)
            listener.start()
            listener.connected.wait(60)
        arm_poll()
        opened.set()
        idle.wait()
        while not work.is_set() and not stop.is_set():
            time.sleep(0.2)
        # Steady state, not a starting gun: people already at work are spread over a think time,
        # so the N - 1 others do not all claim and reload in the same second.
        if not probe and lane(rng.uniform(0, think)):
            return
        while not stop.is_set():
            if rng.random() < reload_share:  # F5, another cohort, a new filter
                measured, began = measure.is_set(), time.perf_counter()
                page = q.queue_page(db, flt, limit=PAGE_SIZE)
                if measured:
                    out.pages.append(time.perf_counter() - began)
                show(page)
            measured, began = measure.is_set(), time.perf_counter()
            claim = claims.claim_next(db, identity)
            if measured:
                out.claims.append(time.perf_counter() - began)
            if claim is None:
                out.errors.append("the queue ran out of pending enrollments (raise --items)")
                break
            if lane(rng.uniform(0.5, 1.5) * think):  # a person looks at the document
                break  # the end of the run, not a decision: all N at once would measure the harness
            if rng.random() < 0.3:
                claim = claims.renew(db, claim)
            measured, began = measure.is_set(), time.perf_counter()
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
                identity,
                on_retry=lambda _n, error: out.retries.append(type(error).__name__),
            )
            if measured:  # every station's (the load); only the probe's make the figure
                out.decisions.append(time.perf_counter() - began)
            if lane(rng.uniform(0.1, 0.3) * think):
                break
    except Exception as error:  # noqa: BLE001 - counted and reported, never hidden
        out.errors.append(f"{type(error).__name__}: {str(error).splitlines()[0][:160]}")
    finally:
        opened.set()
        if listener is not None:
            listener.stop()
        db.dispose()


def worker(
    url: URL,
    pooler: str,
    identities: list[Identity],
    think: float,
    idle_evt: Any,
    work_evt: Any,
    measure_evt: Any,
    measured_evt: Any,
    stop_evt: Any,
    ready: Any,
    out: Any,
    probe: bool,
    live_reads: bool,
    niceness: int,
) -> None:
    """One process hosting a share of the stations as threads (the first of worker 0 is the probe)."""
    if not probe and niceness:
        # The others' own Python runs on 200 other computers in a room; here it shares the server's
        # cores, and yields them to the server and the probe as it would not have to there.
        os.nice(niceness)
    idle, work, measure, stop = threading.Event(), threading.Event(), threading.Event(), threading.Event()
    figures = [StationFigures() for _ in identities]
    opened = [threading.Event() for _ in identities]
    threads = [
        threading.Thread(
            target=station,
            args=(url, pooler, who, idle, work, measure, stop, think, fig, flag, probe and i == 0, live_reads),
            daemon=True,
        )
        for i, (who, fig, flag) in enumerate(zip(identities, figures, opened, strict=True))
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.02)  # a room of workstations is switched on over a few seconds, not at once
    for flag in opened:
        flag.wait(300)  # every window shows its first page (and listens)
    ready.put(len(threads))
    idle_evt.wait()
    idle.set()
    work_evt.wait()
    work.set()
    measure_evt.wait()
    measure.set()
    measured_evt.wait()
    measure.clear()
    stop_evt.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    out.put(
        (
            # What the person at the probe waited for; the others only make the load.
            [x for f in figures[:1] for x in f.pages] if probe else [],
            [x for f in figures[:1] for x in f.decisions] if probe else [],
            [x for f in figures[:1] for x in f.claims] if probe else [],
            sum(len(f.decisions) for f in (figures[1:] if probe else figures)),
            [e for f in figures for e in f.errors],
            [r for f in figures for r in f.retries],
            sum(f.live_reads for f in figures),
            sum(f.polls for f in figures),
        )
    )


# --- a run ------------------------------------------------------------------------------------


@contextmanager
def admin_connection(url: URL) -> Iterator[Connection]:
    """One short-lived superuser connection in autocommit, for a look at the server's views."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def server_connections(admin_url: URL, database: str) -> int:
    with admin_connection(admin_url) as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :d "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                ),
                {"d": database},
            ).scalar()
            or 0
        )


class WaitSampler(threading.Thread):
    """What the busy server sessions wait on during the work phase (``pg_stat_activity`` every 200 ms;
    with 400 server processes one look costs the server about 3 ms, which every 50 ms was a tenth of
    what the stations asked of it at N = 200, and slowed the probe it measures):
    where a p95 goes when it grows with N, e.g. a row lock every writer of one account queues on."""

    def __init__(self, admin_url: URL, database: str) -> None:
        super().__init__(daemon=True)
        self.engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.database = database
        self.counts: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()

    def run(self) -> None:
        with self.engine.connect() as conn:
            while not self._stop.wait(0.2):
                self.samples += 1
                for kind, event, count in conn.execute(
                    text(
                        "SELECT coalesce(wait_event_type, 'CPU'), coalesce(wait_event, 'running'), count(*) "
                        "FROM pg_stat_activity WHERE datname = :d AND state = 'active' "
                        "AND pid <> pg_backend_pid() GROUP BY 1, 2"
                    ),
                    {"d": self.database},
                ):
                    key = f"{kind}:{event}"
                    self.counts[key] = self.counts.get(key, 0) + int(count)

    def stop(self) -> None:
        self._stop.set()
        self.join(timeout=5)
        self.engine.dispose()

    def top(self, k: int) -> list[tuple[str, int]]:
        """The ``k`` commonest waits, as the mean number of sessions in each per sample (x100)."""
        ranked = sorted(self.counts.items(), key=lambda item: -item[1])[:k]
        return [(key, round(100 * count / max(self.samples, 1))) for key, count in ranked]


class CpuMeter:
    """CPU seconds spent during the work phase, by who spent them: the server processes of the
    listeners (``cohortdesk-listener``; an idle listener is not an active session, so the WaitSampler
    never sees what notifications cost them), the other server processes, and the stations' own
    processes (the probe's apart). Read from ``/proc`` (Linux); empty elsewhere."""

    KINDS = ("listeners", "server", "stations", "probe")

    def __init__(self, admin_url: URL, database: str, stations: list[int], probe: int) -> None:
        self.admin_url, self.database = admin_url, database
        self.stations, self.probe = stations, probe
        self.began: dict[int, tuple[str, float]] = {}
        self.spent: dict[str, float] = {}
        self.wall = 0.0
        self._t0 = 0.0

    @staticmethod
    def _cpu(pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _snapshot(self) -> dict[int, tuple[str, float]]:
        kinds: dict[int, str] = {pid: "stations" for pid in self.stations}
        kinds[self.probe] = "probe"
        with admin_connection(self.admin_url) as conn:
            for pid, app in conn.execute(
                text("SELECT pid, application_name FROM pg_stat_activity WHERE datname = :d"),
                {"d": self.database},
            ):
                kinds[int(pid)] = "listeners" if app == "cohortdesk-listener" else "server"
        snapshot = {}
        for pid, kind in kinds.items():
            cpu = self._cpu(pid)
            if cpu is not None:
                snapshot[pid] = (kind, cpu)
        return snapshot

    def start(self) -> None:
        self.began = self._snapshot()
        self._t0 = time.monotonic()

    def stop(self) -> None:
        end = self._snapshot()
        self.wall = time.monotonic() - self._t0
        for pid, (kind, cpu) in end.items():
            self.spent[kind] = self.spent.get(kind, 0.0) + cpu - self.began.get(pid, (kind, 0.0))[1]

    def shares(self) -> list[tuple[str, float]]:
        """Mean cores busy per kind over the work phase."""
        return [(kind, self.spent.get(kind, 0.0) / max(self.wall, 1e-9)) for kind in self.KINDS]


class StatementMeter:
    """What the server spent the work phase on (``--statements``, ``pg_stat_statements``): the ``k``
    statements sent by clients with the most execution time (every login's together), as cores busy,
    calls a second and milliseconds a call; the probe's own; and the server sessions started a
    second. ``start`` forgets what came before; ``stop`` reads, over the time since ``start``."""

    SESSIONS = text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
    TOP = text(
        "SELECT sum(total_exec_time), sum(calls)::float8, "
        "regexp_replace(left(min(query), 100), '\\s+', ' ', 'g') "
        "FROM pg_stat_statements WHERE toplevel AND dbid = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) "
        "GROUP BY queryid ORDER BY 1 DESC LIMIT :k"
    )
    PROBE = text(
        "SELECT calls, mean_exec_time, stddev_exec_time, max_exec_time, "
        "regexp_replace(left(query, 60), '\\s+', ' ', 'g') FROM pg_stat_statements "
        "WHERE toplevel AND userid = to_regrole(:probe) ORDER BY total_exec_time DESC LIMIT 3"
    )

    def __init__(self, url: URL, probe: str, k: int = 12) -> None:
        self.url, self.probe, self.k = url, probe, k
        self._sessions = 0
        self._t0 = 0.0

    def start(self) -> None:
        with admin_connection(self.url) as conn:
            conn.execute(text("SELECT pg_stat_statements_reset()"))
            self._sessions = int(conn.execute(self.SESSIONS).scalar_one())
        self._t0 = time.monotonic()

    def stop(self) -> list[str]:
        with admin_connection(self.url) as conn:
            rows = conn.execute(self.TOP, {"k": self.k}).all()
            started = int(conn.execute(self.SESSIONS).scalar_one()) - self._sessions
            own = conn.execute(self.PROBE, {"probe": self.probe}).all()
        seconds = time.monotonic() - self._t0
        return [
            f"server sessions started: {started / seconds:.2f}/s",
            *(
                f"the probe's: {calls} calls, {mean:.2f} ms a call (sd {sd:.2f}, max {top:.1f})  {query}"
                for calls, mean, sd, top, query in own
            ),
            *(
                f"{total / 1000 / seconds:5.3f} cores {calls / seconds:6.1f}/s {total / max(calls, 1):7.2f} ms  {query}"
                for total, calls, query in rows
            ),
        ]


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[18]


@dataclass
class Figures:
    mode: str
    stations: int
    idle_connections: int
    page_p95: float
    decision_p95: float
    pages: int
    decisions: int
    errors: list[str]
    waits: list[tuple[str, int]] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    cpu: list[tuple[str, float]] = field(default_factory=list)
    reads_per_second: float = 0.0
    statements: list[str] = field(default_factory=list)
    claim_p95: float = 0.0
    others_per_second: float = 0.0


def run(
    mode: str,
    n: int,
    url: URL,
    pooler: str,
    admin: URL,
    database: str,
    officer_identities: list[Identity],
    args: argparse.Namespace,
) -> Figures:
    ctx = mp.get_context("spawn")
    idle_evt, work_evt, measure_evt, measured_evt, stop_evt = (ctx.Event() for _ in range(5))
    ready, out = ctx.Queue(), ctx.Queue()
    who = officer_identities[:n]
    # The probe has a process of its own, as a workstation has its own computer: the others' Python
    # threads do not queue it for the interpreter lock.
    others = who[1:]
    shares = [who[:1], *(others[i::WORKERS] for i in range(min(WORKERS, len(others))))]
    # Every station logs in as its own person, as workstations do: row-level security, the person's
    # own pool behind the pooler (PgBouncer pools per database and login).
    processes = [
        ctx.Process(
            target=worker,
            args=(
                url, pooler, share, args.think, idle_evt, work_evt, measure_evt, measured_evt, stop_evt, ready,
                out, index == 0, args.live_reads, args.nice,
            ),
            daemon=True,
        )
        for index, share in enumerate(shares)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=600)
    idle_evt.set()
    time.sleep(args.idle)  # every station has its page; pools give idle connections back (10 s)
    held = server_connections(admin, database)
    cpu = CpuMeter(admin, database, [p.pid for p in processes[1:] if p.pid], processes[0].pid or 0)
    work_evt.set()
    # People already at work, not a room switched on: every station has claimed and decided with
    # its connections opened (an officer's kept connection outlives a think time) before anything
    # is measured; what opening them costs is the first page's figure, not the steady state's.
    time.sleep(args.warmup)
    statements = StatementMeter(admin.set(database=database), STATION_LOGIN.format(who[0].user_id))
    if args.statements:
        statements.start()
    cpu.start()
    began = time.monotonic()
    measure_evt.set()
    waits = WaitSampler(admin, database)
    waits.start()
    time.sleep(args.seconds)
    measured_evt.set()  # what the stations do from here on (the meters stopping) is not counted
    elapsed = time.monotonic() - began
    waits.stop()
    cpu.stop()
    top = statements.stop() if args.statements else []
    stop_evt.set()
    pages: list[float] = []
    decisions: list[float] = []
    claimed: list[float] = []
    others_decided = 0
    errors: list[str] = []
    retries: list[str] = []
    reads = polls = 0
    for _ in processes:
        p, d, c, od, e, r, lr, pl = out.get(timeout=300)
        others_decided += od
        pages += p
        decisions += d
        claimed += c
        errors += e
        retries += r
        reads += lr
        polls += pl
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    return Figures(
        mode, n, held, p95(pages), p95(decisions), len(pages), len(decisions), errors, waits.top(3), retries,
        cpu.shares(),
        (reads + polls) / elapsed,
        top,
        p95(claimed),
        others_decided / elapsed,
    )


def decided_in(counts: list[int], modes: int, args: argparse.Namespace) -> int:
    """About how many enrollments the stages decide, with a third to spare: a station decides one
    every 1.2 think times, the probe about every 0.45 s, while it works (warm-up and work phase).
    A station that finds the queue empty stops, and the load with it (reported as an error)."""
    working = args.warmup + args.seconds
    per_stage = [(n - 1) * working / (1.2 * args.think) + working / 0.45 for n in counts]
    return math.ceil(1.33 * modes * sum(per_stage))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", default="1,25,100,200")
    parser.add_argument("--modes", default="direct,pooler")
    parser.add_argument("--seconds", type=float, default=45.0, help="work phase per N")
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds the stations work before the work phase is measured, by default 2.5 think "
        "times: by then nearly every station has claimed and decided, and its connections are open "
        "(0: measure from the first second, connections opening included)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=10,
        help="niceness of the processes of the N - 1 other stations (not the probe, not the server): "
        "on one machine their Python takes the cores the server and the probe need, which 200 "
        "workstations' own computers would not (0: the same priority)",
    )
    parser.add_argument("--idle", type=float, default=13.0, help="idle wait before counting connections")
    parser.add_argument("--think", type=float, default=15.0, help="mean seconds a person looks at a document")
    parser.add_argument(
        "--items",
        type=int,
        default=8000,
        help="pending enrollments seeded (each with its own student); a run that would decide about "
        "as many says so before it starts",
    )
    parser.add_argument(
        "--live-reads",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stations re-read what notifications name and poll as the window does (--no-live-reads: "
        "they only hear them, and poll just the queue's count behind the pooler, as the bench did before)",
    )
    parser.add_argument(
        "--server-idle",
        type=int,
        default=60,
        help="PgBouncer's server_idle_timeout: how long a login's server connection outlives its last use",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="load pg_stat_statements on the private server and print, after each N, the statements "
        "the server spent its time on during the work phase",
    )
    args = parser.parse_args()
    if args.warmup is None:
        args.warmup = 2.5 * args.think
    counts = [int(x) for x in args.stations.split(",") if x.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    needed = decided_in(counts, len(modes), args)
    if needed > args.items:
        print(f"stations: these stages may decide about {needed} enrollments of {args.items}; raise --items")

    from tests.pg.pgbouncer import PgBouncer
    from tests.pg.private_server import PrivatePostgres

    server, why = PrivatePostgres.find()
    if server is None:
        print(f"stations: cannot run a private PostgreSQL server here ({why})")
        return 0
    # A working station holds its listener and a query connection; the rest is headroom for the admin,
    # the pooler and connections a closing pool is still giving back.
    server.max_connections = max(counts) * 3 + 40
    bouncer = None
    try:
        server.init()
        if args.statements:
            server.configure({"shared_preload_libraries": "pg_stat_statements"})
        server.start()
        database = "cdbench_stations"
        server.psql(f"CREATE DATABASE {database}")
        if args.statements:
            server.psql("CREATE EXTENSION pg_stat_statements", database=database)
        url = server.url(database)
        world = officers.seed(url.render_as_string(hide_password=False), args.items, max(counts))
        logins, identities = station_logins(url, world)
        # As a production database is: vacuumed and analysed, not in the middle of autovacuum's first
        # pass over 4,000 new enrollments while the first N runs.
        server.psql("VACUUM (ANALYZE)", database=database)
        server.psql("CHECKPOINT")
        admin = server.url("postgres")
        if "pooler" in modes:
            found, why = PgBouncer.find(
                server, pool_size=20, users=("postgres", *logins), server_idle_timeout=args.server_idle
            )
            if found is None:
                print(f"stations: pooler runs skipped ({why})")
                modes = [m for m in modes if m != "pooler"]
            else:
                bouncer = found.start()
        os.environ.setdefault("COHORTDESK_PG_CLIENT_TIMEOUTS", "1")
        print(
            f"{'mode':8} {'N':>4} {'idle conns':>10} {'/station':>8} {'page p95':>9} {'x N=1':>6} "
            f"{'decide p95':>10} {'x N=1':>6} {'pages':>6} {'decisions':>9} {'load':>5} errors"
        )
        for mode in modes:
            target = url if mode == "direct" else bouncer.url(database)  # type: ignore[union-attr]
            pooler = "none" if mode == "direct" else "transaction"
            base: Figures | None = None
            for n in counts:
                figures = run(mode, n, target, pooler, admin, database, identities, args)
                base = base or figures
                print(
                    f"{mode:8} {n:>4} {figures.idle_connections:>10} {figures.idle_connections / n:>8.2f} "
                    f"{figures.page_p95 * 1000:>7.1f}ms {figures.page_p95 / base.page_p95:>6.2f} "
                    f"{figures.decision_p95 * 1000:>8.1f}ms {figures.decision_p95 / base.decision_p95:>6.2f} "
                    f"{figures.pages:>6} {figures.decisions:>9} {os.getloadavg()[0]:>5.1f} {len(figures.errors)}"
                    + (f" e.g. {figures.errors[0]}" if figures.errors else "")
                    + (f"   retried {len(figures.retries)} ({', '.join(sorted(set(figures.retries)))})" if figures.retries else "")
                    + ("   active sessions: " + ", ".join(f"{w} {c / 100:.2f}" for w, c in figures.waits))
                    + ("   cores busy: " + ", ".join(f"{k} {c:.2f}" for k, c in figures.cpu))
                    + f"   live re-reads and polls: {figures.reads_per_second:.1f}/s"
                    + f"   claim p95: {figures.claim_p95 * 1000:.1f}ms ({figures.claim_p95 / base.claim_p95:.2f}x)"
                    # The load really made: with their priority lowered, the others must still keep pace.
                    + f"   others decided {figures.others_per_second:.1f}/s"
                    + f" (a person's pace: {(n - 1) / (1.2 * args.think):.1f}/s)",
                    flush=True,
                )
                for line in figures.statements:
                    print("    " + line, flush=True)
    finally:
        if bouncer is not None:
            bouncer.stop()
        server.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())

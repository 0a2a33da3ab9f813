"""Randomized interleavings (hypothesis stateful testing) of offline edits on two laptops, edits made
directly on the server, syncs and conflict resolutions, against a real PostgreSQL and two SQLite stores.

Invariants:

* after each sync of a laptop, every edit it sent is either applied on the server or waiting in the
  conflict inbox (on the server and, after the pull, in the laptop's own inbox): nothing is dropped;
* ids of rows created offline on the two laptops (and online on the server) never collide;
* at the end, once every conflict is resolved and both laptops synced, both stores equal the server
  (every live row, every user-visible field).

Meanwhile the server does what real ones do: learners sign in DocuSeal (a submission and its submitter
appear and the enrollment points at them), cohorts are cancelled or deleted, the same learner's details
are edited key by key on both sides (two keys edited in two places both win), and the laptops' clocks
are wrong by up to 400 days (order and conflicts follow the server's counters, never a laptop clock).

The server database is created once per test; each example empties it (``TRUNCATE … RESTART
IDENTITY``) and seeds it again, and starts from fresh copies of a migrated SQLite store. The hypothesis
profile ``sync-ci`` (the default: 15 examples of 20 steps, about a minute here) keeps CI modest;
``COHORTDESK_SYNC_PROFILE=sync-long`` explores 300 examples of 30 steps.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select, text

from cohortdesk.db import Database
from cohortdesk.errors import CohortDeskError
from cohortdesk.models import SyncConflict, SyncOutbox
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration import sync_actions as admin_sync
from cohortdesk.services.sync import conflicts, engine, local, sync_status
from cohortdesk.services.sync.spec import SPECS, get_field, same
from tests import factories
from tests.conftest import MigratedDatabases
from tests.sync.conftest import World, seed_server

pytestmark = pytest.mark.pg

LAPTOPS = ("a", "b")
NAMES = ("Alpha", "Beta", "Gamma")
COUNTS = (5, 10, 20)
CITIES = ("Durban", "Polokwane", "Kimberley")
#: Keys of a learner's details edited on both sides (a key set to None is removed).
DETAIL_KEYS = ("city", "alternate_id", "alternate_id_type")
DETAIL_VALUES = {
    "city": CITIES,
    "alternate_id": ("P1234567", "P7654321", None),
    "alternate_id_type": ("passport", "asylum_permit", None),
}
#: How wrong a laptop's clock may be.
SKEWS = (timedelta(0), timedelta(days=-400), timedelta(days=400), timedelta(minutes=-30))

settings.register_profile(
    "sync-ci",
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
settings.register_profile(
    "sync-long",
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
COMPANIES = ("Sasol", "Transnet", "Eskom")
TAX = ("9000000001", "9000000002")
#: Fields compared at the end: what a person sees of each row (ids, parents, editable fields).
VISIBLE = {
    name: sorted(spec.editable | {"id", "account_id"} | ({spec.parent[0]} if spec.parent else set()))
    for name, spec in SPECS.items()
}
VISIBLE["cohort_enrollments"] += ["user_id", "student_data"]

pick = st.integers(min_value=0, max_value=10_000)
laptop_name = st.sampled_from(LAPTOPS)


def _reset_server(server: Database) -> None:
    """Empty the data tables (not the migration, sync-schema and security records); ids start again at 1."""
    with server.engine.begin() as conn:
        tables = conn.scalars(
            text(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename NOT IN ('alembic_version', 'sync_schema') AND tablename NOT LIKE 'cohortdesk%'"
            )
        ).all()
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # past the no-delete triggers
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


def _live_ids(db: Database, table_name: str) -> list[int]:
    table = SPECS[table_name].table
    with db.engine.connect() as conn:
        return list(conn.scalars(select(table.c.id).where(table.c.deleted_at.is_(None)).order_by(table.c.id)))


def _choose(ids: list[int], index: int) -> int | None:
    return ids[index % len(ids)] if ids else None


def _pending(db: Database) -> list[Any]:
    outbox = SyncOutbox.__table__
    with db.engine.connect() as conn:
        return conn.execute(
            select(outbox).where(outbox.c.status != "acknowledged").order_by(outbox.c.mutation_id)
        ).all()


def _server_row(server: Database, table_name: str, row_id: int) -> dict[str, Any] | None:
    table = SPECS[table_name].table
    with server.engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.id == row_id)).first()
    return dict(row._mapping) if row else None


def _open_conflicts(db: Database, device_id: str | None = None) -> list[dict[str, Any]]:
    table = SyncConflict.__table__
    stmt = select(table).where(table.c.status == "open").order_by(table.c.id)
    if device_id is not None:
        stmt = stmt.where(table.c.device_id == device_id)
    with db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def _visible(db: Database, account_id: int) -> dict[str, dict[int, dict[str, Any]]]:
    out: dict[str, dict[int, dict[str, Any]]] = {}
    with db.engine.connect() as conn:
        for name, spec in SPECS.items():
            t = spec.table
            rows = conn.execute(select(t).where(t.c.account_id == account_id, t.c.deleted_at.is_(None)))
            out[name] = {r.id: {c: get_field(dict(r._mapping), c) for c in VISIBLE[name]} for r in rows}
    return out


def _in_inbox(entry: Any, field: str | None, value: Any, waiting: list[dict[str, Any]]) -> bool:
    """Whether an open conflict holds this edit (of ``field`` to ``value``, or of the whole row)."""
    for c in waiting:
        if (c["table_name"], c["row_id"]) != (entry.table_name, entry.row_id):
            continue
        if field is None:
            return True
        mine = c["mine"]
        if c["kind"] == "field_conflict" and c["field"] == field and same(mine, value):
            return True
        if isinstance(mine, dict):
            held = mine.get(field)
            if isinstance(held, list) and len(held) == 2 and c["kind"] == "rejected":
                held = held[1]
            if field in mine and same(held, value):
                return True
            if c["op"] == "insert" and same(get_field(mine, field), value):
                return True  # folded into a new row that waits in the inbox
    return False


def _delete_waits_in(conflict: dict[str, Any], key: tuple[str, int]) -> bool:
    """Whether a ``delete_vs_edit`` conflict holds the delete of ``key``: its own, or (a cohort's delete)
    among the enrollments deleted with it (``mine["children"]``), which wait with the cohort."""
    if conflict["kind"] != "delete_vs_edit":
        return False
    if (conflict["table_name"], conflict["row_id"]) == key:
        return True
    children = (conflict["mine"] or {}).get("children") or {}
    return key[1] in children.get(key[0], [])


def _check_nothing_dropped(
    server: Database, entries: list[Any], waiting: list[dict[str, Any]], device_id: str
) -> None:
    """Each entry sent by a sync is applied on the server or held by an open conflict of the device."""
    deleted_later: set[tuple[str, int]] = set()
    last_value: dict[tuple[str, int, str], tuple[Any, Any]] = {}
    for e in reversed(entries):  # the newest word on each field counts
        key = (e.table_name, e.row_id)
        if e.op == "resolve_conflict" or e.table_name not in SPECS:
            continue
        if e.op == "delete":
            row = _server_row(server, *key)
            if key not in deleted_later:
                held = any(_delete_waits_in(c, key) for c in waiting)
                assert row is None or row["deleted_at"] is not None or held, (
                    f"delete of {key} neither applied nor in the inbox"
                )
            deleted_later.add(key)
            continue
        if key in deleted_later:
            continue  # the laptop deleted the row afterwards: that later word is checked instead
        if e.op == "insert":
            row = _server_row(server, *key)
            assert row is not None or _in_inbox(e, None, None, waiting), (
                f"new {key} neither on the server nor in the inbox"
            )
            continue
        for name, pair in e.changes_json.items():
            if not (isinstance(pair, list) and len(pair) == 2) or name == "deleted_at":
                continue
            if name in SPECS[e.table_name].first_wins:
                continue
            last_value.setdefault((*key, name), (e, pair[1]))
    for (table_name, row_id, name), (e, value) in last_value.items():
        row = _server_row(server, table_name, row_id)
        applied = row is not None and row["deleted_at"] is None and same(get_field(row, name), value)
        assert applied or _in_inbox(e, name, value, waiting), (
            f"edit of {table_name} {row_id} {name} → {value!r} (mutation {e.mutation_id}, device "
            f"{device_id}) neither applied nor in the inbox; server has "
            f"{None if row is None else get_field(row, name)!r}"
        )


class _SkewedDatetime(datetime):
    skew = timedelta(0)

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return datetime.now(tz) + cls.skew


@contextmanager
def laptop_clock(skew: timedelta) -> Iterator[None]:
    """Run with this laptop's clock ``skew`` wrong: every time the laptop writes comes from it."""
    if not skew:
        yield
        return
    saved = (ce._now, engine._now, local.datetime)
    _SkewedDatetime.skew = skew
    ce._now = engine._now = lambda: datetime.now(UTC) + skew  # type: ignore[assignment]
    local.datetime = _SkewedDatetime  # type: ignore[misc]
    try:
        yield
    finally:
        ce._now, engine._now, local.datetime = saved  # type: ignore[misc]


class SyncMachine(RuleBasedStateMachine):
    server: Database
    migrated: MigratedDatabases
    workdir: Path

    def __init__(self) -> None:
        super().__init__()
        _reset_server(self.server)
        self.world: World = seed_server(self.server, learners=3)
        self.laptops: dict[str, Database] = {}
        folder = self.workdir / uuid.uuid4().hex[:8]
        folder.mkdir()
        for name in LAPTOPS:
            self.laptops[name] = self.migrated.sqlite(folder / f"{name}.sqlite3")
            engine.sync(self.laptops[name], self.server)
        self.created: dict[str, set[tuple[str, int]]] = defaultdict(set)
        self.synced_once: set[str] = set()
        self.skew: dict[str, timedelta] = {name: timedelta(0) for name in LAPTOPS}

    def teardown(self) -> None:
        try:
            self._converge()
        finally:
            for db in self.laptops.values():
                db.dispose()

    # --- laptop edits (offline: nothing reaches the server until that laptop syncs) -------------

    def _laptop_edit(self, name: str, fn: Any, *args: Any) -> None:
        try:
            with laptop_clock(self.skew[name]):
                edit = fn(self.laptops[name], *args)
        except CohortDeskError:
            return  # refused with a message; nothing was written
        row = getattr(edit, "row", None)
        if row is not None and fn in (ce.create_cohort, ce.create_sponsor, ce.enroll):
            table = {
                ce.create_cohort: "cohorts",
                ce.create_sponsor: "sponsors",
                ce.enroll: "cohort_enrollments",
            }
            self.created[name].add((table[fn], row.id))

    @rule(laptop=laptop_name, company=st.sampled_from(COMPANIES))
    def laptop_creates_sponsor(self, laptop: str, company: str) -> None:
        self._laptop_edit(laptop, ce.create_sponsor, ce.NewSponsor(self.world.institution, company))

    @rule(laptop=laptop_name, name=st.sampled_from(NAMES), sponsor=st.none() | pick)
    def laptop_creates_cohort(self, laptop: str, name: str, sponsor: int | None) -> None:
        db = self.laptops[laptop]
        sponsor_id = None if sponsor is None else _choose(_live_ids(db, "sponsors"), sponsor)
        cmd = ce.NewCohort(self.world.institution, name, "learnership", sponsor_id=sponsor_id)
        self._laptop_edit(laptop, ce.create_cohort, cmd)

    @rule(
        laptop=laptop_name,
        which=pick,
        field=st.sampled_from(["name", "student_count", "sponsor_id", "main_template_id"]),
        value=pick,
    )
    def laptop_edits_cohort(self, laptop: str, which: int, field: str, value: int) -> None:
        db = self.laptops[laptop]
        cohort = _choose(_live_ids(db, "cohorts"), which)
        if cohort is None:
            return
        new: Any
        if field == "name":
            new = NAMES[value % len(NAMES)]
        elif field == "student_count":
            new = COUNTS[value % len(COUNTS)]
        elif field == "sponsor_id":
            new = _choose(_live_ids(db, "sponsors"), value)
        else:
            new = self.world.template if value % 2 else None
        self._laptop_edit(laptop, ce.update_cohort, cohort, {field: new})

    @rule(laptop=laptop_name, which=pick, state=st.sampled_from(["active", "cancelled"]))
    def laptop_changes_cohort_state(self, laptop: str, which: int, state: str) -> None:
        cohort = _choose(_live_ids(self.laptops[laptop], "cohorts"), which)
        if cohort is not None:
            self._laptop_edit(laptop, ce.change_cohort_state, cohort, state)

    @rule(laptop=laptop_name, which=pick)
    def laptop_deletes_cohort(self, laptop: str, which: int) -> None:
        cohort = _choose(_live_ids(self.laptops[laptop], "cohorts"), which)
        if cohort is not None:
            self._laptop_edit(laptop, ce.delete_cohort, cohort)

    @rule(laptop=laptop_name, which=pick, field=st.sampled_from(["company_name", "tax_number"]), value=pick)
    def laptop_edits_sponsor(self, laptop: str, which: int, field: str, value: int) -> None:
        sponsor = _choose(_live_ids(self.laptops[laptop], "sponsors"), which)
        if sponsor is not None:
            new = COMPANIES[value % 3] if field == "company_name" else TAX[value % 2]
            self._laptop_edit(laptop, ce.update_sponsor, sponsor, {field: new})

    @rule(laptop=laptop_name, which=pick)
    def laptop_deletes_sponsor(self, laptop: str, which: int) -> None:
        sponsor = _choose(_live_ids(self.laptops[laptop], "sponsors"), which)
        if sponsor is not None:
            self._laptop_edit(laptop, ce.delete_sponsor, sponsor)

    @rule(laptop=laptop_name, which=pick, learner=pick)
    def laptop_enrolls(self, laptop: str, which: int, learner: int) -> None:
        cohort = _choose(_live_ids(self.laptops[laptop], "cohorts"), which)
        if cohort is not None:
            user = self.world.users[learner % len(self.world.users)]
            self._laptop_edit(laptop, ce.enroll, ce.NewEnrollment(cohort, user))

    @rule(laptop=laptop_name, which=pick, key=st.sampled_from(DETAIL_KEYS), value=pick)
    def laptop_edits_enrollment(self, laptop: str, which: int, key: str, value: int) -> None:
        enrollment = _choose(_live_ids(self.laptops[laptop], "cohort_enrollments"), which)
        if enrollment is not None:
            new = DETAIL_VALUES[key][value % len(DETAIL_VALUES[key])]
            self._laptop_edit(laptop, ce.update_enrollment, enrollment, {"student_data": {key: new}})

    @rule(laptop=laptop_name, skew=st.sampled_from(SKEWS))
    def laptop_clock_is_wrong(self, laptop: str, skew: timedelta) -> None:
        self.skew[laptop] = skew

    @rule(laptop=laptop_name, which=pick)
    def laptop_deletes_enrollment(self, laptop: str, which: int) -> None:
        enrollment = _choose(_live_ids(self.laptops[laptop], "cohort_enrollments"), which)
        if enrollment is not None:
            self._laptop_edit(laptop, ce.delete_enrollment, enrollment)

    @rule(laptop=laptop_name, name=st.sampled_from(["Acme Training", "Acme Academy"]))
    def laptop_renames_institution(self, laptop: str, name: str) -> None:
        self._laptop_edit(laptop, ce.update_institution, self.world.institution, {"name": name})

    # --- edits made directly on the server (a super admin connected to PostgreSQL) ----------------

    def _server_edit(self, fn: Any, *args: Any) -> None:
        try:
            edit = fn(self.server, *args)
        except CohortDeskError:
            return
        if fn is ce.create_cohort:
            self.created["server"].add(("cohorts", edit.row.id))

    @rule(which=pick, field=st.sampled_from(["name", "student_count"]), value=pick)
    def server_edits_cohort(self, which: int, field: str, value: int) -> None:
        cohort = _choose(_live_ids(self.server, "cohorts"), which)
        if cohort is not None:
            new = NAMES[value % 3] if field == "name" else COUNTS[value % 3]
            self._server_edit(ce.update_cohort, cohort, {field: new})

    @rule(name=st.sampled_from(NAMES))
    def server_creates_cohort(self, name: str) -> None:
        self._server_edit(ce.create_cohort, ce.NewCohort(self.world.institution, name, "candidacy"))

    @rule(which=pick)
    def server_deletes_cohort(self, which: int) -> None:
        cohort = _choose(_live_ids(self.server, "cohorts"), which)
        if cohort is not None:
            self._server_edit(ce.delete_cohort, cohort)

    @rule(which=pick, value=pick)
    def server_edits_sponsor(self, which: int, value: int) -> None:
        sponsor = _choose(_live_ids(self.server, "sponsors"), which)
        if sponsor is not None:
            self._server_edit(ce.update_sponsor, sponsor, {"company_name": COMPANIES[value % 3]})

    @rule(which=pick, key=st.sampled_from(DETAIL_KEYS), value=pick)
    def server_edits_enrollment(self, which: int, key: str, value: int) -> None:
        enrollment = _choose(_live_ids(self.server, "cohort_enrollments"), which)
        if enrollment is not None:
            new = DETAIL_VALUES[key][value % len(DETAIL_VALUES[key])]
            self._server_edit(ce.update_enrollment, enrollment, {"student_data": {key: new}})

    @rule(which=pick, state=st.sampled_from(["cancelled", "active", "completed"]))
    def server_changes_cohort_state(self, which: int, state: str) -> None:
        cohort = _choose(_live_ids(self.server, "cohorts"), which)
        if cohort is not None:
            self._server_edit(ce.change_cohort_state, cohort, state)

    @rule(which=pick, signed=st.booleans())
    def learner_signs_in_docuseal(self, which: int, signed: bool) -> None:
        """DocuSeal: the learner opens the agreement (and maybe signs): a submission and its submitter
        appear, and the enrollment points at them."""
        enrollment = _choose(_live_ids(self.server, "cohort_enrollments"), which)
        if enrollment is None:
            return
        completed = datetime.now(UTC).replace(tzinfo=None) if signed else None
        submission = factories.submission(
            self.server, self.world.account, self.world.template, completed_at=completed
        )
        with self.server.engine.begin() as conn:
            conn.execute(
                text("UPDATE cohort_enrollments SET submission_id = :s, updated_at = now() WHERE id = :e"),
                {"s": submission, "e": enrollment},
            )

    @rule(which=pick, learner=pick)
    def server_enrolls(self, which: int, learner: int) -> None:
        cohort = _choose(_live_ids(self.server, "cohorts"), which)
        if cohort is not None:
            user = self.world.users[learner % len(self.world.users)]
            self._server_edit(ce.enroll, ce.NewEnrollment(cohort, user))

    @rule(which=pick)
    def server_deletes_enrollment(self, which: int) -> None:
        enrollment = _choose(_live_ids(self.server, "cohort_enrollments"), which)
        if enrollment is not None:
            self._server_edit(ce.delete_enrollment, enrollment)

    # --- sync and resolve ---------------------------------------------------------------------

    def _sync(self, laptop: str) -> None:
        db = self.laptops[laptop]
        entries = _pending(db)
        with laptop_clock(self.skew[laptop]):
            report = engine.sync(db, self.server, batch_size=4)
        assert not report.cancelled and not report.pull_skipped
        assert report.waiting == 0
        if abs(self.skew[laptop]) > engine.CLOCK_SKEW_WARNING:
            assert any("clock" in w for w in report.warnings), report.warnings
        assert sync_status(db).last_error is None
        device = sync_status(db).device_id
        waiting = _open_conflicts(self.server, device)
        _check_nothing_dropped(self.server, entries, waiting, device)
        local_open = {c["id"] for c in _open_conflicts(db)}
        assert local_open == {c["id"] for c in waiting}, "the laptop's inbox differs from the server's"
        self.synced_once.add(laptop)

    @rule(laptop=laptop_name)
    def sync(self, laptop: str) -> None:
        self._sync(laptop)

    @rule(laptop=laptop_name, which=pick, keep_mine=st.booleans())
    def resolve(self, laptop: str, which: int, keep_mine: bool) -> None:
        db = self.laptops[laptop]
        inbox = conflicts.list_conflicts(db)
        if not inbox:
            return
        c = inbox[which % len(inbox)]
        with laptop_clock(self.skew[laptop]):
            if keep_mine:
                try:
                    conflicts.keep_mine(db, c.id)
                    return
                except CohortDeskError:
                    pass  # e.g. a guard refuses my value now; the person then keeps theirs
            conflicts.keep_theirs(db, c.id)

    @rule(laptop=laptop_name, which=pick, keep_mine=st.booleans())
    def resolve_as_the_inbox_groups_it(self, laptop: str, which: int, keep_mine: bool) -> None:
        """One decision for an inbox entry: a row and everything waiting under it."""
        db = self.laptops[laptop]
        entries = [e for e in admin_sync.conflict_entries(db) if not e.per_field]
        if not entries:
            return
        entry = entries[which % len(entries)]
        with laptop_clock(self.skew[laptop]):
            if keep_mine and "keep_mine" in entry.choices:
                try:
                    conflicts.resolve_group(db, entry.conflict_ids, "keep_mine")
                    return
                except CohortDeskError:
                    pass  # nothing of the group was resolved; the person then keeps theirs
            conflicts.resolve_group(db, entry.conflict_ids, "keep_theirs")

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def offline_ids_never_collide(self) -> None:
        sides = list(self.created.values())
        for i, mine in enumerate(sides):
            for theirs in sides[i + 1 :]:
                assert not mine & theirs, f"ids made on two sides collide: {sorted(mine & theirs)}"

    def _converge(self) -> None:
        """Sync both, resolve every conflict (Keep theirs), sync both again: all three agree."""
        for laptop in LAPTOPS:
            self._sync(laptop)
        for laptop in LAPTOPS:
            for c in conflicts.list_conflicts(self.laptops[laptop]):
                if c.status == "open":  # a group decision may have closed it already
                    conflicts.keep_theirs(self.laptops[laptop], c.id)
        for laptop in (*LAPTOPS, LAPTOPS[0]):
            self._sync(laptop)
        assert not _open_conflicts(self.server)
        server = _visible(self.server, self.world.account)
        for table, spec in SPECS.items():  # no live row under a deleted (or missing) parent
            for column, parent in ([spec.parent] if spec.parent else []) + list(spec.refs):
                for row in server[table].values():
                    assert row.get(column) is None or row[column] in server[parent], (table, row, column)
        for laptop in LAPTOPS:
            assert sync_status(self.laptops[laptop]).describe() == "0 changes waiting · 0 conflicts"
            mine = _visible(self.laptops[laptop], self.world.account)
            for table in SPECS:
                assert mine[table] == server[table], (laptop, table)


@pytest.mark.slow
def test_random_interleavings_lose_nothing_and_converge(migrated: MigratedDatabases, tmp_path: Path) -> None:
    url = migrated.pg_url()
    server = Database(url)
    SyncMachine.server = server
    SyncMachine.migrated = migrated
    SyncMachine.workdir = tmp_path
    try:
        profile = settings.get_profile(os.environ.get("COHORTDESK_SYNC_PROFILE", "sync-ci"))
        run_state_machine_as_test(SyncMachine, settings=profile)
    finally:
        server.dispose()
        migrated.release(url)

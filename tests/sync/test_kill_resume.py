"""Kill the syncing process between push batches, then sync again: nothing doubled, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.sync import engine, sync_status
from tests.sync.helpers import assert_same_as_server, outbox, server_sql

pytestmark = pytest.mark.pg

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from cohortdesk.db import Database
    from cohortdesk.services.sync import engine

    def die(batch):
        # the server committed batch 1; the laptop has not acknowledged it yet
        os.kill(os.getpid(), signal.SIGKILL)

    engine.sync(Database(sys.argv[1]), Database(sys.argv[2]), batch_size=5, on_batch_pushed=die)
    """
)


def test_killed_between_batches_then_resumed(world, new_laptop, tmp_path: Path):
    laptop = new_laptop("a")
    engine.sync(laptop, world.server)
    for i in range(8):
        ce.create_cohort(laptop, ce.NewCohort(world.institution, f"Offline {i}", "learnership"))
    for i in range(6):
        ce.update_cohort(laptop, world.cohort, {"student_count": i + 1})
    ce.enroll_many(laptop, [ce.NewEnrollment(world.cohort, u) for u in world.users])
    waiting = sync_status(laptop).waiting
    assert waiting == 18
    laptop.dispose()

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    local_url = laptop.url.render_as_string(hide_password=False)
    server_url = world.server.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.run(
        [sys.executable, str(script), local_url, server_url], env=env, capture_output=True, timeout=120
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()

    # The server applied the first batch; the laptop still sees those 5 as sent, the rest as pending.
    assert server_sql(world.server, "SELECT last_mutation_id FROM sync_device") == [(5,)]
    assert [e.status for e in outbox(laptop)] == ["sent"] * 5 + ["pending"] * 13
    assert len(ce.list_cohorts(world.server)) == 6

    report = engine.sync(laptop, world.server, batch_size=5)
    assert (report.duplicates, report.applied, report.conflicts, report.rejected) == (5, 13, 0, 0)
    assert sorted(c.name for c in ce.list_cohorts(world.server)) == sorted(
        ["Server cohort", *(f"Offline {i}" for i in range(8))]
    )
    assert ce.get_cohort(world.server, world.cohort).student_count == 6
    counts = server_sql(world.server, "SELECT count(*), count(DISTINCT user_id) FROM cohort_enrollments")
    assert counts == [(4, 4)]
    assert sync_status(laptop).describe() == "0 changes waiting · 0 conflicts"
    assert_same_as_server(laptop, world.server, world.account)

"""An enrollment import on a paired laptop reaches the shared PostgreSQL through the next sync."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cohortdesk.models import User
from cohortdesk.services import config_edits as ce
from cohortdesk.services import enrollment_import as ei
from cohortdesk.services.sync import engine, sync_status
from tests.sync.helpers import assert_same_as_server, server_sql

pytestmark = pytest.mark.pg


def test_imported_enrollments_sync_to_the_server(world, new_laptop, tmp_path):
    laptop = new_laptop("a")
    engine.sync(laptop, world.server)
    with laptop.read_session() as s:
        emails = [s.scalar(select(User.email).where(User.id == u)) for u in world.users]
    path = tmp_path / "learners.csv"
    lines = ["Email,First name,Last name"] + [f"{e.upper()},Learner{i},Test" for i, e in enumerate(emails)]
    lines.append("nobody@example.co.za,No,Body")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    preview = ei.preview_file(laptop, world.cohort, path)
    assert preview.counts["importable"] == len(emails) and preview.counts["errors"] == 1
    result = ei.commit_import(laptop, preview)
    assert result.changes_queued == len(emails)
    assert sync_status(laptop).waiting == len(emails)
    report = engine.sync(laptop, world.server)
    assert report.pushed == len(emails)
    assert sync_status(laptop).describe() == "0 changes waiting · 0 conflicts"
    rows = server_sql(
        world.server,
        "SELECT user_id FROM cohort_enrollments WHERE cohort_id = :c ORDER BY user_id",
        c=world.cohort,
    )
    assert [r[0] for r in rows] == sorted(world.users)
    assert len(ce.list_enrollments(laptop, world.cohort)) == len(emails)
    assert_same_as_server(laptop, world.server, world.account)

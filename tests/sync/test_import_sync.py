"""An enrollment import on a paired laptop reaches the shared PostgreSQL through the next sync."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cohortdesk.errors import SyncError
from cohortdesk.models import User
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration import enrollment_import as ei
from cohortdesk.services.sync import engine, local, sync_status
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


def _server_learners(world, count: int) -> list[str]:
    """DocuSeal users of the account, as DocuSeal makes them (learners sign up there)."""
    server_sql(
        world.server,
        "INSERT INTO users (account_id, email, encrypted_password, first_name, last_name, role, uuid, "
        "sign_in_count, failed_attempts, otp_required_for_login, created_at, updated_at) "
        "SELECT :a, 'bulk' || g || '@example.co.za', '', 'Bulk' || g, 'Learner', 'viewer', "
        "gen_random_uuid()::text, 0, 0, false, now(), now() FROM generate_series(1, :n) AS g",
        a=world.account,
        n=count,
    )
    return [f"bulk{i}@example.co.za" for i in range(1, count + 1)]


def _csv(tmp_path, emails: list[str]):
    path = tmp_path / "many.csv"
    rows = [f"{e},Bulk{i},Learner" for i, e in enumerate(emails, start=1)]
    path.write_text("\n".join(["Email,First name,Last name", *rows]) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_an_import_larger_than_the_pool_reserves_ids_on_demand_while_online(world, new_laptop, tmp_path):
    emails = _server_learners(world, 2500)
    laptop = new_laptop("a")
    engine.sync(laptop, world.server)
    with laptop.read_session() as s:
        assert local.pool_counts(s)["cohort_enrollments"] == 1000
    preview = ei.preview_file(laptop, world.cohort, _csv(tmp_path, emails))
    assert preview.counts["importable"] == 2500
    result = ei.commit_import(laptop, preview)
    assert result.enrolled == 2500 and result.changes_queued == 2500
    report = engine.sync(laptop, world.server)
    assert (report.applied, report.rejected, report.conflicts) == (2500, 0, 0)
    assert_same_as_server(laptop, world.server, world.account)


def test_offline_the_refusal_says_how_many_can_be_created(world, new_laptop, tmp_path):
    emails = _server_learners(world, 1200)
    laptop = new_laptop("a")
    engine.sync(laptop, world.server)
    preview = ei.preview_file(laptop, world.cohort, _csv(tmp_path, emails))
    with laptop.session() as s:  # the laptop goes offline: the server it knows cannot be reached
        local.update_state(s, server_url="postgresql://postgres@127.0.0.1:9/cohortdesk")
    with pytest.raises(SyncError, match="it can create 1000 of the 1200 now"):
        ei.commit_import(laptop, preview)
    assert ce.list_enrollments(laptop, world.cohort) == []
    assert sync_status(laptop).offline
